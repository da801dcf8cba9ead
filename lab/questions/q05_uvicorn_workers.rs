//! Question 5: "How many uvicorn workers?"
//!
//! uvicorn + FastAPI `async def` (chapter 6's app) with 1, 2, 4 worker
//! processes (1 and 2 with `--quick`) on this machine's cores, under a
//! CPU-bound endpoint (`/cpu?us=2000`: 2 ms of work per request) and a
//! wait-bound one (`/wait?ms=50`): requests per second, and the resident
//! memory summed over the whole process group (supervisor and workers).
//! The Rust twins: `loop-per-worker` (actix-web, one loop per worker
//! thread) and `work-stealing` (tokio, k threads sharing the tasks) with
//! the same k — threads in one process, so their memory barely grows
//! (`work-stealing` is left out with `--quick`).
//!
//! Leaves out: gunicorn's UvicornWorker (the same processes, another
//! supervisor) and more workers than the bound needs (question 6).

use std::time::Duration;

use super::Ctx;
use super::common::{closed, cores, measure, python_and_rust, rust_twin};
use super::shared::at_once;
use crate::api::ModelKind;
use crate::process::ChildServer;
use crate::report::{Cell, Table, num, ratio};
use crate::stacks::{Measured, StackName};

/// The CPU-bound endpoint's work per request.
pub const CPU: Duration = Duration::from_millis(2);
/// The wait-bound endpoint's wait.
pub const WAIT: Duration = Duration::from_millis(50);
/// Closed-loop clients.
pub const CLIENTS: usize = 50;
/// The column the test reads against its bound.
pub const BOUND: &str = "bound (req/s)";

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let counts = counts(ctx);
    let header = [
        "server, workers",
        "workers",
        "req/s",
        BOUND,
        "of bound",
        "RSS (MB)",
        "processes",
    ];
    let (mut cpu, mut wait) = (Table::new(header), Table::new(header));
    cpu.chart("req/s");
    wait.chart("req/s");
    let cores = cores();
    let cpu_path = format!("/cpu?us={}", CPU.as_micros());
    let wait_path = format!("/wait?ms={}", WAIT.as_millis());
    let cpu_bound = |k: usize| k.min(cores) as f64 / CPU.as_secs_f64();
    let wait_bound = |_k: usize| CLIENTS as f64 / WAIT.as_secs_f64();
    // With `--quick` the wait-bound rows come last, every server kept
    // until then: see below.
    let (mut python_later, mut rust_later) = (Vec::new(), Vec::new());
    match ctx.venv() {
        Err(why) => {
            for table in [&mut cpu, &mut wait] {
                table.row(["uvicorn + FastAPI", &format!("skipped: {why}")]);
            }
        }
        Ok(venv) => {
            // Every worker count's server starts at once; they are the
            // run's shared ones (questions 6, 12 and 13 use them too).
            let servers = at_once(counts.iter().map(|&k| move || ctx.shared.fastapi(venv, k)));
            for (&k, server) in counts.iter().zip(servers) {
                let server = server?;
                let label = format!("uvicorn --workers {k}");
                let m = measure(&server, &closed(&server, &cpu_path, CLIENTS, ctx.load())?)?;
                row(&mut cpu, &label, k, &m, cpu_bound(k));
                if ctx.quick {
                    python_later.push((label, k, server));
                    continue;
                }
                let m = measure(&server, &closed(&server, &wait_path, CLIENTS, ctx.load())?)?;
                row(&mut wait, &label, k, &m, wait_bound(k));
            }
        }
    }
    let twins: &[(StackName, &str)] = if ctx.quick {
        &[(
            StackName::Rust(ModelKind::LoopPerWorker),
            "Rust loop-per-worker",
        )]
    } else {
        &[
            (
                StackName::Rust(ModelKind::LoopPerWorker),
                "Rust loop-per-worker",
            ),
            (
                StackName::Rust(ModelKind::WorkStealing),
                "Rust work-stealing",
            ),
        ]
    };
    for &(stack, name) in twins {
        for &k in counts {
            let mut server = rust_twin(stack, k)?;
            let label = format!("{name} k={k}");
            let m = measure(&server, &closed(&server, &cpu_path, CLIENTS, ctx.load())?)?;
            row(&mut cpu, &label, k, &m, cpu_bound(k));
            if ctx.quick {
                rust_later.push((label, k, server));
                continue;
            }
            let m = measure(&server, &closed(&server, &wait_path, CLIENTS, ctx.load())?)?;
            row(&mut wait, &label, k, &m, wait_bound(k));
            server.stop()?;
        }
    }
    // --quick: the wait-bound rows of the Python and the Rust servers at
    // the same time (every request waits 50 ms: a thousand answers a
    // second, a fraction of a core, where the CPU-bound rows each had the
    // machine to themselves).
    let mut together = None;
    if ctx.quick {
        let wait_rows = |table: &mut Table, later: &[(&str, usize, &ChildServer)]| {
            for &(label, k, server) in later {
                let m = measure(server, &closed(server, &wait_path, CLIENTS, ctx.load())?)?;
                row(table, label, k, &m, wait_bound(k));
            }
            anyhow::Ok(())
        };
        let python: Vec<_> = (python_later.iter())
            .map(|(label, k, server)| (label.as_str(), *k, &**server))
            .collect();
        let rust: Vec<_> = (rust_later.iter())
            .map(|(label, k, server)| (label.as_str(), *k, server))
            .collect();
        let mut tables = [wait];
        together = python_and_rust(
            ctx,
            &mut tables,
            |tables| wait_rows(&mut tables[0], &python),
            |tables| wait_rows(&mut tables[0], &rust),
        )?;
        [wait] = tables;
        for (_, _, mut server) in rust_later {
            server.stop()?;
        }
    }
    let (us, ms) = (CPU.as_micros(), WAIT.as_millis());
    println!("CPU-bound: {CLIENTS} clients on /cpu?us={us} ({us} µs of work each), {cores} cores");
    print!("{cpu}");
    println!("(bound: min(workers, cores) / {us} µs: one request per core at a time.)\n");
    if let Some(together) = together {
        println!("({together})\n");
    }
    println!("Wait-bound: {CLIENTS} clients on /wait?ms={ms}");
    print!("{wait}");
    println!(
        "(bound: clients / {ms} ms: every worker's loop overlaps all its waits. RSS: summed \
         over the server's process group, as `ps` counts it.)"
    );
    Ok(())
}

/// The worker counts: 1, 2, 4 (1 and 2 with `--quick`).
fn counts(ctx: &Ctx) -> &'static [usize] {
    if ctx.quick { &[1, 2] } else { &[1, 2, 4] }
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        at_once(
            counts(ctx)
                .iter()
                .map(|&k| move || ctx.shared.fastapi(venv, k).map(drop)),
        );
    }
}

fn row(table: &mut Table, label: &str, workers: usize, m: &Measured, bound: f64) {
    table.row([
        Cell::from(label),
        Cell::from(workers),
        num(m.per_second, 0),
        num(bound, 0),
        ratio(m.per_second, bound),
        m.rss_bytes
            .map_or(Cell::from("-"), |b| num(b as f64 / 1e6, 0)),
        Cell::from(m.processes),
    ]);
}
