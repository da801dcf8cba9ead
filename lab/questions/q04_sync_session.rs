//! Question 4: "A sync database session inside `async def` is fine", and
//! its cousin "pool exhaustion looks like blocking".
//!
//! Every query is PostgreSQL's `SELECT pg_sleep(0.05)` on a throwaway
//! cluster ([`crate::postgres`]): a real 50 ms round trip. First, 10
//! clients on an `async def` endpoint that calls psycopg's sync session
//! (the loop waits), on a `def` endpoint doing the same (a thread waits),
//! and on an asyncpg pool (nobody waits), with `/health` probed meanwhile.
//! Then asyncpg pools of 5 and 20 connections under more requests in
//! flight than connections: requests queue for a connection, so latency
//! grows like a blocked server's — but `/health` stays fast, because the
//! loop is free. Python: `python/questions/q04_db.py`, one uvicorn worker.
//! Rust twins: `blocked-loop` and `event-loop` on `/users/{id}` with an
//! injected 50 ms round trip (SQLite), and a pool modelled as a tokio
//! `Semaphore` of 5 or 20 permits held across a 50 ms sleep.
//!
//! Leaves out: pool timeouts and overflow (asyncpg waits forever by
//! default), and SQLAlchemy (its sync `Session` blocks the same way).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Ctx;
use super::common::{PythonServer, beside, closed, probe, python_and_rust, quantile, rust_twin_db};
use crate::api::ModelKind;
use crate::loadgen::LoadReport;
use crate::postgres::Postgres;
use crate::process::ChildServer;
use crate::python::Venv;
use crate::report::{Cell, Table, duration, num, ratio};
use crate::stacks::{StackName, create_user};

/// Each query's round trip.
pub const QUERY: Duration = Duration::from_millis(50);
/// Clients of the first table.
const CLIENTS: usize = 10;
/// The column the test reads against its bound.
pub const BOUND: &str = "bound (req/s)";

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let mut sessions = Table::new([
        "server, session",
        "who waits for the database",
        "req/s",
        BOUND,
        "of bound",
        "p99",
        "/health p99",
    ]);
    sessions.chart("req/s");
    let mut pools = Table::new([
        "pool, requests in flight",
        "pool",
        "in flight",
        "req/s",
        "pool / query (req/s)",
        "p99",
        "/health p99",
    ]);
    pools.chart("p99");
    let in_flight: &[usize] = if ctx.quick { &[40] } else { &[10, 40] };
    let python = |tables: &mut [Table]| {
        let [sessions, pools] = tables else {
            unreachable!("two tables")
        };
        match ctx.venv() {
            Err(why) => {
                sessions.row(["FastAPI", &format!("skipped: {why}")]);
                pools.row(["asyncpg", &format!("skipped: {why}")]);
            }
            // The run's cluster: shared with question 13, stopped when the run ends.
            Ok(venv) => match ctx.shared.postgres() {
                Err(why) => {
                    sessions.row(["FastAPI", &format!("skipped: no PostgreSQL ({why})")]);
                    pools.row(["asyncpg", &format!("skipped: no PostgreSQL ({why})")]);
                }
                Ok(pg) => {
                    let server = app(ctx, venv, pg)?;
                    let ms = QUERY.as_millis();
                    let cases = [
                        (
                            "FastAPI async def + psycopg",
                            "the event loop",
                            "/sync-in-async",
                            1,
                        ),
                        (
                            "FastAPI def + psycopg",
                            "a threadpool thread",
                            "/sync-in-def",
                            CLIENTS,
                        ),
                        (
                            "FastAPI async def + asyncpg",
                            "nobody (awaited)",
                            "/pool/large",
                            CLIENTS,
                        ),
                    ];
                    for (label, who, path, concurrency) in cases {
                        let (r, health) = with_health(
                            ctx,
                            &server,
                            "/health",
                            &format!("{path}?ms={ms}"),
                            CLIENTS,
                        )?;
                        session_row(sessions, (label, who), concurrency, &r, &health);
                    }
                    for &clients in in_flight {
                        for (name, size) in [("small", 5), ("large", 20)] {
                            let path = format!("/pool/{name}?ms={ms}");
                            let (r, health) = with_health(ctx, &server, "/health", &path, clients)?;
                            let label = format!("asyncpg pool of {size}, {clients} in flight");
                            let p99 = quantile(&r, 0.99);
                            let run = (r.requests_per_sec(), p99);
                            pool_row(pools, &label, (size, clients), run, Some(&health));
                        }
                    }
                    ctx.shared.release(server);
                }
            },
        }
        Ok(())
    };
    let rust = |tables: &mut [Table]| {
        let [sessions, pools] = tables else {
            unreachable!("two tables")
        };
        for (stack, label, who, concurrency) in [
            (
                StackName::Rust(ModelKind::BlockedLoop),
                "Rust blocked-loop, sync query",
                "the loop",
                1,
            ),
            (
                StackName::Rust(ModelKind::EventLoop),
                "Rust event-loop, awaited query",
                "nobody (awaited)",
                CLIENTS,
            ),
        ] {
            let mut server = rust_twin_db(stack, 1, QUERY)?;
            let id = create_user(&server, "q04@example.com")?;
            let (r, health) =
                with_health(ctx, &server, "/hello", &format!("/users/{id}"), CLIENTS)?;
            session_row(sessions, (label, who), concurrency, &r, &health);
            server.stop()?;
        }
        for &clients in in_flight {
            for size in [5, 20] {
                let r = semaphore_pool(size, clients, ctx.load().duration)?;
                let label = format!("Rust Semaphore({size}) as pool, {clients} in flight");
                let run = (r.per_second, duration(r.p99));
                pool_row(pools, &label, (size, clients), run, None);
            }
        }
        Ok(())
    };
    let mut tables = [sessions, pools];
    let together = python_and_rust(ctx, &mut tables, python, rust)?;
    let [sessions, pools] = tables;
    if let Some(together) = together {
        println!("({together})\n");
    }
    let ms = QUERY.as_millis();
    println!("{CLIENTS} clients, each query a {ms} ms round trip");
    print!("{sessions}");
    println!(
        "(bound: Little's law, queries that can wait at once / {ms} ms. /health (the Rust \
         twins' /hello) is asked 10 times a second meanwhile.)\n"
    );
    println!("More requests in flight than connections in the pool");
    print!("{pools}");
    println!(
        "(pool / query: at most one query per connection per {ms} ms. The Rust rows are a \
         model, not a server: tasks on one tokio thread, no /health.)"
    );
    Ok(())
}

