//! The discrete-event engine: a clock, a priority queue of timers, and the
//! per-model rules for who may run a request's next phase.
//!
//! Shared rules: a request is `CPU -> wait -> CPU` (zero-length phases are skipped);
//! ties at the same instant run in the order they were scheduled, so a run is a pure
//! function of its inputs. One random stream from the seed per kind of draw (see
//! `stream`): phase lengths are drawn in arrival order, identical across models, so
//! models are compared on the same requests; a run draws nothing it does not use.
//!
//! Speed: one engine is compiled per model (`Engine<K>`), timers sit in per-class
//! FIFOs (see `timers`), idle lanes sit in a two-level bitset (see `lanes`), a
//! request's state is kept only while it is in flight (see `per_request`), the log
//! is 16 bytes an event (see `EventLog`) and only kept when asked for: it is one of
//! the observers fed each event, and the page runs without it ([`simulate_shown`]).
//! The loop runs in calls of [`BATCH`] timers, so that a browser's optimised
//! compile of it takes over within the first run (see `Engine::run_batch`).
//! A run stops (truncated) at the event cap, or at `EventLog::MAX_T` (about 2,283
//! simulated years).
//!
//! Machine: with [`ModelSpec::cores`] set, a CPU phase also needs a free core
//! (first come, first served; a blocking call sleeps and needs none), and each
//! closed-loop client spends [`ModelSpec::shared_cpu_us`] on a core before its
//! next request (the load generator on the same machine). With
//! [`ModelSpec::blocking_pool`] set, at most that many offloaded calls run at
//! once. Both 0 (the defaults): every lane has its own core, the pool has no
//! limit, and a run is exactly what it was before they existed.
//!
//! Leaves out: preemption of anything but the GIL (a core is held until its
//! phase or GIL slice ends, where an OS would time-slice), CPU cost of switching.

use std::collections::VecDeque;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::event::{EventKind, EventLog, Run};
use crate::lanes::IdleLanes;
use crate::metrics::{Metrics, MetricsPass};
use crate::observe::Observer;
use crate::per_request::PerRequest;
use crate::spec::{Arrivals, Dist, Limits, ModelKind, ModelSpec, Workload};
use crate::stream::{Draw, Stream};
use crate::timeline::{Timeline, TimelinePass};
use crate::timers::{Timer, TimerQueue};

/// Timers fired per call of `Engine::run_batch`: a few milliseconds of work.
const BATCH: u32 = 1 << 14;

/// Log entries reserved per request (a guess on the high side for fixed phases).
fn events_per_request(kind: ModelKind) -> usize {
    match kind {
        ModelKind::GilThreads => 16,
        _ => 12,
    }
}

/// Simulate `workload` through `model` (both clamped to `limits` first).
pub fn simulate(model: ModelSpec, workload: Workload, limits: &Limits) -> Run {
    let (run, ()) = simulate_logged(model, workload, limits, |_, _| ());
    run
}

/// The engine with nothing observing it: how many events the run has, and
/// whether it was cut short. For benchmarks: the floor under everything the
/// page computes, since every view (and the log) costs on top of it.
pub fn simulate_bare(model: ModelSpec, workload: Workload, limits: &Limits) -> (usize, bool) {
    let (_, _, events, truncated, ()) = simulate_with(model, workload, limits, |_, _| ());
    (events, truncated)
}

/// [`simulate`], with the metrics fed each event as it is written instead of
/// reading the log again afterwards (see `observe`). The metrics equal
/// `Metrics::from_run(&run)`.
pub fn simulate_with_metrics(
    model: ModelSpec,
    workload: Workload,
    limits: &Limits,
) -> (Run, Metrics) {
    let (run, metrics) = simulate_logged(model, workload, limits, |m, _| MetricsPass::new(m));
    let end = run.end_us();
    (run, metrics.finish(end))
}

/// A run and the views of its log the page shows, computed while it ran.
#[derive(Clone, Debug)]
pub struct Observed {
    pub run: Run,
    /// Equal to `Metrics::from_run(&run)`.
    pub metrics: Metrics,
    /// Equal to `Timeline::from_run(&run)`.
    pub timeline: Timeline,
}

/// [`simulate`], with the metrics and the timeline fed each event as it is
/// written (see `observe`).
pub fn simulate_observed(model: ModelSpec, workload: Workload, limits: &Limits) -> Observed {
    let (run, (metrics, timeline)) = simulate_logged(model, workload, limits, |m, w| {
        (MetricsPass::new(m), TimelinePass::new(m, w))
    });
    let end = run.end_us();
    Observed {
        metrics: metrics.finish(end),
        timeline: timeline.finish(end),
        run,
    }
}

