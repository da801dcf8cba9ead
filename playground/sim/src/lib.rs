//! The visualizer's engine: a seeded discrete-event simulation of requests flowing
//! through six server models, producing a typed event log and metrics computed from it.
//!
//! Every request is `CPU -> wait (I/O) -> CPU`. The models differ only in what a
//! request holds while it waits:
//!
//! 1. [`ModelKind::SyncPool`]: a worker for its whole life (gunicorn sync / rouille).
//! 2. [`ModelKind::EventLoop`]: nothing; CPU phases share one loop thread (uvicorn / tokio current_thread).
//! 3. [`ModelKind::BlockedLoop`]: the loop itself, for handlers that block it.
//! 4. [`ModelKind::GilThreads`]: a thread, and its CPU phases need the GIL.
//! 5. [`ModelKind::LoopPerWorker`]: k loops, each connection pinned to one at accept.
//! 6. [`ModelKind::WorkStealing`]: k runtime workers sharing all ready tasks.
//!
//! Flow: [`Workload`] + [`ModelSpec`] -> [`simulate`] -> [`Run`] (log) ->
//! [`Metrics::from_run`] and [`Timeline::from_run`] (what the canvas draws). The
//! page gets what it shows from one pass, the views fed each event as the engine
//! writes it, without keeping the log: [`simulate_shown`] ([`simulate_observed`]
//! keeps the log too, [`simulate_with_metrics`] computes the metrics alone).
//!
//! What it leaves out: CPU cores unless [`ModelSpec::cores`] is set (by default each
//! worker/thread has its own core), network and parsing costs, OS scheduling
//! noise, memory. It is a teaching model,
//! not a capacity planner.

mod engine;
mod event;
mod lanes;
mod metrics;
mod observe;
mod per_request;
mod replay;
mod spec;
mod stream;
mod timeline;
mod timers;

pub use engine::{
    Observed, Shown, simulate, simulate_bare, simulate_observed, simulate_shown,
    simulate_with_metrics,
};
pub use event::{Event, EventKind, EventLog, Run};
pub use metrics::Metrics;
pub use replay::Replay;
pub use spec::{Arrivals, Dist, Limits, ModelKind, ModelSpec, Workload};
pub use timeline::{Span, SpanKind, Timeline};
