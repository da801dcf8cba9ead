//! Question 12: are Django async views (and DRF under uvicorn) as fast as
//! FastAPI? Chapter 6's Django project served over ASGI by uvicorn
//! (`python/questions/djasync/`) with an `async def` view that only awaits,
//! async views that call the sync ORM through `sync_to_async` (thread-
//! sensitive by default: every call on one thread) or with
//! `thread_sensitive=False`, and the DRF `APIView`s (sync, so Django runs
//! them the thread-sensitive way too) — beside FastAPI `async def`, on a
//! wait-bound and a database endpoint. The Rust twin of the one thread: a
//! pool of 1 against a pool of k.
//!
//! Leaves out: Django's async ORM methods (`aget` is `sync_to_async(get)`,
//! the thread-sensitive row), gunicorn with uvicorn workers.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::Ctx;
use super::common::figure_at_once;
use super::shared::both;
use crate::loadgen::LoadSpec;
use crate::process::{ChildServer, Ready};
use crate::python::{Knobs, Venv, uvicorn};
use crate::report::{Cell, Table, num};
use crate::stacks;

/// Concurrent clients of every cell.
pub const CLIENTS: usize = 50;
/// The wait-bound endpoint's wait.
pub const WAIT_MS: u64 = 50;
/// The injected database round trip of `/users/{id}`.
pub const DB_LATENCY: Duration = Duration::from_millis(20);
/// asyncio's default executor on this machine: `min(32, cores + 4)` threads
/// (what `sync_to_async(thread_sensitive=False)` runs on).
pub fn default_executor_threads() -> usize {
    (crate::api::experiment::load_threads() + 4).min(32)
}

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let window = ctx.pick(Duration::from_millis(300), Duration::from_secs(3));
    let note = format!(
        "{CLIENTS} clients, closed loop, {} per cell; /users waits {} for the database, then reads one row",
        crate::report::human(window),
        crate::report::human(DB_LATENCY)
    );
    let columns = ["stack", "endpoint", "what runs it", "req/s", "bound"];
    let rust = |table: &mut Table| {
        let jobs = ctx.pick(50, 500);
        let k = default_executor_threads();
        for threads in [1, k] {
            let took = pool_of(threads, jobs, DB_LATENCY);
            table.row([
                Cell::from("Rust twin"),
                Cell::from(format!(
                    "{jobs} blocking {} calls",
                    crate::report::human(DB_LATENCY)
                )),
                Cell::from(format!("a pool of {threads} thread(s)")),
                num(jobs as f64 / took.as_secs_f64(), 0),
                num(threads as f64 / DB_LATENCY.as_secs_f64(), 0),
            ]);
        }
        Ok(())
    };
    // With `--quick` the twin's rows are made while the Python rows are
    // measured: they are threads asleep in turn, taking no CPU from the
    // servers, and a sleeping thread wakes on time beside them.
    figure_at_once(
        ctx,
        Some(&note),
        (columns, "req/s"),
        ("Python", |venv, table| {
            python_rows(ctx, venv, window, table)
        }),
        rust,
    )
}

fn python_rows(ctx: &Ctx, venv: &Venv, window: Duration, table: &mut Table) -> anyhow::Result<()> {
    eprintln!("question 12: starting FastAPI and Django (ASGI) …");
    // Both at once; the run's shared ones (question 13 reads their logs,
    // and question 5 measures the same FastAPI app).
    let (fastapi, django) = both(
        || ctx.shared.fastapi(venv, 1),
        || ctx.shared.django_asgi(venv),
    );
    let (fastapi, django) = (fastapi?, django?);
    let fastapi_user = stacks::create_user(&fastapi, "q12-fastapi@example.com")?;
    let django_user = stacks::create_user(&django, "q12-django@example.com")?;
    let wait = DB_LATENCY.as_secs_f64();
    let wait_bound = CLIENTS as f64 / (WAIT_MS as f64 / 1000.0);
    let k = default_executor_threads();
    let cells: [(&ChildServer, &str, String, &str, f64); 6] = [
        (
            &fastapi,
            "FastAPI",
            format!("/wait?ms={WAIT_MS}"),
            "async def, await asyncio.sleep",
            wait_bound,
        ),
        (
            &django,
            "Django ASGI",
            format!("/async/wait?ms={WAIT_MS}"),
            "async def view, await asyncio.sleep",
            wait_bound,
        ),
        (
            &django,
            "DRF under uvicorn",
            format!("/wait?ms={WAIT_MS}"),
            "sync APIView, run by sync_to_async",
            wait_bound,
        ),
        (
            &fastapi,
            "FastAPI",
            format!("/users/{fastapi_user}"),
            "async def, async driver",
            CLIENTS as f64 / wait,
        ),
        (
            &django,
            "Django ASGI",
            format!("/async/users/{django_user}"),
            "sync_to_async(ORM), thread-sensitive (default)",
            CLIENTS as f64 / wait,
        ),
        (
            &django,
            "Django ASGI",
            format!("/async/users-any-thread/{django_user}"),
            "sync_to_async(ORM, thread_sensitive=False)",
            (k.min(CLIENTS)) as f64 / wait,
        ),
    ];
    for (server, stack, path, runs, bound) in cells {
        eprintln!("question 12: {stack} {path} …");
        let spec = LoadSpec::closed(&server.url(&path), CLIENTS, window)?
            .with_warmup(window / 4)
            .with_request_timeout(Duration::from_secs(5));
        let measured = stacks::measure(server, &spec)?;
        stacks::drain(server, &path, Duration::from_secs(30))?;
        table.row([
            Cell::from(stack),
            Cell::from(path.as_str()),
            Cell::from(runs),
            num(measured.per_second, 0),
            num(bound, 0),
        ]);
    }
    Ok(())
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        let _ = both(
            || ctx.shared.fastapi(venv, 1).map(drop),
            || ctx.shared.django_asgi(venv).map(drop),
        );
    }
}

// ANCHOR: django_asgi
/// Django's ASGI handler under uvicorn, as a reader would serve it.
pub fn start_django_asgi(
    venv: &Venv,
    database: &str,
    db_latency: Duration,
) -> anyhow::Result<ChildServer> {
    let port = stacks::free_port()?;
    let app = "questions.djasync.asgi:application";
    let mut command = uvicorn(venv, app, port, 1, Knobs::default());
    command
        .env("WW_DATABASE", database)
        .env("WW_DB_LATENCY_MS", db_latency.as_millis().to_string());
    let ready = Ready::Accepts(([127, 0, 0, 1], port).into());
    ChildServer::start(command, ready, stacks::READY_WITHIN)
}
// ANCHOR_END: django_asgi

// ANCHOR: pool_of
/// `jobs` blocking calls of `each` on a pool of `threads`: with one thread
/// (thread-sensitive `sync_to_async`) they queue up one after another.
pub fn pool_of(threads: usize, jobs: usize, each: Duration) -> Duration {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while next.fetch_add(1, Relaxed) < jobs {
                    std::thread::sleep(each); // the ORM call, blocking its thread
                }
            });
        }
    });
    started.elapsed()
}
// ANCHOR_END: pool_of
