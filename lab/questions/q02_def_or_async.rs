//! Question 2: "`def` or `async def` for an endpoint that does no I/O?"
//!
//! The same few microseconds of pure-Python work served both ways by one
//! uvicorn worker (`python/questions/q02_no_io.py`): as `async def` it runs
//! on the event loop; as `def` every call makes a trip to the threadpool
//! and back. The Rust twins do the same with 5 µs of CPU work: on the loop
//! (`event-loop`) or through `spawn_blocking` (`spawn-blocking`, 40
//! threads like FastAPI's pool).
//!
//! Leaves out: long CPU work (it blocks the loop whichever way: question 1,
//! and chapter 2 for threads under the GIL).

use std::sync::Arc;

use super::Ctx;
use super::common::{PythonServer, closed, measure, quantile, rust_twin};
use crate::api::ModelKind;
use crate::process::ChildServer;
use crate::python::Venv;
use crate::report::{Cell, Table, duration, num, ratio};
use crate::stacks::{FASTAPI_THREADS, StackName};

/// Closed-loop clients per measurement.
const CLIENTS: usize = 20;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let mut table = Table::new([
        "server, endpoint",
        "where the work runs",
        "req/s",
        "of the loop's req/s",
        "p50",
        "p99",
        "CPU/request",
    ]);
    table.chart("req/s");
    match ctx.venv() {
        Ok(venv) => {
            let server = app(ctx, venv)?;
            let on_loop = row(&mut table, ctx, &server, "/async", None)?;
            row(&mut table, ctx, &server, "/def", Some(on_loop))?;
            ctx.shared.release(server);
        }
        Err(why) => {
            for label in ["FastAPI async def", "FastAPI def"] {
                table.row([label, &format!("skipped: {why}")]);
            }
        }
    }
    let mut server = rust_twin(StackName::Rust(ModelKind::EventLoop), 1)?;
    let on_loop = row(&mut table, ctx, &server, "/cpu?us=5", None)?;
    server.stop()?;
    let mut server = rust_twin(StackName::Rust(ModelKind::SpawnBlocking), FASTAPI_THREADS)?;
    row(&mut table, ctx, &server, "/cpu?us=5", Some(on_loop))?;
    server.stop()?;
    print!("{table}");
    println!(
        "({CLIENTS} clients, closed loop, one worker. CPU/request: the server's CPU time over \
         its answers (load generator not counted).)"
    );
    Ok(())
}

/// The app, one uvicorn worker (started with its group's with `--quick`).
fn app(ctx: &Ctx, venv: &Venv) -> anyhow::Result<Arc<ChildServer>> {
    let one = PythonServer::Uvicorn { workers: 1 };
    ctx.shared.app(venv, "questions.q02_no_io:app", &one, &[])
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        let _ = app(ctx, venv);
    }
}

/// Measures one endpoint; `on_loop`: the req/s of the same work on the loop,
/// for the ratio. Returns this row's req/s.
fn row(
    table: &mut Table,
    ctx: &Ctx,
    server: &ChildServer,
    path: &str,
    on_loop: Option<f64>,
) -> anyhow::Result<f64> {
    let python = !path.starts_with("/cpu");
    let (label, runs) = match (python, on_loop.is_none()) {
        (true, true) => ("FastAPI async def", "on the event loop"),
        (true, false) => ("FastAPI def", "threadpool, and back"),
        (false, true) => ("Rust event-loop", "on the loop"),
        (false, false) => ("Rust spawn-blocking k=40", "spawn_blocking, and back"),
    };
    let m = measure(server, &closed(server, path, CLIENTS, ctx.load())?)?;
    table.row([
        Cell::from(label),
        Cell::from(runs),
        num(m.per_second, 0),
        on_loop.map_or(Cell::from("-"), |base| ratio(m.per_second, base)),
        quantile(&m.report, 0.5),
        quantile(&m.report, 0.99),
        m.cpu_per_request.map_or(Cell::from("-"), duration),
    ]);
    Ok(m.per_second)
}
