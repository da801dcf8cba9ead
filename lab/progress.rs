//! Progress of an example's longer steps, on stderr (stdout is the figure):
//! indicatif's bar on a terminal, and one plain line per step where stderr is
//! not one (CI logs, a pipe, `cargo xtask figures`), where the bar draws nothing.
//! Every example reports progress through this, so a long run in a log says
//! where it is.
//!
//! Leaves out: rates and time-left estimates (the steps are few and uneven).

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `steps` steps, labelled `label` (e.g. the chapter: `ch01`).
pub struct Progress {
    bar: ProgressBar,
    label: String,
    started: Instant,
}

impl Progress {
    pub fn new(label: &str, steps: usize) -> Progress {
        let bar = ProgressBar::new(steps as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{prefix} {msg:>28} [{bar:30}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        Progress {
            bar,
            label: label.to_string(),
            started: Instant::now(),
        }
    }

    /// What the current step is doing (shown on the bar and in the next line).
    pub fn set_message(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// One more step: the bar moves, or (stderr not a terminal) a line says so.
    pub fn inc(&self) {
        self.bar.inc(1);
        if let Some(line) = self.plain_line() {
            eprintln!("{line}");
        }
    }

    /// The line for the step just counted, if the bar is not drawn (stderr is
    /// not a terminal); `None` when the bar shows it.
    fn plain_line(&self) -> Option<String> {
        self.bar.is_hidden().then(|| self.line())
    }

    /// The plain line for the step just counted.
    fn line(&self) -> String {
        plain_line(
            &self.label,
            &self.bar.message(),
            self.bar.position(),
            self.bar.length().unwrap_or(0),
            self.started.elapsed().as_secs_f64(),
        )
    }

    /// The steps are over: the bar goes away (the lines stay).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `ch01: 250 clients [3/7] 12.3 s`.
fn plain_line(label: &str, message: &str, pos: u64, len: u64, seconds: f64) -> String {
    format!("{label}: {message} [{pos}/{len}] {seconds:.1} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_names_the_step_and_counts() {
        assert_eq!(
            plain_line("ch01", "250 clients", 3, 7, 12.34),
            "ch01: 250 clients [3/7] 12.3 s"
        );
    }

    /// Off a terminal (CI, a pipe: where the bar draws nothing) each step
    /// prints a line; on one, the bar alone shows it.
    #[test]
    fn a_step_prints_a_line_exactly_when_stderr_is_not_a_terminal() {
        use std::io::IsTerminal as _;
        let progress = Progress::new("test", 2);
        progress.set_message("step");
        progress.inc();
        let line = progress.plain_line();
        assert_eq!(line.is_some(), !std::io::stderr().is_terminal(), "{line:?}");
        if let Some(line) = line {
            assert!(line.starts_with("test: step [1/2] "), "{line}");
        }
        progress.finish();
    }
}