/// What the page keeps of a run: its (clamped) inputs and its metrics, but not
/// the log, nor the timeline: a run is a pure function of its inputs, so
/// `simulate(shown.model, shown.workload, ..)` gives the log back (an export
/// does), and a [`crate::Replay`] the timeline of the window the page draws.
///
/// Why: a million requests log about eleven million events (176 MB at 16 bytes
/// each), and their timeline takes about a hundred megabytes more; writing them
/// is most of a run's memory traffic, and the page draws a window of them.
///
/// Serialized (JSON) to come back from the page's worker threads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub model: ModelSpec,
    pub workload: Workload,
    /// Number of lanes (threads that run CPU work).
    pub lanes: u32,
    /// As [`Run::truncated`].
    pub truncated: bool,
    /// How many events the log has (the length of `Run::events`).
    pub events: usize,
    /// Time of the last event, µs (as [`Run::end_us`]).
    pub end_us: u64,
    /// Equal to `Metrics::from_run` of the run's log.
    pub metrics: Metrics,
}

/// What the page computes from a run before it draws, in one pass, without
/// keeping the log.
pub fn simulate_shown(model: ModelSpec, workload: Workload, limits: &Limits) -> Shown {
    let (model, workload, events, truncated, (last, metrics)) =
        simulate_with(model, workload, limits, |m, _| {
            (LastEvent(0), MetricsPass::new(m))
        });
    Shown {
        model,
        workload,
        lanes: model.kind.lanes(model.workers),
        truncated,
        events,
        end_us: last.0,
        metrics: metrics.finish(last.0),
    }
}

/// Remembers the time of the last event (the run's end).
struct LastEvent(u64);

impl Observer for LastEvent {
    #[inline(always)]
    fn record(&mut self, t: u64, _kind: EventKind) {
        self.0 = t;
    }
}

/// Simulate with the log kept, plus an observer made (by `observer`) for the
/// clamped inputs.
fn simulate_logged<O: Observer + 'static>(
    model: ModelSpec,
    workload: Workload,
    limits: &Limits,
    observer: impl FnOnce(&ModelSpec, &Workload) -> O,
) -> (Run, O) {
    let (model, workload, _, truncated, (events, observer)) =
        simulate_with(model, workload, limits, |m, w| {
            // Reserve the log once instead of copying a growing one: about 11 events
            // per request, more with the GIL (acquire, release and waits per phase).
            let reserve = (w.requests as usize)
                .saturating_mul(events_per_request(m.kind))
                .min(limits.max_events.saturating_add(16));
            (EventLog::with_capacity(reserve), observer(m, w))
        });
    let run = Run {
        model,
        workload,
        lanes: model.kind.lanes(model.workers),
        events,
        truncated,
    };
    (run, observer)
}

/// Clamp the inputs, then run the engine with an observer made (by `observer`) for
/// the clamped inputs: those inputs, the number of events, whether the run was
/// cut short, and the observer that saw every event.
fn simulate_with<O: Observer + 'static>(
    model: ModelSpec,
    workload: Workload,
    limits: &Limits,
    observer: impl FnOnce(&ModelSpec, &Workload) -> O,
) -> (ModelSpec, Workload, usize, bool, O) {
    let (mut model, mut workload) = (model, workload);
    model.clamp(limits);
    workload.clamp(limits);
    let mut engine = paused(
        model,
        workload,
        limits.max_events,
        observer(&model, &workload),
    );
    engine.run_until(u64::MAX);
    let (events, truncated, observer) = engine.finish();
    (model, workload, events, truncated, observer)
}

/// An engine paused between instants, for a [`crate::Replay`]: it fires timers
/// up to a time, then waits to be asked for more.
pub(crate) trait Paused<O> {
    /// Fire every timer due at or before `t` (µs), unless the run ends first.
    fn run_until(&mut self, t: u64);
    /// When the next timer is due; `None` once the run is over (or cut short).
    fn next_at(&self) -> Option<u64>;
    /// What has been fed every event so far.
    fn observer(&mut self) -> &mut O;
    /// The number of events so far, whether the run was cut short, and the
    /// observer.
    fn finish(self: Box<Self>) -> (usize, bool, O);
}

impl<const K: usize, O: Observer> Paused<O> for Engine<K, O> {
    fn run_until(&mut self, t: u64) {
        while self.run_batch(BATCH, t) {}
    }

