//! Question 11: does free-threaded Python make async pointless? What
//! removing the GIL changes (CPU-bound threads run in parallel) and what it
//! does not (a thread per waiting request still costs a thread, and a pool
//! of 40 threads still serves at most 40 waits at a time).
//!
//! The rows use chapter 2's [`Gil`] switched on and off ([`Mode::Off`]);
//! when a free-threaded `python3.13t` / `python3.14t` is on `PATH`, the same
//! CPU-bound loop on it is added, with the GIL switched back on (`-X gil=1`)
//! and off (`python/questions/q11_free_threading.py`).
//!
//! Leaves out: C extensions that re-enable the GIL on import, and the
//! single-thread slowdown of free-threaded builds.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::Ctx;
use super::script::{f64_at, run_program};
use crate::gil::experiments::cpu_bound;
use crate::gil::work::{blocking_call_releasing, run_bytecodes};
use crate::gil::{DEFAULT_SWITCH_INTERVAL, Gil, Mode};
use crate::report::{Cell, Table, duration, num, speedup};

/// FastAPI's threadpool: AnyIO's 40 tokens.
pub const POOL: usize = 40;
/// Each waiting request's wait (a database or upstream round trip).
pub const WAIT: Duration = Duration::from_millis(50);
/// The most threads the thread-per-request rows start, so the run stays
/// light on a small machine (each is a real OS thread).
const MOST_THREADS: usize = 400;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let free = ["python3.14t", "python3.13t"]
        .into_iter()
        .find(|p| which(p).is_some());
    match free {
        Some(p) => println!("(free-threaded CPython found: {p}; its rows are marked CPython)\n"),
        None => println!(
            "(no free-threaded CPython on PATH (python3.13t, python3.14t): the rows use the Rust Gil of chapter 2 switched off — Mode::Off — in its place)\n"
        ),
    }
    // ANCHOR: changes
    let total: u64 = ctx.pick(4_000_000, 20_000_000);
    let mut changes = Table::new([
        "runtime",
        "lock",
        "CPU-bound threads",
        "took",
        "speedup",
        "cores used",
    ]);
    changes.chart("speedup");
    // The fastest of three runs per cell (the machine is shared), after a
    // warm-up; `cores used` is the process's CPU time over the wall time:
    // under one lock it cannot exceed one core, whatever the scheduler does.
    let best = |mode, threads| {
        (0..3)
            .map(|_| {
                let cpu = cpu_time::ProcessTime::now();
                let took = cpu_bound(mode, threads, total, DEFAULT_SWITCH_INTERVAL).elapsed;
                (took, cpu.elapsed())
            })
            .min()
            .unwrap_or_default()
    };
    let _ = best(Mode::Off, 1);
    for mode in [Mode::On, Mode::Off] {
        let (one, two) = (best(mode, 1), best(mode, 2));
        let lock = if mode == Mode::On { "GIL" } else { "none" };
        for (threads, (took, cpu)) in [(1usize, one), (2, two)] {
            changes.row([
                Cell::from("Rust Gil (ch. 2)"),
                Cell::from(lock),
                Cell::from(threads),
                duration(took),
                speedup(one.0, took),
                num(cpu.as_secs_f64() / took.as_secs_f64(), 2),
            ]);
        }
    }
    // ANCHOR_END: changes
    if let Some(program) = free {
        // The same build twice, with the GIL switched back on (`-X gil=1`)
        // and off: the rows differ only in the lock, which the interpreter
        // itself reports.
        for gil in ["1", "0"] {
            let out = run_program(
                std::path::Path::new(program),
                "q11_free_threading.py",
                &["--loops", &(total / 5).to_string(), "--gil", gil],
                Duration::from_secs(120),
            )?;
            let one = f64_at(&out, "one_s")?;
            let lock = if out["gil"].as_bool() == Some(true) {
                "GIL"
            } else {
                "none"
            };
            for (threads, key) in [(1usize, "one"), (2, "two")] {
                let took = Duration::from_secs_f64(f64_at(&out, &format!("{key}_s"))?);
                changes.row([
                    Cell::from(format!("CPython {program}")),
                    Cell::from(lock),
                    Cell::from(threads),
                    duration(took),
                    speedup(Duration::from_secs_f64(one), took),
                    num(f64_at(&out, &format!("{key}_cores"))?, 2),
                ]);
            }
        }
    }
    println!("What removing the lock changes: {total} bytecodes split over the threads\n");
    print!("{changes}");

    let requests = ctx.pick(200, 1000);
    // A thread per request: at most this many threads, however many requests.
    let threads = requests.min(MOST_THREADS);
    println!(
        "\nWhat it does not change: requests that each wait {}, all arriving at once \
         ({requests}; {threads} with a thread each)\n",
        crate::report::human(WAIT)
    );
    let mut same = Table::new([
        "server",
        "lock",
        "requests",
        "req/s",
        "bound",
        "memory per waiter",
    ]);
    let bound = POOL as f64 / WAIT.as_secs_f64();
    for mode in [Mode::On, Mode::Off] {
        let lock = if mode == Mode::On { "GIL" } else { "none" };
        let (took, _) = thread_pool(mode, POOL, requests);
        same.row([
            Cell::from(format!("{POOL} threads")),
            Cell::from(lock),
            Cell::from(requests),
            num(requests as f64 / took.as_secs_f64(), 0),
            num(bound, 0),
            Cell::from("—"),
        ]);
    }
    for mode in [Mode::On, Mode::Off] {
        let lock = if mode == Mode::On { "GIL" } else { "none" };
        let (took, per) = thread_per_request(mode, threads);
        same.row([
            Cell::from("a thread per request"),
            Cell::from(lock),
            Cell::from(threads),
            num(threads as f64 / took.as_secs_f64(), 0),
            num(threads as f64 / WAIT.as_secs_f64(), 0),
            // Memory is read on the first run only: a second run in the same
            // process reuses the stacks and memory the first one freed
            // (glibc keeps them), so its reading would be too low.
            if mode == Mode::On {
                kib(per)
            } else {
                Cell::from("(as above)")
            },
        ]);
    }
    let (took, per) = tasks(requests);
    same.row([
        Cell::from("tokio tasks (async)"),
        Cell::from("—"),
        Cell::from(requests),
        num(requests as f64 / took.as_secs_f64(), 0),
        num(requests as f64 / WAIT.as_secs_f64(), 0),
        kib(per),
    ]);
    print!("{same}");
    Ok(())
}

