//! Behaviour of `lab::gil`, the chapter 2 GIL: mutual exclusion, a waiter
//! gets the lock about one switch interval later, waits that release it let
//! threads overlap (and waits that hold it do not), a forced switch really
//! hands the lock over, the counters count, a CPU-bound thread slows an I/O
//! thread down (the convoy), and the exercise's "C extension" work really
//! runs without the lock.
//!
//! Leaves out speed: every time bound here is a wide margin around a sleep
//! or a switch interval, checked on a shared 2-core box in debug mode.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use lab::gil::experiments::convoy;
use lab::gil::work::{
    blocking_call_holding, blocking_call_releasing, bytecode, cpu_work_releasing, run_bytecodes,
};
use lab::gil::{Gil, Mode};

#[test]
fn two_threads_never_hold_it_at_once() {
    // A short interval forces many switches; every bytecode checks that it
    // is the only holder, and the check cannot be optimised away.
    let gil = Gil::new(Mode::On).with_switch_interval(Duration::from_micros(50));
    let holders = AtomicUsize::new(0);
    let overlaps = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut py = gil.acquire();
                let mut x = 1;
                while !stop.load(SeqCst) {
                    if holders.fetch_add(1, SeqCst) != 0 {
                        overlaps.fetch_add(1, SeqCst);
                    }
                    x = bytecode(x);
                    holders.fetch_sub(1, SeqCst);
                    py.check(); // may hand the lock over, never while counted
                }
            });
        }
        thread::sleep(Duration::from_millis(300));
        stop.store(true, SeqCst);
    });
    let stats = gil.stats();
    assert_eq!(overlaps.load(SeqCst), 0, "two holders at once: {stats:?}");
    assert!(
        stats.forced_switches >= 10,
        "expected many forced switches in 300 ms at 50 µs: {stats:?}"
    );
}

#[test]
fn the_same_check_sees_overlaps_without_a_gil() {
    // The counter above can fail: with the lock off, threads do overlap.
    let gil = Gil::new(Mode::Off);
    let holders = AtomicUsize::new(0);
    let overlaps = AtomicUsize::new(0);
    let start_line = Barrier::new(2);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut py = gil.acquire();
                start_line.wait();
                let deadline = Instant::now() + Duration::from_secs(2);
                let mut x = 1;
                while overlaps.load(SeqCst) == 0 && Instant::now() < deadline {
                    if holders.fetch_add(1, SeqCst) != 0 {
                        overlaps.fetch_add(1, SeqCst);
                    }
                    for _ in 0..100 {
                        x = bytecode(x);
                    }
                    holders.fetch_sub(1, SeqCst);
                    py.check();
                }
            });
        }
    });
    assert!(overlaps.load(SeqCst) > 0);
}

#[test]
fn a_waiter_gets_it_about_one_switch_interval_later() {
    let interval = Duration::from_millis(20);
    let gil = Gil::new(Mode::On).with_switch_interval(interval);
    let stop = AtomicBool::new(false);
    let holding = Barrier::new(2);
    let waited = thread::scope(|s| {
        s.spawn(|| {
            let mut py = gil.acquire();
            holding.wait();
            // A CPU-bound holder that never releases on its own.
            while !stop.load(SeqCst) {
                run_bytecodes(&mut py, 100);
            }
        });
        holding.wait();
        let started = Instant::now();
        let py = gil.acquire();
        let waited = started.elapsed();
        stop.store(true, SeqCst);
        drop(py);
        waited
    });
    assert!(
        waited >= interval / 2,
        "got it before any drop request could exist: {waited:?}"
    );
    assert!(
        waited < interval * 4 + Duration::from_millis(20),
        "waited {waited:?} for a {interval:?} switch interval"
    );
    assert_eq!(gil.stats().forced_switches, 1);
}

/// Eight threads each make one 100 ms blocking call; returns the wall time.
fn eight_sleepers(call: fn(&mut lab::gil::GilGuard, Duration)) -> Duration {
    let gil = Gil::new(Mode::On);
    let start_line = Barrier::new(8);
    let started = Instant::now();
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                start_line.wait();
                let mut py = gil.acquire();
                call(&mut py, Duration::from_millis(100));
            });
        }
    });
    started.elapsed()
}

#[test]
fn releasing_around_waits_lets_threads_overlap_and_holding_does_not() {
    let releasing = eight_sleepers(blocking_call_releasing);
    let holding = eight_sleepers(blocking_call_holding);
    assert!(
        releasing < Duration::from_millis(400),
        "8 x 100 ms with the GIL released took {releasing:?}"
    );
    assert!(
        holding >= Duration::from_millis(700),
        "8 x 100 ms with the GIL held took only {holding:?}"
    );
}