    fn next_at(&self) -> Option<u64> {
        // The cap cuts the run at its next timer (see `run_batch`).
        if self.truncated || self.events >= self.max_events {
            return None;
        }
        self.timers.next_at().filter(|&t| t <= EventLog::MAX_T)
    }

    fn observer(&mut self) -> &mut O {
        &mut self.observer
    }

    fn finish(self: Box<Self>) -> (usize, bool, O) {
        (self.events, self.truncated, self.observer)
    }
}

/// The engine for `model` on `workload` (both clamped already), started at time
/// 0 and paused before its first timer, feeding `observer`. One engine per
/// model, compiled for it: the per-model rules become straight code instead of
/// a `match` on the model at every step of the hot loop (the one dynamic call
/// is per batch of timers).
pub(crate) fn paused<O: Observer + 'static>(
    model: ModelSpec,
    workload: Workload,
    max_events: usize,
    observer: O,
) -> Box<dyn Paused<O>> {
    fn boxed<const K: usize, O: Observer + 'static>(
        model: ModelSpec,
        workload: Workload,
        max_events: usize,
        observer: O,
    ) -> Box<dyn Paused<O>> {
        let mut engine = Engine::<K, O>::new(model, workload, max_events, observer);
        engine.start();
        Box::new(engine)
    }
    match model.kind {
        ModelKind::SyncPool => boxed::<0, O>(model, workload, max_events, observer),
        ModelKind::EventLoop => boxed::<1, O>(model, workload, max_events, observer),
        ModelKind::BlockedLoop => boxed::<2, O>(model, workload, max_events, observer),
        ModelKind::GilThreads => boxed::<3, O>(model, workload, max_events, observer),
        ModelKind::LoopPerWorker => boxed::<4, O>(model, workload, max_events, observer),
        ModelKind::WorkStealing => boxed::<5, O>(model, workload, max_events, observer),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Cpu,
    Wait,
    /// A blocking call made on the loop thread.
    Block,
}

#[derive(Clone, Copy, Default)]
struct Req {
    /// Lengths of the CPU, wait (or blocking call) and CPU phases, µs.
    phases: [u64; 3],
    /// What is left of the current CPU/blocking phase (the GIL can interrupt it).
    remaining: u64,
    client: u32,
    /// Bound worker (pool, GIL threads) or loop group (pinned loops).
    home: u32,
    /// Index of the phase after the current one.
    next: u8,
    /// The wait is a blocking call on the loop thread.
    blocks: bool,
    /// The wait is a blocking call offloaded to a pool of bounded size.
    pooled: bool,
}

impl Req {
    fn phase(&self, i: usize) -> Phase {
        match i {
            1 if self.blocks => Phase::Block,
            1 => Phase::Wait,
            _ => Phase::Cpu,
        }
    }

    /// Whether the phase being run is a blocking call.
    fn in_block(&self) -> bool {
        self.phase(self.next as usize - 1) == Phase::Block
    }
}

/// The engine for model `ModelKind::ALL[K]`.
struct Engine<const K: usize, O> {
    model: ModelSpec,
    workload: Workload,
    max_events: usize,
    now: u64,
    timers: TimerQueue,
    /// Events so far (the log, if one is kept, is an observer).
    events: usize,
    /// Fed every event.
    observer: O,
    /// The requests in the system.
    reqs: PerRequest<Req>,
    issued: u32,
    /// Phase lengths, arrival gaps and think times, blocking and pinning draws.
    phase_rng: Stream,
    arrival_rng: Stream,
    blocking_rng: Stream,
    pin_rng: Stream,
    shared_rng: Stream,
    /// The idle lanes / workers.
    free: IdleLanes,
    /// Requests waiting for a worker, per process (one process but for gil-threads).
    worker_queue: Vec<VecDeque<u32>>,
    /// The workers (threads) of each process: a contiguous run of lanes each
    /// (see [`ModelSpec::process_of`]).
    process_lanes: Vec<Range<u32>>,
    /// Ready CPU phases per loop group (one group except for pinned loops).
    ready: Vec<VecDeque<u32>>,
    client_pin: Vec<Option<u32>>,
    /// One GIL per process (gil-threads).
    gils: Vec<Gil>,
    /// Free cores (`u32::MAX`: a core per lane) and who waits for one.
    cores_free: u32,
    core_queue: VecDeque<CoreUse>,
    /// Offloaded calls running in the bounded blocking pool, and those queued.
    pool_busy: u32,
    pool_queue: VecDeque<u32>,
    truncated: bool,
}

