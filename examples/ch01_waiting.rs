//! Chapter 1 — I/O-bound waiting.
//!
//! Shows where a request's time goes (CPU vs waiting, measured), sequential
//! vs concurrent waiting, Little's law against a server that waits 50 ms per
//! request, and the counter-case where concurrency does not help: CPU-bound
//! work.
//!
//!     cargo run --release --example ch01_waiting            # about 30 s
//!     cargo run --release --example ch01_waiting -- --quick # under 15 s
//!
//! Everything runs on loopback: a slow upstream (lab::upstream) on its own
//! threads, the book's load generator (lab::loadgen) on threads of its own.

use std::time::{Duration, Instant};

use clap::Parser;
use lab::client::{
    fetch_concurrent, fetch_sequential_blocking, fetch_with_threads, repeat_url, waits_worth,
};
use lab::db::SimulatedDb;
use lab::loadgen::{self, LoadSpec};
use lab::progress::Progress;
use lab::report::{Cell, Table, duration, human, num, percent, print_banner, ratio};
use lab::upstream::SlowUpstream;
use lab::wait::{CpuWork, measure};

#[derive(Parser, Debug)]
#[command(about = "Chapter 1: where a request's time goes, and Little's law")]
struct Args {
    /// A shorter run (under 15 s) with fewer clients and shorter steps.
    #[arg(long)]
    quick: bool,
    /// How long the slow upstream waits before answering, in milliseconds.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    delay_ms: u64,
    /// How many calls the sequential-vs-concurrent experiment makes.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=200))]
    calls: u64,
}

/// The client counts of the Little's-law sweep.
fn client_counts(quick: bool) -> &'static [usize] {
    if quick {
        &[1, 10, 100]
    } else {
        &[1, 10, 50, 100, 250, 500]
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    print_banner("Chapter 1: I/O-bound waiting");
    let delay = Duration::from_millis(args.delay_ms);
    let upstream = SlowUpstream::start(delay, 2)?;

    println!("## Where one request's time goes\n");
    println!("{}", time_breakdown(&upstream)?);

    println!(
        "## {} calls to an upstream that waits {}\n",
        args.calls,
        human(delay)
    );
    println!(
        "{}",
        waiting_three_ways(&upstream, args.calls as usize, delay)?
    );

    println!("## Little's law: throughput = clients / time per request\n");
    println!("{}", littles_law(&upstream, delay, args.quick)?);

    println!(
        "## The counter-case: {} pieces of CPU-bound work\n",
        args.calls
    );
    println!(
        "{}",
        cpu_three_ways(args.calls as usize, Duration::from_millis(20))?
    );
    Ok(())
}

