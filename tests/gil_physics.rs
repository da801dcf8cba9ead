//! The physics of chapter 2's GIL: with the lock on, N threads together
//! never run more bytecode per second than one thread alone, and neither do
//! the rows of the convoy experiment, the CPU-bound threads' count and the
//! I/O thread's handlers together.
//!
//! A file of its own, so that cargo runs it apart from `tests/gil.rs`: its
//! CPU-bound threads (constantly woken waiters at a 1 µs interval) would
//! otherwise share the two cores with that file's sleep-bound timing checks,
//! and theirs would slow its rows down, hiding an overcount.

use std::time::Duration;

use lab::gil::experiments::{self, OneThread, convoy, cpu_bound};
use lab::gil::{DEFAULT_SWITCH_INTERVAL, Mode};

/// The test's ceiling: one thread alone, the fastest of 50 short batches
/// (a few milliseconds each in a debug build).
fn one_thread_rate() -> OneThread {
    experiments::one_thread_rate(10_000, 50)
}

#[test]
fn one_gil_never_runs_more_than_one_threads_worth_of_bytecode() {
    // Physics, not speed: with the GIL on only the holder runs bytecode, so
    // N threads together cannot beat one thread alone. 10 % is room for
    // noise. A measurement that counts work done outside its clock breaks
    // this: the convoy figure once showed four CPU threads running far
    // faster than one.
    let first = one_thread_rate();
    let mut rows = Vec::new();
    for threads in [2, 4] {
        let run = cpu_bound(Mode::On, threads, 400_000, DEFAULT_SWITCH_INTERVAL);
        let rate = 400_000.0 / run.elapsed.as_secs_f64();
        rows.push((format!("{threads} CPU-bound threads"), rate, None));
    }
    // The convoy experiment's rows, as chapter 2's figure runs them, with
    // shorter windows. The 100 ms interval is where a clock started late
    // shows most: the I/O thread's first wait for the GIL is that long.
    let wait = Duration::from_micros(100);
    for interval in [100_000, 5_000, 1_000, 100, 1].map(Duration::from_micros) {
        let window = interval.max(Duration::from_millis(100));
        for cpu_threads in [1, 2, 4] {
            let run = convoy(interval, cpu_threads, wait, window);
            let what = format!("convoy, {interval:?} interval, {cpu_threads} CPU threads");
            let per_cpu_sec = run.gil_bytecodes() as f64 / run.process_cpu.as_secs_f64();
            rows.push((what, run.gil_bytecodes_per_sec(), Some(per_cpu_sec)));
        }
    }
    // Measured again at the end, so a burst of load from other programs
    // cannot lower the ceiling alone.
    let last = one_thread_rate();
    let ceiling = first.per_sec.max(last.per_sec);
    let ceiling_cpu = first.per_cpu_sec.max(last.per_cpu_sec);
    for (what, rate, per_cpu_sec) in rows {
        // A busy machine slows the rows more than the ceiling (the fastest
        // of many short batches): it can hide an overcount here, never fail
        // a correct measurement.
        assert!(
            rate <= 1.1 * ceiling,
            "{what}: {:.2} M bytecodes/s under one GIL, but one thread alone does {:.2} M/s",
            rate / 1e6,
            ceiling / 1e6
        );
        // The same check per second of CPU the whole process used in the
        // window, which a busy machine does not hide: work done outside the
        // window was done on CPU time outside it too. 20 % here, because a
        // CPU-second does less work while the core's other hyperthread is
        // busy, and the batches and the rows need not see the same.
        if let Some(per_cpu_sec) = per_cpu_sec {
            assert!(
                per_cpu_sec <= 1.2 * ceiling_cpu,
                "{what}: {:.2} M bytecodes per CPU-second of the whole process, but one thread \
                 alone does {:.2} M: work done outside the window was counted in it",
                per_cpu_sec / 1e6,
                ceiling_cpu / 1e6
            );
        }
    }
}
