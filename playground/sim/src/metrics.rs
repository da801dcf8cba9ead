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

impl Metrics {
    pub fn from_run(run: &Run) -> Metrics {
        let lanes = run.lanes as usize;
        let span = run.end_us();
        let mut m = Metrics {
            span_us: span,
            lane_busy: vec![0.0; lanes],
            lane_held: vec![0.0; lanes],
            ..Metrics::default()
        };
        let mut arrive_at: Vec<u64> = Vec::new();
        let mut queued_at: Vec<Option<u64>> = Vec::new();
        let mut bound: Vec<Option<(u32, u64)>> = Vec::new();
        let mut delayed: Vec<bool> = Vec::new();
        let mut run_start = vec![0u64; lanes];
        let mut hist = Histogram::<u64>::new(3).expect("3 significant digits is valid");
        let (mut in_system, mut area, mut last_t) = (0u64, 0u128, 0u64);
        let (mut queue, mut sojourn_sum) = (0u32, 0u128);
        // Blocking calls started so far, and that count when each request became ready:
        // a request was delayed by a block if one started (or was running) while it waited.
        let (mut blocks_active, mut blocks_started) = (0u32, 0u32);
        let mut blocks_at_ready: Vec<u32> = Vec::new();
        let holds = run.model.kind.holds_worker();

        for e in &run.events {
            area += in_system as u128 * (e.t - last_t) as u128;
            last_t = e.t;
            let queue_before = queue;
            match e.kind {
                EventKind::Arrive { req, .. } => {
                    let i = req as usize;
                    if arrive_at.len() <= i {
                        arrive_at.resize(i + 1, 0);
                        queued_at.resize(i + 1, None);
                        bound.resize(i + 1, None);
                        delayed.resize(i + 1, false);
                        blocks_at_ready.resize(i + 1, 0);
                    }
                    arrive_at[i] = e.t;
                    m.arrived += 1;
                    in_system += 1;
                }
                EventKind::Queued { req, .. } | EventKind::GilWait { req, .. } => {
                    queued_at[req as usize] = Some(e.t);
                    queue += 1;
                }
                EventKind::Ready { req } => {
                    queued_at[req as usize] = Some(e.t);
                    queue += 1;
                    blocks_at_ready[req as usize] = blocks_started;
                    if blocks_active > 0 {
                        delayed[req as usize] = true;
                    }
                }
                EventKind::Start { req, worker } => {
                    if queued_at[req as usize].take().is_some() {
                        queue -= 1;
                    }
                    bound[req as usize] = Some((worker, e.t));
                }
                EventKind::GilAcquire { req, .. } => {
                    if let Some(since) = queued_at[req as usize].take() {
                        queue -= 1;
                        m.gil_wait_ms += (e.t - since) as f64 / 1e3;
                    }
                }
                EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                    if !holds && queued_at[req as usize].take().is_some() {
                        queue -= 1;
                        if blocks_started > blocks_at_ready[req as usize] {
                            delayed[req as usize] = true;
                        }
                    }
                    run_start[lane as usize] = e.t;
                    if matches!(e.kind, EventKind::BlockStart { .. }) {
                        blocks_active += 1;
                        blocks_started += 1;
                    }
                }
                EventKind::CpuEnd { lane, .. } => {
                    m.lane_busy[lane as usize] += (e.t - run_start[lane as usize]) as f64;
                }
                EventKind::BlockEnd { lane, .. } => {
                    let d = e.t - run_start[lane as usize];
                    m.lane_busy[lane as usize] += d as f64;
                    m.loop_blocked_ms += d as f64 / 1e3;
                    blocks_active -= 1;
                }
                EventKind::GilRelease { forced, .. } => m.forced_switches += forced as u32,
                EventKind::WaitStart { .. } | EventKind::WaitEnd { .. } => {}
                EventKind::Done { req } => {
                    let sojourn = e.t - arrive_at[req as usize];
                    sojourn_sum += sojourn as u128;
                    hist.record(sojourn).expect("histogram auto-resizes");
                    m.completed += 1;
                    in_system -= 1;
                    if holds && let Some((worker, since)) = bound[req as usize] {
                        m.lane_held[worker as usize] += (e.t - since) as f64;
                    }
                }
            }
            if queue != queue_before {
                m.queue_series.push((e.t, queue));
                m.max_queue = m.max_queue.max(queue);
            }
        }

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
        m.delayed_by_block = (0..delayed.len() as u32)
            .filter(|&i| delayed[i as usize])
            .collect();
        m
    }
}