/// One request to a product page, phase by phase: CPU for parsing and
/// rendering, waits for the database and the pricing upstream.
fn time_breakdown(upstream: &SlowUpstream) -> anyhow::Result<Table> {
    let db = SimulatedDb::open(1_000, Duration::from_millis(20))?;
    let client = reqwest::blocking::Client::new();
    let render = CpuWork::calibrated(Duration::from_micros(500));
    let url = upstream.url("/slow");
    client.get(&url).send()?; // warm the connection

    let mut table = Table::new(["phase", "kind", "wall", "CPU", "share of wall"]);
    let (_, parse_wall, parse_cpu) = measure(|| {
        serde_json::from_str::<serde_json::Value>(r#"{"product": 7, "currency": "EUR"}"#)
    });
    let (row, db_wall, db_cpu) = measure(|| db.query_with_latency(7));
    row?;
    let (answer, up_wall, up_cpu) = measure(|| client.get(&url).send().and_then(|r| r.text()));
    answer?;
    let (_, render_wall, render_cpu) = measure(|| render.run());
    let total = parse_wall + db_wall + up_wall + render_wall;
    let phases = [
        ("parse the request", "CPU", parse_wall, parse_cpu),
        ("SQLite query + 20 ms round trip", "wait", db_wall, db_cpu),
        ("pricing upstream (slow)", "wait", up_wall, up_cpu),
        ("render the page", "CPU", render_wall, render_cpu),
    ];
    let mut cpu_total = Duration::ZERO;
    for (phase, kind, wall, cpu) in phases {
        cpu_total += cpu;
        table.row([
            phase.into(),
            kind.into(),
            human(wall),
            human(cpu),
            percent(wall.as_secs_f64(), total.as_secs_f64()),
        ]);
    }
    table.row([
        "total".into(),
        String::new(),
        human(total),
        human(cpu_total),
        format!(
            "CPU {}",
            percent(cpu_total.as_secs_f64(), total.as_secs_f64())
        ),
    ]);
    Ok(table)
}

/// The same calls one after another, one thread each, and all at once.
fn waiting_three_ways(
    upstream: &SlowUpstream,
    calls: usize,
    delay: Duration,
) -> anyhow::Result<Table> {
    let urls = repeat_url(&upstream.url("/slow"), calls);
    let sequential = timed(|| fetch_sequential_blocking(&urls))?;
    let threaded = timed(|| fetch_with_threads(&urls))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let concurrent = timed(|| runtime.block_on(fetch_concurrent(&urls)))?;
    Ok(three_ways_table(
        "waits' worth",
        delay,
        [
            ("sequential, blocking".into(), 1, sequential),
            ("a thread per call, blocking".into(), calls, threaded),
            ("concurrent, async on one thread".into(), 1, concurrent),
        ],
    ))
}

/// Closed-loop load at rising client counts against the slow upstream.
fn littles_law(upstream: &SlowUpstream, delay: Duration, quick: bool) -> anyhow::Result<Table> {
    let counts = client_counts(quick);
    let (step, warmup) = if quick {
        (Duration::from_millis(1500), Duration::from_millis(300))
    } else {
        (Duration::from_secs(4), Duration::from_millis(500))
    };
    let progress = Progress::new("ch01", counts.len());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut table = Table::new([
        "clients (L)".to_string(),
        format!("predicted req/s (L / {})", human(delay)),
        "measured req/s".into(),
        "measured/predicted".into(),
        "mean W".into(),
        "L / mean W".into(),
        "p50".into(),
        "p99".into(),
        "errors".into(),
    ]);
    for &clients in counts {
        progress.set_message(format!("{clients} clients"));
        // ANCHOR: littles_law_step
        let spec = LoadSpec::closed(&upstream.url("/slow"), clients, step)?.with_warmup(warmup);
        let report = runtime.block_on(loadgen::run(&spec))?;
        let predicted = clients as f64 / delay.as_secs_f64();
        let measured = report.requests_per_sec();
        // ANCHOR_END: littles_law_step
        let mean_w = Duration::from_secs_f64(report.latency_us.mean() / 1e6);
        table.row([
            Cell::from(clients),
            num(predicted, 0),
            num(measured, 0),
            ratio(measured, predicted),
            duration(mean_w),
            num(clients as f64 / mean_w.as_secs_f64(), 0),
            duration(report.latency(0.5)),
            duration(report.latency(0.99)),
            Cell::from(report.errors),
        ]);
        progress.inc();
    }
    progress.finish();
    Ok(table)
}

/// The counter-case: pieces of CPU-bound work gain nothing from concurrency
/// on one thread, and threads help only up to the number of cores.
fn cpu_three_ways(pieces: usize, each: Duration) -> anyhow::Result<Table> {
    let work = CpuWork::calibrated(each);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let sequential = timed(|| {
        for _ in 0..pieces {
            work.run();
        }
        anyhow::Ok(())
    })?;
    let threaded = timed(|| {
        std::thread::scope(|s| {
            for _ in 0..pieces {
                s.spawn(|| work.run());
            }
        });
        anyhow::Ok(())
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let concurrent = timed(|| {
        runtime.block_on(async {
            let tasks: Vec<_> = (0..pieces)
                .map(|_| tokio::spawn(async move { work.run() }))
                .collect();
            futures::future::try_join_all(tasks).await
        })
    })?;
    Ok(three_ways_table(
        "pieces' worth",
        each,
        [
            ("sequential".into(), 1, sequential),
            (
                format!("a thread per piece ({cores} cores)"),
                pieces,
                threaded,
            ),
            ("concurrent, async on one thread".into(), 1, concurrent),
        ],
    ))
}

/// Runs `f` and returns how long it took, or its error.
fn timed<T, E: Into<anyhow::Error>>(f: impl FnOnce() -> Result<T, E>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    f().map_err(Into::into)?;
    Ok(started.elapsed())
}

/// One row per approach: threads used, wall time, and wall time in units of
/// one piece (`unit`), the number a reader compares across rows.
fn three_ways_table(
    unit_name: &str,
    unit: Duration,
    rows: [(String, usize, Duration); 3],
) -> Table {
    let mut table = Table::new(["approach", "threads", "wall", unit_name]);
    for (approach, threads, took) in rows {
        table.row([
            Cell::from(approach),
            Cell::from(threads),
            duration(took),
            num(waits_worth(took, unit), 1),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_flags_get_a_clear_error() {
        let err = Args::try_parse_from(["ch01_waiting", "--delay-ms", "0"]).unwrap_err();
        assert!(err.to_string().contains("0 is not in 1..=1000"), "{err}");
        let err = Args::try_parse_from(["ch01_waiting", "--clients", "5"]).unwrap_err();
        assert!(
            err.to_string().contains("unexpected argument '--clients'"),
            "{err}"
        );
        assert!(Args::try_parse_from(["ch01_waiting", "--quick"]).is_ok());
    }
}