/// One GIL: who holds it, since when it runs, who waits for it.
#[derive(Default)]
struct Gil {
    holder: Option<u32>,
    /// The holder has its core and runs (false while it waits for a core).
    running: bool,
    epoch: u32,
    since: u64,
    queue: VecDeque<u32>,
}

/// Something waiting for a free core.
#[derive(Clone, Copy)]
enum CoreUse {
    /// A request's CPU phase on a lane.
    Run { req: u32, lane: u32, epoch: u32 },
    /// A closed-loop client's own CPU before its next request.
    Client { client: u32 },
}

impl<const K: usize, O: Observer> Engine<K, O> {
    const KIND: ModelKind = ModelKind::ALL[K];

    fn new(model: ModelSpec, workload: Workload, max_events: usize, observer: O) -> Self {
        let lanes = model.kind.lanes(model.workers).min(IdleLanes::CAPACITY);
        let groups = if model.kind == ModelKind::LoopPerWorker {
            lanes
        } else {
            1
        };
        let clients = match workload.arrivals {
            Arrivals::Closed { clients, .. } => clients as usize,
            Arrivals::Open { .. } => 0,
        };
        let processes = model.process_count();
        // `process_of` splits the threads into runs in order, so each process's
        // lanes are one range (an idle lane is found in it as fast as in all).
        let mut process_lanes: Vec<Range<u32>> = vec![lanes..lanes; processes as usize];
        for t in 0..lanes {
            if let Some(r) = process_lanes.get_mut(model.process_of(t) as usize) {
                if r.start == r.end {
                    *r = t..t; // the process's first thread
                }
                debug_assert_eq!(r.end, t, "a process's threads are one run");
                r.end = t + 1;
            }
        }
        Engine {
            model,
            workload,
            max_events,
            now: 0,
            timers: TimerQueue::default(),
            events: 0,
            observer,
            reqs: PerRequest::default(),
            issued: 0,
            phase_rng: Stream::new(workload.seed, Draw::Phases),
            arrival_rng: Stream::new(workload.seed, Draw::Arrivals),
            blocking_rng: Stream::new(workload.seed, Draw::Blocking),
            pin_rng: Stream::new(workload.seed, Draw::Pinning),
            shared_rng: Stream::new(workload.seed, Draw::Shared),
            free: IdleLanes::all_idle(lanes),
            worker_queue: (0..processes).map(|_| VecDeque::new()).collect(),
            process_lanes,
            ready: (0..groups).map(|_| VecDeque::new()).collect(),
            client_pin: vec![None; clients],
            gils: (0..processes).map(|_| Gil::default()).collect(),
            cores_free: if model.cores == 0 {
                u32::MAX
            } else {
                model.cores
            },
            core_queue: VecDeque::new(),
            pool_busy: 0,
            pool_queue: VecDeque::new(),
            truncated: false,
        }
    }

    /// Schedule the first arrivals: the run starts at time 0.
    fn start(&mut self) {
        match self.workload.arrivals {
            Arrivals::Closed { clients, .. } => {
                for client in 0..clients.min(self.workload.requests) {
                    self.schedule(0, Timer::Arrival { client });
                }
            }
            Arrivals::Open { rate_per_s } => {
                let gap = self.interarrival(rate_per_s);
                self.schedule(gap, Timer::Arrival { client: 0 });
            }
        }
    }

    /// Fire up to `n` timers due at or before `until` (µs); whether there may be
    /// more to fire before then.
    ///
    /// Why in batches rather than one loop: a browser first runs WebAssembly
    /// compiled by a quick baseline compiler and swaps in optimised code in
    /// the background once a function proves hot, but a call already running
    /// keeps the code it started with (V8 has no on-stack replacement for
    /// wasm). A run in one call would stay in baseline code to its end, about
    /// twice as slow: the first run of each model the page shows. Each batch
    /// is a new call, so the rest of the run takes the optimised code.
    #[inline(never)]
    fn run_batch(&mut self, n: u32, until: u64) -> bool {
        for _ in 0..n {
            let Some((t, timer)) = self.timers.pop(until) else {
                return false;
            };
            // The event cap, or a time the log cannot hold (thousands of years).
            if self.events >= self.max_events || t > EventLog::MAX_T {
                self.truncated = true;
                return false;
            }
            debug_assert!(t >= self.now, "time went backwards");
            self.now = t;
            match timer {
                Timer::Arrival { client } => self.arrive(client),
                Timer::RunDone { req, lane, epoch } => self.run_done(req, lane, epoch),
                Timer::WaitDone { req } => {
                    self.emit(EventKind::WaitEnd { req });
                    if self.reqs[req].pooled {
                        self.pool_busy -= 1;
                        if let Some(next) = self.pool_queue.pop_front() {
                            self.start_wait(next);
                        }
                    }
                    self.advance(req);
                }
                Timer::GilTimeout { process, epoch } => self.gil_timeout(process, epoch),
                Timer::ClientCpuDone { client } => {
                    self.release_core();
                    self.think(client);
                }
            }
        }
        true
    }

