//! The table every chapter prints from trial outcomes, and the mark on a
//! latency cell that the run's window cut short.
//!
//! Left out: running the trials ([`super::trial`]).

use std::time::Duration;

use super::trial::Outcome;
use crate::report::{Cell, Table, duration, human, num, ratio};

/// The table every chapter prints: one row per trial, and under it what a
/// latency cell marked [`CUT_SHORT`] means, if there is one.
pub fn outcome_table(outcomes: &[Outcome]) -> String {
    let mut table = Table::new([
        "model",
        "Python analog",
        "clients",
        "req/s",
        "bound",
        "of bound",
        "p50",
        "p99",
        "errors",
    ]);
    for o in outcomes {
        table.row([
            Cell::from(o.trial.model.label()),
            Cell::from(o.trial.model.python_analog()),
            Cell::from(o.trial.clients),
            num(o.throughput, 0),
            num(o.bound, 0),
            ratio(o.throughput, o.bound),
            latency_cell(o, o.report.latency(0.5)),
            latency_cell(o, o.report.latency(0.99)),
            Cell::from(o.report.errors),
        ]);
    }
    format!("{table}{}", cut_short_note(outcomes))
}

/// A latency cell: `-` when no answer came in at all, `≥ X (window)` when
/// the run was too short for the queue ([`Outcome::latency_cut_short`]), so
/// `X`, measured on the answers that came in, is only a lower bound (the
/// cell's value, in seconds, is that lower bound).
pub fn latency_cell(outcome: &Outcome, latency: Duration) -> Cell {
    if outcome.report.requests == 0 {
        "-".into()
    } else if outcome.latency_cut_short() {
        Cell::measured(
            format!("≥ {} {CUT_SHORT}", human(latency)),
            latency.as_secs_f64(),
        )
    } else {
        duration(latency)
    }
}

/// The mark on a latency cell that the run's window cut short.
pub const CUT_SHORT: &str = "(window)";

/// The note under a table with cut-short cells (empty if there are none):
/// what the mark means, with the latency Little's law gives for each row.
pub fn cut_short_note(outcomes: &[Outcome]) -> String {
    let rows: String = outcomes
        .iter()
        .filter(|o| o.report.requests > 0 && o.latency_cut_short())
        .map(|o| {
            format!(
                "  {}, {} clients: {}\n",
                o.trial.model.label(),
                o.trial.clients,
                human(o.littles_law_latency())
            )
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\n≥ ... {CUT_SHORT}: the queue is longer than this run, so only requests short enough\nto finish inside it were timed, and the real latency is longer. Little's law\n(clients / req/s) puts it at:\n{rows}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Model;
    use crate::api::experiment::Trial;
    use crate::loadgen::LoadReport;

    /// An outcome of `clients` closed-loop clients served at `throughput`,
    /// with one answer of `latency` recorded, over 1 s warm-up + 5 s.
    fn outcome(clients: usize, throughput: f64, latency: Duration) -> Outcome {
        let mut latency_us = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        latency_us.record(latency.as_micros() as u64).unwrap();
        Outcome {
            trial: Trial {
                // Any model: only the numbers below matter.
                model: Model::SyncPool { threads: 2 },
                clients,
                wait: Duration::from_millis(50),
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(5),
            },
            report: LoadReport {
                requests: 1,
                errors: 0,
                elapsed: Duration::from_secs(5),
                latency_us,
                failures: Default::default(),
                status: Default::default(),
                connects: clients as u64,
                unfinished: 0,
                in_flight_time: Duration::ZERO,
                cycle_rate: 0.0,
            },
            throughput,
            bound: 40.0,
            cpu: None,
        }
    }

    #[test]
    fn latencies_are_marked_only_when_the_queue_outlasts_the_window() {
        // 100 clients on 2 workers: 2.5 s a request, inside a 1 s + 5 s run.
        let fits = outcome(100, 40.0, Duration::from_millis(2_500));
        assert!(!fits.latency_cut_short());
        assert_eq!(
            latency_cell(&fits, Duration::from_millis(2_500)).text(),
            "2.50 s"
        );
        assert_eq!(cut_short_note(&[fits]), "");
        // 1,000 clients: 25 s a request, so the 3.49 s measured is a floor.
        let cut = outcome(1_000, 40.0, Duration::from_millis(3_490));
        assert!(cut.latency_cut_short());
        assert_eq!(cut.littles_law_latency(), Duration::from_secs(25));
        let cell = latency_cell(&cut, Duration::from_millis(3_490));
        assert_eq!(cell.text(), "≥ 3.49 s (window)");
        let note = cut_short_note(&[cut]);
        assert!(note.contains(", 1000 clients: 25.00 s"), "{note}");
    }
}
