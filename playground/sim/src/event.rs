//! The event log: what happened to which request, when, on which lane.
//!
//! Everything the visualizer shows (metrics, timeline, exports) is computed from
//! this log, never from the engine's internal state, so the log is the contract.

use serde::{Deserialize, Serialize};

use crate::observe::Observer;
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

/// The log as stored: 16 bytes an event, where a `Vec<Event>` takes 24. Writing and
/// reading the log is most of a run's memory traffic (about a million events per
/// model for 100,000 requests), so the smaller entry is the faster run, in the
/// browser most of all. Read it as [`Event`]s: `for e in &run.events`, [`EventLog::get`].
///
/// Serialized (JSON, snapshots) exactly like the list of [`Event`]s it holds.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EventLog {
    entries: Vec<Packed>,
}

/// One entry: the time and the variant's tag share a word (times stay below 2^56 µs,
/// about 2,283 years); `arg` is the variant's second field (client, depth, lane...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packed {
    head: u64,
    req: u32,
    arg: u32,
}

const TAG_SHIFT: u32 = 56;
/// GilRelease's `forced` flag, above the tag.
const FORCED_BIT: u64 = 1 << 60;

impl EventLog {
    /// Latest time an event can have, µs (the engine stops a run that gets there).
    pub const MAX_T: u64 = (1 << TAG_SHIFT) - 1;

    pub(crate) fn with_capacity(n: usize) -> EventLog {
        EventLog {
            entries: Vec::with_capacity(n),
        }
    }

    /// Append an event at `t` (at most [`EventLog::MAX_T`]).
    #[inline]
    pub(crate) fn push(&mut self, t: u64, kind: EventKind) {
        debug_assert!(t <= Self::MAX_T, "time {t} does not fit the log");
        self.entries.push(pack(t, kind));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<Event> {
        self.entries.get(i).map(|&p| unpack(p))
    }

    pub fn last(&self) -> Option<Event> {
        self.entries.last().map(|&p| unpack(p))
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// Index of the first event for which `pred` is false, for a `pred` that is
    /// true for a prefix of the log (like `slice::partition_point`).
    pub fn partition_point(&self, mut pred: impl FnMut(Event) -> bool) -> usize {
        self.entries.partition_point(|&p| pred(unpack(p)))
    }
}

/// The log is kept by being fed every event, like the other views of a run.
impl Observer for EventLog {
    #[inline(always)]
    fn record(&mut self, t: u64, kind: EventKind) {
        self.push(t, kind);
    }
}

/// The events of an [`EventLog`], in order.
#[derive(Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Packed>,
}

impl Iterator for Iter<'_> {
    type Item = Event;

