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

/// An observer's state per request, indexed by request id. It grows when an id is
/// first seen: the engine's logs bring each request in with `Arrive`, in id order,
/// so growing is one push; a hand-made log may skip ids, and still works.
pub struct PerRequest<T>(Vec<T>);

impl<T: Default + Clone> PerRequest<T> {
    /// Room for `n` requests (none of them seen yet).
    pub fn with_capacity(n: usize) -> PerRequest<T> {
        PerRequest(Vec::with_capacity(n))
    }

    /// The state of request `req`, made (as `T::default()`) if it is new.
    #[inline(always)]
    pub fn get(&mut self, req: u32) -> &mut T {
        let i = req as usize;
        if i == self.0.len() {
            self.0.push(T::default()); // the next request: what engine logs do
        } else if i > self.0.len() {
            self.grow_to(i + 1);
        }
        &mut self.0[i]
    }

    #[cold]
    fn grow_to(&mut self, len: usize) {
        self.0.resize(len, T::default());
    }
}
