//! The book's recorded figures: each file in `src/figures/` is the unedited
//! standard output of one example run, whose banner names the command and the
//! machine. `cargo xtask figures` reruns them all; `check_recorded` makes sure
//! every figure a chapter includes exists and carries its provenance.
//!
//! An output with `## ` section headings is also split into one file per
//! section (`NAME-1.txt`, `NAME-2.txt`, …), each starting with the run's
//! banner, so a chapter can show one table beside the text about it.
//!
//! The same run is recorded as JSON (`lab::report`'s `WAITING_WELL_JSON`):
//! `NAME.json` holds every table with each cell's text and raw number, and
//! the charts (`*.svg`, [`crate::charts`]) are drawn from it, so a chart and
//! the text beside it cannot disagree. `check_recorded` reads every chart's
//! points back and compares them with the record and the text.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, ensure};

use crate::charts::{self, Run};
use crate::{cargo, run, step};

/// The chapter examples and their `--quick` time goal in seconds.
pub const CHAPTER_EXAMPLES: &[(&str, u64)] = &[
    ("ch01_waiting", 15),
    ("ch02_gil", 15),
    ("ch03_wsgi", 15),
    ("ch04_asgi", 15),
    ("ch05_lifespan", 15),
    ("ch06_table", 60),
    ("ch07_questions", 60),
];

/// Figure file (in src/figures/), example, and its arguments.
pub const FIGURES: &[(&str, &str, &[&str])] = &[
    ("ch01_waiting.txt", "ch01_waiting", &[]),
    ("ch02_gil.txt", "ch02_gil", &[]),
    ("ch03_wsgi.txt", "ch03_wsgi", &[]),
    ("ch03_slow_clients.txt", "ch03_wsgi", &["--slow-clients"]),
    ("ch04_asgi.txt", "ch04_asgi", &[]),
    ("ch04_overload.txt", "ch04_asgi", &["--overload"]),
    ("ch05_lifespan.txt", "ch05_lifespan", &[]),
    (
        "ch05_crash.txt",
        "ch05_lifespan",
        &["crash-drill", "--runs", "20"],
    ),
    ("ch06_table.txt", "ch06_table", &[]),
    ("ch07_q01.txt", "ch07_questions", &["--only", "1"]),
    ("ch07_q02.txt", "ch07_questions", &["--only", "2"]),
    ("ch07_q03.txt", "ch07_questions", &["--only", "3"]),
    ("ch07_q04.txt", "ch07_questions", &["--only", "4"]),
    ("ch07_q05.txt", "ch07_questions", &["--only", "5"]),
    ("ch07_q06.txt", "ch07_questions", &["--only", "6"]),
    ("ch07_q07.txt", "ch07_questions", &["--only", "7"]),
    ("ch07_q08.txt", "ch07_questions", &["--only", "8"]),
    ("ch07_q09.txt", "ch07_questions", &["--only", "9"]),
    ("ch07_q10.txt", "ch07_questions", &["--only", "10"]),
    ("ch07_q11.txt", "ch07_questions", &["--only", "11"]),
    ("ch07_q12.txt", "ch07_questions", &["--only", "12"]),
    ("ch07_q13.txt", "ch07_questions", &["--only", "13"]),
    ("ch07_q14.txt", "ch07_questions", &["--only", "14"]),
    ("ch07_q15.txt", "ch07_questions", &["--only", "15"]),
];

/// The book's figures folder.
const FIGURES_DIR: &str = "src/figures";
/// Where `--dev` writes instead (`figures-dev` in cargo's target folder,
/// `$CARGO_TARGET_DIR` respected): a debug build's numbers are not the book's.
fn dev_dir() -> PathBuf {
    crate::target_dir().join("figures-dev")
}