    #[inline(always)]
    fn schedule(&mut self, at: u64, timer: Timer) {
        self.timers.push(at, timer);
    }

    #[inline(always)]
    fn emit(&mut self, kind: EventKind) {
        self.events += 1;
        self.observer.record(self.now, kind);
    }

    fn sample(rng: &mut Stream, dist: Dist, mean_us: u64) -> u64 {
        match dist {
            Dist::Fixed => mean_us,
            Dist::Exponential => {
                let u = rng.uniform();
                (-(mean_us as f64) * (1.0 - u).ln()).round() as u64
            }
        }
    }

    fn interarrival(&mut self, rate_per_s: f64) -> u64 {
        let u = self.arrival_rng.uniform();
        self.now + (-(1e6 / rate_per_s) * (1.0 - u).ln()).round() as u64
    }

    // ---- arrivals and completion -------------------------------------------------

    fn arrive(&mut self, client: u32) {
        if self.issued >= self.workload.requests {
            return;
        }
        let req = self.issued;
        self.issued += 1;
        let w = self.workload;
        let rng = &mut self.phase_rng;
        let cpu1 = Self::sample(rng, w.dist, w.cpu_before_us);
        let wait = Self::sample(rng, w.dist, w.wait_us);
        let cpu2 = Self::sample(rng, w.dist, w.cpu_after_us);
        let kind = Self::KIND;
        // With a bounded pool, which offloaded waits are blocking calls matters too.
        let pool = self.model.offload && self.model.blocking_pool > 0;
        let blocking_call = kind == ModelKind::BlockedLoop
            && (!self.model.offload || pool)
            && self.blocking_rng.uniform() < self.model.blocking_share;
        let blocks = blocking_call && !self.model.offload;
        let pinned_groups = kind == ModelKind::LoopPerWorker || self.gils.len() > 1;
        // Only a connection's first request picks its loop (see below).
        let pin_draw =
            if pinned_groups && !matches!(self.client_pin.get(client as usize), Some(Some(_))) {
                self.pin_rng.uniform()
            } else {
                0.0
            };
        let client = match w.arrivals {
            Arrivals::Closed { .. } => client,
            Arrivals::Open { rate_per_s } => {
                // An open-loop client is one connection per request.
                if self.issued < w.requests {
                    let at = self.interarrival(rate_per_s);
                    self.schedule(at, Timer::Arrival { client: 0 });
                }
                req
            }
        };
        let state = Req {
            phases: [cpu1, wait, cpu2],
            remaining: 0,
            client,
            home: 0,
            next: 0,
            blocks,
            pooled: blocking_call && pool,
        };
        self.reqs.insert(req, state);
        self.emit(EventKind::Arrive { req, client });
        match Self::KIND {
            ModelKind::SyncPool | ModelKind::GilThreads => {
                // Several processes (gil-threads): the connection's process, as for loops.
                let (process, idle) = if self.gils.len() > 1 {
                    let process = self.pin(client, pin_draw, self.gils.len() as u32) as usize;
                    let lanes = self.process_lanes[process].clone();
                    (process, self.free.lowest_in(lanes))
                } else {
                    (0, self.free.lowest())
                };
                if let Some(worker) = idle {
                    self.free.take(worker);
                    self.bind(req, worker);
                } else {
                    let queue = &mut self.worker_queue[process];
                    queue.push_back(req);
                    let depth = queue.len() as u32;
                    self.emit(EventKind::Queued { req, depth });
                }
            }
            ModelKind::LoopPerWorker => {
                let group = self.pin(client, pin_draw, self.ready.len() as u32);
                self.bind(req, group);
            }
            ModelKind::EventLoop | ModelKind::BlockedLoop | ModelKind::WorkStealing => {
                self.bind(req, 0)
            }
        }
    }

