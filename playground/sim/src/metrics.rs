//! Metrics computed from a run's event log alone (never from engine state), so they
//! double as checks of the log: Little's law `L = λW` compares a time integral of
//! the number in system with per-request sojourn times. Fed a stored log
//! ([`Metrics::from_run`]) or each event as the engine writes it (see `observe`).
//!
//! Leaves out: warm-up trimming (runs start empty, as the chapters' experiments do).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::event::{EventKind, Run};
use crate::observe::Observer;
use crate::per_request::PerRequest;
use crate::spec::ModelSpec;

/// Summary of one run. Times are milliseconds unless named `_us`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub arrived: u32,
    pub completed: u32,
    /// Observation window: 0 to the last event, µs.
    pub span_us: u64,
    /// Completed requests per second.
    pub throughput_per_s: f64,
    pub mean_latency_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// L: time-averaged number of requests in the server.
    pub mean_in_system: f64,
    /// λ: arrivals per second.
    pub arrival_rate_per_s: f64,
    /// W: mean time in the server, seconds.
    pub mean_time_in_system_s: f64,
    /// L / (λW): 1.0 when the log is consistent (and every request finished).
    pub little_ratio: f64,
    /// Per lane: share of the window spent running code or a blocking call.
    pub lane_busy: Vec<f64>,
    /// Per lane (pool / GIL threads only): share of the window bound to a request.
    pub lane_held: Vec<f64>,
    /// Most requests waiting at once for a worker, the loop or the GIL (the count
    /// over time is [`crate::Timeline::queued`]).
    pub max_queue: u32,
    /// Most requests waiting on I/O at once (the count over time is
    /// [`crate::Timeline::waiting_io`]).
    pub max_in_io: u32,
    pub gil_wait_ms: f64,
    pub forced_switches: u32,
    pub loop_blocked_ms: f64,
    /// How many requests were ready to run while the loop was blocked.
    pub delayed_by_block: u32,
    /// The first of them by id, at most [`Metrics::DELAYED_LISTED`] (the page
    /// lists them; all of them would be a million ids in a big run).
    pub first_delayed: Vec<u32>,
}

impl Metrics {
    /// How many of the requests delayed by a blocking call are listed.
    pub const DELAYED_LISTED: usize = 8;
}

/// What the metrics pass remembers about one request (one record per request,
/// so each event touches one place in memory).
#[derive(Clone, Copy, Default)]
struct ReqState {
    arrived_at: u64,
    /// When it started waiting for a worker, the loop or the GIL (if `queued`).
    queued_at: u64,
    /// When it was bound to `worker` (if `bound`).
    bound_at: u64,
    worker: u32,
    /// Blocking calls started before it became ready.
    blocks_at_ready: u32,
    queued: bool,
    bound: bool,
    delayed: bool,
}

impl Metrics {
    pub fn from_run(run: &Run) -> Metrics {
        let mut pass = MetricsPass::new(&run.model);
        for e in &run.events {
            pass.record(e.t, e.kind);
        }
        pass.finish(run.end_us())
    }
}

/// The metrics while the log is read: fed every event in order ([`Observer`]), then
/// [`MetricsPass::finish`]ed with the time of the last event.
pub(crate) struct MetricsPass {
    m: Metrics,
    holds: bool,
    reqs: PerRequest<ReqState>,
    run_start: Vec<u64>,
    /// Busy and held time per lane, µs. Summed as integers: the same value as
    /// summing them as f64 (exact below 2^53 µs, about 285 years), without a
    /// floating-point add chain in the hot loop.
    busy_us: Vec<u64>,
    held_us: Vec<u64>,
    hist: Histogram<u64>,
    /// L's time integral, added up where the number in system changes.
    in_system: u64,
    area: u128,
    last_t: u64,
    queue: u32,
    in_io: u32,
    sojourn_sum: u128,
    /// Blocking calls running, and started so far: a request was delayed by a block
    /// if one started (or was running) while it waited.
    blocks_active: u32,
    blocks_started: u32,
}

impl MetricsPass {
    /// For a run of `model` (as clamped by the engine).
    pub fn new(model: &ModelSpec) -> MetricsPass {
        let lanes = model.kind.lanes(model.workers) as usize;
        MetricsPass {
            m: Metrics::default(),
            holds: model.kind.holds_worker(),
            reqs: PerRequest::default(),
            run_start: vec![0; lanes],
            busy_us: vec![0; lanes],
            held_us: vec![0; lanes],
            hist: Histogram::<u64>::new(3).expect("3 significant digits is valid"),
            in_system: 0,
            area: 0,
            last_t: 0,
            queue: 0,
            in_io: 0,
            sojourn_sum: 0,
            blocks_active: 0,
            blocks_started: 0,
        }
    }

    /// The metrics of the events recorded, over the window from 0 to `span` µs.
    pub fn finish(self, span: u64) -> Metrics {
        let mut m = self.m;
        m.span_us = span;
        // Up to the last event (a truncated run ends with requests still inside).
        let area = self.area + step_area(self.in_system, span - self.last_t);

        m.lane_busy = self.busy_us.iter().map(|&us| us as f64).collect();
        m.lane_held = self.held_us.iter().map(|&us| us as f64).collect();
        let span_s = span as f64 / 1e6;
        if span > 0 {
            for v in m.lane_busy.iter_mut().chain(m.lane_held.iter_mut()) {
                *v /= span as f64;
            }
            m.mean_in_system = area as f64 / span as f64;
            m.arrival_rate_per_s = m.arrived as f64 / span_s;
            m.throughput_per_s = m.completed as f64 / span_s;
        }
        if m.completed > 0 {
            m.mean_time_in_system_s = self.sojourn_sum as f64 / m.completed as f64 / 1e6;
            m.mean_latency_ms = m.mean_time_in_system_s * 1e3;
            m.p50_ms = self.hist.value_at_quantile(0.50) as f64 / 1e3;
            m.p95_ms = self.hist.value_at_quantile(0.95) as f64 / 1e3;
            m.p99_ms = self.hist.value_at_quantile(0.99) as f64 / 1e3;
        }
        let lambda_w = m.arrival_rate_per_s * m.mean_time_in_system_s;
        m.little_ratio = if lambda_w > 0.0 {
            m.mean_in_system / lambda_w
        } else {
            1.0
        };
        m
    }
}

