//! Question 1: "My `async def` endpoint makes one blocking call and the
//! whole server freezes."
//!
//! One client asks a fast endpoint (`/health`; the Rust twins' `/hello`)
//! again and again while ten clients keep an endpoint busy that waits
//! 100 ms — by blocking the event loop (`time.sleep` in `async def`; the
//! `blocked-loop` twin), by awaiting (`asyncio.sleep`; `event-loop`), or on
//! a thread of the pool (`def`; `spawn-blocking`). The fast endpoint's
//! latency says whether the loop was free. Python: uvicorn + FastAPI,
//! `python/questions/q01_blocking.py`, one worker.
//!
//! Leaves out: blocking calls other than sleeping (a sync HTTP client or
//! database driver blocks the same way: question 4).

use std::sync::Arc;
use std::time::Duration;

use super::Ctx;
use super::common::{
    Load, PythonServer, beside, closed, probe, python_and_rust, quantile, rust_twin,
};
use crate::api::ModelKind;
use crate::process::ChildServer;
use crate::python::Venv;
use crate::report::{Cell, Table, num};
use crate::stacks::StackName;

/// How long the busy endpoint waits per request, and how many clients keep
/// it busy: 100 ms and 10 clients; with `--quick`, 50 ms and 5 (the same
/// shape: a blocked loop makes /health wait behind every queued sleep).
fn busy(ctx: &Ctx) -> (Duration, usize) {
    if ctx.quick {
        (Duration::from_millis(50), 5)
    } else {
        (Duration::from_millis(100), 10)
    }
}
/// The probe: 20 requests per second to /health, paced (an open loop, so
/// the probe itself adds little load and a slow answer does not stop it).
const PROBE_RATE: f64 = 20.0;
/// The `spawn-blocking` twin's pool (FastAPI's has 40 threads; 16 is
/// already more than the ten waiting clients need).
const POOL: usize = 16;

/// The table's column the test reads: the waiting endpoint's throughput
/// cannot beat one loop's 1 / wait when the loop itself waits.
pub const LOOP_LIMIT: &str = "one loop's limit (req/s)";

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let mut table = Table::new([
        "server, endpoint",
        "how the busy endpoint waits",
        "/health p50",
        "/health p99",
        "/health answers",
        "waiting req/s",
        LOOP_LIMIT,
    ]);
    table.chart("/health p99");
    let cases = [
        (
            "blocking",
            "FastAPI async def + time.sleep",
            "time.sleep on the loop",
        ),
        (
            "awaiting",
            "FastAPI async def + await",
            "await asyncio.sleep",
        ),
        (
            "threadpool",
            "FastAPI def + time.sleep",
            "time.sleep in the threadpool",
        ),
    ];
    let python = |tables: &mut [Table]| {
        let table = &mut tables[0];
        match ctx.venv() {
            Ok(venv) => {
                eprintln!("question 1: uvicorn + FastAPI, one worker");
                let server = app(ctx, venv)?;
                for (endpoint, label, how) in cases {
                    let path = format!("/report/{endpoint}?ms={}", busy(ctx).0.as_millis());
                    let blocks = endpoint == "blocking";
                    row(
                        table,
                        ctx,
                        &server,
                        ("/health", &path),
                        (label, how),
                        blocks,
                    )?;
                }
                ctx.shared.release(server);
            }
            Err(why) => {
                for (_, label, _) in cases {
                    table.row([label, &format!("skipped: {why}")]);
                }
            }
        }
        Ok(())
    };
    let twins = [
        (
            StackName::Rust(ModelKind::BlockedLoop),
            1,
            "Rust blocked-loop",
            "std::thread::sleep on the loop",
        ),
        (
            StackName::Rust(ModelKind::EventLoop),
            1,
            "Rust event-loop",
            "tokio sleep, awaited",
        ),
        (
            StackName::Rust(ModelKind::SpawnBlocking),
            POOL,
            "Rust spawn-blocking k=16",
            "thread::sleep on the pool",
        ),
    ];
    let rust = |tables: &mut [Table]| {
        for (stack, workers, label, how) in twins {
            let mut server = rust_twin(stack, workers)?;
            let path = format!("/wait?ms={}", busy(ctx).0.as_millis());
            let blocks = stack == StackName::Rust(ModelKind::BlockedLoop);
            row(
                &mut tables[0],
                ctx,
                &server,
                ("/hello", &path),
                (label, how),
                blocks,
            )?;
            server.stop()?;
        }
        Ok(())
    };
    let mut tables = [table];
    let together = python_and_rust(ctx, &mut tables, python, rust)?;
    let [table] = tables;
    if let Some(together) = together {
        println!("({together})\n");
    }
    print!("{table}");
    let (wait, clients) = busy(ctx);
    let ms = wait.as_millis();
    println!(
        "({clients} clients keep an endpoint that waits {ms} ms busy; meanwhile /health (the \
         Rust twins' /hello) is asked {PROBE_RATE:.0} times a second.\n one loop's limit: a \
         loop that itself waits {ms} ms per request answers at most 1 / {ms} ms.)"
    );
    Ok(())
}

/// The app, one uvicorn worker (kept by the run: with `--quick` it starts
/// with its group's).
fn app(ctx: &Ctx, venv: &Venv) -> anyhow::Result<Arc<ChildServer>> {
    let one = PythonServer::Uvicorn { workers: 1 };
    ctx.shared
        .app(venv, "questions.q01_blocking:app", &one, &[])
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        let _ = app(ctx, venv);
    }
}

/// One row: the probe's latency on `probe_path` while `CLIENTS` clients
/// keep `busy_path` busy.
fn row(
    table: &mut Table,
    ctx: &Ctx,
    server: &ChildServer,
    (probe_path, busy_path): (&str, &str),
    (label, how): (&str, &str),
    blocks_the_loop: bool,
) -> anyhow::Result<()> {
    let load = match ctx.load() {
        // A blocked loop answers a probe only a few of its turns after it
        // came (accept, read, run: each turn first sleeps for every queued
        // request, up to clients × wait): uvicorn's first answer comes
        // about 1 s in, after the quick window's end. A blocking row's
        // quick window is 1.2 s, so that it holds one.
        quick if ctx.quick && blocks_the_loop => Load {
            duration: Duration::from_millis(1200),
            ..quick
        },
        load => load,
    };
    let (wait, clients) = busy(ctx);
    let health = probe(server, probe_path, PROBE_RATE, load)?;
    let busy = closed(server, busy_path, clients, load)?;
    let (probes, busy) = beside(&[health], &busy)?;
    if ctx.quick && blocks_the_loop {
        // The loop still owes the last requests their sleeps, longer than
        // the quick warm-up: the next row would start behind them.
        crate::stacks::drain(server, probe_path, Duration::from_secs(30))?;
    }
    let probe = &probes[0];
    let limit = if blocks_the_loop {
        num(1.0 / wait.as_secs_f64(), 0)
    } else {
        Cell::from("-")
    };
    table.row([
        Cell::from(label),
        Cell::from(how),
        quantile(probe, 0.5),
        quantile(probe, 0.99),
        Cell::from(probe.requests),
        num(busy.requests_per_sec(), 1),
        limit,
    ]);
    Ok(())
}