/// `questions.q04_db:app` on the run's cluster, one uvicorn worker (kept
/// by the run: with `--quick` it starts with its group's).
fn app(ctx: &Ctx, venv: &Venv, pg: &Postgres) -> anyhow::Result<Arc<ChildServer>> {
    let one = PythonServer::Uvicorn { workers: 1 };
    let env = [("WW_DATABASE", pg.dsn())];
    ctx.shared.app(venv, "questions.q04_db:app", &one, &env)
}

/// Starts what [`run`] will ask for (the cluster, then the app): see
/// [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    // No cluster without the venv: only the Python rows use it.
    let Ok(venv) = ctx.venv() else { return };
    if let Ok(pg) = ctx.shared.postgres() {
        let _ = app(ctx, venv, pg);
    }
}

/// Load on `path` with `clients` clients, `/health` probed meanwhile.
fn with_health(
    ctx: &Ctx,
    server: &ChildServer,
    health: &str,
    path: &str,
    clients: usize,
) -> anyhow::Result<(LoadReport, LoadReport)> {
    let health_path = health;
    let (probes, busy) = beside(
        &[probe(server, health_path, 10.0, ctx.load())?],
        &closed(server, path, clients, ctx.load())?,
    )?;
    let health = probes.into_iter().next().expect("one probe");
    if ctx.quick {
        // A loop that waited for the database leaves a queue behind it (the
        // clients' and the probe's last requests, 50 ms each), longer than
        // the quick warm-up: the next row would start behind it and read
        // the blocked loop again. Wait until `/health` is answered.
        crate::stacks::drain(server, health_path, Duration::from_secs(30))?;
    }
    Ok((busy, health))
}

fn session_row(
    table: &mut Table,
    (label, who): (&str, &str),
    concurrency: usize,
    r: &LoadReport,
    health: &LoadReport,
) {
    let bound = concurrency as f64 / QUERY.as_secs_f64();
    table.row([
        Cell::from(label),
        Cell::from(who),
        num(r.requests_per_sec(), 1),
        num(bound, 0),
        ratio(r.requests_per_sec(), bound),
        quantile(r, 0.99),
        quantile(health, 0.99),
    ]);
}

fn pool_row(
    table: &mut Table,
    label: &str,
    (size, clients): (usize, usize),
    (per_second, p99): (f64, Cell),
    health: Option<&LoadReport>,
) {
    let bound = size.min(clients) as f64 / QUERY.as_secs_f64();
    table.row([
        Cell::from(label),
        Cell::from(size),
        Cell::from(clients),
        num(per_second, 1),
        num(bound, 0),
        p99,
        health.map_or(Cell::from("-"), |h| quantile(h, 0.99)),
    ]);
}

// ANCHOR: semaphore_pool
/// A pool of `size` connections as tokio sees it: a `Semaphore` with
/// `size` permits, each query holding one across its round trip. `clients`
/// tasks query in a closed loop for `window`; a task that finds no permit
/// waits in the semaphore's queue, which is where the latency goes.
pub fn semaphore_pool(size: usize, clients: usize, window: Duration) -> anyhow::Result<PoolRun> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let pool = Arc::new(tokio::sync::Semaphore::new(size));
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while started.elapsed() < window {
                        let asked = Instant::now();
                        let connection = pool.acquire().await.expect("never closed");
                        crate::wait::simulated_wait(QUERY).await; // the round trip
                        drop(connection); // back to the pool
                        latencies.push(asked.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await?);
        }
        latencies.sort();
        let p99 = latencies
            .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default();
        let per_second = latencies.len() as f64 / started.elapsed().as_secs_f64();
        Ok(PoolRun { per_second, p99 })
    })
}
// ANCHOR_END: semaphore_pool

/// What [`semaphore_pool`] measured.
#[derive(Debug, Clone, Copy)]
pub struct PoolRun {
    /// Queries answered per second over the whole run.
    pub per_second: f64,
    /// The 99th percentile of the time from asking for a connection to
    /// the end of the query.
    pub p99: Duration,
}
