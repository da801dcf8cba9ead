//! The log turned into what the canvas draws: per-lane spans (running, blocking,
//! waiting while holding the worker) and counters over time (queued, in I/O wait).
//! Built from a stored log ([`Timeline::from_run`]) or from each event as the engine
//! writes it (see `observe`).
//!
//! Leaves out: anything about pixels; the web crate maps spans to the screen.

use serde::Serialize;

use crate::event::{EventKind, Run};
use crate::observe::Observer;
use crate::per_request::PerRequest;
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

    /// What the timeline shows of the window `[from, to]`: each lane's spans
    /// that overlap it ([`Timeline::visible`]), a span still running at `to`
    /// cut to end there; each counter led by `(from, its value at from)`, then
    /// its steps in `(from, to]`; `end` is `to`. This is what a
    /// [`crate::Replay`] computes without the whole timeline.
    pub fn cut(&self, from: u64, to: u64) -> Timeline {
        let series = |s: &[(u64, u32)]| {
            let first = s.partition_point(|&(t, _)| t <= from);
            let last = s.partition_point(|&(t, _)| t <= to).max(first);
            let mut out = vec![(from, Timeline::value_at(s, from))];
            out.extend_from_slice(&s[first..last]);
            out
        };
        Timeline {
            lanes: self
                .lanes
                .iter()
                .map(|lane| {
                    let spans = Timeline::visible(lane, from, to).iter();
                    spans
                        .map(|&s| Span {
                            end: s.end.min(to),
                            ..s
                        })
                        .collect()
                })
                .collect(),
            queued: series(&self.queued),
            waiting_io: series(&self.waiting_io),
            end: to,
        }
    }
}

/// Where the timeline pass puts what it finds: spans as they end, counter steps
/// as they happen. [`Whole`] keeps everything (a [`Timeline`]); a replay keeps
/// a window of it (see `replay`).
pub(crate) trait Sink {
    fn span(&mut self, lane: usize, span: Span);
    fn queued(&mut self, t: u64, value: u32);
    fn waiting(&mut self, t: u64, value: u32);
}

/// The timeline while the log is read: fed every event in order ([`Observer`]), then
/// [`TimelinePass::finish`]ed with the time of the last event.
pub(crate) struct TimelinePass<S = Whole> {
    pub(crate) sink: S,
    /// The span running on each lane (CPU or a blocking call): (start, request, kind).
    open: Vec<Option<(u64, u32, SpanKind)>>,
    /// The wait each lane is held in otherwise (for I/O while bound, or for the
    /// GIL): (start, request, kind).
    held: Vec<Option<(u64, u32, SpanKind)>>,
    reqs: PerRequest<ReqState>,
    holds: bool,
    queued: u32,
    waiting: u32,
}

/// The whole timeline, while it is collected.
pub(crate) struct Whole {
    tl: Timeline,
    lanes: Vec<Lane>,
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
        let whole = Whole {
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
        };
        TimelinePass::with_sink(model, whole)
    }

    /// The timeline of the events recorded, up to `end` µs (the last event's
    /// time). A run cut short leaves spans running: they end at `end`.
    pub fn finish(mut self, end: u64) -> Timeline {
        let open: Vec<(usize, Span)> = self.open_spans(end).collect();
        for (lane, span) in open {
            push(
                &mut self.sink,
                lane as u32,
                span.start,
                end,
                span.req,
                span.kind,
            );
        }
        let Whole { mut tl, lanes } = self.sink;
        tl.end = end;
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
}

impl<S: Sink> TimelinePass<S> {
    /// A pass that hands what it finds to `sink`.
    pub fn with_sink(model: &ModelSpec, sink: S) -> TimelinePass<S> {
        let lanes_n = model.kind.lanes(model.workers) as usize;
        TimelinePass {
            sink,
            open: vec![None; lanes_n],
            held: vec![None; lanes_n],
            reqs: PerRequest::default(),
            holds: model.kind.holds_worker(),
            queued: 0,
            waiting: 0,
        }
    }

