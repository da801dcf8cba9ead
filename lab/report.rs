//! Printing results: aligned text tables stamped with the machine and the
//! command that produced them, so every figure in the book can be traced back
//! to a rerunnable command.
//!
//! The same run can also be written down for machines: when the environment
//! variable [`JSON_ENV`] names a file, [`print_banner`] starts a record and
//! every [`Table`] printed after it is added to that file (its columns, each
//! cell's text and, for a measurement, the raw number behind the text).
//! `cargo xtask figures` sets it and draws the book's SVG charts from that
//! file, so a chart and its text figure come from one run. No example needs
//! code of its own for this: printing a table is enough.
//!
//! Left out: units in the record (a cell made by [`duration`] holds seconds,
//! [`ratio`] a plain ratio; the column name says what the number means).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// The environment variable naming the JSON file a run is recorded into.
pub const JSON_ENV: &str = "WAITING_WELL_JSON";

/// One table cell: the text a reader sees and, for a measurement, the
/// unrounded number it was formatted from.
///
/// ```
/// use lab::report::{Cell, num};
/// assert_eq!(num(1931.4, 0).text(), "1931");
/// assert_eq!(num(1931.4, 0).value(), Some(1931.4));
/// assert_eq!(Cell::from("pool").value(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
}

impl Cell {
    /// A cell showing `text` for the number `value`.
    pub fn measured(text: impl Into<String>, value: f64) -> Self {
        Self {
            text: text.into(),
            value: Some(value),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self { text, value: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        text.to_string().into()
    }
}

impl From<&String> for Cell {
    fn from(text: &String) -> Self {
        text.clone().into()
    }
}

/// Counts (clients, threads, rows) are exact numbers: their text is their value.
macro_rules! count_cells {
    ($($t:ty),*) => {$(
        impl From<$t> for Cell {
            fn from(n: $t) -> Self {
                Self::measured(n.to_string(), n as f64)
            }
        }
    )*};
}
count_cells!(usize, u64, u32, i64);

/// A number shown with `decimals` decimals: `num(1931.4, 0)` reads `1931`.
pub fn num(value: f64, decimals: usize) -> Cell {
    Cell::measured(format!("{value:.decimals$}"), value)
}

/// A duration shown in the unit a reader would pick ([`human`]); its value is
/// in seconds.
pub fn duration(d: Duration) -> Cell {
    Cell::measured(human(d), d.as_secs_f64())
}

/// A latency quantile of `report` as a cell, or `-` when nothing was
/// answered (an empty histogram's quantiles are zeros, not measurements).
pub fn quantile(report: &crate::loadgen::LoadReport, q: f64) -> Cell {
    if report.requests == 0 {
        Cell::from("-")
    } else {
        duration(report.latency(q))
    }
}

/// `measured / expected` shown as a percentage ([`percent`]); its value is
/// the plain ratio (0.97 for `97.0%`).
pub fn ratio(measured: f64, expected: f64) -> Cell {
    let text = percent(measured, expected);
    if expected == 0.0 {
        return text.into();
    }
    Cell::measured(text, measured / expected)
}

/// A speedup `base / this` shown as `1.93x`; its value is the plain ratio.
pub fn speedup(base: Duration, this: Duration) -> Cell {
    let value = base.as_secs_f64() / this.as_secs_f64();
    Cell::measured(format!("{value:.2}x"), value)
}

/// A text table whose columns are padded to line up; numbers align right.
///
/// ```
/// let mut t = lab::report::Table::new(["clients", "req/s"]);
/// t.row(["1", "19.8"]);
/// assert!(t.render().contains("clients"));
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    #[serde(rename = "columns")]
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
    /// The column a chart of this table plots (see [`Table::chart`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    chart: Option<String>,
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
            chart: None,
        }
    }

    /// Names the column that a chart of this table plots, one bar per row
    /// labelled by the first column (chapter 7's charts are drawn this way
    /// from the run's record; the text is unchanged).
    pub fn chart(&mut self, column: &str) -> &mut Self {
        debug_assert!(
            self.header.iter().any(|h| h == column),
            "no column {column}"
        );
        self.chart = Some(column.to_string());
        self
    }

    /// Adds a row; missing cells are left blank, extra cells are kept.
    /// A cell is text (`&str`, `String`), a count, or a measurement made with
    /// [`num`], [`duration`], [`ratio`] or [`speedup`].
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Cell>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    /// Renders the table: header, a rule, then the rows.
    pub fn render(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| c.text.clone()).collect())
            .collect();
        let columns = rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let width = |c: usize| {
            rows.iter()
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
        for row in &rows {
            line(row, &mut out);
        }
        out
    }
}

/// Printing a table (`println!("{table}")`) is what adds it to the run's
/// record, when one is being kept.
impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        record(self);
        f.write_str(&self.render())
    }
}

/// The run being recorded: the banner's lines and every table printed since.
#[derive(Serialize)]
struct Record {
    title: String,
    command: String,
    machine: String,
    tables: Vec<Table>,
    #[serde(skip)]
    path: std::path::PathBuf,
}

/// Only the process that printed the banner records: the examples re-run
/// themselves as servers and workers, which inherit the environment.
static RECORD: Mutex<Option<Record>> = Mutex::new(None);

fn start_record(title: &str, command: &str, machine: &str) {
    let Some(path) = std::env::var_os(JSON_ENV) else {
        return;
    };
    let record = Record {
        title: title.to_string(),
        command: command.to_string(),
        machine: machine.to_string(),
        tables: Vec::new(),
        path: path.into(),
    };
    write_record(&record);
    *RECORD.lock().unwrap_or_else(|p| p.into_inner()) = Some(record);
}

fn record(table: &Table) {
    let mut guard = RECORD.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(record) = guard.as_mut() {
        record.tables.push(table.clone());
        // Rewritten whole after every table: there is no exit hook to rely
        // on, and an example prints a handful of tables at most.
        write_record(record);
    }
}

/// Writes the record, or says on stderr why not (the text figure on stdout
/// is still whole; `cargo xtask figures` then fails on the missing file).
fn write_record(record: &Record) {
    let written = serde_json::to_string_pretty(record)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(&record.path, json + "\n"));
    if let Err(e) = written {
        eprintln!("could not write {}: {e}", record.path.display());
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
    let machine = machine();
    start_record(title, &command, &machine);
    println!("# {title}");
    println!("# command: {command}");
    println!("# machine: {machine}");
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
    fn cells_keep_the_number_behind_the_text() {
        let mut t = Table::new(["clients", "req/s", "of bound", "W"]);
        t.row([
            Cell::from(100usize),
            num(1931.46, 0),
            ratio(1931.46, 2000.0),
            duration(Duration::from_micros(51_700)),
        ]);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["columns"][1], "req/s");
        let row = &json["rows"][0];
        assert_eq!(row[0]["text"], "100");
        assert_eq!(row[0]["value"], 100.0);
        assert_eq!(row[1]["text"], "1931");
        assert_eq!(row[1]["value"], 1931.46);
        assert_eq!(row[2]["text"], "96.6%");
        assert_eq!(row[3]["text"], "51.7 ms");
        assert_eq!(row[3]["value"], 0.0517);
        assert!(Cell::from("pool").value().is_none());
        assert!(t.render().contains("1931     96.6%"), "{}", t.render());
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
