//! The log turned into what the canvas draws: per-lane spans (running, blocking,
//! waiting while holding the worker) and counters over time (queued, in I/O wait).
//!
//! Leaves out: anything about pixels; the web crate maps spans to the screen.

use serde::Serialize;

use crate::event::{EventKind, Run};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SpanKind {
    /// Running Python/Rust code.
    Cpu,
    /// A blocking call on a loop thread.
    Block,
    /// Holding a worker/thread while waiting on I/O (pool and GIL models).
    Wait,
    /// GIL model: the thread is ready but waits for the GIL.
    GilWait,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: u64,
    pub end: u64,
    pub req: u32,
    pub kind: SpanKind,
}

/// Spans sorted by start per lane, plus step counters (t, value) sorted by t.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timeline {
    pub lanes: Vec<Vec<Span>>,
    pub queued: Vec<(u64, u32)>,
    pub waiting_io: Vec<(u64, u32)>,
    pub end: u64,
}

impl Timeline {
    pub fn from_run(run: &Run) -> Timeline {
        let mut lanes = vec![Vec::new(); run.lanes as usize];
        let mut open: Vec<Option<(u64, u32)>> = vec![None; run.lanes as usize];
        let mut home: Vec<u32> = Vec::new();
        let mut wait_open: Vec<u64> = Vec::new();
        let mut gil_open: Vec<u64> = Vec::new();
        let mut is_queued: Vec<bool> = Vec::new();
        let holds = run.model.kind.holds_worker();
        let (mut queued, mut waiting) = (0u32, 0u32);
        let mut tl = Timeline {
            end: run.end_us(),
            ..Timeline::default()
        };
        for e in &run.events {
            let (q0, w0) = (queued, waiting);
            match e.kind {
                EventKind::Arrive { req, .. } => {
                    let i = req as usize + 1;
                    if home.len() < i {
                        home.resize(i, 0);
                        wait_open.resize(i, 0);
                        gil_open.resize(i, 0);
                        is_queued.resize(i, false);
                    }
                }
                EventKind::Queued { req, .. } | EventKind::Ready { req } => {
                    queued += 1;
                    is_queued[req as usize] = true;
                }
                EventKind::Start { req, worker } => {
                    home[req as usize] = worker;
                    if std::mem::take(&mut is_queued[req as usize]) {
                        queued -= 1;
                    }
                }
                EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                    if std::mem::take(&mut is_queued[req as usize]) {
                        queued -= 1;
                    }
                    open[lane as usize] = Some((e.t, req));
                }
                EventKind::CpuEnd { lane, .. } | EventKind::BlockEnd { lane, .. } => {
                    if let Some((start, req)) = open[lane as usize].take() {
                        let kind = if matches!(e.kind, EventKind::CpuEnd { .. }) {
                            SpanKind::Cpu
                        } else {
                            SpanKind::Block
                        };
                        push(&mut lanes[lane as usize], start, e.t, req, kind);
                    }
                }
                EventKind::WaitStart { req } => {
                    waiting += 1;
                    wait_open[req as usize] = e.t;
                }
                EventKind::WaitEnd { req } => {
                    waiting -= 1;
                    if holds {
                        let lane = home[req as usize] as usize;
                        push(
                            &mut lanes[lane],
                            wait_open[req as usize],
                            e.t,
                            req,
                            SpanKind::Wait,
                        );
                    }
                }
                EventKind::GilWait { req, .. } => {
                    queued += 1;
                    is_queued[req as usize] = true;
                    gil_open[req as usize] = e.t;
                }
                EventKind::GilAcquire { req, thread } => {
                    if std::mem::take(&mut is_queued[req as usize]) {
                        queued -= 1;
                        let start = gil_open[req as usize];
                        push(
                            &mut lanes[thread as usize],
                            start,
                            e.t,
                            req,
                            SpanKind::GilWait,
                        );
                    }
                }
                EventKind::GilRelease { .. } | EventKind::Done { .. } => {}
            }
            if queued != q0 {
                tl.queued.push((e.t, queued));
            }
            if waiting != w0 {
                tl.waiting_io.push((e.t, waiting));
            }
        }
        for lane in &mut lanes {
            lane.sort_by_key(|s| (s.start, s.end));
        }
        tl.lanes = lanes;
        tl
    }

    /// Value of a step counter at time `t`.
    pub fn value_at(series: &[(u64, u32)], t: u64) -> u32 {
        match series.partition_point(|&(at, _)| at <= t) {
            0 => 0,
            i => series[i - 1].1,
        }
    }

    /// Spans of one lane that overlap `[from, to]` (lane spans never overlap, so
    /// ends are sorted like starts).
    pub fn visible(lane: &[Span], from: u64, to: u64) -> &[Span] {
        let first = lane.partition_point(|s| s.end < from);
        let last = lane.partition_point(|s| s.start <= to);
        &lane[first..last.max(first)]
    }
}

fn push(lane: &mut Vec<Span>, start: u64, end: u64, req: u32, kind: SpanKind) {
    if end > start {
        lane.push(Span {
            start,
            end,
            req,
            kind,
        });
    }
}
