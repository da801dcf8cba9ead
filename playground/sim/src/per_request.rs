//! State kept per request while the request is in the system, indexed by its id:
//! the engine's (phase lengths, where it runs) and each observer's (arrival time,
//! queued flag, ...).
//!
//! Why not a `Vec` with a slot per request: a million-request run wrote a
//! million slots per kind of state (about 90 MB per run, engine and metrics
//! together), although only the requests in flight are ever read — sixteen of
//! them for sixteen closed-loop clients. Streaming those writes through the
//! cache cost a ninth to a sixth of a run's time on one thread (Chromium,
//! Node's V8), and more with two runs at once on the page's worker threads
//! (they share the memory). Here a request's state lives in slot `id mod len`
//! of a ring from its arrival to its retirement; the ring doubles when a new
//! id's slot is still taken, so it stays about as long as the span of ids in
//! flight (in cache for a closed loop) and grows only when that span does (a
//! queue that builds up, a slow request among fast ones).
//!
//! Contract (the engine's logs keep it): a request's state is read between its
//! `insert` and its `retire`. Reading any other id is not an error but reads
//! whichever request has its slot (a debug build checks).
//!
//! Leaves out: shrinking (a ring that grew keeps its size for the run).

use std::ops::{Index, IndexMut};

/// Per-request state `T` of the requests in flight; see the module comment.
#[derive(Clone)]
pub struct PerRequest<T> {
    /// Request `id` is at `id & (len - 1)`; the length is a power of two.
    slots: Vec<Slot<T>>,
}

#[derive(Clone)]
struct Slot<T> {
    value: T,
    /// The request whose state this is, or [`FREE`].
    owner: u32,
}

/// No request's slot (an id the engine never reaches: requests are capped far below).
const FREE: u32 = u32::MAX;

impl<T: Default> Default for PerRequest<T> {
    fn default() -> Self {
        PerRequest {
            slots: Self::free_slots(Self::FIRST_SLOTS),
        }
    }
}

impl<T: Default> PerRequest<T> {
    /// Slots to start with: more than a closed loop of a few dozen clients needs.
    const FIRST_SLOTS: usize = 64;

    fn free_slots(len: usize) -> Vec<Slot<T>> {
        (0..len)
            .map(|_| Slot {
                value: T::default(),
                owner: FREE,
            })
            .collect()
    }

    #[inline(always)]
    fn at(&self, req: u32) -> usize {
        req as usize & (self.slots.len() - 1)
    }

    /// Request `req` arrives with state `value`.
    #[inline(always)]
    pub fn insert(&mut self, req: u32, value: T) {
        let mut i = self.at(req);
        if self.slots[i].owner != FREE {
            self.grow(req);
            i = self.at(req);
        }
        self.slots[i] = Slot { value, owner: req };
    }

    /// Request `req` is done: its state goes.
    #[inline(always)]
    pub fn retire(&mut self, req: u32) {
        let i = self.at(req);
        if self.slots[i].owner == req {
            self.slots[i].owner = FREE;
        }
    }

    /// Double the ring until `req`'s slot is free. Requests in flight keep
    /// distinct slots: ids apart by no multiple of `len` are apart by no
    /// multiple of `2 * len` either.
    #[cold]
    fn grow(&mut self, req: u32) {
        while self.slots[self.at(req)].owner != FREE {
            let len = 2 * self.slots.len();
            let old = std::mem::replace(&mut self.slots, Self::free_slots(len));
            for slot in old.into_iter().filter(|s| s.owner != FREE) {
                let i = self.at(slot.owner);
                self.slots[i] = slot;
            }
        }
    }
}

/// The state of request `req`, in flight (see the module comment).
impl<T: Default> Index<u32> for PerRequest<T> {
    type Output = T;

    #[inline(always)]
    fn index(&self, req: u32) -> &T {
        let slot = &self.slots[self.at(req)];
        debug_assert_eq!(slot.owner, req, "request {req} is not in flight");
        &slot.value
    }
}

impl<T: Default> IndexMut<u32> for PerRequest<T> {
    #[inline(always)]
    fn index_mut(&mut self, req: u32) -> &mut T {
        let i = self.at(req);
        let slot = &mut self.slots[i];
        debug_assert_eq!(slot.owner, req, "request {req} is not in flight");
        &mut slot.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests arrive in id order and leave in roughly that order (any of
    /// the 32 oldest): the ones in flight read what was written, and the ring
    /// grows no longer than twice the span of ids in flight.
    #[test]
    fn keeps_the_state_of_every_request_in_flight() {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let mut ring = PerRequest::<u64>::default();
        let mut live = std::collections::VecDeque::new();
        let (mut issued, mut widest_span) = (0u32, 0u32);
        for step in 0..200_000u32 {
            // Phases of growth (arrivals win) and of draining (departures win).
            let grow = (step / 20_000) % 2 == 0;
            if live.is_empty() || next() % 100 < if grow { 60 } else { 40 } {
                ring.insert(issued, u64::from(issued) * 3);
                live.push_back(issued);
                issued += 1;
            } else {
                let i = next() as usize % live.len().min(32);
                let req = live.remove(i).expect("in range");
                assert_eq!(ring[req], u64::from(req) * 3, "request {req}");
                ring[req] += 1;
                ring.retire(req);
            }
            let span = live.front().map_or(0, |&oldest| issued - oldest);
            widest_span = widest_span.max(span);
            let bound = (2 * widest_span.next_power_of_two() as usize).max(64);
            assert!(ring.slots.len() <= bound, "{} slots", ring.slots.len());
        }
        assert!(widest_span > 1_000, "the ring grew: {widest_span}");
        for &req in &live {
            assert_eq!(ring[req], u64::from(req) * 3, "request {req}");
        }
    }

    /// A closed loop's ids stay in the first slots, however many requests pass.
    #[test]
    fn a_steady_stream_keeps_its_first_slots() {
        let mut ring = PerRequest::<u32>::default();
        for req in 0..1_000_000u32 {
            ring.insert(req, req);
            if req >= 16 {
                assert_eq!(ring[req - 16], req - 16);
                ring.retire(req - 16);
            }
        }
        assert_eq!(ring.slots.len(), PerRequest::<u32>::FIRST_SLOTS);
    }
}
