//! The chapter's measurements, one function per table of
//! `examples/ch02_gil.rs`: CPU-bound threads, I/O-bound threads, and the
//! convoy effect (a thread making short blocking calls beside CPU-bound
//! threads).
//! Each returns raw numbers; the example turns them into tables.
//!
//! What it leaves out: processes (the example re-executes itself for those)
//! and any statistics beyond one timed run per cell.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use cpu_time::{ProcessTime, ThreadTime};

use super::work::{blocking_call_holding, blocking_call_releasing, run_bytecodes};
use super::{Gil, GilGuard, GilStats, Mode};

/// One run of CPU-bound threads.
#[derive(Debug, Clone, Copy)]
pub struct CpuRun {
    pub elapsed: Duration,
    pub stats: GilStats,
}

/// `total` bytecodes split evenly over `threads` threads that start together.
/// With [`Mode::On`] only one of them runs at a time.
pub fn cpu_bound(mode: Mode, threads: usize, total: u64, interval: Duration) -> CpuRun {
    let threads = threads.max(1);
    let gil = Gil::new(mode).with_switch_interval(interval);
    let per_thread = total / threads as u64;
    let start_line = Barrier::new(threads + 1);
    let started = thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                start_line.wait();
                let mut py = gil.acquire();
                run_bytecodes(&mut py, per_thread)
            });
        }
        start_line.wait();
        Instant::now()
    }); // the scope joins every thread before it returns
    CpuRun {
        elapsed: started.elapsed(),
        stats: gil.stats(),
    }
}

/// How fast one thread alone runs bytecode under the GIL: the most one GIL
/// can run, since N threads sharing it take turns.
#[derive(Debug, Clone, Copy)]
pub struct OneThread {
    /// Bytecodes per second of wall time.
    pub per_sec: f64,
    /// Bytecodes per second of the thread's own CPU time, which other
    /// programs on the machine cannot lower by taking the core away.
    pub per_cpu_sec: f64,
}

/// Times one thread alone as the fastest of `batches` batches of
/// `bytecodes` each: other programs on the machine can only slow a batch
/// down, and a short batch often runs untouched.
pub fn one_thread_rate(bytecodes: u64, batches: usize) -> OneThread {
    let gil = Gil::new(Mode::On);
    let mut py = gil.acquire();
    let mut best = OneThread {
        per_sec: 0.0,
        per_cpu_sec: 0.0,
    };
    for _ in 0..batches.max(1) {
        let (wall, cpu) = (Instant::now(), ThreadTime::now());
        run_bytecodes(&mut py, bytecodes);
        let (wall, cpu) = (wall.elapsed(), cpu.elapsed());
        best.per_sec = best.per_sec.max(bytecodes as f64 / wall.as_secs_f64());
        best.per_cpu_sec = best
            .per_cpu_sec
            .max(bytecodes as f64 / cpu.as_secs_f64().max(1e-9));
    }
    best
}

/// How the I/O-bound requests treat the GIL while they wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// [`blocking_call_releasing`]: the right way.
    Releasing,
    /// [`blocking_call_holding`]: the bug.
    Holding,
}

/// Handles `requests` I/O-bound requests on `threads` threads; each request
/// runs a few bytecodes then makes `calls` blocking calls of `wait` each
/// (think: a view making database queries). Returns the wall time.
pub fn io_bound(
    threads: usize,
    requests: usize,
    calls: usize,
    wait: Duration,
    waiting: Waiting,
) -> Duration {
    let threads = threads.max(1);
    let gil = Gil::new(Mode::On);
    let start_line = Barrier::new(threads + 1);
    let started = thread::scope(|s| {
        for t in 0..threads {
            let (gil, start_line) = (&gil, &start_line);
            s.spawn(move || {
                start_line.wait();
                let mut py = gil.acquire();
                for _ in (t..requests).step_by(threads) {
                    run_bytecodes(&mut py, 1_000);
                    for _ in 0..calls {
                        match waiting {
                            Waiting::Releasing => blocking_call_releasing(&mut py, wait),
                            Waiting::Holding => blocking_call_holding(&mut py, wait),
                        }
                    }
                }
            });
        }
        start_line.wait();
        Instant::now()
    });
    started.elapsed()
}

/// Bytecodes the I/O-style thread runs per operation ("handle the result").
pub const HANDLER_BYTECODES: u64 = 100;

/// A convoy run whose I/O thread is still waiting for the GIL at this many
/// times its window is cut there (see [`ConvoyRun::cut`]).
pub const CONVOY_CUT: u32 = 3;