    /// The kernel gives a new connection to whichever worker's accept() wins:
    /// modelled as a random pick among `groups` (uniform, or the first taking
    /// [`ModelSpec::pin_share`]), kept for the connection's life.
    fn pin(&mut self, client: u32, draw: f64, groups: u32) -> u32 {
        let share = self.model.pin_share;
        let pick = if share > 0.0 && groups > 1 {
            if draw < share {
                0
            } else {
                let rest = (draw - share) / (1.0 - share);
                1 + (rest * f64::from(groups - 1)) as u32
            }
        } else {
            (draw * groups as f64) as u32
        }
        .min(groups - 1);
        match self.client_pin.get_mut(client as usize) {
            Some(slot) => *slot.get_or_insert(pick),
            None => pick,
        }
    }

    #[inline(always)]
    fn bind(&mut self, req: u32, worker: u32) {
        self.reqs[req].home = worker;
        self.emit(EventKind::Start { req, worker });
        self.advance(req);
    }

    /// Start the request's next non-empty phase, or finish it.
    #[inline(always)]
    fn advance(&mut self, req: u32) {
        let r = &mut self.reqs[req];
        let next = loop {
            let i = r.next as usize;
            match r.phases.get(i) {
                Some(0) => r.next += 1,
                Some(&d) => {
                    r.next += 1;
                    break Some((r.phase(i), d));
                }
                None => break None,
            }
        };
        match next {
            None => self.finish(req),
            Some((Phase::Wait, d)) => {
                if self.reqs[req].pooled {
                    if self.pool_busy < self.model.blocking_pool {
                        self.start_wait(req);
                    } else {
                        self.pool_queue.push_back(req); // every pool thread is busy
                    }
                } else {
                    self.emit(EventKind::WaitStart { req });
                    self.schedule(self.now + d, Timer::WaitDone { req });
                }
            }
            Some((_, d)) => {
                self.reqs[req].remaining = d;
                match Self::KIND {
                    ModelKind::SyncPool => {
                        let lane = self.reqs[req].home;
                        self.start_run(req, lane, 0);
                    }
                    ModelKind::GilThreads => self.want_gil(req),
                    _ => {
                        self.emit(EventKind::Ready { req });
                        let group = self.group_of(req);
                        self.ready[group].push_back(req);
                        self.dispatch(group);
                    }
                }
            }
        }
    }

    /// An offloaded blocking call gets a pool thread and starts.
    fn start_wait(&mut self, req: u32) {
        self.pool_busy += 1;
        self.emit(EventKind::WaitStart { req });
        let d = self.reqs[req].phases[1];
        self.schedule(self.now + d, Timer::WaitDone { req });
    }

    fn finish(&mut self, req: u32) {
        self.emit(EventKind::Done { req });
        let Req { home, client, .. } = self.reqs[req];
        self.reqs.retire(req);
        if Self::KIND.holds_worker() {
            let process = self.model.process_of(home) as usize;
            match self.worker_queue[process].pop_front() {
                Some(next) => self.bind(next, home),
                None => self.free.release(home),
            }
        }
        if let Arrivals::Closed { .. } = self.workload.arrivals {
            if self.model.cores > 0 && self.model.shared_cpu_us > 0 {
                self.want_core(CoreUse::Client { client });
            } else {
                self.think(client);
            }
        }
    }

    /// A closed-loop client thinks, then sends its next request.
    fn think(&mut self, client: u32) {
        if let Arrivals::Closed { think_us, .. } = self.workload.arrivals {
            let think = Self::sample(&mut self.arrival_rng, self.workload.dist, think_us);
            self.schedule(self.now + think, Timer::Arrival { client });
        }
    }

    // ---- cores -------------------------------------------------------------------------

    /// Take a free core for `user`, or wait in line for one.
    fn want_core(&mut self, user: CoreUse) {
        if self.cores_free == 0 {
            self.core_queue.push_back(user);
            return;
        }
        if self.cores_free != u32::MAX {
            self.cores_free -= 1;
        }
        self.on_core(user);
    }

    /// A CPU phase or a client's CPU ended: its core goes to the first in line.
    fn release_core(&mut self) {
        if self.cores_free == u32::MAX {
            return;
        }
        match self.core_queue.pop_front() {
            Some(user) => self.on_core(user),
            None => self.cores_free += 1,
        }
    }

