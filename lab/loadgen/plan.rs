//! What every connection of one run shares, and the rule for what counts:
//! the clock marks (start, end of warmup, end), the open loop's schedule,
//! the request budget, the stop signal, and [`Plan::count`], which decides
//! whether a finished exchange lands in the report.
//!
//! **What is counted, and when.** Like `wrk`, an exchange is counted (in
//! `requests` or `errors`, and in the latency histogram) when it *finishes*
//! inside the measured phase `[start + warmup, end]`, whenever it was sent:
//! an answer sent during the warmup that comes back after it counts. Its
//! latency still runs from the actual send (closed loop) or the intended send
//! (open loop). Requests still waiting for an answer when the phase ends are
//! not dropped silently: they are counted as `unfinished`. Counting by send
//! time instead would undercount throughput badly when latencies are long
//! (100 connections on a 2-worker pool with 50 ms handlers wait 2.5 s each).
//!
//! **A rate that cannot pass Little's law.** Counting by finish time has one
//! flaw: a closed-loop connection whose answers are one wait apart can finish
//! `D / wait + 1` of them inside a window `D` long (one at each end), so when
//! `D` is a whole number of waits the count can pass the bound `clients /
//! wait`. [`Cycles`] measures each connection's rate between its first and
//! last answer in the window instead: every interval there holds one whole
//! request (the next is sent only after the last answer), so no run can pass
//! the bound, and in a steady state it is the same rate.
//!
//! Left out: the connections themselves and the threads that drive them
//! (`engine.rs`); adding an exchange up (`report.rs`).

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::http::{Exchange, RequestTemplate};
use super::report::LoadReport;
use super::spec::{LoadSpec, Pace};

/// Shared by every connection of a run, across threads.
pub(super) struct Plan {
    pub(super) addr: SocketAddr,
    pub(super) template: RequestTemplate,
    pub(super) pace: Pace,
    pub(super) connections: usize,
    pub(super) request_timeout: Duration,
    /// When sending begins (warmup starts here).
    pub(super) start: Instant,
    /// When measurement begins: `start + warmup`.
    pub(super) measure_from: Instant,
    /// When the run ends: `measure_from + duration`.
    pub(super) end: Instant,
    /// Open loop: the next slot in the shared schedule.
    next_slot: AtomicU64,
    /// Measured completions still allowed; `None` when unbounded (then no
    /// shared counter is touched per request).
    budget: Option<AtomicU64>,
    /// Open loop: slots due in the measured phase that were actually sent.
    sent_in_window: AtomicU64,
    /// Set once the budget is spent (or the caller gave up): every
    /// connection stops.
    stopped: AtomicBool,
    /// When the run was stopped (the measured phase ends there).
    stopped_at: OnceLock<Instant>,
    /// Wakes the connection groups when `stopped` is set, so that they drop
    /// the connections still waiting for an answer.
    stop: Notify,
}

impl Plan {
    /// Checks `spec` and starts the clock: sending begins now.
    pub(super) fn new(spec: &LoadSpec) -> anyhow::Result<Self> {
        let template = spec.request()?;
        let start = Instant::now();
        let measure_from = start + spec.warmup;
        Ok(Self {
            addr: spec.addr,
            template,
            pace: spec.pace,
            connections: spec.connections,
            request_timeout: spec.request_timeout,
            start,
            measure_from,
            end: measure_from + spec.duration,
            next_slot: AtomicU64::new(0),
            budget: spec.max_requests.map(AtomicU64::new),
            sent_in_window: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            stopped_at: OnceLock::new(),
            stop: Notify::new(),
        })
    }

