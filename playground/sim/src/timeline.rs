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

/// What the timeline pass remembers about one request.
#[derive(Clone, Copy, Default)]
struct ReqState {
    /// Lane it is bound to (pool and GIL models).
    home: u32,
    queued: bool,
    wait_since: u64,
    gil_since: u64,
}

impl Timeline {
    pub fn from_run(run: &Run) -> Timeline {
        let lanes_n = run.lanes as usize;
        // Spans per lane: about two per request spread over the lanes, three or four
        // where requests hold their lane through the wait (reserved, then trimmed).
        let per_lane = run.events.len() / 3 / lanes_n.max(1);
        let mut lanes: Vec<Lane> = (0..lanes_n)
            .map(|_| Lane {
                spans: Vec::with_capacity(per_lane),
                sorted: true,
            })
            .collect();
        let mut open: Vec<Option<(u64, u32)>> = vec![None; lanes_n];
        // Request ids count from 0: sized by the workload, grown if a log has more.
        let mut reqs = vec![ReqState::default(); run.workload.requests as usize];
        let holds = run.model.kind.holds_worker();
        let (mut queued, mut waiting) = (0u32, 0u32);
        let mut tl = Timeline {
            end: run.end_us(),
            queued: Vec::with_capacity(run.events.len() / 2),
            waiting_io: Vec::with_capacity(run.events.len() / 4),
            ..Timeline::default()
        };
        for e in &run.events {
            let (q0, w0) = (queued, waiting);
            match e.kind {
                EventKind::Arrive { req, .. } => {
                    let i = req as usize + 1;
                    if reqs.len() < i {
                        reqs.resize(i, ReqState::default());
                    }
                }
                EventKind::Queued { req, .. } | EventKind::Ready { req } => {
                    queued += 1;
                    reqs[req as usize].queued = true;
                }
                EventKind::Start { req, worker } => {
                    let r = &mut reqs[req as usize];
                    r.home = worker;
                    if std::mem::take(&mut r.queued) {
                        queued -= 1;
                    }
                }
                EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                    if std::mem::take(&mut reqs[req as usize].queued) {
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
                    reqs[req as usize].wait_since = e.t;
                }
                EventKind::WaitEnd { req } => {
                    waiting -= 1;
                    if holds {
                        let r = &reqs[req as usize];
                        push(
                            &mut lanes[r.home as usize],
                            r.wait_since,
                            e.t,
                            req,
                            SpanKind::Wait,
                        );
                    }
                }
                EventKind::GilWait { req, .. } => {
                    queued += 1;
                    let r = &mut reqs[req as usize];
                    r.queued = true;
                    r.gil_since = e.t;
                }
                EventKind::GilAcquire { req, thread } => {
                    let r = &mut reqs[req as usize];
                    if std::mem::take(&mut r.queued) {
                        queued -= 1;
                        push(
                            &mut lanes[thread as usize],
                            r.gil_since,
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
        tl.queued.shrink_to_fit();
        tl.waiting_io.shrink_to_fit();
        tl.lanes = lanes
            .into_iter()
            .map(|mut lane| {
                // The models push spans in start order; sort only a lane that is not.
                if !lane.sorted {
                    lane.spans.sort_by_key(|s| (s.start, s.end));
                }
                lane.spans.shrink_to_fit();
                lane.spans
            })
            .collect();
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

/// One lane's spans while they are collected.
struct Lane {
    spans: Vec<Span>,
    /// Every span so far sorts (by start, then end) after the one before it.
    sorted: bool,
}

fn push(lane: &mut Lane, start: u64, end: u64, req: u32, kind: SpanKind) {
    if end > start {
        if let Some(last) = lane.spans.last() {
            lane.sorted &= (last.start, last.end) <= (start, end);
        }
        lane.spans.push(Span {
            start,
            end,
            req,
            kind,
        });
    }
}