impl Observer for MetricsPass {
    #[inline(always)]
    fn record(&mut self, t: u64, kind: EventKind) {
        let m = &mut self.m;
        match kind {
            EventKind::Arrive { req, .. } => {
                let state = ReqState {
                    arrived_at: t,
                    ..ReqState::default()
                };
                self.reqs.insert(req, state);
                m.arrived += 1;
                self.area += step_area(self.in_system, t - self.last_t);
                self.last_t = t;
                self.in_system += 1;
            }
            EventKind::Queued { req, .. } | EventKind::GilWait { req, .. } => {
                let r = &mut self.reqs[req];
                r.queued_at = t;
                r.queued = true;
                self.queue += 1;
                m.max_queue = m.max_queue.max(self.queue);
            }
            EventKind::Ready { req } => {
                let r = &mut self.reqs[req];
                r.queued_at = t;
                r.queued = true;
                self.queue += 1;
                m.max_queue = m.max_queue.max(self.queue);
                r.blocks_at_ready = self.blocks_started;
                if self.blocks_active > 0 {
                    delay(m, r, req);
                }
            }
            EventKind::Start { req, worker } => {
                let r = &mut self.reqs[req];
                if std::mem::take(&mut r.queued) {
                    self.queue -= 1;
                }
                r.bound = true;
                r.worker = worker;
                r.bound_at = t;
            }
            EventKind::GilAcquire { req, .. } => {
                let r = &mut self.reqs[req];
                if std::mem::take(&mut r.queued) {
                    self.queue -= 1;
                    m.gil_wait_ms += (t - r.queued_at) as f64 / 1e3;
                }
            }
            EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                if !self.holds {
                    let r = &mut self.reqs[req];
                    if std::mem::take(&mut r.queued) {
                        self.queue -= 1;
                        if self.blocks_started > r.blocks_at_ready {
                            delay(m, r, req);
                        }
                    }
                }
                self.run_start[lane as usize] = t;
                if matches!(kind, EventKind::BlockStart { .. }) {
                    self.blocks_active += 1;
                    self.blocks_started += 1;
                }
            }
            EventKind::CpuEnd { lane, .. } => {
                self.busy_us[lane as usize] += t - self.run_start[lane as usize];
            }
            EventKind::BlockEnd { lane, .. } => {
                let d = t - self.run_start[lane as usize];
                self.busy_us[lane as usize] += d;
                m.loop_blocked_ms += d as f64 / 1e3;
                self.blocks_active -= 1;
            }
            EventKind::GilRelease { forced, .. } => m.forced_switches += forced as u32,
            EventKind::WaitStart { .. } => {
                self.in_io += 1;
                m.max_in_io = m.max_in_io.max(self.in_io);
            }
            EventKind::WaitEnd { .. } => self.in_io -= 1,
            EventKind::Done { req } => {
                let r = &mut self.reqs[req];
                let sojourn = t - r.arrived_at;
                self.sojourn_sum += sojourn as u128;
                self.hist.record(sojourn).expect("histogram auto-resizes");
                m.completed += 1;
                self.area += step_area(self.in_system, t - self.last_t);
                self.last_t = t;
                self.in_system -= 1;
                if self.holds && r.bound {
                    self.held_us[r.worker as usize] += t - r.bound_at;
                }
                self.reqs.retire(req);
            }
        }
    }
}

/// Count `req` (state `r`) as delayed by a blocking call, once; list it if it
/// is among the first by id.
#[inline]
fn delay(m: &mut Metrics, r: &mut ReqState, req: u32) {
    if std::mem::replace(&mut r.delayed, true) {
        return;
    }
    m.delayed_by_block += 1;
    let listed = &mut m.first_delayed;
    if listed.len() < Metrics::DELAYED_LISTED || listed.last().is_some_and(|&last| req < last) {
        let at = listed.partition_point(|&id| id < req);
        listed.insert(at, req);
        listed.truncate(Metrics::DELAYED_LISTED);
    }
}

/// `in_system × dt`, the area under the number in system over one step.
#[inline]
fn step_area(in_system: u64, dt: u64) -> u128 {
    // Two factors below 2^32 multiply in u64; a u128 product (or an overflow-checked
    // one) is a slow library call in wasm, so it is only the fallback.
    if (in_system | dt) >> 32 == 0 {
        (in_system * dt) as u128
    } else {
        in_system as u128 * dt as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests are counted once however often they are delayed, and the list
    /// keeps the lowest ids whatever order they were delayed in.
    #[test]
    fn delayed_requests_are_counted_once_and_the_first_ids_listed() {
        let mut m = Metrics::default();
        let mut reqs = vec![ReqState::default(); 13];
        for id in [5, 3, 9, 1, 12, 2, 7, 5, 8, 6, 4, 0, 3] {
            delay(&mut m, &mut reqs[id as usize], id);
        }
        assert_eq!(m.delayed_by_block, 11);
        assert_eq!(m.first_delayed, [0, 1, 2, 3, 4, 5, 6, 7]);
    }
}
