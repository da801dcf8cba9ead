//! The event log: what happened to which request, when, on which lane.
//!
//! Everything the visualizer shows (metrics, timeline, exports) is computed from
//! this log, never from the engine's internal state, so the log is the contract.

use serde::{Deserialize, Serialize};

use crate::spec::{ModelSpec, Workload};

/// One entry of the log. `t` is in microseconds since the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub t: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Request ids count from 0 in arrival order; lanes are worker / loop / thread indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum EventKind {
    /// The request reached the server.
    Arrive {
        req: u32,
        client: u32,
    },
    /// No worker free: the request waits in the accept queue (`depth` after joining).
    Queued {
        req: u32,
        depth: u32,
    },
    /// The request is bound to a worker / thread / loop (`worker`) until it is done.
    Start {
        req: u32,
        worker: u32,
    },
    /// A CPU phase is ready and waits for its loop / runtime thread.
    Ready {
        req: u32,
    },
    /// The request runs Python/Rust code on `lane`.
    CpuStart {
        req: u32,
        lane: u32,
    },
    CpuEnd {
        req: u32,
        lane: u32,
    },
    /// The request waits on I/O (the lane, if any, is free unless the model holds it).
    WaitStart {
        req: u32,
    },
    WaitEnd {
        req: u32,
    },
    /// A blocking call runs on the loop thread: nothing else can run there.
    BlockStart {
        req: u32,
        lane: u32,
    },
    BlockEnd {
        req: u32,
        lane: u32,
    },
    /// GIL model: thread `thread` wants the GIL for request `req`.
    GilWait {
        req: u32,
        thread: u32,
    },
    GilAcquire {
        req: u32,
        thread: u32,
    },
    /// `forced`: the switch interval ran out while another thread waited.
    GilRelease {
        req: u32,
        thread: u32,
        forced: bool,
    },
    /// The answer left the server.
    Done {
        req: u32,
    },
}

/// The result of one simulation: its inputs (after clamping) and its log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub model: ModelSpec,
    pub workload: Workload,
    /// Number of lanes (threads that run CPU work).
    pub lanes: u32,
    pub events: Vec<Event>,
    /// The event cap stopped the run early: some requests did not finish.
    pub truncated: bool,
}

impl Run {
    /// Time of the last event, µs.
    pub fn end_us(&self) -> u64 {
        self.events.last().map_or(0, |e| e.t)
    }
}