    /// `user` has a core: it runs.
    fn on_core(&mut self, user: CoreUse) {
        match user {
            CoreUse::Run { req, lane, epoch } => self.run_on_core(req, lane, epoch),
            CoreUse::Client { client } => {
                let d = Self::sample(
                    &mut self.shared_rng,
                    self.workload.dist,
                    self.model.shared_cpu_us,
                );
                self.schedule(self.now + d, Timer::ClientCpuDone { client });
            }
        }
    }

    // ---- loop lanes ------------------------------------------------------------------

    fn group_of(&self, req: u32) -> usize {
        match Self::KIND {
            ModelKind::LoopPerWorker => self.reqs[req].home as usize,
            _ => 0,
        }
    }

    /// An idle lane loop group `group` may use: its own loop (loop-per-worker), any
    /// worker (work-stealing), the one loop (the one-loop models).
    #[inline(always)]
    fn idle_lane(&self, group: usize) -> Option<u32> {
        match Self::KIND {
            ModelKind::LoopPerWorker => {
                let lane = group as u32;
                self.free.is_idle(lane).then_some(lane)
            }
            ModelKind::WorkStealing => self.free.lowest(),
            _ => self.free.is_idle(0).then_some(0),
        }
    }

    #[inline(always)]
    fn dispatch(&mut self, group: usize) {
        loop {
            let Some(lane) = self.idle_lane(group) else {
                return;
            };
            let Some(req) = self.ready[group].pop_front() else {
                return;
            };
            self.free.take(lane);
            self.start_run(req, lane, 0);
        }
    }

    /// Run the request's phase on `lane`: a CPU phase once it has a core, a
    /// blocking call (which sleeps) at once.
    #[inline(always)]
    fn start_run(&mut self, req: u32, lane: u32, epoch: u32) {
        if self.cores_free == u32::MAX || self.reqs[req].in_block() {
            self.run_on_core(req, lane, epoch);
        } else {
            self.want_core(CoreUse::Run { req, lane, epoch });
        }
    }

    #[inline(always)]
    fn run_on_core(&mut self, req: u32, lane: u32, epoch: u32) {
        let r = &self.reqs[req];
        let blocking = r.in_block();
        let remaining = r.remaining;
        self.emit(if blocking {
            EventKind::BlockStart { req, lane }
        } else {
            EventKind::CpuStart { req, lane }
        });
        self.schedule(self.now + remaining, Timer::RunDone { req, lane, epoch });
        if Self::KIND == ModelKind::GilThreads {
            // The GIL holder runs from now: its slice and the waiters' timeout start here.
            let process = self.model.process_of(lane);
            let gil = &mut self.gils[process as usize];
            gil.running = true;
            gil.since = self.now;
            if !gil.queue.is_empty() {
                let epoch = gil.epoch;
                self.schedule(
                    self.now + self.model.switch_interval_us,
                    Timer::GilTimeout { process, epoch },
                );
            }
        }
    }

    fn run_done(&mut self, req: u32, lane: u32, epoch: u32) {
        let kind = Self::KIND;
        if kind == ModelKind::GilThreads {
            let gil = &self.gils[self.model.process_of(lane) as usize];
            if epoch != gil.epoch || gil.holder != Some(req) {
                return; // preempted: a later RunDone will finish this phase
            }
            self.emit(EventKind::CpuEnd { req, lane });
            self.release_core();
            self.release_gil(req, lane, false);
            self.advance(req);
            return;
        }
        let blocking = self.reqs[req].in_block();
        self.emit(if blocking {
            EventKind::BlockEnd { req, lane }
        } else {
            EventKind::CpuEnd { req, lane }
        });
        if !blocking {
            self.release_core();
        }
        if kind == ModelKind::SyncPool {
            self.advance(req);
            return;
        }
        self.free.release(lane);
        let group = self.group_of(req);
        self.advance(req);
        self.dispatch(group);
    }

    // ---- the GIL (one per process) -------------------------------------------------

    fn want_gil(&mut self, req: u32) {
        let thread = self.reqs[req].home;
        let process = self.model.process_of(thread);
        let gil = &mut self.gils[process as usize];
        if gil.holder.is_none() {
            self.acquire_gil(req);
            return;
        }
        gil.queue.push_back(req);
        let (first, epoch) = (gil.queue.len() == 1, gil.epoch);
        self.emit(EventKind::GilWait { req, thread });
        if first {
            // CPython: a waiter waits one switch interval, then asks the holder to drop.
            self.schedule(
                self.now + self.model.switch_interval_us,
                Timer::GilTimeout { process, epoch },
            );
        }
    }

