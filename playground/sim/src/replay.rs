//! A run's views for a window of time, computed when the page asks for them:
//! the engine runs again, from the start, up to the window, feeding a timeline
//! pass that keeps only what the window shows (the [`Sink`] here), then pauses.
//! A window later in the run continues from where it paused; an earlier one
//! starts the run again (see [`Replay::window`]).
//!
//! Why: the page draws a window of a few hundred milliseconds of a run that can
//! last an hour of simulated time, and a million requests' timeline is about a
//! hundred megabytes the page would build, then never look at. A run is a pure
//! function of its inputs, so the window's spans are the same either way (the
//! tests check them against [`Timeline::cut`] of the whole timeline).
//!
//! Leaves out: checkpoints (going back in time replays from the start: about
//! 0.1 s for a million requests, so scrubbing backwards that far waits for it).

use std::collections::VecDeque;

use crate::engine::{Paused, paused};
use crate::event::EventKind;
use crate::observe::Observer;
use crate::spec::{Limits, ModelSpec, Workload};
use crate::timeline::{Sink, Span, Timeline, TimelinePass};

/// A run, replayed on demand for the windows of time the page shows.
pub struct Replay {
    model: ModelSpec,
    workload: Workload,
    max_events: usize,
    engine: Box<dyn Paused<Kept>>,
    /// The last window asked for (its buffers are reused).
    view: Timeline,
}

/// What a replay feeds: the timeline pass, with a sink that keeps a window.
type Kept = (Instants, TimelinePass<Window>);

impl Replay {
    /// `model` on `workload`, clamped to `limits` as [`crate::simulate`] clamps
    /// them: the same run, event for event.
    pub fn new(model: ModelSpec, workload: Workload, limits: &Limits) -> Replay {
        let (mut model, mut workload) = (model, workload);
        model.clamp(limits);
        workload.clamp(limits);
        let max_events = limits.max_events;
        Replay {
            engine: start(model, workload, max_events, 0),
            model,
            workload,
            max_events,
            view: Timeline::default(),
        }
    }

    /// The timeline of `[from, to]`: equal to `Timeline::from_run(&run).cut(from, to)`
    /// for the run's log (see [`Timeline::cut`]).
    pub fn window(&mut self, from: u64, to: u64) -> &Timeline {
        let to = to.max(from);
        // Keep one more window behind this one, so stepping back a little
        // does not start the run again.
        let keep = from.saturating_sub(to - from);
        self.rewind_to(keep);
        let (instants, pass) = self.engine.observer();
        instants.drop_before(keep);
        pass.sink.drop_before(keep);
        self.engine.run_until(to);
        // Spans still running: up to `to`, or, in a run that is over (cut short),
        // up to its last event, as the whole timeline ends them.
        let over = self.engine.next_at().is_none();
        let (instants, pass) = self.engine.observer();
        let last = instants.last().unwrap_or(0);
        let stop = if over { to.min(last) } else { to };
        let open: Vec<(usize, Span)> = pass
            .open_spans(stop)
            .filter(|(_, s)| !over || s.start < last)
            .collect();
        pass.sink.fill(&mut self.view, from, to, &open);
        &self.view
    }

    /// The first instant after `t` at which the log has an event (the next frame).
    pub fn after(&mut self, t: u64) -> Option<u64> {
        self.rewind_to(t);
        self.engine.run_until(t);
        loop {
            if let Some(next) = self.engine.observer().0.after(t) {
                return Some(next);
            }
            // Fire the next instant's timers (some fire and log nothing).
            let at = self.engine.next_at()?;
            self.engine.run_until(at);
        }
    }

    /// The last instant before `t` at which the log has an event.
    pub fn before(&mut self, t: u64) -> Option<u64> {
        self.rewind_to(t);
        self.engine.run_until(t);
        self.engine.observer().0.before(t)
    }

    /// Start the run again if what happened from `from` on is no longer kept.
    fn rewind_to(&mut self, from: u64) {
        if from < self.engine.observer().1.sink.from {
            self.engine = start(self.model, self.workload, self.max_events, from);
        }
    }
}

/// A fresh run of `model` on `workload`, keeping what happens from `from` on.
fn start(
    model: ModelSpec,
    workload: Workload,
    max_events: usize,
    from: u64,
) -> Box<dyn Paused<Kept>> {
    let lanes = model.kind.lanes(model.workers) as usize;
    let window = Window {
        from,
        lanes: vec![VecDeque::new(); lanes],
        queued: Steps::default(),
        waiting: Steps::default(),
    };
    let instants = Instants {
        from,
        times: VecDeque::new(),
        before: None,
    };
    paused(
        model,
        workload,
        max_events,
        (instants, TimelinePass::with_sink(&model, window)),
    )
}

