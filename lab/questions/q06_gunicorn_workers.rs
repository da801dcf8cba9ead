//! Question 6: "gunicorn `sync`, `gthread` or uvicorn workers?"
//!
//! A wait-bound endpoint (`/wait?ms=50`) under 100 clients, served by
//! Django REST framework on gunicorn `sync` (2 workers), on gunicorn
//! `gthread` (2 workers × 8 threads) and by FastAPI `async def` on uvicorn
//! (2 workers): capacity — requests that can wait at once — is workers ×
//! threads for the sync kinds and every connection for the event loop,
//! and Little's law turns it into a bound: capacity / 50 ms. The Rust
//! twins: `sync-pool` with 2 and 16 threads, `event-loop`.
//!
//! Leaves out: CPU-bound endpoints (question 5), gevent/eventlet workers,
//! and gunicorn's `--timeout` (question 15).

use std::sync::Arc;
use std::time::Duration;

use super::Ctx;
use super::common::{closed, measure, python_and_rust, quantile, rust_twin, wait_until_serving};
use super::shared::at_once;
use crate::api::ModelKind;
use crate::process::ChildServer;
use crate::python::{Stack, Venv};
use crate::report::{Cell, Table, num, ratio};
use crate::stacks::{Launch, Measured, StackName};

/// How long the endpoint waits.
pub const WAIT: Duration = Duration::from_millis(50);
/// Closed-loop clients.
pub const CLIENTS: usize = 100;
/// The column the test reads against its bound.
pub const BOUND: &str = "bound (req/s)";

/// The Python servers: stack, workers, threads, label.
const PYTHON: [(StackName, usize, usize, &str); 3] = [
    (
        StackName::Python(Stack::DjangoSync),
        2,
        1,
        "gunicorn sync, DRF",
    ),
    (
        StackName::Python(Stack::DjangoGthread),
        2,
        8,
        "gunicorn gthread, DRF",
    ),
    (
        StackName::Python(Stack::FastapiAsync),
        2,
        1,
        "uvicorn, FastAPI async def",
    ),
];

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let mut table = Table::new([
        "server",
        "workers × threads",
        "capacity",
        "req/s",
        BOUND,
        "of bound",
        "p99",
        "RSS (MB)",
    ]);
    table.chart("req/s");
    let rust = [
        (
            StackName::Rust(ModelKind::SyncPool),
            2,
            1,
            "Rust sync-pool k=2",
        ),
        (
            StackName::Rust(ModelKind::SyncPool),
            16,
            1,
            "Rust sync-pool k=16",
        ),
        (
            StackName::Rust(ModelKind::EventLoop),
            1,
            1,
            "Rust event-loop",
        ),
    ];
    let path = format!("/wait?ms={}", WAIT.as_millis());
    let venv = ctx.venv();
    let python = |tables: &mut [Table]| {
        let Ok(venv) = venv else {
            return Ok(());
        };
        // The Python servers start at once (Django's imports and FastAPI's
        // share the cores instead of waiting in turn), or have started with
        // the group's with `--quick`; uvicorn's is the run's shared one
        // (question 5 uses it too).
        let started = at_once(PYTHON.map(|(stack, workers, threads, _)| {
            move || python_server(ctx, venv, stack, workers, threads)
        }));
        for (&(stack, workers, threads, label), server) in PYTHON.iter().zip(started) {
            let server = server?;
            let m = measure(&server, &closed(&server, &path, CLIENTS, ctx.load())?)?;
            if stack != StackName::Python(Stack::FastapiAsync) {
                ctx.shared.release(server);
            }
            row(
                &mut tables[0],
                Some(venv),
                (stack, workers, threads, label),
                &m,
            )?;
        }
        Ok(())
    };
    let rust = |tables: &mut [Table]| {
        for (stack, workers, threads, label) in rust {
            let mut server = rust_twin(stack, workers)?;
            let m = measure(&server, &closed(&server, &path, CLIENTS, ctx.load())?)?;
            server.stop()?;
            row(
                &mut tables[0],
                venv.ok(),
                (stack, workers, threads, label),
                &m,
            )?;
        }
        Ok(())
    };
    if let Err(why) = venv {
        table.row(["gunicorn, uvicorn", &format!("skipped: {why}")]);
    }
    let mut tables = [table];
    // With `--quick` the Python rows and the Rust rows are measured at the
    // same time: every request waits 50 ms, and the busiest pair (2,000
    // answers a second each) takes a fraction of one core.
    let together = python_and_rust(ctx, &mut tables, python, rust)?;
    let [table] = tables;
    if let Some(together) = together {
        println!("({together})\n");
    }
    let ms = WAIT.as_millis();
    println!("{CLIENTS} clients on /wait?ms={ms}");
    print!("{table}");
    println!(
        "(capacity: requests that can wait at once, at most the {CLIENTS} clients. bound: \
         Little's law, capacity / {ms} ms. RSS: summed over the server's process group.)"
    );
    Ok(())
}

/// One row: a server's shape, capacity and bound beside what it measured.
fn row(
    table: &mut Table,
    venv: Option<&Venv>,
    (stack, workers, threads, label): (StackName, usize, usize, &str),
    m: &Measured,
) -> anyhow::Result<()> {
    let launch = launch(venv, workers, threads)?;
    let capacity = stack.concurrency(CLIENTS, &launch);
    let bound = stack.bound(CLIENTS, WAIT, &launch);
    let shape = match stack {
        StackName::Python(Stack::FastapiAsync) => format!("{workers} × (a loop)"),
        StackName::Rust(ModelKind::EventLoop) => "1 × (a loop)".to_string(),
        _ => format!("{workers} × {threads}"),
    };
    table.row([
        Cell::from(label),
        Cell::from(shape),
        Cell::from(capacity),
        num(m.per_second, 0),
        num(bound, 0),
        ratio(m.per_second, bound),
        quantile(&m.report, 0.99),
        m.rss_bytes
            .map_or(Cell::from("-"), |b| num(b as f64 / 1e6, 0)),
    ]);
    Ok(())
}

/// How a stack of the figure is launched (`venv`: for the Python ones).
fn launch(venv: Option<&Venv>, workers: usize, threads: usize) -> anyhow::Result<Launch> {
    Ok(Launch {
        workers,
        threads,
        database: crate::python::target_dir()
            .join("ch07-q06.sqlite")
            .display()
            .to_string(),
        db_latency: Duration::ZERO,
        venv: venv.cloned(),
        exe: std::env::current_exe()?,
    })
}

/// A Python server of the figure, serving: uvicorn's is the run's shared
/// one, the gunicorn ones are kept by the run too, so that they can start
/// with the group's (`--quick`).
fn python_server(
    ctx: &Ctx,
    venv: &Venv,
    stack: StackName,
    workers: usize,
    threads: usize,
) -> anyhow::Result<Arc<ChildServer>> {
    if stack == StackName::Python(Stack::FastapiAsync) {
        return ctx.shared.fastapi(venv, workers);
    }
    let key = format!("q06 {} {workers} × {threads}", stack.name());
    ctx.shared.server(&key, || {
        let server = crate::stacks::start(stack, &launch(Some(venv), workers, threads)?)?;
        let path = format!("/wait?ms={}", WAIT.as_millis());
        wait_until_serving(&server, &path, None)?;
        Ok(server)
    })
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        at_once(PYTHON.map(|(stack, workers, threads, _)| {
            move || python_server(ctx, venv, stack, workers, threads).map(drop)
        }));
    }
}
