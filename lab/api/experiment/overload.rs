//! Overload: open-loop arrivals at twice a wait-bound model's capacity
//! (Little's law: k / wait), between a calm phase before and a calm phase
//! after, against a server in a child process, with a concurrency limit or
//! without one. It measures what chapter 4's load-shedding section claims:
//! with a limit the server stays up, its memory stays bounded (peak RSS,
//! `VmHWM`), the excess is answered 503 at once, and latency is back to
//! normal soon after the load drops; without one (the sync pool, the
//! blocked loop) nothing is shed and the excess waits in a queue.
//!
//! The phases are separate open-loop runs on fresh connections, so the load
//! generator's own backlog does not carry from one phase into the next: what
//! the phase after measures is the server's state, not the client's.
//! Left out: retries (a real client honouring `Retry-After`).

use std::path::Path;
use std::time::Duration;

use super::child::serve_in_child_limited;
use super::proc_counters::{peak_rss_bytes, rss_bytes};
use crate::api::Model;
use crate::loadgen::{self, LoadReport, LoadSpec};
use crate::report::{Cell, Table, num, quantile};

/// What to run: the model and its limit, the wait, and the phases' lengths.
#[derive(Debug, Clone, Copy)]
pub struct OverloadPlan {
    pub model: Model,
    /// `--limit-concurrency`: requests inside the server at most. `None`:
    /// no limit, every request is let in and waits its turn.
    pub limit: Option<usize>,
    pub wait: Duration,
    /// The calm phase before, at [`CALM`] × capacity (after a short warm-up).
    pub before: Duration,
    /// The overload, at [`OVERLOAD`] × capacity.
    pub overload: Duration,
    /// The calm phase after, measured in windows of this length...
    pub window: Duration,
    /// ...this many of them.
    pub windows: usize,
    /// Open-loop connections in the overload: enough that the client never
    /// runs short of them even when most answers are 503s. The calm phases
    /// use four times what Little's law says they keep busy (fewer connects
    /// at the start of each window).
    pub connections: usize,
}

/// The calm phases' rate as a share of capacity.
pub const CALM: f64 = 0.5;
/// The overload's rate as a multiple of capacity.
pub const OVERLOAD: f64 = 2.0;

impl OverloadPlan {
    /// Requests per second the model can finish: Little's law with every
    /// thread busy (k / wait).
    pub fn capacity(&self) -> f64 {
        self.model.bound(usize::MAX, self.wait)
    }

    /// How long the whole run lasts, roughly (for the progress line).
    pub fn length(&self) -> Duration {
        WARMUP + self.before + self.overload + self.window * self.windows as u32
    }
}

/// The calm phase's warm-up: the blocking pool starts its threads on demand.
const WARMUP: Duration = Duration::from_millis(300);

/// One phase: its name, the rate offered, what came back, and the server's
/// resident memory at its end (now and at its peak so far).
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub offered: f64,
    pub report: LoadReport,
    pub rss: Option<u64>,
    pub peak_rss: Option<u64>,
}

impl Phase {
    /// Answers per second with this status class (2 for 2xx) or code.
    fn per_sec(&self, keep: impl Fn(u16) -> bool) -> f64 {
        let n: u64 = (self.report.status.iter())
            .filter(|(code, _)| keep(**code))
            .map(|(_, n)| n)
            .sum();
        n as f64 / self.report.elapsed.as_secs_f64().max(1e-9)
    }

    /// Answered 2xx, per second.
    pub fn served(&self) -> f64 {
        self.per_sec(|code| (200..300).contains(&code))
    }

    /// Answered 503, per second: shed.
    pub fn shed(&self) -> f64 {
        self.per_sec(|code| code == 503)
    }

    /// Requests that failed: answered neither 2xx nor 503, timed out, or
    /// broken off.
    pub fn failed(&self) -> u64 {
        let other_status: u64 = (self.report.status.iter())
            .filter(|(code, _)| !(200..300).contains(*code) && **code != 503)
            .map(|(_, n)| n)
            .sum();
        let f = &self.report.failures;
        other_status + f.connect + f.timeout + f.broken
    }
}

