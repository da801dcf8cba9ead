//! What every chapter 7 question uses, written once: the length of its
//! loads (short with `--quick`), its servers — a small Python app of
//! `python/questions/` under uvicorn or gunicorn, or a Rust twin by its
//! stack name (`ch07_questions serve --stack NAME`), each a child process
//! group measured from outside like chapter 6's — and one load measured
//! while another runs (a probe beside a background load).
//!
//! Left out: repeated rounds and pinning to cores (one run per cell, on a
//! shared machine: the questions read shapes and bounds, not third digits).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use super::Ctx;
use crate::loadgen::{self, LoadReport, LoadSpec};
use crate::process::{ChildServer, Ready};
use crate::python::{Knobs, Venv, WorkerClass, gunicorn, uvicorn};
use crate::report::{Cell, Table, duration};
use crate::stacks::{Launch, Measured, StackName};

/// How long each measured load runs.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Sent first, not counted (connections open, workers warm up).
    pub warmup: Duration,
    /// Measured.
    pub duration: Duration,
}

impl Ctx {
    /// The loads of this run: 0.15 s + 0.4 s with `--quick`, 1 s + 4 s
    /// otherwise. The quick window still holds eight waves of the
    /// questions' longest wait (50 ms) and hundreds of their CPU-bound
    /// requests: the shapes (a bound reached, a queue behind a blocked loop)
    /// are there, only with fewer samples behind each quantile.
    pub fn load(&self) -> Load {
        if self.quick {
            Load {
                warmup: Duration::from_millis(150),
                duration: Duration::from_millis(400),
            }
        } else {
            Load {
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(4),
            }
        }
    }
}

impl Ctx {
    /// `quick` with `--quick`, `full` otherwise: a question's sizes in one line.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// The machine's cores (what "one worker per core" means here).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A closed loop of `clients` on `GET path` of `server`, for `load`.
pub fn closed(
    server: &ChildServer,
    path: &str,
    clients: usize,
    load: Load,
) -> anyhow::Result<LoadSpec> {
    Ok(LoadSpec::closed(&server.url(path), clients, load.duration)?
        .with_warmup(load.warmup)
        .with_request_timeout(Duration::from_secs(30)))
}

/// Runs `spec` against `server` and reads the server's process group
/// (RSS, CPU) before and after: [`crate::stacks::measure`].
pub fn measure(server: &ChildServer, spec: &LoadSpec) -> anyhow::Result<Measured> {
    crate::stacks::measure(server, spec)
}

/// Runs every probe while `background` runs, all from this process, each
/// on its own thread. They all start together; each probe's own warm-up
/// lets the background fill the server first, and the background's
/// measured phase is stretched to end after the last probe's.
/// Returns (one report per probe, background).
pub fn beside(
    probes: &[LoadSpec],
    background: &LoadSpec,
) -> anyhow::Result<(Vec<LoadReport>, LoadReport)> {
    let mut background = background.clone();
    let longest = probes
        .iter()
        .map(|p| p.warmup + p.duration)
        .max()
        .unwrap_or_default();
    let probes_end = longest + Duration::from_millis(100);
    background.duration = background
        .duration
        .max(probes_end.saturating_sub(background.warmup));
    let behind = std::thread::spawn(move || loadgen::run_blocking(&background, 1));
    let running: Vec<_> = probes
        .iter()
        .cloned()
        .map(|probe| std::thread::spawn(move || loadgen::run_blocking(&probe, 1)))
        .collect();
    let mut reports = Vec::new();
    for probe in running {
        let report = probe
            .join()
            .map_err(|_| anyhow::anyhow!("a probe panicked"))?;
        reports.push(report);
    }
    let background = behind
        .join()
        .map_err(|_| anyhow::anyhow!("the background load panicked"))??;
    Ok((
        reports.into_iter().collect::<anyhow::Result<_>>()?,
        background,
    ))
}

/// Fills `tables` with a question's Python rows (`python`), then its Rust
/// rows below them (`rust`). With `--quick` both run at the same time, the
/// Rust rows in tables of their own, added below afterwards — for
/// questions whose every load waits (sleeps, round trips: at most a few
/// thousand answers a second, a fraction of a core), where the two sets of
/// servers share the cores without making each other's requests wait.
/// Returns the line a quick figure prints to say so (None: one after the
/// other, as without the venv).
pub fn python_and_rust(
    ctx: &Ctx,
    tables: &mut [Table],
    python: impl FnOnce(&mut [Table]) -> anyhow::Result<()> + Send,
    rust: impl FnOnce(&mut [Table]) -> anyhow::Result<()>,
) -> anyhow::Result<Option<&'static str>> {
    if !ctx.quick || ctx.venv().is_err() {
        // (Without the venv the Python rows only say why they are skipped.)
        python(tables)?;
        rust(tables)?;
        return Ok(None);
    }
    side_by_side(tables, python, rust)?;
    Ok(Some(
        "--quick: the Python and the Rust rows were measured at the same time \
         (every load here waits; the full run measures them one after the other)",
    ))
}

