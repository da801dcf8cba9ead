//! Printing results: aligned text tables stamped with the machine and the
//! command that produced them, so every figure in the book can be traced back
//! to a rerunnable command.

use std::fmt::Write as _;
use std::time::Duration;

/// A text table whose columns are padded to line up; numbers align right.
///
/// ```
/// let mut t = lab::report::Table::new(["clients", "req/s"]);
/// t.row(["1", "19.8"]);
/// assert!(t.render().contains("clients"));
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are left blank, extra cells are kept.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Renders the table: header, a rule, then the rows.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let width = |c: usize| {
            self.rows
                .iter()
                .chain([&self.header])
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut text = String::new();
            for (c, w) in widths.iter().enumerate() {
                let cell = cells.get(c).map(String::as_str).unwrap_or("");
                if c > 0 {
                    text.push_str("  ");
                }
                if looks_numeric(cell) {
                    let _ = write!(text, "{cell:>w$}");
                } else {
                    let _ = write!(text, "{cell:<w$}");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// A number, with or without a unit after it (`39.8`, `98.7%`, `2.1x`,
/// `50.5 ms`, `12.0 KiB`, `0.35 s/s`): such cells align right.
fn looks_numeric(cell: &str) -> bool {
    const UNITS: [&str; 14] = [
        "", "%", "x", "×", "ns", "µs", "us", "ms", "s", "s/s", "B", "KiB", "MiB", "GiB",
    ];
    let cell = cell.trim();
    let end = cell
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | ',')))
        .unwrap_or(cell.len());
    let (number, unit) = cell.split_at(end);
    number.replace(',', "").parse::<f64>().is_ok() && UNITS.contains(&unit.trim_start())
}

/// The machine a measurement came from, in one line: OS, architecture,
/// logical cores, and the CPU model where the OS tells it.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!(
        "{} {}, {cores} logical cores, {cpu}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Prints the banner every example starts with: what runs, the command that
/// reproduces it, and the machine it runs on.
pub fn print_banner(title: &str) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    // Benchmarks run from target/*/deps/NAME-HASH; examples from target/*/examples/.
    let exe = std::env::current_exe().unwrap_or_default();
    let is_bench = exe.parent().is_some_and(|dir| dir.ends_with("deps"));
    let mut command = if is_bench {
        let bench = name
            .rsplit_once('-')
            .map_or(name.as_str(), |(stem, _hash)| stem);
        format!("cargo bench --bench {bench}")
    } else {
        format!("cargo run --release --example {name}")
    };
    let args: Vec<&String> = args
        .iter()
        .filter(|a| !(is_bench && *a == "--bench"))
        .collect();
    if !args.is_empty() {
        let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        command.push_str(" -- ");
        command.push_str(&args.join(" "));
    }
    println!("# {title}");
    println!("# command: {command}");
    println!("# machine: {}", machine());
    println!();
}

/// Formats a duration in the unit a reader would pick: µs, ms or s.
pub fn human(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// Formats a ratio measured/expected as a percentage, e.g. `98.7%`.
pub fn percent(measured: f64, expected: f64) -> String {
    if expected == 0.0 {
        return "n/a".to_string();
    }
    format!("{:.1}%", 100.0 * measured / expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_numbers_align_right() {
        let mut t = Table::new(["model", "req/s"]);
        t.row(["pool", "39.8"]).row(["event loop", "1998.2"]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[2].ends_with("  39.8"), "{text}");
        assert!(lines[3].ends_with("1998.2"), "{text}");
        assert_eq!(lines[1].len(), lines[3].len());
    }

    #[test]
    fn numbers_with_units_align_right_and_words_do_not() {
        for cell in [
            "39.8", "98.7%", "2.1x", "50.5 ms", "250 µs", "2.00 s", "12.0 KiB", "1,000", "-3",
        ] {
            assert!(looks_numeric(cell), "{cell}");
        }
        for cell in [
            "-",
            "n/a",
            "event-loop",
            "sync-pool k=32",
            "ms",
            "5 workers",
            "met",
        ] {
            assert!(!looks_numeric(cell), "{cell}");
        }
        let mut t = Table::new(["model", "p50"]);
        t.row(["sync-pool", "50.5 ms"])
            .row(["event-loop", "1.20 s"]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "sync-pool   50.5 ms", "{text}");
        assert_eq!(lines[3], "event-loop   1.20 s", "{text}");
    }

    #[test]
    fn human_picks_a_unit() {
        assert_eq!(human(Duration::from_micros(250)), "250 µs");
        assert_eq!(human(Duration::from_millis(50)), "50.0 ms");
        assert_eq!(human(Duration::from_secs(2)), "2.00 s");
    }
}
