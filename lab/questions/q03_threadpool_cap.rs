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
//! one uvicorn worker. Background tasks are measured too: 80 `def` tasks
//! queued first (each request to `/enqueue` is answered at once and leaves
//! one behind) take the tokens before the `def` endpoint gets any; their
//! Rust twin is a model, not a server: detached `spawn_blocking` jobs on a
//! blocking pool of 40, ahead of the clients' own.
//!
//! Leaves out: memory per thread (chapter 4).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::Ctx;
use super::common::Load;
use super::common::{
    PythonServer, beside, closed, measure, probe, python_and_rust, quantile, rust_twin,
    side_by_side,
};
use super::shared::at_once;
use crate::api::ModelKind;
use crate::process::ChildServer;
use crate::python::Venv;
use crate::report::{Cell, Table, duration, num, ratio};
use crate::stacks::StackName;

/// Clients sending the slow `def` request.
pub const CLIENTS: usize = 100;
/// `def` background tasks queued before the clients start: two waves of
/// the 40 tokens.
pub const BACKGROUND: usize = 80;
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
    let python = |tables: &mut [Table]| {
        let [capped, waiting] = tables else {
            unreachable!("two tables")
        };
        match ctx.venv() {
            Ok(venv) => {
                let [default, raised] = RAISED;
                let default = |capped: &mut Table| {
                    let server = app(ctx, venv, default)?;
                    let tokens = total_tokens(&server)?;
                    let label = "uvicorn + FastAPI, default";
                    capped_row(capped, ctx, &server, label, tokens, "/slow")?;
                    waiting_rows(waiting, ctx, &server)?;
                    background_row(capped, ctx, &server)?;
                    ctx.shared.release(server);
                    Ok(())
                };
                let raised = |capped: &mut Table| {
                    let server = app(ctx, venv, raised)?;
                    let tokens = total_tokens(&server)?;
                    let label = "uvicorn + FastAPI, raised in lifespan";
                    capped_row(capped, ctx, &server, label, tokens, "/slow")?;
                    ctx.shared.release(server);
                    Ok(())
                };
                one_then_other(ctx, capped, default, raised)?;
            }
            Err(why) => {
                capped.row(["uvicorn + FastAPI", &format!("skipped: {why}")]);
                waiting.row(["FastAPI /health", &format!("skipped: {why}")]);
            }
        }
        Ok(())
    };
    let rust = |tables: &mut [Table]| {
        let [capped, waiting] = tables else {
            unreachable!("two tables")
        };
        let pool_of_40 = |capped: &mut Table| {
            let mut server = rust_twin(StackName::Rust(ModelKind::SpawnBlocking), 40)?;
            capped_row(
                capped,
                ctx,
                &server,
                "Rust spawn-blocking k=40",
                40,
                "/wait",
            )?;
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
            server.stop().map(drop)
        };
        let pool_of_100 = |capped: &mut Table| {
            let mut server = rust_twin(StackName::Rust(ModelKind::SpawnBlocking), 100)?;
            capped_row(
                capped,
                ctx,
                &server,
                "Rust spawn-blocking k=100",
                100,
                "/wait",
            )?;
            server.stop().map(drop)
        };
        one_then_other(ctx, capped, pool_of_40, pool_of_100)?;
        let pool: usize = 40;
        let run = blocking_pool_after(pool, BACKGROUND, CLIENTS, wait, background_load(ctx))?;
        let label = format!("Rust blocking pool k={pool} + {BACKGROUND} background jobs (model)");
        let latency = (duration(run.p50), duration(run.p99));
        rate_row(capped, &label, pool, wait, run.per_second, latency);
        Ok(())
    };
    let mut tables = [capped, waiting];
    let together = python_and_rust(ctx, &mut tables, python, rust)?;
    let [capped, waiting] = tables;
    if let Some(together) = together {
        println!(
            "({together}; so were the default and the raised servers, and the two Rust pools)\n"
        );
    }
    let ms = wait.as_millis();
    println!("{CLIENTS} clients on a `def` endpoint that sleeps {ms} ms");
    print!("{capped}");
    println!(
        "(bound: Little's law, min(threads, clients) / {ms} ms. threads: what the server \
         reported (FastAPI: AnyIO's total_tokens). + {BACKGROUND} background tasks: \
         {BACKGROUND} `def` tasks of {ms} ms each queued just before the clients start, \
         measured from {} on for {}.)\n",
        crate::report::human(background_load(ctx).warmup),
        crate::report::human(background_load(ctx).duration),
    );
    println!("What else waits for a thread while the slow requests hold them all");
    print!("{waiting}");
    println!("(each /health is asked 10 times a second, paced, meanwhile.)");
    Ok(())
}