    #[inline]
    fn next(&mut self) -> Option<Event> {
        self.inner.next().map(|&p| unpack(p))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Event> {
        self.inner.next_back().map(|&p| unpack(p))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a EventLog {
    type Item = Event;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for EventLog {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for EventLog {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EventLog, D::Error> {
        let events = Vec::<Event>::deserialize(deserializer)?;
        let mut log = EventLog::with_capacity(events.len());
        for e in events {
            if e.t > EventLog::MAX_T {
                return Err(serde::de::Error::custom(format!(
                    "event time {} µs is past the log's limit of {} µs",
                    e.t,
                    EventLog::MAX_T
                )));
            }
            log.push(e.t, e.kind);
        }
        Ok(log)
    }
}

#[inline]
fn pack(t: u64, kind: EventKind) -> Packed {
    let (tag, req, arg, flags): (u64, u32, u32, u64) = match kind {
        EventKind::Arrive { req, client } => (0, req, client, 0),
        EventKind::Queued { req, depth } => (1, req, depth, 0),
        EventKind::Start { req, worker } => (2, req, worker, 0),
        EventKind::Ready { req } => (3, req, 0, 0),
        EventKind::CpuStart { req, lane } => (4, req, lane, 0),
        EventKind::CpuEnd { req, lane } => (5, req, lane, 0),
        EventKind::WaitStart { req } => (6, req, 0, 0),
        EventKind::WaitEnd { req } => (7, req, 0, 0),
        EventKind::BlockStart { req, lane } => (8, req, lane, 0),
        EventKind::BlockEnd { req, lane } => (9, req, lane, 0),
        EventKind::GilWait { req, thread } => (10, req, thread, 0),
        EventKind::GilAcquire { req, thread } => (11, req, thread, 0),
        EventKind::GilRelease {
            req,
            thread,
            forced,
        } => (12, req, thread, if forced { FORCED_BIT } else { 0 }),
        EventKind::Done { req } => (13, req, 0, 0),
    };
    Packed {
        head: t | tag << TAG_SHIFT | flags,
        req,
        arg,
    }
}

#[inline]
fn unpack(p: Packed) -> Event {
    let (req, arg) = (p.req, p.arg);
    let kind = match (p.head >> TAG_SHIFT) & 0xf {
        0 => EventKind::Arrive { req, client: arg },
        1 => EventKind::Queued { req, depth: arg },
        2 => EventKind::Start { req, worker: arg },
        3 => EventKind::Ready { req },
        4 => EventKind::CpuStart { req, lane: arg },
        5 => EventKind::CpuEnd { req, lane: arg },
        6 => EventKind::WaitStart { req },
        7 => EventKind::WaitEnd { req },
        8 => EventKind::BlockStart { req, lane: arg },
        9 => EventKind::BlockEnd { req, lane: arg },
        10 => EventKind::GilWait { req, thread: arg },
        11 => EventKind::GilAcquire { req, thread: arg },
        12 => EventKind::GilRelease {
            req,
            thread: arg,
            forced: p.head & FORCED_BIT != 0,
        },
        // Only `pack` makes entries, and 13 is its last tag.
        _ => EventKind::Done { req },
    };
    Event {
        t: p.head & EventLog::MAX_T,
        kind,
    }
}

/// The result of one simulation: its inputs (after clamping) and its log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub model: ModelSpec,
    pub workload: Workload,
    /// Number of lanes (threads that run CPU work).
    pub lanes: u32,
    pub events: EventLog,
    /// The event cap stopped the run early: some requests did not finish (or the
    /// run reached [`EventLog::MAX_T`]).
    pub truncated: bool,
}

impl Run {
    /// Time of the last event, µs.
    pub fn end_us(&self) -> u64 {
        self.events.last().map_or(0, |e| e.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, with extreme field values, comes back as it went in.
    #[test]
    fn packing_round_trips_every_variant() {
        let (r, a) = (u32::MAX, u32::MAX - 1);
        let kinds = [
            EventKind::Arrive { req: r, client: a },
            EventKind::Queued { req: r, depth: a },
            EventKind::Start { req: r, worker: a },
            EventKind::Ready { req: r },
            EventKind::CpuStart { req: r, lane: a },
            EventKind::CpuEnd { req: r, lane: a },
            EventKind::WaitStart { req: r },
            EventKind::WaitEnd { req: r },
            EventKind::BlockStart { req: r, lane: a },
            EventKind::BlockEnd { req: r, lane: a },
            EventKind::GilWait { req: r, thread: a },
            EventKind::GilAcquire { req: r, thread: a },
            EventKind::GilRelease {
                req: r,
                thread: a,
                forced: true,
            },
            EventKind::GilRelease {
                req: 0,
                thread: 0,
                forced: false,
            },
            EventKind::Done { req: r },
        ];
        for t in [0, 1, EventLog::MAX_T] {
            for kind in kinds {
                assert_eq!(unpack(pack(t, kind)), Event { t, kind });
            }
        }
        assert_eq!(std::mem::size_of::<Packed>(), 16);
    }

    #[test]
    fn a_time_past_the_limit_is_a_deserialize_error() {
        let json = format!(
            r#"[{{"t":{},"event":"Done","req":0}}]"#,
            EventLog::MAX_T + 1
        );
        let err = serde_json::from_str::<EventLog>(&json).unwrap_err();
        assert!(err.to_string().contains("past the log's limit"), "{err}");
        let ok = format!(r#"[{{"t":{},"event":"Done","req":0}}]"#, EventLog::MAX_T);
        let log: EventLog = serde_json::from_str(&ok).unwrap();
        assert_eq!(serde_json::to_string(&log).unwrap(), ok);
    }
}
