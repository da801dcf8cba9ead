//! A global interpreter lock built like CPython's "new GIL" (Python 3.2+,
//! Antoine Pitrou's design: `Python/ceval_gil.h` up to 3.11,
//! `Python/ceval_gil.c` since 3.12), small enough to read in one sitting.
//!
//! - One holder at a time. A thread that wants the lock waits up to a *switch
//!   interval* (5 ms by default, settable like `sys.setswitchinterval`), then
//!   sets a *drop request* (CPython's `gil_drop_request` in the eval breaker).
//! - The holder looks at that request at every "bytecode" boundary of its work
//!   loop ([`GilGuard::check`], one relaxed atomic load) and hands the lock
//!   over. Like CPython's `FORCE_SWITCHING`, the thread that was asked to drop
//!   waits until another thread has really taken it, so it cannot grab it
//!   straight back.
//! - Blocking waits release it and re-take it afterwards
//!   ([`GilGuard::allow_threads`], CPython's `Py_BEGIN_ALLOW_THREADS` /
//!   `Py_END_ALLOW_THREADS`).
//! - [`Mode::Off`] turns the lock into a no-op, so one experiment can run the
//!   same code with and without a GIL.
//!
//! What it leaves out: everything else the eval breaker carries (signals,
//! pending calls, async exceptions), per-thread interpreter state, priority
//! for the main thread, and fairness between several waiters (like CPython,
//! whoever the OS wakes first wins). The work loop lives in [`work`], the
//! chapter's measurements in [`experiments`].

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub mod experiments;
pub mod work;

/// CPython's default switch interval: `sys.getswitchinterval()` is `0.005`.
pub const DEFAULT_SWITCH_INTERVAL: Duration = Duration::from_millis(5);

/// The shortest switch interval; CPython also rounds up to 1 µs.
pub const MIN_SWITCH_INTERVAL: Duration = Duration::from_micros(1);

/// Whether the lock exists at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread runs "bytecodes" at a time, as in CPython.
    On,
    /// No lock: threads run truly in parallel, as Rust threads (or the
    /// free-threaded build of CPython) do.
    Off,
}

/// What the mutex protects: CPython's `gil->locked` and `gil->switch_number`.
#[derive(Debug, Default)]
struct State {
    locked: bool,
    /// How many times the lock was taken; a waiter uses it to tell "nobody
    /// switched while I slept" from "someone else got it first".
    switch_number: u64,
}

/// Counters read by [`Gil::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GilStats {
    /// Times the lock was taken, by anyone.
    pub acquisitions: u64,
    /// Times a holder dropped it because a waiter asked (a drop request).
    pub forced_switches: u64,
    /// Time all threads together spent waiting to take it.
    pub wait_total: Duration,
}

// ANCHOR: gil_struct
/// A global interpreter lock: a mutex-protected flag, two condition
/// variables and an atomic drop request the holder polls.
#[derive(Debug)]
pub struct Gil {
    mode: Mode,
    state: Mutex<State>,
    /// Signalled when the lock is dropped (CPython's `gil->cond`).
    released: Condvar,
    /// Signalled when the lock is taken (CPython's `gil->switch_cond`).
    taken: Condvar,
    /// "Please drop the GIL": set by a waiter, polled by the holder.
    drop_request: AtomicBool,
    switch_interval_ns: AtomicU64,
    forced_switches: AtomicU64,
    wait_ns: AtomicU64,
}
// ANCHOR_END: gil_struct