pub fn regenerate(
    filter: Option<&str>,
    quick: bool,
    dev: bool,
    charts_only: bool,
) -> anyhow::Result<()> {
    if charts_only {
        let out = if dev { dev_dir() } else { FIGURES_DIR.into() };
        for (file, _, _) in FIGURES {
            if filter.is_none_or(|f| file.contains(f)) {
                draw_charts(&out, file)?;
            }
        }
        return check_dir(&out);
    }
    let (bin, out) = if dev {
        step("building the examples (dev profile: checking the pipeline, not the book's numbers)");
        // --bins: the examples' child servers are watched by ww-watchdog.
        run(cargo().args(["build", "--locked", "--examples", "--bins"]))?;
        ("debug/examples", dev_dir())
    } else {
        step("building the examples (release)");
        run(cargo().args(["build", "--locked", "--release", "--examples", "--bins"]))?;
        ("release/examples", PathBuf::from(FIGURES_DIR))
    };
    let out = out.as_path();
    std::fs::create_dir_all(out)?;
    for (file, example, args) in FIGURES {
        if filter.is_some_and(|f| !file.contains(f)) {
            continue;
        }
        step(&format!(
            "{example} {} > {}/{file}",
            args.join(" "),
            out.display()
        ));
        let record = std::env::temp_dir().join(format!("ww-{example}-{}.json", std::process::id()));
        let mut cmd = std::process::Command::new(crate::target_dir().join(bin).join(example));
        cmd.args(*args).env(lab_json_env(), &record);
        if quick {
            cmd.arg("--quick");
        }
        let output = cmd.stderr(Stdio::inherit()).output()?;
        let recorded = std::fs::read_to_string(&record);
        let _ = std::fs::remove_file(&record);
        anyhow::ensure!(
            output.status.success(),
            "{example} failed: {}",
            output.status
        );
        let stdout = String::from_utf8(output.stdout)?;
        std::fs::write(out.join(file), &stdout)?;
        let stem = file.trim_end_matches(".txt");
        for (n, section) in split_sections(&stdout).iter().enumerate() {
            std::fs::write(out.join(format!("{stem}-{}.txt", n + 1)), section)?;
        }
        let mut run: Run = serde_json::from_str(
            &recorded.with_context(|| format!("{example} wrote no record of its tables"))?,
        )
        .with_context(|| format!("reading {example}'s record"))?;
        place_tables(&mut run, &stdout)?;
        std::fs::write(
            out.join(format!("{stem}.json")),
            serde_json::to_string_pretty(&run)? + "\n",
        )?;
        draw_charts(out, file)?;
    }
    if dev {
        check_dir(out)?;
    }
    Ok(())
}

/// Draws `example`'s charts from its recorded run (`NAME.json` beside the
/// text figure `file`), each stamped with the text figure it shows.
/// The charts of figure `file`, chosen by the figure (not the example: one
/// example can record several figures, e.g. `ch05_lifespan` also records
/// `ch05_crash.txt`, which has no chart).
fn draw_charts(out: &Path, file: &str) -> anyhow::Result<()> {
    let stem = file.trim_end_matches(".txt");
    let record_name = format!("{stem}.json");
    let run: Run = serde_json::from_str(&std::fs::read_to_string(out.join(&record_name))?)
        .with_context(|| format!("reading {record_name}"))?;
    for mut chart in charts::charts_for(stem, &run)? {
        let (svg, checked) = render_chart(out, stem, &run, &mut chart)?;
        std::fs::write(out.join(&chart.file), svg)?;
        println!("{}: {checked} points", chart.file);
    }
    Ok(())
}

/// Draws one chart of figure `stem` (its run recorded in `out/STEM.json`),
/// stamped with the text figure it shows: its own section's (`NAME.txt` for
/// `NAME.svg`) if there is one, else the figure's whole text; checked against
/// the run (the SVG and the points read back). Also draws the translated
/// charts (crate::charts_ko).
pub fn render_chart(
    out: &Path,
    stem: &str,
    run: &Run,
    chart: &mut charts::Chart,
) -> anyhow::Result<(String, usize)> {
    let section = chart.file.replace(".svg", ".txt");
    let source = if out.join(&section).exists() {
        section
    } else {
        format!("{stem}.txt")
    };
    let text =
        std::fs::read_to_string(out.join(&source)).with_context(|| format!("reading {source}"))?;
    let svg = charts::render(chart, |chart| charts::Provenance {
        source: source.clone(),
        source_sha256: charts::sha256_hex(&text),
        record: format!("{stem}.json"),
        banner: run.banner(),
        chart: chart.clone(),
    })?;
    let checked = charts::check_svg(&svg, run)
        .with_context(|| format!("{} does not read back as its run", chart.file))?;
    Ok((svg, checked))
}

/// The environment variable `lab::report` records a run into.
fn lab_json_env() -> &'static str {
    "WAITING_WELL_JSON"
}

