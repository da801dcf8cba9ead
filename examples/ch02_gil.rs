//! Chapter 2: a global interpreter lock built like CPython's, measured.
//!
//! Prints four tables: (1) CPU-bound work on 1, 2, 4 threads with and
//! without the GIL; (2) I/O-bound work on 1 vs 8 threads, releasing the GIL
//! while waiting and (the bug) holding it; (3) the convoy effect: a thread
//! making 100 µs blocking calls beside 1, 2, 4 CPU-bound threads, for switch
//! intervals from 100 ms down to 1 µs, and what shorter intervals cost the
//! CPU-bound threads; (4) the same CPU-bound work in child processes, each
//! with its own GIL (the example re-executes itself with a hidden `child`
//! subcommand).
//!
//!     cargo run --release --example ch02_gil            # full run, < 60 s
//!     cargo run --release --example ch02_gil -- --quick # smaller, < 15 s
//!     cargo run --release --example ch02_gil -- --table convoy
//!
//! It leaves out error bars: CPU-bound cells keep the fastest of a few runs,
//! convoy cells are one run each, measured for a fixed time (cut at three
//! times that if one call is still waiting for the GIL; a line says so). On a busy
//! machine expect noise; the shapes are what the chapter reads. Progress
//! goes to stderr, so stdout is the unedited figure.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use lab::gil::experiments::{
    CONVOY_CUT, CpuRun, Waiting, convoy, cpu_bound, io_bound, one_thread_rate,
};
use lab::gil::{DEFAULT_SWITCH_INTERVAL, Mode};
use lab::progress::Progress;
use lab::report::{Cell, Table, duration, human, num, print_banner, ratio, speedup};

#[derive(Parser, Debug)]
#[command(
    about = "Chapter 2: a GIL built in Rust, measured (CPU-bound, I/O-bound, convoy, processes)"
)]
struct Args {
    /// A smaller run (under 15 s) with the same tables and shapes.
    #[arg(long)]
    quick: bool,
    /// Which table to print.
    #[arg(long, value_enum, default_value_t = Which::All)]
    table: Which,
    /// Hidden: the worker process of table 4.
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Subcommand, Debug)]
enum Child {
    /// Runs CPU-bound bytecodes under this process's own GIL, then exits.
    #[command(hide = true)]
    Child {
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000_000))]
        bytecodes: u64,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    All,
    Cpu,
    Io,
    Convoy,
    Processes,
}

/// How big each experiment is; `--quick` shrinks all of them.
struct Sizes {
    cpu_bytecodes: u64,
    /// CPU-bound cells are timed this many times and the fastest run kept:
    /// on a shared machine, other programs only ever make a run slower.
    cpu_runs: usize,
    io_wait: Duration,
    convoy_window: Duration,
    /// A 100 ms interval allows only a few requests per second: measure
    /// longer there, or the count is too small to read.
    convoy_window_slow: Duration,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            // A fifth of the full run's work per CPU-bound cell: 2,000,000
            // bytecodes still last 50-100 ms, ten or more 5 ms switch
            // intervals, so the GIL changes hands many times per run and the
            // 1/2/4-thread shape is the same. Convoy cells are shorter too:
            // 100 ms is still 20 switch intervals of 5 ms, and 300 ms still
            // shows the collapse to a few calls per second at 100 ms.
            Sizes {
                cpu_bytecodes: 2_000_000,
                cpu_runs: 2,
                io_wait: Duration::from_millis(5),
                convoy_window: Duration::from_millis(100),
                convoy_window_slow: Duration::from_millis(300),
            }
        } else {
            Sizes {
                cpu_bytecodes: 10_000_000,
                cpu_runs: 3,
                io_wait: Duration::from_millis(20),
                convoy_window: Duration::from_millis(800),
                convoy_window_slow: Duration::from_millis(2_000),
            }
        }
    }
}

const THREADS: [usize; 3] = [1, 2, 4];
const IO_REQUESTS: usize = 8;
const IO_CALLS: usize = 4;
const CONVOY_CPU_THREADS: [usize; 4] = [0, 1, 2, 4];
/// The I/O-style thread's blocking call: about a fast local database query.
const CONVOY_WAIT: Duration = Duration::from_micros(100);
/// One thread alone, timed as the fastest of this many batches of this
/// many bytecodes: the most one GIL can run.
const CEILING_BATCH: u64 = 100_000;
const CEILING_BATCHES: usize = 40;
const INTERVALS: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_millis(5),
    Duration::from_millis(1),
    Duration::from_micros(100),
    Duration::from_micros(1),
];

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Child::Child { bytecodes }) = args.child {
        // One worker process: its own interpreter, its own GIL.
        cpu_bound(Mode::On, 1, bytecodes, DEFAULT_SWITCH_INTERVAL);
        return Ok(());
    }
    print_banner("Chapter 2: a GIL built in Rust, measured");
    let sizes = Sizes::new(args.quick);
    let all = args.table == Which::All;
    if all || args.table == Which::Cpu {
        cpu_table(&sizes);
    }
    if all || args.table == Which::Io {
        io_table(&sizes);
    }
    if all || args.table == Which::Convoy {
        convoy_tables(&sizes)?;
    }
    if all || args.table == Which::Processes {
        processes_table(&sizes)?;
    }
    Ok(())
}