    /// The spans open after the events recorded so far, each as it would end
    /// at `to` if it ended there, by lane: (lane, span).
    pub fn open_spans(&self, to: u64) -> impl Iterator<Item = (usize, Span)> + '_ {
        let open = self.open.iter().enumerate();
        let held = self.held.iter().enumerate();
        open.chain(held).filter_map(move |(lane, slot)| {
            let &(start, req, kind) = slot.as_ref()?;
            Some((
                lane,
                Span {
                    start,
                    end: to,
                    req,
                    kind,
                },
            ))
        })
    }
}

impl<S: Sink> Observer for TimelinePass<S> {
    #[inline(always)]
    fn record(&mut self, t: u64, kind: EventKind) {
        let (q0, w0) = (self.queued, self.waiting);
        let reqs = &mut self.reqs;
        let sink = &mut self.sink;
        match kind {
            EventKind::Queued { req, .. } | EventKind::Ready { req } => {
                self.queued += 1;
                reqs[req].queued = true;
            }
            EventKind::Start { req, worker } => {
                let r = &mut reqs[req];
                r.home = worker;
                if std::mem::take(&mut r.queued) {
                    self.queued -= 1;
                }
            }
            EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                if std::mem::take(&mut reqs[req].queued) {
                    self.queued -= 1;
                }
                let kind = if matches!(kind, EventKind::CpuStart { .. }) {
                    SpanKind::Cpu
                } else {
                    SpanKind::Block
                };
                self.open[lane as usize] = Some((t, req, kind));
            }
            EventKind::CpuEnd { lane, .. } | EventKind::BlockEnd { lane, .. } => {
                if let Some((start, req, kind)) = self.open[lane as usize].take() {
                    push(sink, lane, start, t, req, kind);
                }
            }
            EventKind::WaitStart { req } => {
                self.waiting += 1;
                if self.holds {
                    let home = reqs[req].home;
                    self.held[home as usize] = Some((t, req, SpanKind::Wait));
                }
            }
            EventKind::WaitEnd { req } => {
                self.waiting -= 1;
                if self.holds {
                    let home = reqs[req].home;
                    if let Some((start, req, kind)) = self.held[home as usize].take() {
                        push(sink, home, start, t, req, kind);
                    }
                }
            }
            EventKind::GilWait { req, thread } => {
                self.queued += 1;
                reqs[req].queued = true;
                self.held[thread as usize] = Some((t, req, SpanKind::GilWait));
            }
            EventKind::GilAcquire { req, thread } => {
                if std::mem::take(&mut reqs[req].queued) {
                    self.queued -= 1;
                    if let Some((start, req, kind)) = self.held[thread as usize].take() {
                        push(sink, thread, start, t, req, kind);
                    }
                }
            }
            EventKind::Arrive { req, .. } => reqs.insert(req, ReqState::default()),
            EventKind::Done { req } => reqs.retire(req),
            EventKind::GilRelease { .. } => {}
        }
        if self.queued != q0 {
            sink.queued(t, self.queued);
        }
        if self.waiting != w0 {
            sink.waiting(t, self.waiting);
        }
    }
}

impl Sink for Whole {
    #[inline(always)]
    fn span(&mut self, lane: usize, span: Span) {
        let lane = &mut self.lanes[lane];
        if let Some(last) = lane.spans.last() {
            lane.sorted &= (last.start, last.end) <= (span.start, span.end);
        }
        lane.spans.push(span);
    }

    #[inline(always)]
    fn queued(&mut self, t: u64, value: u32) {
        self.tl.queued.push((t, value));
    }

    #[inline(always)]
    fn waiting(&mut self, t: u64, value: u32) {
        self.tl.waiting_io.push((t, value));
    }
}

/// One lane's spans while they are collected.
struct Lane {
    spans: Vec<Span>,
    /// Every span so far sorts (by start, then end) after the one before it.
    sorted: bool,
}

/// A span that took time goes to `sink` (an instant's span draws nothing).
#[inline(always)]
fn push<S: Sink>(sink: &mut S, lane: u32, start: u64, end: u64, req: u32, kind: SpanKind) {
    if end > start {
        sink.span(
            lane as usize,
            Span {
                start,
                end,
                req,
                kind,
            },
        );
    }
}
