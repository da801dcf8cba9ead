//! The book's recorded figures: each file in `src/figures/` is the unedited
//! standard output of one example run, whose banner names the command and the
//! machine. `cargo xtask figures` reruns them all; `check_recorded` makes sure
//! every figure a chapter includes exists and carries its provenance.
//!
//! An output with `## ` section headings is also split into one file per
//! section (`NAME-1.txt`, `NAME-2.txt`, …), each starting with the run's
//! banner, so a chapter can show one table beside the text about it.

use std::path::Path;
use std::process::Stdio;

use anyhow::Context;

use crate::{cargo, run, step};

/// The chapter examples and their `--quick` time goal in seconds.
pub const CHAPTER_EXAMPLES: &[(&str, u64)] = &[
    ("ch01_waiting", 15),
    ("ch02_gil", 15),
    ("ch03_wsgi", 20),
    ("ch04_asgi", 20),
    ("ch05_lifespan", 20),
];

/// Figure file (in src/figures/), example, and its arguments.
pub const FIGURES: &[(&str, &str, &[&str])] = &[
    ("ch01_waiting.txt", "ch01_waiting", &[]),
    ("ch02_gil.txt", "ch02_gil", &[]),
    ("ch03_wsgi.txt", "ch03_wsgi", &[]),
    ("ch03_slow_clients.txt", "ch03_wsgi", &["--slow-clients"]),
    ("ch04_asgi.txt", "ch04_asgi", &[]),
    ("ch05_lifespan.txt", "ch05_lifespan", &[]),
    (
        "ch05_crash.txt",
        "ch05_lifespan",
        &["crash-drill", "--runs", "20"],
    ),
];

pub fn regenerate(filter: Option<&str>, quick: bool) -> anyhow::Result<()> {
    step("building the examples (release)");
    // --bins: the examples' child servers are watched by ww-watchdog.
    run(cargo().args(["build", "--locked", "--release", "--examples", "--bins"]))?;
    for (file, example, args) in FIGURES {
        if filter.is_some_and(|f| !file.contains(f)) {
            continue;
        }
        step(&format!(
            "{example} {} > src/figures/{file}",
            args.join(" ")
        ));
        let mut cmd =
            std::process::Command::new(Path::new("target/release/examples").join(example));
        cmd.args(*args);
        if quick {
            cmd.arg("--quick");
        }
        let output = cmd.stderr(Stdio::inherit()).output()?;
        anyhow::ensure!(
            output.status.success(),
            "{example} failed: {}",
            output.status
        );
        let stdout = String::from_utf8(output.stdout)?;
        std::fs::write(Path::new("src/figures").join(file), &stdout)?;
        let stem = file.trim_end_matches(".txt");
        for (n, section) in split_sections(&stdout).iter().enumerate() {
            std::fs::write(
                Path::new("src/figures").join(format!("{stem}-{}.txt", n + 1)),
                section,
            )?;
        }
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
    let include = regex::Regex::new(r"\{\{#include\s+figures/([^}\s:]+)")?;
    let mut count = 0;
    for entry in std::fs::read_dir("src")? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "md") {
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
    Ok(())
}

#[cfg(test)]
mod tests {
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