/// A step's progress on stderr (a bar, or a line per step off a terminal), so
/// stdout stays the unedited figure.
fn progress(cells: usize, what: &str) -> Progress {
    let bar = Progress::new("ch02", cells);
    bar.set_message(what);
    bar
}

/// The faster of two runs: on a shared machine, other programs can only
/// make a run slower, so the fastest is the best estimate.
fn faster(a: CpuRun, b: CpuRun) -> CpuRun {
    if b.elapsed < a.elapsed { b } else { a }
}

fn cpu_table(sizes: &Sizes) {
    let bar = progress(THREADS.len() * 2 * sizes.cpu_runs, "cpu-bound");
    let mut runs = Vec::new();
    for threads in THREADS {
        // GIL on and off runs alternate, so a burst of load from other
        // programs hits both columns alike.
        let run = |mode| {
            bar.inc();
            cpu_bound(mode, threads, sizes.cpu_bytecodes, DEFAULT_SWITCH_INTERVAL)
        };
        let (mut on, mut off) = (run(Mode::On), run(Mode::Off));
        for _ in 1..sizes.cpu_runs {
            on = faster(on, run(Mode::On));
            off = faster(off, run(Mode::Off));
        }
        runs.push((threads, on, off));
    }
    bar.finish();
    println!(
        "## 1. CPU-bound work on N threads, GIL on and off\n\n{} bytecodes split evenly over N threads; switch interval {}; fastest of {} runs.\n",
        sizes.cpu_bytecodes,
        human(DEFAULT_SWITCH_INTERVAL),
        sizes.cpu_runs
    );
    let mut table = Table::new([
        "threads",
        "GIL on",
        "speedup",
        "forced switches",
        "GIL off",
        "speedup",
    ]);
    let (base_on, base_off) = (runs[0].1.elapsed, runs[0].2.elapsed);
    for (threads, on, off) in runs {
        table.row([
            Cell::from(threads),
            duration(on.elapsed),
            speedup(base_on, on.elapsed),
            Cell::from(on.stats.forced_switches),
            duration(off.elapsed),
            speedup(base_off, off.elapsed),
        ]);
    }
    println!("{table}");
}

fn io_table(sizes: &Sizes) {
    let cases = [
        (1, Waiting::Releasing, "released"),
        (8, Waiting::Releasing, "released"),
        (8, Waiting::Holding, "held (bug)"),
    ];
    let bar = progress(cases.len(), "I/O-bound");
    let mut rows = Vec::new();
    for (threads, waiting, label) in cases {
        let elapsed = io_bound(threads, IO_REQUESTS, IO_CALLS, sizes.io_wait, waiting);
        bar.inc();
        rows.push((threads, label, elapsed));
    }
    bar.finish();
    println!(
        "## 2. I/O-bound work on 1 and 8 threads, releasing or holding the GIL\n\n{IO_REQUESTS} requests, each making {IO_CALLS} blocking calls of {}; GIL on.\n",
        human(sizes.io_wait)
    );
    let mut table = Table::new(["threads", "GIL during the wait", "wall time", "speedup"]);
    let base = rows[0].2;
    for (threads, label, elapsed) in rows {
        table.row([
            Cell::from(threads),
            Cell::from(label),
            duration(elapsed),
            speedup(base, elapsed),
        ]);
    }
    println!("{table}");
}