/// `first`'s rows of `capped`, then `second`'s. With `--quick` both run at
/// once ([`side_by_side`]): two servers whose every request sleeps (a few
/// hundred answers a second, a few per cent of a core).
fn one_then_other(
    ctx: &Ctx,
    capped: &mut Table,
    first: impl FnOnce(&mut Table) -> anyhow::Result<()> + Send,
    second: impl FnOnce(&mut Table) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if !ctx.quick {
        first(capped)?;
        return second(capped);
    }
    side_by_side(
        std::slice::from_mut(capped),
        |t| first(&mut t[0]),
        |t| second(&mut t[0]),
    )
}

/// The Python servers: AnyIO's default tokens, then raised to 100 in the
/// lifespan.
const RAISED: [Option<usize>; 2] = [None, Some(100)];

/// `questions.q03_threadpool:app` under one uvicorn worker, its tokens
/// raised to `raised` (started with its group's with `--quick`).
fn app(ctx: &Ctx, venv: &Venv, raised: Option<usize>) -> anyhow::Result<Arc<ChildServer>> {
    let env: Vec<(&str, String)> = raised
        .iter()
        .map(|n| ("WW_THREAD_TOKENS", n.to_string()))
        .collect();
    let one = PythonServer::Uvicorn { workers: 1 };
    ctx.shared
        .app(venv, "questions.q03_threadpool:app", &one, &env)
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        at_once(RAISED.map(|raised| move || app(ctx, venv, raised).map(drop)));
    }
}

/// The loads: the measured window is four waits long, so it holds a whole
/// number of waves of answers (the threads all start together, and all
/// sleep the same time): a window of 3.2 waves could catch 4 of them and
/// read a rate above the bound without beating it. The warm-up is one wait
/// (1 s, the run's warm-up, without `--quick`; 250 ms with it, not the
/// quick loads' 150 ms): a `/health` that queues for a thread is answered
/// about four waits after it asks, near the window's end.
fn load(ctx: &Ctx) -> Load {
    Load {
        warmup: slow(ctx),
        duration: slow(ctx) * 4,
    }
}