    fn acquire_gil(&mut self, req: u32) {
        let thread = self.reqs[req].home;
        let gil = &mut self.gils[self.model.process_of(thread) as usize];
        gil.holder = Some(req);
        gil.running = false;
        gil.epoch = gil.epoch.wrapping_add(1);
        let epoch = gil.epoch;
        self.emit(EventKind::GilAcquire { req, thread });
        self.start_run(req, thread, epoch);
    }

    fn release_gil(&mut self, req: u32, thread: u32, forced: bool) {
        self.emit(EventKind::GilRelease {
            req,
            thread,
            forced,
        });
        let gil = &mut self.gils[self.model.process_of(thread) as usize];
        gil.holder = None;
        gil.running = false;
        if let Some(next) = gil.queue.pop_front() {
            self.acquire_gil(next);
        }
    }

    fn gil_timeout(&mut self, process: u32, epoch: u32) {
        let gil = &self.gils[process as usize];
        let Some(holder) = gil.holder else {
            return;
        };
        // A holder still waiting for a core is not asked to drop: its own
        // timeout starts when it runs.
        if epoch != gil.epoch || gil.queue.is_empty() || !gil.running {
            return;
        }
        let ran = self.now - gil.since;
        let r = &mut self.reqs[holder];
        if ran >= r.remaining {
            return; // finishing at this very instant anyway
        }
        r.remaining -= ran;
        let thread = r.home;
        self.emit(EventKind::CpuEnd {
            req: holder,
            lane: thread,
        });
        self.release_core();
        // Forced drop: the holder goes to the back of the line, the first waiter runs.
        let gil = &mut self.gils[process as usize];
        let next = gil.queue.pop_front().expect("checked non-empty");
        gil.holder = None;
        gil.running = false;
        gil.queue.push_back(holder);
        self.emit(EventKind::GilRelease {
            req: holder,
            thread,
            forced: true,
        });
        self.emit(EventKind::GilWait {
            req: holder,
            thread,
        });
        self.acquire_gil(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log of model `K` run in calls of `batch` timers each.
    fn log_in_batches<const K: usize>(batch: u32) -> EventLog {
        let model = ModelSpec {
            switch_interval_us: 500,
            ..ModelSpec::new(ModelKind::ALL[K], 3)
        };
        let workload = Workload {
            arrivals: Arrivals::Closed {
                clients: 8,
                think_us: 100,
            },
            cpu_before_us: 300,
            wait_us: 2_000,
            cpu_after_us: 700,
            dist: Dist::Exponential,
            requests: 3_000,
            seed: 11,
        };
        let mut engine = Engine::<K, EventLog>::new(model, workload, 1 << 20, EventLog::default());
        engine.start();
        while engine.run_batch(batch, u64::MAX) {}
        assert!(!engine.truncated);
        engine.observer
    }

    /// Batches only cut the run into calls: one timer per call, or seven, or
    /// [`BATCH`], log exactly what one call for the whole run does.
    #[test]
    fn batches_cut_the_run_without_changing_it() {
        fn check<const K: usize>() {
            let whole = log_in_batches::<K>(u32::MAX);
            assert!(whole.len() > 20_000, "{} events", whole.len());
            for batch in [1, 7, BATCH] {
                assert!(
                    log_in_batches::<K>(batch) == whole,
                    "{:?} in batches of {batch}",
                    ModelKind::ALL[K]
                );
            }
        }
        check::<0>();
        check::<1>();
        check::<2>();
        check::<3>();
        check::<4>();
        check::<5>();
    }

    /// With nothing observing it, the engine still counts every event the log
    /// would hold, and says when the cap cut the run.
    #[test]
    fn the_bare_engine_counts_the_events_of_the_log() {
        let workload = Workload {
            arrivals: Arrivals::Closed {
                clients: 8,
                think_us: 0,
            },
            cpu_before_us: 400,
            wait_us: 3_000,
            cpu_after_us: 600,
            dist: Dist::Exponential,
            requests: 500,
            seed: 5,
        };
        for kind in ModelKind::ALL {
            let model = ModelSpec::new(kind, 3);
            for max_events in [100, 1 << 20] {
                let limits = Limits {
                    max_events,
                    ..Limits::default()
                };
                let run = simulate(model, workload, &limits);
                assert_eq!(run.truncated, max_events == 100, "{kind:?}");
                assert_eq!(
                    simulate_bare(model, workload, &limits),
                    (run.events.len(), run.truncated),
                    "{kind:?}, cap {max_events}"
                );
            }
        }
    }
}