fn convoy_tables(sizes: &Sizes) -> Result<()> {
    let bar = progress(INTERVALS.len() * CONVOY_CPU_THREADS.len(), "convoy");
    let mut grid = Vec::new();
    for interval in INTERVALS {
        let window = if interval >= Duration::from_millis(50) {
            sizes.convoy_window_slow
        } else {
            sizes.convoy_window
        };
        let mut row = Vec::new();
        for cpu_threads in CONVOY_CPU_THREADS {
            // Alone, the interval never comes into play: a short look will do.
            let window = if cpu_threads == 0 { window / 4 } else { window };
            row.push(convoy(interval, cpu_threads, CONVOY_WAIT, window));
            bar.inc();
        }
        grid.push((interval, row));
    }
    bar.finish();

    println!(
        "## 3. The convoy effect: an I/O thread beside CPU-bound threads\n\nOperations per second of a thread making {} blocking calls (GIL released),\nalone and beside 1, 2, 4 CPU-bound threads, for each switch interval.\n",
        human(CONVOY_WAIT)
    );
    let mut table = Table::new([
        "switch interval",
        "alone",
        "+1 CPU",
        "+2 CPU",
        "+4 CPU",
        "1/(interval + wait)",
    ]);
    for (interval, row) in &grid {
        let mut cells = vec![duration(*interval)];
        cells.extend(row.iter().map(|r| num(r.ops_per_sec(), 0)));
        cells.push(num(1.0 / (*interval + CONVOY_WAIT).as_secs_f64(), 0));
        table.row(cells);
    }
    println!("{table}");
    let cut: Vec<String> = grid
        .iter()
        .flat_map(|(interval, row)| {
            let cells = row.iter().zip(CONVOY_CPU_THREADS);
            cells
                .filter(|(run, _)| run.cut)
                .map(|(_, n)| format!("{} +{n} CPU", human(*interval)))
        })
        .collect();
    if !cut.is_empty() {
        println!(
            "Cut at {CONVOY_CUT}x the window, a call still waiting for the GIL: {}.\nTheir rate counts the calls done by then.\n",
            cut.join(", ")
        );
    }

    // The ceiling the price table is read against: what one GIL can run.
    let ceiling = one_thread_rate(CEILING_BATCH, CEILING_BATCHES).per_sec;
    println!(
        "The price: the CPU-bound threads' throughput in the same runs\n(million bytecodes per second, and compared with a 100 ms interval).\nOne thread alone runs {:.1}: no row can beat that, whatever its thread count.\n",
        ceiling / 1e6
    );
    let mut table = Table::new([
        "switch interval",
        "1 CPU thread",
        "vs. 100 ms",
        "4 CPU threads",
        "vs. 100 ms",
        "forced switches/s (4)",
    ]);
    let (base1, base4) = (
        grid[0].1[1].cpu_bytecodes_per_sec(),
        grid[0].1[3].cpu_bytecodes_per_sec(),
    );
    for (interval, row) in &grid {
        let (one, four) = (&row[1], &row[3]);
        let forced = four.stats.forced_switches as f64;
        table.row([
            duration(*interval),
            num(one.cpu_bytecodes_per_sec() / 1e6, 1),
            ratio(one.cpu_bytecodes_per_sec(), base1),
            num(four.cpu_bytecodes_per_sec() / 1e6, 1),
            ratio(four.cpu_bytecodes_per_sec(), base4),
            num(forced / four.elapsed.as_secs_f64(), 0),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// Runs `total` bytecodes split over `n` copies of this program, each with
/// its own GIL, and returns the wall time.
fn in_processes(n: usize, total: u64) -> Result<Duration> {
    let exe = std::env::current_exe().context("finding this program to re-run it")?;
    let per_child = (total / n as u64).to_string();
    let started = Instant::now();
    let children = (0..n)
        .map(|_| {
            Command::new(&exe)
                .args(["child", "--bytecodes", &per_child])
                .stdout(Stdio::null())
                .spawn()
                .context("starting a worker process")
        })
        .collect::<Result<Vec<_>>>()?;
    for mut child in children {
        let status = child.wait().context("waiting for a worker process")?;
        if !status.success() {
            bail!("a worker process failed: {status}");
        }
    }
    Ok(started.elapsed())
}

fn processes_table(sizes: &Sizes) -> Result<()> {
    let bar = progress(THREADS.len() * 2 * sizes.cpu_runs, "processes");
    let mut rows = Vec::new();
    for n in THREADS {
        let (mut threads, mut processes) = (Duration::MAX, Duration::MAX);
        for _ in 0..sizes.cpu_runs {
            let run = cpu_bound(Mode::On, n, sizes.cpu_bytecodes, DEFAULT_SWITCH_INTERVAL);
            threads = threads.min(run.elapsed);
            bar.inc();
            processes = processes.min(in_processes(n, sizes.cpu_bytecodes)?);
            bar.inc();
        }
        rows.push((n, threads, processes));
    }
    bar.finish();
    println!(
        "## 4. The way out: N processes, one GIL each\n\n{} bytecodes split over N threads sharing one GIL, or over N processes\nwith a GIL each (this program re-run as workers); fastest of {} runs.\n",
        sizes.cpu_bytecodes, sizes.cpu_runs
    );
    let mut table = Table::new(["N", "threads", "speedup", "processes", "speedup"]);
    let (base_t, base_p) = (rows[0].1, rows[0].2);
    for (n, threads, processes) in rows {
        table.row([
            Cell::from(n),
            duration(threads),
            speedup(base_t, threads),
            duration(processes),
            speedup(base_p, processes),
        ]);
    }
    println!("{table}");
    Ok(())
}
