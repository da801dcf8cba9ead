//! What a load run measured: [`LoadReport`] (answers, errors by kind,
//! status codes, the latency histogram, unfinished requests) and how one
//! finished exchange is added to it.
//!
//! Left out: *when* an exchange counts (the warmup, the budget, the end of
//! the run): that rule is the plan's (`plan.rs`); this file only adds up
//! what it is given.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::http::{Exchange, Failure};

/// Latencies above an hour are recorded as an hour.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Why requests failed, by kind; they add up to [`LoadReport::errors`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    /// The TCP connection could not be opened (e.g. nothing listens).
    pub connect: u64,
    /// No full answer within the request timeout.
    pub timeout: u64,
    /// The connection broke mid-exchange (reset, closed before the answer).
    pub broken: u64,
    /// The server answered 5xx.
    pub server_error: u64,
}

impl Failures {
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.broken + self.server_error
    }

    /// The kinds that happened, for a table: `0`, `1612 timed out`, or the
    /// total and its kinds, e.g. `2410 (2398 timed out, 12 not connected)`.
    pub fn summary(&self) -> String {
        let kinds: Vec<String> = [
            (self.timeout, "timed out"),
            (self.connect, "not connected"),
            (self.broken, "broken"),
            (self.server_error, "5xx"),
        ]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, kind)| format!("{n} {kind}"))
        .collect();
        match kinds.as_slice() {
            [] => "0".into(),
            [one] => one.clone(),
            _ => format!("{} ({})", self.total(), kinds.join(", ")),
        }
    }
}

/// What a run measured. Latencies are recorded in microseconds.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered with a 2xx/3xx/4xx status, counted when the answer
    /// arrived inside the measured phase (whenever the request was sent).
    pub requests: u64,
    /// Connection failures, timeouts and 5xx answers, counted like `requests`
    /// by when they happened.
    pub errors: u64,
    /// Length of the measured phase.
    pub elapsed: Duration,
    pub latency_us: hdrhistogram::Histogram<u64>,
    /// `errors` broken down by kind.
    pub failures: Failures,
    /// Every answer by status code (5xx included), in the measured phase.
    pub status: BTreeMap<u16, u64>,
    /// TCP connections opened over the whole run (warmup included); equal to
    /// the number of connections when keep-alive held throughout.
    pub connects: u64,
    /// Requests with no answer by the end of the measured phase: sent (at
    /// any time, warmup included) and still in flight when it ended, or
    /// (open loop) due in it but never sent because every connection was
    /// busy. An open loop far above capacity shows most of its load here.
    pub unfinished: u64,
    /// Closed loop: each connection's answer rate between its first and last
    /// answer inside the measured phase, summed over the connections, per
    /// second (0 for an open loop). Unlike [`LoadReport::requests_per_sec`],
    /// it cannot pass the Little's-law bound whatever the window's length:
    /// see [`Cycles`](super::Cycles).
    pub cycle_rate: f64,
    /// The time requests were outstanding inside the measured phase, summed
    /// over the connections: each exchange from its actual send to its end
    /// (answer, failure, or the end of the run), clipped to the phase —
    /// whenever it began. See [`LoadReport::mean_in_flight`].
    pub in_flight_time: Duration,
}

impl LoadReport {
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Latency at quantile `q` in 0..=1 (e.g. 0.99).
    pub fn latency(&self, q: f64) -> Duration {
        Duration::from_micros(self.latency_us.value_at_quantile(q))
    }
    pub fn max_latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.max())
    }

    // ANCHOR: mean_in_flight
    /// Little's L measured, not computed: how many requests were
    /// outstanding on average over the measured phase. Each connection has
    /// at most one request out at a time, so this is at most the number of
    /// connections. (Answers per second × mean latency estimates the same
    /// L, but counts in full the requests sent before the phase and answered
    /// in it, so it can come out above the connections.)
    pub fn mean_in_flight(&self) -> f64 {
        self.in_flight_time.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
    // ANCHOR_END: mean_in_flight

    pub(super) fn empty() -> Self {
        Self {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency_us: hdrhistogram::Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            failures: Failures::default(),
            status: BTreeMap::new(),
            connects: 0,
            unfinished: 0,
            cycle_rate: 0.0,
            in_flight_time: Duration::ZERO,
        }
    }

    /// Adds another part of the same run (another thread's connections).
    pub(super) fn merge(&mut self, other: &LoadReport) {
        self.requests += other.requests;
        self.errors += other.errors;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.failures.connect += other.failures.connect;
        self.failures.timeout += other.failures.timeout;
        self.failures.broken += other.failures.broken;
        self.failures.server_error += other.failures.server_error;
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.connects += other.connects;
        self.unfinished += other.unfinished;
        self.cycle_rate += other.cycle_rate;
        self.in_flight_time += other.in_flight_time;
    }

    /// Adds one exchange that finished at `done`, with latency from `since`.
    pub(super) fn record(&mut self, exchange: Exchange, since: Instant, done: Instant) {
        match exchange {
            Exchange::Answered(code) => {
                *self.status.entry(code).or_default() += 1;
                if code >= 500 {
                    self.errors += 1;
                    self.failures.server_error += 1;
                } else {
                    self.requests += 1;
                    let us = done.saturating_duration_since(since).as_micros();
                    let us = us.min(u128::from(MAX_LATENCY_US)) as u64;
                    self.latency_us.saturating_record(us.max(1));
                }
            }
            Exchange::Failed(kind) => {
                self.errors += 1;
                match kind {
                    Failure::Connect => self.failures.connect += 1,
                    Failure::Timeout => self.failures.timeout += 1,
                    Failure::Broken => self.failures.broken += 1,
                }
            }
            Exchange::Cut => self.unfinished += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Failures;

    #[test]
    fn a_summary_names_the_kinds_that_happened() {
        assert_eq!(Failures::default().summary(), "0");
        let failures = Failures {
            timeout: 1612,
            ..Failures::default()
        };
        assert_eq!(failures.summary(), "1612 timed out");
        let failures = Failures {
            connect: 12,
            timeout: 2398,
            ..Failures::default()
        };
        assert_eq!(
            failures.summary(),
            "2410 (2398 timed out, 12 not connected)"
        );
        let failures = Failures {
            broken: 1,
            server_error: 3,
            ..Failures::default()
        };
        assert_eq!(failures.summary(), "4 (1 broken, 3 5xx)");
    }
}
