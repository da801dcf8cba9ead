//! Metrics computed from a run's event log alone (never from engine state), so they
//! double as checks of the log: Little's law `L = λW` compares a time integral of
//! the number in system with per-request sojourn times.
//!
//! Leaves out: warm-up trimming (runs start empty, as the chapters' experiments do).

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::event::{EventKind, Run};

/// Summary of one run. Times are milliseconds unless named `_us`.
#[derive(Clone, Debug, Default, Serialize)]
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
    /// Requests waiting for a worker, the loop or the GIL: (t µs, count) at each change.
    pub queue_series: Vec<(u64, u32)>,
    pub max_queue: u32,
    pub gil_wait_ms: f64,
    pub forced_switches: u32,
    pub loop_blocked_ms: f64,
    /// Requests that were ready to run while the loop was blocked.
    pub delayed_by_block: Vec<u32>,
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
        let lanes = run.lanes as usize;
        let span = run.end_us();
        let mut m = Metrics {
            span_us: span,
            // The queue changes at most twice per event pair; trimmed at the end.
            queue_series: Vec::with_capacity(run.events.len() / 2),
            ..Metrics::default()
        };
        // Request ids count from 0, so the workload's count sizes the table (a log
        // with more requests than that still works: the table grows).
        let mut reqs = vec![ReqState::default(); run.workload.requests as usize];
        let mut run_start = vec![0u64; lanes];
        // Busy and held time per lane, µs. Summed as integers: the same value as
        // summing them as f64 (exact below 2^53 µs, about 285 years), without a
        // floating-point add chain in the hot loop.
        let mut busy_us = vec![0u64; lanes];
        let mut held_us = vec![0u64; lanes];
        let mut hist = Histogram::<u64>::new(3).expect("3 significant digits is valid");
        // L's time integral, added up where the number in system changes.
        let (mut in_system, mut area, mut last_t) = (0u64, 0u128, 0u64);
        let (mut queue, mut sojourn_sum) = (0u32, 0u128);
        // Blocking calls started so far, and that count when each request became ready:
        // a request was delayed by a block if one started (or was running) while it waited.
        let (mut blocks_active, mut blocks_started) = (0u32, 0u32);
        let mut requests_seen = 0usize;
        let holds = run.model.kind.holds_worker();

        for e in &run.events {
            let queue_before = queue;
            match e.kind {
                EventKind::Arrive { req, .. } => {
                    let i = req as usize;
                    if reqs.len() <= i {
                        reqs.resize(i + 1, ReqState::default());
                    }
                    requests_seen = requests_seen.max(i + 1);
                    reqs[i].arrived_at = e.t;
                    m.arrived += 1;
                    area += step_area(in_system, e.t - last_t);
                    last_t = e.t;
                    in_system += 1;
                }
                EventKind::Queued { req, .. } | EventKind::GilWait { req, .. } => {
                    let r = &mut reqs[req as usize];
                    r.queued_at = e.t;
                    r.queued = true;
                    queue += 1;
                }
                EventKind::Ready { req } => {
                    let r = &mut reqs[req as usize];
                    r.queued_at = e.t;
                    r.queued = true;
                    queue += 1;
                    r.blocks_at_ready = blocks_started;
                    if blocks_active > 0 {
                        r.delayed = true;
                    }
                }
                EventKind::Start { req, worker } => {
                    let r = &mut reqs[req as usize];
                    if std::mem::take(&mut r.queued) {
                        queue -= 1;
                    }
                    r.bound = true;
                    r.worker = worker;
                    r.bound_at = e.t;
                }
                EventKind::GilAcquire { req, .. } => {
                    let r = &mut reqs[req as usize];
                    if std::mem::take(&mut r.queued) {
                        queue -= 1;
                        m.gil_wait_ms += (e.t - r.queued_at) as f64 / 1e3;
                    }
                }
                EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                    if !holds {
                        let r = &mut reqs[req as usize];
                        if std::mem::take(&mut r.queued) {
                            queue -= 1;
                            if blocks_started > r.blocks_at_ready {
                                r.delayed = true;
                            }
                        }
                    }
                    run_start[lane as usize] = e.t;
                    if matches!(e.kind, EventKind::BlockStart { .. }) {
                        blocks_active += 1;
                        blocks_started += 1;
                    }
                }
                EventKind::CpuEnd { lane, .. } => {
                    busy_us[lane as usize] += e.t - run_start[lane as usize];
                }
                EventKind::BlockEnd { lane, .. } => {
                    let d = e.t - run_start[lane as usize];
                    busy_us[lane as usize] += d;
                    m.loop_blocked_ms += d as f64 / 1e3;
                    blocks_active -= 1;
                }
                EventKind::GilRelease { forced, .. } => m.forced_switches += forced as u32,
                EventKind::WaitStart { .. } | EventKind::WaitEnd { .. } => {}
                EventKind::Done { req } => {
                    let r = &reqs[req as usize];
                    let sojourn = e.t - r.arrived_at;
                    sojourn_sum += sojourn as u128;
                    hist.record(sojourn).expect("histogram auto-resizes");
                    m.completed += 1;
                    area += step_area(in_system, e.t - last_t);
                    last_t = e.t;
                    in_system -= 1;
                    if holds && r.bound {
                        held_us[r.worker as usize] += e.t - r.bound_at;
                    }
                }
            }
            if queue != queue_before {
                m.queue_series.push((e.t, queue));
                m.max_queue = m.max_queue.max(queue);
            }
        }
        m.queue_series.shrink_to_fit();
        // Up to the last event (a truncated run ends with requests still inside).
        area += step_area(in_system, span - last_t);

        m.lane_busy = busy_us.iter().map(|&us| us as f64).collect();
        m.lane_held = held_us.iter().map(|&us| us as f64).collect();
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
            m.mean_time_in_system_s = sojourn_sum as f64 / m.completed as f64 / 1e6;
            m.mean_latency_ms = m.mean_time_in_system_s * 1e3;
            m.p50_ms = hist.value_at_quantile(0.50) as f64 / 1e3;
            m.p95_ms = hist.value_at_quantile(0.95) as f64 / 1e3;
            m.p99_ms = hist.value_at_quantile(0.99) as f64 / 1e3;
        }
        let lambda_w = m.arrival_rate_per_s * m.mean_time_in_system_s;
        m.little_ratio = if lambda_w > 0.0 {
            m.mean_in_system / lambda_w
        } else {
            1.0
        };
        m.delayed_by_block = (0..requests_seen as u32)
            .filter(|&i| reqs[i as usize].delayed)
            .collect();
        m
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
