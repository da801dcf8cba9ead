//! Reading the log event by event. Metrics and the timeline are both [`Observer`]s:
//! fed a stored log by their `from_run`, or fed by the engine as it writes each event
//! ([`crate::simulate_observed`]). Same code, same order, so the results are equal
//! either way, and the views still depend on nothing but the log.
//!
//! Why feed them during the run: a second pass re-reads about a million 16-byte
//! entries per model and decodes each one's variant; fed at the engine's `emit`,
//! every call site knows its variant, so the observer's `match` folds away.
//!
//! Leaves out: dynamic dispatch (observers are type parameters, inlined).

use crate::event::EventKind;

/// Something that reads the log, one event at a time, in log order.
pub trait Observer {
    fn record(&mut self, t: u64, kind: EventKind);
}

/// Observes nothing: what [`crate::simulate`] runs with.
impl Observer for () {
    #[inline(always)]
    fn record(&mut self, _t: u64, _kind: EventKind) {}
}

/// Two observers fed the same events.
impl<A: Observer, B: Observer> Observer for (A, B) {
    #[inline(always)]
    fn record(&mut self, t: u64, kind: EventKind) {
        self.0.record(t, kind);
        self.1.record(t, kind);
    }
}