#[test]
fn counters_count_forced_switches_and_waiting() {
    // Two CPU-bound threads at a 1 ms interval for about 100 ms: they must
    // take turns through drop requests, and waiting time adds up.
    let gil = Gil::new(Mode::On).with_switch_interval(Duration::from_millis(1));
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut py = gil.acquire();
                while !stop.load(SeqCst) {
                    run_bytecodes(&mut py, 100);
                }
            });
        }
        thread::sleep(Duration::from_millis(100));
        stop.store(true, SeqCst);
    });
    let stats = gil.stats();
    assert!(stats.forced_switches >= 5, "{stats:?}");
    assert!(stats.acquisitions > stats.forced_switches, "{stats:?}");
    assert!(stats.wait_total >= Duration::from_millis(5), "{stats:?}");

    // One thread alone is never asked to drop it.
    let alone = Gil::new(Mode::On).with_switch_interval(Duration::from_micros(1));
    run_bytecodes(&mut alone.acquire(), 100_000);
    assert_eq!(alone.stats().forced_switches, 0);
}

#[test]
fn a_forced_switch_really_hands_the_lock_over() {
    // Like CPython's FORCE_SWITCHING: a holder asked to drop the lock must
    // not take it straight back, so every forced switch lets the other
    // thread run. Without that wait, the dropper would win most races.
    let gil = Gil::new(Mode::On).with_switch_interval(Duration::from_millis(1));
    let last = AtomicUsize::new(usize::MAX);
    let handovers = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for id in 0..2 {
            let (gil, last, handovers, stop) = (&gil, &last, &handovers, &stop);
            s.spawn(move || {
                let mut py = gil.acquire();
                let mut x = 1;
                while !stop.load(SeqCst) {
                    if last.swap(id, SeqCst) != id {
                        handovers.fetch_add(1, SeqCst);
                    }
                    x = bytecode(x);
                    py.check();
                }
            });
        }
        thread::sleep(Duration::from_millis(200));
        stop.store(true, SeqCst);
    });
    let forced = gil.stats().forced_switches as usize;
    let handovers = handovers.load(SeqCst);
    assert!(
        forced >= 10,
        "only {forced} forced switches in 200 ms at 1 ms"
    );
    assert!(
        handovers >= forced,
        "{forced} forced switches but the lock changed threads only {handovers} times"
    );
}

#[test]
fn a_cpu_bound_thread_slows_an_io_thread_to_about_one_call_per_interval() {
    // The convoy effect, with wide margins: alone, 100 µs calls run at
    // thousands per second; beside one CPU-bound thread with a 50 ms
    // interval, each call waits for the GIL for about one interval.
    let wait = Duration::from_micros(100);
    let interval = Duration::from_millis(50);
    let alone = convoy(interval, 0, wait, Duration::from_millis(100));
    let beside = convoy(interval, 1, wait, Duration::from_millis(400));
    assert!(alone.ops_per_sec() > 500.0, "alone: {alone:?}");
    assert!(
        beside.ops_per_sec() < alone.ops_per_sec() / 10.0,
        "no convoy: alone {alone:?}, beside {beside:?}"
    );
    assert!(beside.stats.forced_switches >= 2, "{beside:?}");
}

#[test]
fn a_convoy_run_whose_io_thread_never_gets_the_gil_is_cut() {
    // A 10 s interval: beside a CPU-bound thread, the I/O thread's first wait
    // for the GIL would last 10 s. The run stops the CPU-bound thread at
    // three times its window instead, and counts no operation.
    let window = Duration::from_millis(50);
    let started = std::time::Instant::now();
    let run = convoy(
        Duration::from_secs(10),
        1,
        Duration::from_micros(100),
        window,
    );
    assert!(started.elapsed() < Duration::from_secs(2), "{run:?}");
    assert!(run.cut, "{run:?}");
    assert_eq!(run.ops, 0, "{run:?}");
    assert_eq!(run.elapsed, window * lab::gil::experiments::CONVOY_CUT);
    // An I/O thread alone is never cut.
    let alone = convoy(
        Duration::from_millis(5),
        0,
        Duration::from_micros(100),
        window,
    );
    assert!(!alone.cut && alone.ops > 0, "{alone:?}");
}

// ANCHOR: exercise_test
#[test]
fn exercise_cpu_work_releasing_lets_others_take_the_gil() {
    // A huge interval: if the worker held the GIL, the main thread would
    // wait at least 10 s for it. Released, it gets it at once.
    let gil = Gil::new(Mode::On).with_switch_interval(Duration::from_secs(10));
    let working = Barrier::new(2);
    let done = AtomicBool::new(false);
    let waited = thread::scope(|s| {
        s.spawn(|| {
            let mut py = gil.acquire();
            working.wait();
            while !done.load(SeqCst) {
                cpu_work_releasing(&mut py, 10_000);
            }
        });
        working.wait();
        let started = Instant::now();
        let py = gil.acquire();
        let waited = started.elapsed();
        done.store(true, SeqCst);
        drop(py);
        waited
    });
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    assert_eq!(gil.stats().forced_switches, 0);
}
// ANCHOR_END: exercise_test
