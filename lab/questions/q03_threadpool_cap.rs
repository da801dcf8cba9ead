//! Question 3: "Sync endpoints scale with threads."
//!
//! FastAPI runs every `def` endpoint, `def` dependency, sync iterator of a
//! `StreamingResponse` and `def` background task on AnyIO's default thread
//! limiter: 40 tokens per process. 100 clients on a `def` endpoint that
//! sleeps get at most 40 / wait answers per second (Little's law with 40
//! in progress); raising `total_tokens` in the lifespan raises the bound.
//! While the tokens are taken, every other sync piece waits for one too:
//! `/health` as `def`, with a `def` dependency, or streaming a sync
//! iterator — but not an `async def` `/health`. The Rust twin is
//! `spawn-blocking` with a pool of 40 or 100 threads (tokio's
//! `max_blocking_threads`). Python: `python/questions/q03_threadpool.py`,
//! one uvicorn worker.
//!
//! Leaves out: background tasks measured on their own (they take the same
//! tokens, after the response), and memory per thread (chapter 4).

use std::time::Duration;

use anyhow::Context as _;

use super::Ctx;
use super::common::Load;
use super::common::{
    PythonServer, beside, closed, measure, probe, python_app, quantile, rust_twin,
};
use crate::api::ModelKind;
use crate::process::ChildServer;
use crate::report::{Cell, Table, num, ratio};
use crate::stacks::StackName;

/// Clients sending the slow `def` request.
pub const CLIENTS: usize = 100;
/// The column the test reads against its bound.
pub const BOUND: &str = "bound (req/s)";

/// How long each slow request sleeps: 1 s as readers ask it; 250 ms with
/// `--quick` (the same cap, tokens / wait, reached four times faster).
fn slow(ctx: &Ctx) -> Duration {
    if ctx.quick {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(1)
    }
}

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let wait = slow(ctx);
    let mut capped = Table::new([
        "server",
        "threads (tokens)",
        "clients",
        "req/s",
        BOUND,
        "of bound",
        "p50",
        "p99",
    ]);
    capped.chart("req/s");
    let mut waiting = Table::new([
        "endpoint, while 100 slow requests hold the threads",
        "needs a thread?",
        "p50",
        "p99",
        "answers",
    ]);
    waiting.chart("p99");
    match ctx.venv() {
        Ok(venv) => {
            for raised in [None, Some(100)] {
                let env: Vec<(&str, String)> = raised
                    .iter()
                    .map(|n: &usize| ("WW_THREAD_TOKENS", n.to_string()))
                    .collect();
                let mut server = python_app(
                    venv,
                    "questions.q03_threadpool:app",
                    &PythonServer::Uvicorn { workers: 1 },
                    &env,
                )?;
                let tokens = total_tokens(&server)?;
                let label = match raised {
                    None => "uvicorn + FastAPI, default",
                    Some(_) => "uvicorn + FastAPI, raised in lifespan",
                };
                capped_row(&mut capped, ctx, &server, label, tokens, "/slow")?;
                if raised.is_none() {
                    waiting_rows(&mut waiting, ctx, &server)?;
                }
                server.stop()?;
            }
        }
        Err(why) => {
            capped.row(["uvicorn + FastAPI", &format!("skipped: {why}")]);
            waiting.row(["FastAPI /health", &format!("skipped: {why}")]);
        }
    }
    for threads in [40, 100] {
        let mut server = rust_twin(StackName::Rust(ModelKind::SpawnBlocking), threads)?;
        let label = format!("Rust spawn-blocking k={threads}");
        capped_row(&mut capped, ctx, &server, &label, threads, "/wait")?;
        if threads == 40 {
            let (probes, _) = beside(
                &[probe(&server, "/hello", 10.0, load(ctx))?],
                &closed(&server, &slow_path("/wait", wait), CLIENTS, load(ctx))?,
            )?;
            waiting.row([
                Cell::from("Rust spawn-blocking k=40: /hello"),
                Cell::from("yes (spawn_blocking)"),
                quantile(&probes[0], 0.5),
                quantile(&probes[0], 0.99),
                Cell::from(probes[0].requests),
            ]);
        }
        server.stop()?;
    }
    let ms = wait.as_millis();
    println!("{CLIENTS} clients on a `def` endpoint that sleeps {ms} ms");
    print!("{capped}");
    println!(
        "(bound: Little's law, min(threads, clients) / {ms} ms. threads: what the server \
         reported (FastAPI: AnyIO's total_tokens).)\n"
    );
    println!("What else waits for a thread while the slow requests hold them all");
    print!("{waiting}");
    println!("(each /health is asked 10 times a second, paced, meanwhile.)");
    Ok(())
}

/// The loads: the measured window is four waits long, so it holds a whole
/// number of waves of answers (the threads all start together, and all
/// sleep the same time): a window of 3.2 waves could catch 4 of them and
/// read a rate above the bound without beating it.
fn load(ctx: &Ctx) -> Load {
    Load {
        duration: slow(ctx) * 4,
        ..ctx.load()
    }
}

/// `/slow?ms=250` or `/wait?ms=250`.
fn slow_path(path: &str, wait: Duration) -> String {
    format!("{path}?ms={}", wait.as_millis())
}

/// The limiter's tokens as the app reports them (`GET /tokens`).
fn total_tokens(server: &ChildServer) -> anyhow::Result<usize> {
    let answer: serde_json::Value = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .get(server.url("/tokens"))
        .send()?
        .json()?;
    let tokens = answer["total_tokens"]
        .as_f64()
        .with_context(|| format!("GET /tokens answered {answer}"))?;
    Ok(tokens as usize)
}

fn capped_row(
    table: &mut Table,
    ctx: &Ctx,
    server: &ChildServer,
    label: &str,
    threads: usize,
    path: &str,
) -> anyhow::Result<()> {
    let wait = slow(ctx);
    let m = measure(
        server,
        &closed(server, &slow_path(path, wait), CLIENTS, load(ctx))?,
    )?;
    let bound = threads.min(CLIENTS) as f64 / wait.as_secs_f64();
    table.row([
        Cell::from(label),
        Cell::from(threads),
        Cell::from(CLIENTS),
        num(m.per_second, 1),
        num(bound, 0),
        ratio(m.per_second, bound),
        quantile(&m.report, 0.5),
        quantile(&m.report, 0.99),
    ]);
    Ok(())
}

/// The four ways to write `/health`, probed while 100 slow requests hold
/// the 40 tokens.
fn waiting_rows(table: &mut Table, ctx: &Ctx, server: &ChildServer) -> anyhow::Result<()> {
    let takers = [
        ("/health/async", "async def", "no"),
        ("/health/def", "def", "yes"),
        (
            "/health/dependency",
            "async def + def dependency",
            "yes (the dependency)",
        ),
        (
            "/health/stream",
            "async def streaming a sync iterator",
            "yes (each chunk)",
        ),
    ];
    let probes = takers
        .iter()
        .map(|(path, _, _)| probe(server, path, 10.0, load(ctx)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let busy = closed(server, &slow_path("/slow", slow(ctx)), CLIENTS, load(ctx))?;
    let (reports, _) = beside(&probes, &busy)?;
    for ((_, how, needs), report) in takers.iter().zip(&reports) {
        table.row([
            Cell::from(format!("FastAPI {how}")),
            Cell::from(*needs),
            quantile(report, 0.5),
            quantile(report, 0.99),
            Cell::from(report.requests),
        ]);
    }
    Ok(())
}