impl Gil {
    /// A lock with CPython's default 5 ms switch interval.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            state: Mutex::new(State::default()),
            released: Condvar::new(),
            taken: Condvar::new(),
            drop_request: AtomicBool::new(false),
            switch_interval_ns: AtomicU64::new(DEFAULT_SWITCH_INTERVAL.as_nanos() as u64),
            forced_switches: AtomicU64::new(0),
            wait_ns: AtomicU64::new(0),
        }
    }

    /// Builder form of [`Gil::set_switch_interval`].
    pub fn with_switch_interval(self, interval: Duration) -> Self {
        self.set_switch_interval(interval);
        self
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Like `sys.setswitchinterval`: how long a waiter waits before it asks
    /// the holder to drop the lock. Rounded up to [`MIN_SWITCH_INTERVAL`].
    pub fn set_switch_interval(&self, interval: Duration) {
        let ns = interval.max(MIN_SWITCH_INTERVAL).as_nanos();
        self.switch_interval_ns
            .store(u64::try_from(ns).unwrap_or(u64::MAX), Relaxed);
    }

    /// Like `sys.getswitchinterval`.
    pub fn switch_interval(&self) -> Duration {
        Duration::from_nanos(self.switch_interval_ns.load(Relaxed))
    }

    /// Takes the lock for this thread (blocking) and returns the guard that
    /// proves it; dropping the guard releases it. With [`Mode::Off`] this
    /// returns at once.
    pub fn acquire(&self) -> GilGuard<'_> {
        self.take();
        GilGuard {
            gil: self,
            _not_send: PhantomData,
        }
    }

    pub fn stats(&self) -> GilStats {
        GilStats {
            acquisitions: self.lock_state().switch_number,
            forced_switches: self.forced_switches.load(Relaxed),
            wait_total: Duration::from_nanos(self.wait_ns.load(Relaxed)),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // The state is two plain fields that are always consistent, so a
        // panic elsewhere while the mutex was held cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: take
    /// CPython's `take_gil`: wait in slices of one switch interval; after a
    /// whole interval with no switch, ask the holder to drop it.
    fn take(&self) {
        if self.mode == Mode::Off {
            return;
        }
        let mut state = self.lock_state();
        let started = Instant::now();
        while state.locked {
            let seen = state.switch_number;
            let interval = self.switch_interval();
            let (s, waited) = self
                .released
                .wait_timeout(state, interval)
                .unwrap_or_else(PoisonError::into_inner);
            state = s;
            if waited.timed_out() && state.locked && state.switch_number == seen {
                self.drop_request.store(true, Relaxed); // "please drop the GIL"
            }
        }
        state.locked = true;
        state.switch_number += 1;
        self.drop_request.store(false, Relaxed); // served
        self.taken.notify_all(); // wakes a holder waiting in `drop_lock`
        let waited = started.elapsed().as_nanos();
        self.wait_ns
            .fetch_add(u64::try_from(waited).unwrap_or(u64::MAX), Relaxed);
    }
    // ANCHOR_END: take

    // ANCHOR: drop
    /// CPython's `drop_gil`, with `FORCE_SWITCHING`: if a waiter asked for
    /// the lock, do not return before it has taken it, or this thread would
    /// win the race to take it back nearly every time.
    fn drop_lock(&self) {
        if self.mode == Mode::Off {
            return;
        }
        let mut state = self.lock_state();
        state.locked = false;
        self.released.notify_one();
        if self.drop_request.load(Relaxed) {
            let mine = state.switch_number;
            while state.switch_number == mine {
                state = self
                    .taken
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
    // ANCHOR_END: drop
}

/// Proof that this thread holds the lock (PyO3 calls its token `py`).
/// Not `Send`: a thread cannot pass its hold on the GIL to another.
#[derive(Debug)]
pub struct GilGuard<'g> {
    gil: &'g Gil,
    _not_send: PhantomData<*const ()>,
}

impl GilGuard<'_> {
    // ANCHOR: check
    /// The eval breaker: called between "bytecodes". Costs one relaxed load
    /// unless a waiter has asked for the lock.
    #[inline]
    pub fn check(&mut self) {
        if self.gil.drop_request.load(Relaxed) {
            self.gil.forced_switches.fetch_add(1, Relaxed);
            self.gil.drop_lock(); // hand it over...
            self.gil.take(); // ...and queue up to get it back
        }
    }
    // ANCHOR_END: check

    // ANCHOR: allow_threads
    /// Runs `blocking` with the lock released, then takes it back: CPython's
    /// `Py_BEGIN_ALLOW_THREADS ... Py_END_ALLOW_THREADS`, which wraps
    /// blocking I/O, `time.sleep` and long C computations.
    pub fn allow_threads<T>(&mut self, blocking: impl FnOnce() -> T) -> T {
        /// Takes the lock back when dropped, even if `blocking` panics.
        struct Retake<'g>(&'g Gil);
        impl Drop for Retake<'_> {
            fn drop(&mut self) {
                self.0.take();
            }
        }
        self.gil.drop_lock();
        let _retake = Retake(self.gil);
        blocking()
    }
    // ANCHOR_END: allow_threads

    /// The lock this guard holds.
    pub fn gil(&self) -> &Gil {
        self.gil
    }
}

impl Drop for GilGuard<'_> {
    fn drop(&mut self) {
        self.gil.drop_lock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_mode_never_blocks_or_counts() {
        let gil = Gil::new(Mode::Off);
        let _a = gil.acquire();
        let mut b = gil.acquire(); // would deadlock with Mode::On
        b.check();
        assert_eq!(b.allow_threads(|| 7), 7);
        assert_eq!(gil.stats(), GilStats::default());
    }

    #[test]
    fn uncontended_acquire_counts_but_does_not_force() {
        let gil = Gil::new(Mode::On);
        for _ in 0..3 {
            let mut py = gil.acquire();
            py.check();
        }
        let stats = gil.stats();
        assert_eq!(stats.acquisitions, 3);
        assert_eq!(stats.forced_switches, 0);
    }

    #[test]
    fn switch_interval_is_settable_and_rounded_up() {
        let gil = Gil::new(Mode::On);
        assert_eq!(gil.switch_interval(), DEFAULT_SWITCH_INTERVAL);
        gil.set_switch_interval(Duration::ZERO);
        assert_eq!(gil.switch_interval(), MIN_SWITCH_INTERVAL);
        gil.set_switch_interval(Duration::from_millis(100));
        assert_eq!(gil.switch_interval(), Duration::from_millis(100));
    }

    #[test]
    fn allow_threads_retakes_the_lock_after_a_panic() {
        let gil = Gil::new(Mode::On);
        let mut py = gil.acquire();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            py.allow_threads(|| panic!("boom"));
        }));
        assert!(caught.is_err());
        assert!(gil.lock_state().locked, "the guard must hold it again");
        drop(py);
        assert!(!gil.lock_state().locked);
    }
}