/// Finds each recorded table in the run's text (its header line, in order)
/// and notes the `## ` section it is under and the line right above it.
fn place_tables(run: &mut Run, stdout: &str) -> anyhow::Result<()> {
    let lines: Vec<&str> = stdout.lines().collect();
    let mut at = 0;
    for table in &mut run.tables {
        let pattern = table
            .columns
            .iter()
            .map(|c| regex::escape(c))
            .collect::<Vec<_>>()
            .join(r"\s+");
        let header = regex::Regex::new(&format!(r"^\s*{pattern}\s*$"))?;
        let found = (at..lines.len())
            .find(|&i| header.is_match(lines[i]))
            .with_context(|| format!("table {:?} is not in the printed output", table.columns))?;
        table.section = lines[..found]
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("## "))
            .unwrap_or_default()
            .to_string();
        table.caption = match found.checked_sub(1).map(|i| lines[i]) {
            Some(above) if !above.trim().is_empty() && !above.starts_with('#') => above.to_string(),
            _ => String::new(),
        };
        at = found + 1;
    }
    Ok(())
}

/// The banner (lines starting with `# `) followed by each `## ` section.
fn split_sections(output: &str) -> Vec<String> {
    let banner: String = output
        .lines()
        .take_while(|l| l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut sections: Vec<String> = Vec::new();
    for line in output.lines() {
        if line.starts_with("## ") {
            sections.push(format!("{banner}\n"));
        }
        if let Some(section) = sections.last_mut() {
            section.push_str(line);
            section.push('\n');
        }
    }
    sections
        .iter()
        .map(|s| format!("{}\n", s.trim_end()))
        .collect()
}

/// Every `{{#include figures/…}}` in the book names a recorded file whose
/// banner says which command produced it and on what machine.
pub fn check_recorded() -> anyhow::Result<()> {
    step("checking the recorded figures");
    // `figures/X` from a page in src/, `../figures/X` from one in src/ch07/.
    let include = regex::Regex::new(r"\{\{#include\s+(?:\.\./)*figures/([^}\s:]+)")?;
    let mut count = 0;
    for entry in walkdir::WalkDir::new("src").sort_by_file_name() {
        let path = entry?.into_path();
        let generated = path
            .strip_prefix("src")
            .is_ok_and(|p| p.starts_with("pkg") || p.starts_with("figures"));
        if generated || path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        for cap in include.captures_iter(&text) {
            let figure = Path::new("src/figures").join(&cap[1]);
            let recorded = std::fs::read_to_string(&figure).with_context(|| {
                format!("{} includes missing {}", path.display(), figure.display())
            })?;
            anyhow::ensure!(
                recorded.contains("# command: cargo run --release --example")
                    && recorded.contains("# machine: "),
                "{} has no banner naming its command and machine: regenerate it with `cargo xtask figures`",
                figure.display()
            );
            count += 1;
        }
    }
    println!("{count} figure includes, each with its command and machine");
    check_dir(Path::new(FIGURES_DIR))
}

/// Every chart in `dir` against its run and its text figure: the same run
/// (SHA-256 of the text, the banner), `<title>` and `<desc>`, every plotted
/// point read back equal to the record, and the record's cells in the text.
pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    step(&format!("checking the charts in {}", dir.display()));
    let mut charts: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    charts.retain(|p| p.extension().is_some_and(|e| e == "svg"));
    charts.sort();
    let mut points = 0;
    for path in &charts {
        points += check_chart(dir, path).with_context(|| {
            format!(
                "{}: regenerate the text and the charts together with `cargo xtask figures`",
                path.display()
            )
        })?;
    }
    println!(
        "{} charts, {points} plotted points read back equal to their runs' records and text",
        charts.len()
    );
    Ok(())
}

fn check_chart(dir: &Path, path: &Path) -> anyhow::Result<usize> {
    let svg = std::fs::read_to_string(path)?;
    let provenance = charts::provenance(&svg)?;
    let text = std::fs::read_to_string(dir.join(&provenance.source))
        .with_context(|| format!("its text figure {} is missing", provenance.source))?;
    ensure!(
        charts::sha256_hex(&text) == provenance.source_sha256,
        "{} is not the text this chart was drawn with (another run)",
        provenance.source
    );
    let run: Run = serde_json::from_str(&std::fs::read_to_string(dir.join(&provenance.record))?)
        .with_context(|| format!("reading {}", provenance.record))?;
    ensure!(
        text.lines()
            .take(3)
            .eq(run.banner().iter().map(String::as_str)),
        "{} does not start with its run's banner",
        provenance.source
    );
    let whole = std::fs::read_to_string(dir.join(format!(
        "{}.txt",
        provenance.record.trim_end_matches(".json")
    )))?;
    record_matches_text(&run, &whole)?;
    charts::check_svg(&svg, &run)
}