/// The background rows' load: no warm-up to speak of (the tasks must be
/// queued just before the clients start), measured for four waits from
/// half a wait on, so the window's edges fall between waves of answers.
fn background_load(ctx: &Ctx) -> Load {
    Load {
        warmup: slow(ctx) / 2,
        duration: slow(ctx) * 4,
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
    let latency = (quantile(&m.report, 0.5), quantile(&m.report, 0.99));
    rate_row(table, label, threads, wait, m.per_second, latency);
    Ok(())
}

/// One row of the first table: a rate beside its bound, min(threads,
/// clients) / wait.
fn rate_row(
    table: &mut Table,
    label: &str,
    threads: usize,
    wait: Duration,
    per_second: f64,
    (p50, p99): (Cell, Cell),
) {
    let bound = threads.min(CLIENTS) as f64 / wait.as_secs_f64();
    table.row([
        Cell::from(label),
        Cell::from(threads),
        Cell::from(CLIENTS),
        num(per_second, 1),
        num(bound, 0),
        ratio(per_second, bound),
        p50,
        p99,
    ]);
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

/// `BACKGROUND` requests to `/enqueue` (each answered at once, each leaving
/// a `def` task of one wait behind), then the 100 clients on `/slow`: the
/// tasks hold the tokens for the first two waits of the four measured.
fn background_row(table: &mut Table, ctx: &Ctx, server: &ChildServer) -> anyhow::Result<()> {
    let wait = slow(ctx);
    settle(server, wait)?;
    enqueue(server, wait)?;
    let label = format!("uvicorn + FastAPI, default + {BACKGROUND} background tasks");
    let tokens = total_tokens(server)?;
    let slow_load = closed(
        server,
        &slow_path("/slow", wait),
        CLIENTS,
        background_load(ctx),
    )?;
    let m = measure(server, &slow_load)?;
    let latency = (quantile(&m.report, 0.5), quantile(&m.report, 0.99));
    rate_row(table, &label, tokens, wait, m.per_second, latency);
    Ok(())
}

/// Exactly `BACKGROUND` requests to `/enqueue`, all at once, each on its
/// own connection; every answer comes back at once, each leaving one `def`
/// task of `wait` behind. (Not a closed loop: its clients would ask again
/// as soon as they are answered, and leave more tasks than counted.)
fn enqueue(server: &ChildServer, wait: Duration) -> anyhow::Result<()> {
    let url = server.url(&slow_path("/enqueue", wait));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let answers =
            futures::future::join_all((0..BACKGROUND).map(|_| client.get(&url).send())).await;
        for answer in answers {
            answer?.error_for_status()?;
        }
        anyhow::Ok(())
    })
}

/// Waits until the requests a closed loop left behind have finished: a
/// `def` `/health` queues for a token behind all of them (AnyIO's limiter
/// serves its waiters in order), and when it is answered the last of them
/// has at most one wait to go.
fn settle(server: &ChildServer, wait: Duration) -> anyhow::Result<()> {
    crate::stacks::drain(server, "/health/def", Duration::from_secs(60))?;
    std::thread::sleep(wait);
    Ok(())
}

/// What [`blocking_pool_after`] measured.
pub struct PoolRun {
    /// Answers per second in the measured phase.
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

// ANCHOR: background_jobs
/// tokio's blocking pool shared the way FastAPI's tokens are: `background`
/// fire-and-forget `spawn_blocking` jobs of `wait` (the background tasks)
/// are queued first, then `clients` tasks each await a `spawn_blocking` of
/// `wait` in a closed loop, on a pool of `threads` threads. The pool takes
/// jobs in the order they came, so the background jobs go first. Counted
/// like the load generator counts: answers that finish in the measured
/// phase, after `load.warmup`.
pub fn blocking_pool_after(
    threads: usize,
    background: usize,
    clients: usize,
    wait: Duration,
    load: Load,
) -> anyhow::Result<PoolRun> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(threads)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let (from, end) = (started + load.warmup, started + load.warmup + load.duration);
    let mut latencies = runtime.block_on(async move {
        for _ in 0..background {
            // Nobody awaits it: it runs when a thread is free, like a
            // background task after its response.
            drop(tokio::task::spawn_blocking(move || {
                std::thread::sleep(wait)
            }));
        }
        let clients: Vec<_> = (0..clients)
            .map(|_| {
                tokio::spawn(async move {
                    let mut answered = Vec::new();
                    while Instant::now() < end {
                        let asked = Instant::now();
                        tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await?;
                        let done = Instant::now();
                        if (from..=end).contains(&done) {
                            answered.push(done - asked);
                        }
                    }
                    anyhow::Ok(answered)
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for client in clients {
            latencies.extend(client.await??);
        }
        anyhow::Ok(latencies)
    })?;
    runtime.shutdown_timeout(wait * 2);
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or_default()
    };
    Ok(PoolRun {
        per_second: latencies.len() as f64 / load.duration.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    })
}
// ANCHOR_END: background_jobs