fn kib(bytes: f64) -> Cell {
    Cell::measured(format!("{:.1} KiB", bytes / 1024.0), bytes / 1024.0)
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// One request: a little Python, then the wait with the lock released.
fn handle(gil: &Gil) {
    let mut py = gil.acquire();
    run_bytecodes(&mut py, 100);
    blocking_call_releasing(&mut py, WAIT);
}

// ANCHOR: pool
/// `requests` waits served by a pool of `threads`: the pool is the cap,
/// with or without the lock.
fn thread_pool(mode: Mode, threads: usize, requests: usize) -> (Duration, f64) {
    let gil = Gil::new(mode);
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while next.fetch_add(1, Relaxed) < requests {
                    handle(&gil);
                }
            });
        }
    });
    (started.elapsed(), 0.0)
}
// ANCHOR_END: pool

/// Resident memory of this process, in bytes: `Rss` of
/// `/proc/self/smaps_rollup`, which walks the page tables. (`VmRSS` in
/// `/proc/self/status` is kept per thread and added up only now and then,
/// so with hundreds of threads it reads low.)
fn rss() -> f64 {
    procfs::process::Process::myself()
        .and_then(|p| p.smaps_rollup())
        .ok()
        .and_then(|r| {
            let rollup = r.memory_map_rollup.0.into_iter().next()?;
            rollup.extension.map.get("Rss").copied()
        })
        .map_or(0.0, |bytes| bytes as f64)
}

/// A thread for every request, all waiting at once: resident memory per
/// waiting thread is read while they all wait.
fn thread_per_request(mode: Mode, requests: usize) -> (Duration, f64) {
    let gil = Gil::new(mode);
    let before = rss();
    let waiting = AtomicUsize::new(0);
    let mut during = before;
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..requests {
            s.spawn(|| {
                waiting.fetch_add(1, Relaxed);
                handle(&gil);
            });
        }
        while waiting.load(Relaxed) < requests && started.elapsed() < WAIT {
            std::thread::yield_now();
        }
        std::thread::sleep(WAIT / 5);
        during = rss();
    });
    (
        started.elapsed(),
        (during - before).max(0.0) / requests as f64,
    )
}

/// The async answer: a task per request on one thread.
fn tasks(requests: usize) -> (Duration, f64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let before = rss();
    runtime.block_on(async {
        let started = Instant::now();
        let handles: Vec<_> = (0..requests)
            .map(|_| tokio::spawn(tokio::time::sleep(WAIT)))
            .collect();
        tokio::task::yield_now().await;
        let during = rss();
        for h in handles {
            let _ = h.await;
        }
        (
            started.elapsed(),
            (during - before).max(0.0) / requests as f64,
        )
    })
}