/// Every recorded row is printed in the text: its cells, in order, on one line.
fn record_matches_text(run: &Run, text: &str) -> anyhow::Result<()> {
    for table in &run.tables {
        for row in &table.rows {
            let on_one_line = text.lines().any(|line| {
                let mut rest = line;
                row.iter().all(|cell| match rest.find(cell.text.as_str()) {
                    Some(i) => {
                        rest = &rest[i + cell.text.len()..];
                        true
                    }
                    None => false,
                })
            });
            ensure!(
                on_one_line,
                "the record's row {:?} is not in the text figure",
                row.iter().map(|c| c.text.as_str()).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_are_placed_under_their_section_and_title() {
        let mut run: crate::charts::Run = serde_json::from_str(
            r##"{"title":"T","command":"c","machine":"m","tables":[
                {"columns":["#","axum","at"],"rows":[]},
                {"columns":["#","axum","at"],"rows":[]}]}"##,
        )
        .unwrap();
        let out = "# T\n\n## One\n\nfirst (times)\n#  axum  at\n-  ----  --\n\n## Two\n\n#  axum     at\n";
        super::place_tables(&mut run, out).unwrap();
        assert_eq!(run.tables[0].section, "One");
        assert_eq!(run.tables[0].caption, "first (times)");
        assert_eq!(run.tables[1].section, "Two");
        assert_eq!(run.tables[1].caption, "");
        run.tables[1].columns[2] = "when".into();
        assert!(super::place_tables(&mut run, out).is_err());
    }

    /// A figures folder holding one run of chapter 1 (text, record, chart),
    /// as `cargo xtask figures` writes it.
    fn recorded_ch01(dir: &std::path::Path) {
        let text = "# Chapter 1: I/O-bound waiting\n# command: cargo run --release --example ch01_waiting\n# machine: m\n\n## Little's law\n\nclients (L)  predicted req/s (L / 50.0 ms)  measured req/s\n-----------  -----------------------------  --------------\n          1                             20              19\n         10                            200             195\n";
        let mut run: crate::charts::Run = serde_json::from_str(
            r#"{"title":"Chapter 1: I/O-bound waiting","command":"cargo run --release --example ch01_waiting","machine":"m","tables":[
              {"columns":["clients (L)","predicted req/s (L / 50.0 ms)","measured req/s"],"rows":[
                [{"text":"1","value":1},{"text":"20","value":20},{"text":"19","value":19.4}],
                [{"text":"10","value":10},{"text":"200","value":200},{"text":"195","value":195.2}]]}]}"#,
        )
        .unwrap();
        super::place_tables(&mut run, text).unwrap();
        std::fs::write(dir.join("ch01_waiting.txt"), text).unwrap();
        std::fs::write(
            dir.join("ch01_waiting.json"),
            serde_json::to_string(&run).unwrap(),
        )
        .unwrap();
        super::draw_charts(dir, "ch01_waiting.txt").unwrap();
        // The chart shows section 3 in the book; here the run has one section.
        std::fs::rename(dir.join("ch01_waiting-3.svg"), dir.join("chart.svg")).unwrap();
    }

    #[test]
    fn a_chart_must_come_from_the_same_run_as_its_text() {
        let dir = std::env::temp_dir().join(format!("ww-figures-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        recorded_ch01(&dir);
        let result = super::check_dir(&dir);
        // Another run's text: one number differs.
        let source = dir.join("ch01_waiting.txt");
        let text = std::fs::read_to_string(&source).unwrap();
        std::fs::write(&source, text.replace("195\n", "196\n")).unwrap();
        let other = super::check_dir(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        result.unwrap();
        assert!(format!("{other:#}").contains("another run"), "{other:#}");
    }

    #[test]
    fn sections_carry_the_banner() {
        let out = "# T\n# command: c\n\n## One\n\na\n\n## Two\nb\n";
        let parts = super::split_sections(out);
        assert_eq!(
            parts,
            [
                "# T\n# command: c\n\n## One\n\na\n",
                "# T\n# command: c\n\n## Two\nb\n"
            ]
        );
    }
}