    /// Open loop: takes the next slot of the shared schedule and returns
    /// when it is due (`start + slot / rate`), or `None` past the end.
    pub(super) fn next_due(&self, rate_per_sec: f64) -> Option<Instant> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let due = self.start + Duration::from_secs_f64(slot as f64 / rate_per_sec);
        (due < self.end).then_some(due)
    }

    /// Open loop: a slot due at `due` is being sent now.
    pub(super) fn sending(&self, due: Instant) {
        if due >= self.measure_from {
            self.sent_in_window.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The measured phase ends at `end`, or earlier when the run was stopped.
    fn measured_end(&self) -> Instant {
        self.stopped_at
            .get()
            .map_or(self.end, |&at| at.min(self.end))
    }

    /// The measured phase's length: cut short when the run stopped early.
    pub(super) fn elapsed(&self) -> Duration {
        Instant::now()
            .min(self.measured_end())
            .saturating_duration_since(self.measure_from)
    }

    /// Open loop: slots due in the measured phase that no connection sent
    /// before it ended (every connection was busy).
    pub(super) fn never_sent(&self) -> u64 {
        let Pace::Open { rate_per_sec } = self.pace else {
            return 0;
        };
        let slots_before = |t: Instant| {
            (t.saturating_duration_since(self.start).as_secs_f64() * rate_per_sec).ceil() as u64
        };
        let due = slots_before(self.measured_end()) - slots_before(self.measure_from);
        due.saturating_sub(self.sent_in_window.load(Ordering::Relaxed))
    }

    /// True once the run must end: its time is up or it was stopped.
    pub(super) fn is_over(&self, now: Instant) -> bool {
        now >= self.end || self.stopped.load(Ordering::Relaxed)
    }

    /// Ends the run now (the budget is spent, or the caller gave up) and
    /// wakes every group.
    pub(super) fn stop_now(&self) {
        let _ = self.stopped_at.set(Instant::now());
        self.stopped.store(true, Ordering::Release);
        self.stop.notify_waiters();
    }

    /// Resolves once [`Plan::stop_now`] was called.
    pub(super) async fn stopped(&self) {
        let notified = self.stop.notified();
        let mut notified = std::pin::pin!(notified);
        // Registered before the check, so a stop in between is not missed.
        notified.as_mut().enable();
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    /// Counts one finished exchange the way `wrk` does: by when it
    /// *finished*. Answers that come in during the warmup are not counted,
    /// whenever they were sent; those that come in during the measured phase
    /// are, even if they were sent during the warmup. Latency runs from
    /// `since` (the send, or the open loop's intended send); a counted answer
    /// also goes to the connection's `cycles`. The time it was outstanding,
    /// from its actual send `sent`, is added to
    /// [`LoadReport::in_flight_time`] for the part inside the measured phase,
    /// whether it was answered, failed or cut. Returns false when the
    /// connection must stop (the run ended or the budget is spent).
    pub(super) fn count(
        &self,
        exchange: Exchange,
        since: Instant,
        sent: Instant,
        tally: &mut LoadReport,
        cycles: &mut Cycles,
    ) -> bool {
        let in_window_from = sent.max(self.measure_from);
        let in_window_to = Instant::now().min(self.measured_end());
        tally.in_flight_time += in_window_to.saturating_duration_since(in_window_from);
        if exchange == Exchange::Cut {
            // Still in flight when the run ended.
            tally.unfinished += 1;
            return false;
        }
        let done = Instant::now();
        if done < self.measure_from {
            return true;
        }
        if let Some(budget) = &self.budget {
            let taken = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            });
            match taken {
                Ok(1) => {
                    record(exchange, since, done, tally, cycles);
                    self.stop_now();
                    return false;
                }
                Ok(_) => {}
                // Another connection took the last one: not counted.
                Err(_) => return false,
            }
        }
        record(exchange, since, done, tally, cycles);
        true
    }
}

/// One counted exchange, into the tally (and, an answer, into the cycles).
fn record(
    exchange: Exchange,
    since: Instant,
    done: Instant,
    tally: &mut LoadReport,
    cycles: &mut Cycles,
) {
    if matches!(exchange, Exchange::Answered(code) if code < 500) {
        cycles.answered(done);
    }
    tally.record(exchange, since, done);
}

/// One closed-loop connection's answers inside the measured phase: how many,
/// the first and the last. Its rate is `(answers - 1) / (last - first)`: each
/// of those intervals holds at least one whole request (sent after the
/// answer before it, then a full wait on the server), so the rate is at most
/// `1 / wait` however the window falls, and the connections' rates add up to
/// at most Little's bound `clients / wait`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cycles {
    answers: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Cycles {
    /// An answer came in at `at` (inside the measured phase).
    pub fn answered(&mut self, at: Instant) {
        self.answers += 1;
        self.first.get_or_insert(at);
        self.last = Some(at);
    }

    /// Answers per second between the first and the last (0 with fewer than two).
    pub fn rate(&self) -> f64 {
        match (self.first, self.last) {
            (Some(first), Some(last)) if self.answers >= 2 && last > first => {
                (self.answers - 1) as f64 / last.duration_since(first).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A closed-loop connection whose answers come exactly one wait apart,
    /// over a window that is a whole number of waits: counted by when they
    /// finished, a window with an answer at each end holds 6 in 5 s, 120 % of
    /// the bound; the cycles give the bound exactly wherever the window falls.
    #[test]
    fn cycles_never_pass_the_bound_whatever_the_window() {
        let wait = Duration::from_secs(1);
        let bound = 1.0 / wait.as_secs_f64();
        let t0 = Instant::now();
        let window = Duration::from_secs(5);
        for offset_ms in [0, 1, 250, 500, 999] {
            let from = t0 + Duration::from_millis(offset_ms);
            let answers: Vec<Instant> = (0..20)
                .map(|k| t0 + wait * k)
                .filter(|&at| at >= from && at <= from + window)
                .collect();
            let mut cycles = Cycles::default();
            for &at in &answers {
                cycles.answered(at);
            }
            let by_finish = answers.len() as f64 / window.as_secs_f64();
            if offset_ms == 0 {
                assert!(by_finish > 1.15 * bound, "the old rule's flaw: {by_finish}");
            }
            let rate = cycles.rate();
            assert!(rate <= bound * (1.0 + 1e-9), "{offset_ms} ms: {rate}");
            assert!((rate - bound).abs() < 1e-9, "{offset_ms} ms: {rate}");
        }
        // Slower answers (a wait plus the round trip) give a lower rate; one
        // answer alone gives none.
        let mut slow = Cycles::default();
        for k in 0..5u32 {
            slow.answered(t0 + Duration::from_millis(1_010) * k);
        }
        assert!((slow.rate() - 1.0 / 1.010).abs() < 1e-9);
        let mut one = Cycles::default();
        one.answered(t0);
        assert_eq!(one.rate(), 0.0);
    }
}
