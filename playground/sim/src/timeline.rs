//! The log turned into what the canvas draws: per-lane spans (running, blocking,
//! waiting while holding the worker) and counters over time (queued, in I/O wait).
//! Built from a stored log ([`Timeline::from_run`]) or from each event as the engine
//! writes it (see `observe`).
//!
//! Leaves out: anything about pixels; the web crate maps spans to the screen.

use serde::Serialize;

use crate::event::{EventKind, Run};
use crate::observe::{Observer, PerRequest};
use crate::spec::{ModelKind, ModelSpec, Workload};

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
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
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
        let mut pass = TimelinePass::new(&run.model, &run.workload);
        for e in &run.events {
            pass.record(e.t, e.kind);
        }
        pass.finish(run.end_us())
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

/// The timeline while the log is read: fed every event in order ([`Observer`]), then
/// [`TimelinePass::finish`]ed with the time of the last event.
pub(crate) struct TimelinePass {
    tl: Timeline,
    lanes: Vec<Lane>,
    /// The span running on each lane: (start, request).
    open: Vec<Option<(u64, u32)>>,
    reqs: PerRequest<ReqState>,
    holds: bool,
    queued: u32,
    waiting: u32,
}

impl TimelinePass {
    /// For a run of `model` on `workload` (both as clamped by the engine).
    pub fn new(model: &ModelSpec, workload: &Workload) -> TimelinePass {
        let lanes_n = model.kind.lanes(model.workers) as usize;
        let requests = workload.requests as usize;
        // Spans and queue changes per request, on the high side (reserved, then
        // trimmed; a series that outgrows its room is copied whole, a million
        // requests' worth): two CPU phases and a wait or blocking call; a blocking
        // call queues for the loop too; the GIL adds waits for it and splits phases.
        let (spans, queue_changes) = match model.kind {
            ModelKind::GilThreads => (6, 6),
            ModelKind::SyncPool => (4, 2),
            ModelKind::BlockedLoop => (3, 6),
            _ => (3, 4),
        };
        let per_lane = requests * spans / lanes_n.max(1);
        TimelinePass {
            tl: Timeline {
                queued: Vec::with_capacity(requests * queue_changes),
                waiting_io: Vec::with_capacity(requests * 2),
                ..Timeline::default()
            },
            lanes: (0..lanes_n)
                .map(|_| Lane {
                    spans: Vec::with_capacity(per_lane),
                    sorted: true,
                })
                .collect(),
            open: vec![None; lanes_n],
            reqs: PerRequest::with_capacity(requests),
            holds: model.kind.holds_worker(),
            queued: 0,
            waiting: 0,
        }
    }

    /// The timeline of the events recorded, up to `end` µs.
    pub fn finish(self, end: u64) -> Timeline {
        let mut tl = self.tl;
        tl.end = end;
        tl.queued.shrink_to_fit();
        tl.waiting_io.shrink_to_fit();
        tl.lanes = self
            .lanes
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
}

impl Observer for TimelinePass {
    #[inline(always)]
    fn record(&mut self, t: u64, kind: EventKind) {
        let (q0, w0) = (self.queued, self.waiting);
        let reqs = &mut self.reqs;
        let lanes = &mut self.lanes;
        match kind {
            EventKind::Arrive { req, .. } => {
                reqs.get(req);
            }
            EventKind::Queued { req, .. } | EventKind::Ready { req } => {
                self.queued += 1;
                reqs.get(req).queued = true;
            }
            EventKind::Start { req, worker } => {
                let r = reqs.get(req);
                r.home = worker;
                if std::mem::take(&mut r.queued) {
                    self.queued -= 1;
                }
            }
            EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                if std::mem::take(&mut reqs.get(req).queued) {
                    self.queued -= 1;
                }
                self.open[lane as usize] = Some((t, req));
            }
            EventKind::CpuEnd { lane, .. } | EventKind::BlockEnd { lane, .. } => {
                if let Some((start, req)) = self.open[lane as usize].take() {
                    let kind = if matches!(kind, EventKind::CpuEnd { .. }) {
                        SpanKind::Cpu
                    } else {
                        SpanKind::Block
                    };
                    push(&mut lanes[lane as usize], start, t, req, kind);
                }
            }
            EventKind::WaitStart { req } => {
                self.waiting += 1;
                reqs.get(req).wait_since = t;
            }
            EventKind::WaitEnd { req } => {
                self.waiting -= 1;
                if self.holds {
                    let r = reqs.get(req);
                    push(
                        &mut lanes[r.home as usize],
                        r.wait_since,
                        t,
                        req,
                        SpanKind::Wait,
                    );
                }
            }
            EventKind::GilWait { req, .. } => {
                self.queued += 1;
                let r = reqs.get(req);
                r.queued = true;
                r.gil_since = t;
            }
            EventKind::GilAcquire { req, thread } => {
                let r = reqs.get(req);
                if std::mem::take(&mut r.queued) {
                    self.queued -= 1;
                    push(
                        &mut lanes[thread as usize],
                        r.gil_since,
                        t,
                        req,
                        SpanKind::GilWait,
                    );
                }
            }
            EventKind::GilRelease { .. } | EventKind::Done { .. } => {}
        }
        if self.queued != q0 {
            self.tl.queued.push((t, self.queued));
        }
        if self.waiting != w0 {
            self.tl.waiting_io.push((t, self.waiting));
        }
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