/// Runs `above` on `tables` and `below` on copies of them at the same time
/// (`above` on a thread of its own), then adds the rows `below` wrote under
/// `above`'s, table by table: two sets of rows measured side by side, laid
/// out as if one had run after the other. `above`'s error comes first.
pub fn side_by_side(
    tables: &mut [Table],
    above: impl FnOnce(&mut [Table]) -> anyhow::Result<()> + Send,
    below: impl FnOnce(&mut [Table]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut copies = tables.to_vec();
    let copied: Vec<usize> = copies.iter().map(|t| t.rows().len()).collect();
    let (above, below) = super::shared::both(|| above(tables), || below(&mut copies));
    above?;
    below?;
    for ((table, copy), copied) in tables.iter_mut().zip(&copies).zip(copied) {
        for row in &copy.rows()[copied..] {
            table.row(row.clone());
        }
    }
    Ok(())
}

/// A question's figure laid out the way questions 7–14 lay it out, written
/// once: a note in parentheses (what was run), one table charted by one
/// column, the Python rows — or one line saying why `who`'s rows are
/// skipped — then the Rust twin's rows, then the table.
pub fn figure<const N: usize>(
    ctx: &Ctx,
    note: Option<&str>,
    (columns, chart): ([&str; N], &str),
    (who, python): (&str, impl FnOnce(&Venv, &mut Table) -> anyhow::Result<()>),
    rust: impl FnOnce(&mut Table) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if let Some(note) = note {
        println!("({note})\n");
    }
    let mut table = Table::new(columns);
    table.chart(chart);
    match ctx.venv() {
        Ok(venv) => python(venv, &mut table)?,
        Err(why) => println!("({who} rows skipped: {why})\n"),
    }
    rust(&mut table)?;
    print!("{table}");
    Ok(())
}

/// [`figure`] for a demonstration whose every step waits (sleeps, round
/// trips; what it reads is an order of events or rows written): with
/// `--quick` the Python rows and the Rust twin's are made at the same time
/// ([`python_and_rust`]), and the figure says so.
pub fn figure_at_once<const N: usize>(
    ctx: &Ctx,
    note: Option<&str>,
    (columns, chart): ([&str; N], &str),
    (who, python): (
        &str,
        impl FnOnce(&Venv, &mut Table) -> anyhow::Result<()> + Send,
    ),
    rust: impl FnOnce(&mut Table) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let venv = match ctx.venv() {
        Ok(venv) if ctx.quick => venv,
        _ => return figure(ctx, note, (columns, chart), (who, python), rust),
    };
    if let Some(note) = note {
        println!("({note})\n");
    }
    let mut table = Table::new(columns);
    table.chart(chart);
    let mut tables = [table];
    let together = python_and_rust(
        ctx,
        &mut tables,
        |tables| python(venv, &mut tables[0]),
        |tables| rust(&mut tables[0]),
    )?;
    if let Some(together) = together {
        println!("({together})\n");
    }
    let [table] = tables;
    print!("{table}");
    Ok(())
}

/// A paced probe of `GET path`: `rate` requests per second over up to 20
/// connections (an open loop, so it adds little load and one slow answer
/// does not stop it), for `load`.
pub fn probe(server: &ChildServer, path: &str, rate: f64, load: Load) -> anyhow::Result<LoadSpec> {
    Ok(LoadSpec::open(&server.url(path), 20, rate, load.duration)?
        .with_warmup(load.warmup)
        .with_request_timeout(Duration::from_secs(30)))
}

/// A latency quantile as a cell, or `-` when nothing was answered.
pub fn quantile(report: &LoadReport, q: f64) -> Cell {
    if report.requests == 0 {
        Cell::from("-")
    } else {
        duration(report.latency(q))
    }
}

/// A Rust twin (`lab::api` model by its stack name) as a child process
/// group: this program re-run as `serve --stack NAME --workers K`.
pub fn rust_twin(stack: StackName, workers: usize) -> anyhow::Result<ChildServer> {
    rust_twin_db(stack, workers, Duration::ZERO)
}

/// [`rust_twin`] with `db_latency` injected before every `/users` query
/// (`--db-latency-ms`; the twin makes its own temporary SQLite file).
pub fn rust_twin_db(
    stack: StackName,
    workers: usize,
    db_latency: Duration,
) -> anyhow::Result<ChildServer> {
    let launch = Launch {
        workers,
        threads: 1,
        database: String::new(),
        db_latency,
        venv: None,
        exe: std::env::current_exe()?,
    };
    crate::stacks::start(stack, &launch)
}

/// How a Python app of `python/questions/` is served.
#[derive(Debug, Clone)]
pub enum PythonServer {
    /// `uvicorn MODULE:app --workers N` (uvloop, httptools, no access log).
    Uvicorn { workers: usize },
    /// `gunicorn MODULE -k sync|gthread --workers N [--threads T]`.
    Gunicorn { workers: usize, class: WorkerClass },
}

/// Starts `app` (`questions.q01_blocking:app`, or a WSGI module for
/// gunicorn) from `python/` with the venv's programs, `env` added, on a free
/// loopback port; ready when the port accepts.
pub fn python_app(
    venv: &Venv,
    app: &str,
    server_kind: &PythonServer,
    env: &[(&str, String)],
) -> anyhow::Result<ChildServer> {
    let port = crate::stacks::free_port()?;
    let mut command = match *server_kind {
        PythonServer::Uvicorn { workers } => uvicorn(venv, app, port, workers, Knobs::default()),
        PythonServer::Gunicorn { workers, class } => gunicorn(venv, app, port, workers, class),
    };
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = ChildServer::start(command, Ready::Accepts(addr), crate::stacks::READY_WITHIN)
        .with_context(|| format!("starting {app}"))?;
    if let PythonServer::Uvicorn { workers } = server_kind {
        wait_until_serving(&server, "/docs", Some(*workers))?;
    }
    Ok(server)
}

/// Waits until `server` is really serving: for uvicorn, until each of its
/// `uvicorn_workers` has logged `Application startup complete` (its port
/// accepts as soon as the supervisor binds, while the workers still import
/// FastAPI); then, for any server, until one `GET path` is answered
/// (gunicorn's workers load Django first). Without this, the first
/// measurement of a multi-worker server would time its boot.
pub fn wait_until_serving(
    server: &ChildServer,
    path: &str,
    uvicorn_workers: Option<usize>,
) -> anyhow::Result<()> {
    let within = crate::stacks::READY_WITHIN;
    if let Some(workers) = uvicorn_workers {
        let started = std::time::Instant::now();
        while server.log().matches("Application startup complete").count() < workers {
            anyhow::ensure!(
                started.elapsed() < within,
                "{workers} uvicorn workers not started after {within:?}; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    crate::stacks::drain(server, path, within).map(|_| ())
}