/// The timeline pass's sink for a replay: what happened from `from` on.
pub(crate) struct Window {
    /// Nothing that ended before this is kept.
    from: u64,
    /// Each lane's spans that end at or after `from`, in the order they ended.
    lanes: Vec<VecDeque<Span>>,
    queued: Steps,
    waiting: Steps,
}

/// A counter's steps after `from`, and its value at `from`.
#[derive(Default)]
struct Steps {
    at_from: u32,
    steps: VecDeque<(u64, u32)>,
}

impl Steps {
    fn push(&mut self, from: u64, t: u64, value: u32) {
        if t <= from {
            self.at_from = value;
        } else {
            self.steps.push_back((t, value));
        }
    }

    fn drop_before(&mut self, from: u64) {
        while let Some(&(_, value)) = self.steps.front().filter(|&&(t, _)| t <= from) {
            self.at_from = value;
            self.steps.pop_front();
        }
    }

    /// The series of `[from, to]` as [`Timeline::cut`] writes it, into `out`.
    fn fill(&self, out: &mut Vec<(u64, u32)>, from: u64, to: u64) {
        out.clear();
        let first = self.steps.partition_point(|&(t, _)| t <= from);
        let at_from = match first {
            0 => self.at_from,
            i => self.steps[i - 1].1,
        };
        out.push((from, at_from));
        let later = self.steps.range(first..);
        out.extend(later.take_while(|&&(t, _)| t <= to));
    }
}

impl Window {
    fn drop_before(&mut self, from: u64) {
        if from <= self.from {
            return;
        }
        self.from = from;
        for lane in &mut self.lanes {
            while lane.front().is_some_and(|s| s.end < from) {
                lane.pop_front();
            }
        }
        self.queued.drop_before(from);
        self.waiting.drop_before(from);
    }

    /// Write the timeline of `[from, to]` into `out` (`from` at or after what is
    /// kept), with `open`, the spans still running after the events so far.
    fn fill(&self, out: &mut Timeline, from: u64, to: u64, open: &[(usize, Span)]) {
        out.lanes.resize_with(self.lanes.len(), Vec::new);
        for (i, (lane, spans)) in self.lanes.iter().zip(&mut out.lanes).enumerate() {
            spans.clear();
            let overlaps = |s: &Span| s.end >= from && s.start <= to;
            let closed = lane.iter().filter(|s| overlaps(s));
            spans.extend(closed.map(|&s| Span {
                end: s.end.min(to),
                ..s
            }));
            let open_here = open.iter().filter(|&&(l, s)| l == i && overlaps(&s));
            spans.extend(open_here.map(|&(_, s)| s));
            if !spans.is_sorted_by_key(|s| (s.start, s.end)) {
                spans.sort_by_key(|s| (s.start, s.end));
            }
        }
        self.queued.fill(&mut out.queued, from, to);
        self.waiting.fill(&mut out.waiting_io, from, to);
        out.end = to;
    }
}

impl Sink for Window {
    #[inline(always)]
    fn span(&mut self, lane: usize, span: Span) {
        if span.end >= self.from {
            self.lanes[lane].push_back(span);
        }
    }

    #[inline(always)]
    fn queued(&mut self, t: u64, value: u32) {
        self.queued.push(self.from, t, value);
    }

    #[inline(always)]
    fn waiting(&mut self, t: u64, value: u32) {
        self.waiting.push(self.from, t, value);
    }
}

/// The instants (distinct event times) from `from` on, and the last one before.
pub(crate) struct Instants {
    from: u64,
    times: VecDeque<u64>,
    before: Option<u64>,
}

impl Instants {
    fn drop_before(&mut self, from: u64) {
        self.from = self.from.max(from);
        while let Some(&t) = self.times.front().filter(|&&t| t < self.from) {
            self.before = Some(t);
            self.times.pop_front();
        }
    }

    /// The latest instant so far.
    fn last(&self) -> Option<u64> {
        self.times.back().copied().or(self.before)
    }

    fn after(&self, t: u64) -> Option<u64> {
        let i = self.times.partition_point(|&i| i <= t);
        self.times.get(i).copied()
    }

    fn before(&self, t: u64) -> Option<u64> {
        match self.times.partition_point(|&i| i < t) {
            0 => self.before,
            i => Some(self.times[i - 1]),
        }
    }
}

impl Observer for Instants {
    #[inline(always)]
    fn record(&mut self, t: u64, _kind: EventKind) {
        if t < self.from {
            self.before = Some(t);
        } else if self.times.back() != Some(&t) {
            self.times.push_back(t);
        }
    }
}