/// Runs the plan against `exe serve` in a child process, printing one
/// progress line per phase on stderr.
pub fn run_overload(exe: &Path, plan: &OverloadPlan) -> anyhow::Result<Vec<Phase>> {
    let mut child = serve_in_child_limited(exe, plan.model, plan.limit)?;
    let (pid, addr) = (child.pid(), child.addr());
    let url = format!("http://{addr}/wait?ms={}", plan.wait.as_millis());
    let capacity = plan.capacity();
    let phase = |name: String, share: f64, length: Duration, warmup: Duration| {
        let rate = share * capacity;
        let busy = crate::api::in_flight_needed(rate, plan.wait);
        let connections = if share > 1.0 {
            plan.connections
        } else {
            plan.connections.min(4 * busy.max(4))
        };
        let spec = LoadSpec::open(&url, connections, rate, length)?.with_warmup(warmup);
        let report = loadgen::run_blocking(&spec, super::load_threads())?;
        anyhow::Ok(Phase {
            name,
            offered: rate,
            report,
            rss: rss_bytes(pid),
            peak_rss: peak_rss_bytes(pid),
        })
    };
    let progress = |what: &str, length: Duration| {
        eprintln!(
            "overload run: {what} for {:.1} s (about {:.0} s in all)",
            length.as_secs_f64(),
            plan.length().as_secs_f64()
        );
    };
    let mut phases = Vec::new();
    progress("before, half of capacity", plan.before);
    phases.push(phase("before".into(), CALM, plan.before, WARMUP)?);
    progress("overload, twice capacity", plan.overload);
    phases.push(phase(
        "overload".into(),
        OVERLOAD,
        plan.overload,
        Duration::ZERO,
    )?);
    progress("after, half of capacity", plan.window * plan.windows as u32);
    for i in 0..plan.windows {
        let from = plan.window.as_secs_f64() * i as f64;
        let name = format!("after, +{from:.1} s");
        phases.push(phase(name, CALM, plan.window, Duration::ZERO)?);
    }
    child.stop()?;
    Ok(phases)
}

/// How soon after the overload the p99 latency was back to normal: the
/// start of the first window after it whose p99 is at most
/// [`RECOVERED`] × the p99 before (None if no window was).
pub fn recovered_after(phases: &[Phase], window: Duration) -> Option<Duration> {
    let before = phases.first()?.report.latency(0.99);
    phases
        .iter()
        .skip(2)
        .position(|p| p.report.requests > 0 && p.report.latency(0.99) <= before.mul_f64(RECOVERED))
        .map(|i| window * i as u32)
}

/// "Normal" latency, for [`recovered_after`]: within this factor of the p99
/// before the overload.
pub const RECOVERED: f64 = 1.5;

/// One row per phase: offered, served, shed, lost, latency of the served
/// requests, and the server's memory.
pub fn overload_table(phases: &[Phase]) -> String {
    let mut table = Table::new([
        "phase",
        "offered req/s",
        "served 2xx/s",
        "shed 503/s",
        "failed",
        "unfinished",
        "p50 (2xx)",
        "p99 (2xx)",
        "RSS",
        "peak RSS",
    ]);
    let mib = |bytes: Option<u64>| {
        bytes.map_or(Cell::from("-"), |b| {
            let mib = b as f64 / (1024.0 * 1024.0);
            Cell::measured(format!("{mib:.1} MiB"), mib)
        })
    };
    for p in phases {
        table.row([
            Cell::from(p.name.as_str()),
            num(p.offered, 0),
            num(p.served(), 0),
            num(p.shed(), 0),
            Cell::from(p.failed()),
            Cell::from(p.report.unfinished),
            quantile(&p.report, 0.5),
            quantile(&p.report, 0.99),
            mib(p.rss),
            mib(p.peak_rss),
        ]);
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(status: &[(u16, u64)], p99_ms: u64) -> Phase {
        let mut latency_us = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        latency_us.record(p99_ms * 1_000).unwrap();
        let shed = status
            .iter()
            .filter(|(c, _)| *c >= 500)
            .map(|(_, n)| n)
            .sum();
        Phase {
            name: "x".into(),
            offered: 100.0,
            report: LoadReport {
                requests: status
                    .iter()
                    .filter(|(c, _)| *c < 500)
                    .map(|(_, n)| n)
                    .sum(),
                errors: shed,
                elapsed: Duration::from_secs(1),
                latency_us,
                failures: crate::loadgen::Failures {
                    server_error: shed,
                    ..Default::default()
                },
                status: status.iter().copied().collect(),
                connects: 1,
                unfinished: 2,
                in_flight_time: Duration::ZERO,
                cycle_rate: 0.0,
            },
            rss: None,
            peak_rss: None,
        }
    }

    #[test]
    fn phases_count_served_shed_and_lost_apart() {
        let p = phase(&[(200, 30), (404, 1), (503, 50)], 60);
        assert_eq!(p.served(), 30.0);
        assert_eq!(p.shed(), 50.0);
        assert_eq!(p.failed(), 1); // the 404
        let p = phase(&[(200, 30), (500, 2), (503, 50)], 60);
        assert_eq!(p.failed(), 2);
    }

    #[test]
    fn recovery_is_the_first_window_back_near_the_p99_before() {
        let ms = Duration::from_millis;
        let before = phase(&[(200, 1)], 60);
        let overload = phase(&[(200, 1)], 100);
        let slow = phase(&[(200, 1)], 200);
        let back = phase(&[(200, 1)], 70);
        let phases = [before, overload, slow.clone(), slow, back];
        assert_eq!(recovered_after(&phases, ms(500)), Some(ms(1_000)));
        assert_eq!(recovered_after(&phases[..4], ms(500)), None);
    }
}