/// One run of the convoy experiment.
#[derive(Debug, Clone, Copy)]
pub struct ConvoyRun {
    /// Operations the I/O-style thread completed.
    pub ops: u64,
    /// The measured window: the asked one, plus the end of the last
    /// operation. It starts before the I/O thread's first wait for the GIL.
    /// A cut run's window ends at the cut.
    pub elapsed: Duration,
    /// The I/O thread's last operation was still waiting for the GIL at
    /// [`CONVOY_CUT`] times the window: the CPU-bound threads were stopped
    /// there (the GIL hands out no turns in order, so one unlucky operation
    /// can wait for many intervals), and the run counts the operations
    /// done by then, over the window up to then.
    pub cut: bool,
    /// Bytecodes the CPU-bound threads ran in that same window (read at the
    /// same instants as its clock).
    pub cpu_bytecodes: u64,
    /// CPU time the whole process used in that same window (every thread:
    /// the CPU-bound ones, the I/O thread, waiters waking up).
    pub process_cpu: Duration,
    pub stats: GilStats,
}

impl ConvoyRun {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
    pub fn cpu_bytecodes_per_sec(&self) -> f64 {
        self.cpu_bytecodes as f64 / self.elapsed.as_secs_f64()
    }
    /// Bytecodes run under the GIL by every thread in the window, the I/O
    /// thread's handlers included.
    pub fn gil_bytecodes(&self) -> u64 {
        self.cpu_bytecodes + self.ops * HANDLER_BYTECODES
    }
    /// [`ConvoyRun::gil_bytecodes`] per second: never more than one thread
    /// alone runs, since only one thread holds the lock at a time.
    pub fn gil_bytecodes_per_sec(&self) -> f64 {
        self.gil_bytecodes() as f64 / self.elapsed.as_secs_f64()
    }
}

// ANCHOR: io_thread
/// The I/O-style thread: a loop of short blocking calls (`wait` each, GIL
/// released) with a little Python-level work between them, until `until`.
fn io_thread(py: &mut GilGuard, wait: Duration, until: Instant) -> u64 {
    let mut ops = 0;
    while Instant::now() < until {
        blocking_call_releasing(py, wait); // e.g. a fast DB query
        run_bytecodes(py, HANDLER_BYTECODES); // handle its result
        ops += 1;
    }
    ops
}
// ANCHOR_END: io_thread

/// The I/O-style thread alone or beside `cpu_threads` CPU-bound threads,
/// all under one GIL with the given switch interval, for about `window`.
pub fn convoy(
    interval: Duration,
    cpu_threads: usize,
    wait: Duration,
    window: Duration,
) -> ConvoyRun {
    let gil = Gil::new(Mode::On).with_switch_interval(interval);
    let stop = AtomicBool::new(false);
    let cpu_done = AtomicU64::new(0);
    let start_line = Barrier::new(cpu_threads + 1);
    thread::scope(|s| {
        for _ in 0..cpu_threads {
            s.spawn(|| {
                start_line.wait();
                let mut py = gil.acquire();
                while !stop.load(Relaxed) {
                    run_bytecodes(&mut py, 256);
                    cpu_done.fetch_add(256, Relaxed);
                }
            });
        }
        start_line.wait();
        // Start measuring once a CPU thread is really running, or the I/O
        // thread's first calls would find the GIL free.
        let ready = Instant::now();
        while cpu_threads > 0
            && cpu_done.load(Relaxed) == 0
            && ready.elapsed() < Duration::from_secs(1)
        {
            thread::sleep(Duration::from_micros(100));
        }
        // One instant starts the clock and the CPU count together. The I/O
        // thread's first wait for the GIL is inside the window, like all its
        // later ones, and so is the CPU work done meanwhile.
        let (started, process) = (Instant::now(), ProcessTime::now());
        let cpu_before = cpu_done.load(Relaxed);
        let cut_at = started + window * CONVOY_CUT;
        // Stops the CPU-bound threads at the cut, unless the run ends first.
        let watchdog = s.spawn({
            let stop = &stop;
            move || {
                while !stop.load(Relaxed) {
                    match cut_at.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => thread::park_timeout(left),
                        _ => stop.store(true, Relaxed),
                    }
                }
            }
        });
        let mut py = gil.acquire();
        let mut ops = io_thread(&mut py, wait, started + window);
        // Still holding the GIL: no CPU thread can count between these reads
        // (after a cut, none is left running).
        let cpu_after = cpu_done.load(Relaxed);
        let (mut elapsed, process_cpu) = (started.elapsed(), process.elapsed());
        drop(py);
        stop.store(true, Relaxed);
        watchdog.thread().unpark();
        // Whatever ended after the cut (an operation, or the first wait for
        // the GIL, when no operation was done) ended because of it.
        let cut = elapsed > cut_at - started;
        if cut {
            ops = ops.saturating_sub(1);
            elapsed = cut_at - started;
        }
        ConvoyRun {
            ops,
            elapsed,
            cut,
            cpu_bytecodes: cpu_after - cpu_before,
            process_cpu,
            stats: gil.stats(),
        }
    })
}
