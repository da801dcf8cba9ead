//! The engine's timer queue: pending timers popped in (time, scheduling order).
//!
//! Most timers of a run are scheduled with the same delay as the previous timer of
//! their class (every I/O wait lasts 50 ms, every CPU phase 0.5 ms, ...), so each
//! class's timers usually arrive already sorted. Each class therefore has a FIFO
//! that takes a timer when it sorts after the FIFO's last one; anything else (random
//! phase lengths, a preempted GIL holder's shorter remainder) goes to a binary heap.
//! Every FIFO stays sorted by construction, so the smallest pending timer is the
//! smallest of the FIFO heads and the heap's top: the order is exactly a single
//! priority queue's, only cheaper (O(1) instead of O(log n) for the common case).
//! A FIFO is a ring of a power-of-two length (`Fifo`): its head is one mask
//! away, where `VecDeque`'s wrap-around costs a compare per access (about 8 %
//! of what the page computes per run, measured in Node's V8 on six models).
//!
//! Leaves out: cancellation (stale timers are recognised and dropped by the engine).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    Arrival {
        client: u32,
    },
    RunDone {
        req: u32,
        lane: u32,
        epoch: u32,
    },
    WaitDone {
        req: u32,
    },
    /// `process`: whose GIL (gil-threads with several processes).
    GilTimeout {
        process: u32,
        epoch: u32,
    },
    /// A closed-loop client's own CPU (the load generator's) on a shared core is done.
    ClientCpuDone {
        client: u32,
    },
}

impl Timer {
    /// FIFO index of the timer's class: timers of one class share a typical delay.
    fn class(self) -> usize {
        match self {
            Timer::Arrival { .. } => 0,
            Timer::RunDone { .. } => 1,
            Timer::WaitDone { .. } => 2,
            Timer::GilTimeout { .. } => 3,
            Timer::ClientCpuDone { .. } => 4,
        }
    }
}

const CLASSES: usize = 5;

/// A pending timer; ordered by (time, scheduling order), earliest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    at: u64,
    seq: u64,
    timer: Timer,
}

impl Pending {
    fn key(&self) -> (u64, u64) {
        (self.at, self.seq)
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key()) // reversed: BinaryHeap is a max-heap
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One class's timers, in push order: a ring whose length is a power of two,
/// doubled when full.
struct Fifo {
    ring: Vec<Pending>,
    /// Pushes and pops so far (wrapping); `head & (len - 1)` is the front.
    head: u32,
    tail: u32,
}

impl Default for Fifo {
    fn default() -> Fifo {
        Fifo::with_len(16)
    }
}

impl Fifo {
    fn with_len(len: usize) -> Fifo {
        let unused = Pending {
            at: 0,
            seq: 0,
            timer: Timer::WaitDone { req: 0 },
        };
        Fifo {
            ring: vec![unused; len],
            head: 0,
            tail: 0,
        }
    }

    #[inline(always)]
    fn slot(&self, n: u32) -> &Pending {
        &self.ring[n as usize & (self.ring.len() - 1)]
    }

    #[inline(always)]
    fn front(&self) -> Option<&Pending> {
        (self.head != self.tail).then(|| self.slot(self.head))
    }

    #[inline(always)]
    fn back(&self) -> Option<&Pending> {
        (self.head != self.tail).then(|| self.slot(self.tail.wrapping_sub(1)))
    }

    #[inline(always)]
    fn push_back(&mut self, p: Pending) {
        if self.tail.wrapping_sub(self.head) as usize == self.ring.len() {
            self.grow();
        }
        let i = self.tail as usize & (self.ring.len() - 1);
        self.ring[i] = p;
        self.tail = self.tail.wrapping_add(1);
    }

    /// The front; the FIFO must not be empty.
    #[inline(always)]
    fn pop_front(&mut self) -> Pending {
        debug_assert!(self.head != self.tail, "pop of an empty FIFO");
        let p = *self.slot(self.head);
        self.head = self.head.wrapping_add(1);
        p
    }

    #[cold]
    fn grow(&mut self) {
        let mut bigger = Fifo::with_len(2 * self.ring.len());
        while self.head != self.tail {
            bigger.push_back(self.pop_front());
        }
        *self = bigger;
    }
}

/// Ties at the same instant pop in the order they were pushed.
#[derive(Default)]
pub struct TimerQueue {
    seq: u64,
    fifos: [Fifo; CLASSES],
    heap: BinaryHeap<Pending>,
}

impl TimerQueue {
    /// Schedule `timer` to fire at `at` (µs).
    #[inline(always)]
    pub fn push(&mut self, at: u64, timer: Timer) {
        self.seq += 1;
        let p = Pending {
            at,
            seq: self.seq,
            timer,
        };
        let fifo = &mut self.fifos[timer.class()];
        // `seq` only grows, so a timer not earlier than the FIFO's last sorts after it.
        match fifo.back() {
            Some(last) if last.at > at => self.heap.push(p),
            _ => fifo.push_back(p),
        }
    }

    /// The earliest pending timer and its time, if it is due at or before
    /// `until` (µs).
    #[inline(always)]
    pub fn pop(&mut self, until: u64) -> Option<(u64, Timer)> {
        // Source of the earliest head so far: a FIFO index, or CLASSES for the heap.
        let mut best: Option<(usize, (u64, u64))> = self.heap.peek().map(|p| (CLASSES, p.key()));
        for (i, fifo) in self.fifos.iter().enumerate() {
            if let Some(p) = fifo.front()
                && best.is_none_or(|(_, key)| p.key() < key)
            {
                best = Some((i, p.key()));
            }
        }
        let p = match best? {
            (_, (at, _)) if at > until => return None,
            (CLASSES, _) => self.heap.pop()?,
            (i, _) => self.fifos[i].pop_front(),
        };
        Some((p.at, p.timer))
    }

    /// When the earliest pending timer is due, if any is.
    pub fn next_at(&self) -> Option<u64> {
        let heads = self.fifos.iter().filter_map(|f| f.front());
        heads.chain(self.heap.peek()).map(|p| p.at).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain sort by (time, push order), for delays that are sometimes
    /// monotonic per class and sometimes not.
    #[test]
    fn pops_in_time_then_push_order() {
        let mut q = TimerQueue::default();
        let mut expected = Vec::new();
        let mut now = 0u64;
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        for i in 0..5_000u32 {
            let delay = if next() % 3 == 0 { next() % 100 } else { 50 };
            let timer = match next() % 4 {
                0 => Timer::Arrival { client: i },
                1 => Timer::RunDone {
                    req: i,
                    lane: 0,
                    epoch: 0,
                },
                2 => Timer::WaitDone { req: i },
                _ => Timer::GilTimeout {
                    process: 0,
                    epoch: i,
                },
            };
            q.push(now + delay, timer);
            expected.push((now + delay, i, timer));
            if next() % 2 == 0 {
                now += next() % 20;
            }
        }
        expected.sort_by_key(|&(at, i, _)| (at, i));
        let got: Vec<(u64, Timer)> = std::iter::from_fn(|| q.pop(u64::MAX)).collect();
        let want: Vec<(u64, Timer)> = expected.iter().map(|&(at, _, t)| (at, t)).collect();
        assert_eq!(got, want);
    }
}
