//! Chapter 6 — the FastAPI vs DRF table that blog posts publish, read
//! through Little's law, then measured on this machine: real uvicorn +
//! FastAPI and gunicorn + DRF beside their Rust twins (the `sync-pool` and
//! `event-loop` models of chapters 3 and 4), every server a child process
//! group on loopback, driven by the book's load generator.
//!
//! Run it:   cargo run --release --example ch06_table            (about 2 min)
//!           cargo run --release --example ch06_table -- --quick (under 60 s once
//!           the Python venv exists; the first run installs it, about a minute)
//!           cargo run --release --example ch06_table -- --no-python (Rust twins only)
//! One stack alone, for curl or wrk (Ctrl-C or SIGTERM stops it):
//!           cargo run --release --example ch06_table -- serve --stack fastapi-async --port 8000
//!           cargo run --release --example ch06_table -- serve --stack django-sync --workers 2 --port 8000
//!           cargo run --release --example ch06_table -- serve --stack event-loop --port 8000
//!           cargo run --release --example ch06_table -- serve --stack sync-pool --port 8000 \
//!               --database postgresql://app@127.0.0.1:5432/postgres
//!
//! The Python stacks need a python3 ≥ 3.10 (the venv goes under target/);
//! without one the table says so in every Python cell. The database row runs
//! on a throwaway PostgreSQL when its binaries are installed — the Python
//! stacks and their Rust twins on the same server — else on SQLite with an
//! injected round trip, and says which. Then the wait swept (0, 5,
//! 50 ms) on FastAPI and DRF, the per-request-CPU knobs one at a time
//! (uvloop + httptools, orjson, keep-alive), server and load generator
//! pinned to separate cores, and (full run only) 1,000 and 10,000
//! connections held against each stack.
//! Check four stacks with wrk against their bounds (skipped without wrk):
//!           cargo run --release --example ch06_table -- wrk-check
//! The last section runs the visualizer's simulation on every measured
//! row (`lab::predict`).

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use lab::api::ModelKind;
use lab::loadgen::LoadSpec;
use lab::postgres::Postgres;
use lab::process::ChildServer;
use lab::python::{RunnerArgs, Stack, venv_or_skip};
use lab::report::{Cell, Table, duration, human, num, print_banner, quantile, ratio};
use lab::stacks::{Launch, Measured, ServeArgs, StackName, create_user, drain, measure, warm_up};

#[derive(Parser)]
#[command(about = "Chapter 6: the FastAPI vs DRF table, measured beside its Rust twins")]
struct Cli {
    #[command(subcommand)]
    command: Option<Serve>,
    #[command(flatten)]
    run: RunnerArgs,
    /// Worker processes for uvicorn and gunicorn; the sync-pool twin gets as
    /// many threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    workers: u16,
    /// Closed-loop clients (the published runs had about 1,000, by Little's law).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=5_000))]
    clients: u32,
}

#[derive(clap::Subcommand)]
enum Serve {
    /// Run one stack alone until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Check four Python stacks with wrk on /wait?ms=50 against their
    /// Little's-law bounds (wrk is optional: skipped when absent).
    WrkCheck(WrkCheckArgs),
}

#[derive(clap::Args)]
struct WrkCheckArgs {
    /// Seconds of load per stack (wrk's -d).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    seconds: u64,
    /// How far from its bound a stack may land, in percent.
    #[arg(long, default_value_t = 10.0)]
    tolerance: f64,
}

/// The injected round trip of the database row when it runs on SQLite
/// (every stack, when PostgreSQL is not installed).
const SQLITE_ROUND_TRIP: Duration = Duration::from_millis(1);
/// A request with no answer this long after its send counts as timed out
/// (the table's rows, the sweep and knob rounds, the connections section;
/// the 50 ms table, whose requests queue for seconds, allows 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    // `cargo run --example` builds no `ww-watchdog`: this program is its own
    // (it stops the servers if the runner is killed).
    lab::process::be_own_watchdog();
    let cli = Cli::parse();
    match &cli.command {
        Some(Serve::Serve(args)) => return args.run(),
        Some(Serve::WrkCheck(args)) => return wrk_check(args),
        None => {}
    }
    print_banner("Chapter 6: the FastAPI vs DRF table, measured beside its Rust twins");
    println!("## The published table, read through Little's law\n");
    let drf_workers = 4; // an assumption: the post does not say
    print!("{}", lab::published::reading_table(drf_workers));
    println!("(QUOTED from a blog post, not measured here. The DRF service time assumes");
    println!("{drf_workers} gunicorn workers each busy all the time.)\n");

    println!("## Setting up\n");
    let fd_limit = lab::api::experiment::raise_fd_limit();
    let started = std::time::Instant::now();
    let setup = Setup::new(&cli)?;
    eprintln!("set up in {}", human(started.elapsed()));
    setup.describe(&fd_limit);

    let plan = Plan::new(&cli);
    println!("{}\n", plan.describe());
    let mut results = Vec::new();
    for stack in setup.stacks() {
        let started = std::time::Instant::now();
        results.push((stack, run_stack(stack, &setup, &plan)?));
        eprintln!("measured {} in {}", stack.name(), human(started.elapsed()));
    }
    let results = Results {
        all: results,
        python_skipped: setup.python_skipped.clone(),
        plan,
    };

    println!("## The table, reproduced\n");
    print!("{}", results.reproduced());
    println!("(here: this machine, this run. ratio: FastAPI's advantage, as the post computes it.");
    println!("in flight: requests outstanding, averaged over the measured window — Little's L,");
    println!("counted by the load generator itself; at most the clients.)\n");

    println!("## Every measurement\n");
    print!("{}", results.detail());
    println!("(RSS and CPU: summed over every process of the server's process group.)");

    println!("\n## Waiting 50 ms: the Python stacks of chapters 3 and 4\n");
    let mut observed = results.observed(&setup);
    if let Some(why) = &setup.python_skipped {
        println!("not measured ({why})");
    } else if cli.run.quick {
        println!("left out with --quick (five more servers to start)");
    } else {
        print!("{}", wait_table(&setup, &mut observed)?);
        println!("(bound: Little's law, requests that can wait at once / 50 ms.)");
    }

    if let Some(why) = &setup.python_skipped {
        println!("\n## What decides the ratio: the wait, swept\n");
        println!("not measured ({why})");
        println!("\n## What decides the ratio when nothing waits: one knob at a time\n");
        println!("not measured ({why})");
    } else {
        let sweep = Sweep::new(&cli);
        println!("\n## What decides the ratio: the wait, swept\n");
        let (waits, knobs) = sweep.run(&setup)?;
        print!("{waits}");
        println!(
            "({}. req/s: median of {} round{} [min, max]; bound: Little's law, requests that",
            sweep.pinned_note(),
            sweep.rounds,
            if sweep.rounds == 1 { "" } else { "s" }
        );
        println!(
            " can wait at once / the wait; none when nothing waits. ratio: FastAPI / DRF medians.)"
        );
        println!("\n## What decides the ratio when nothing waits: one knob at a time\n");
        if !sweep.knobs {
            println!("left out with --quick (three more servers to start)");
        } else {
            print!("{knobs}");
            println!(
                "(GET /api/simple, {} clients, each knob measured once against its stack's",
                SWEEP_CLIENTS
            );
            println!(
                " default in the same run. vs default: this row's median req/s / the default's.)"
            );
        }
    }

    println!("\n## Holding 1,000 and 10,000 connections\n");
    if cli.run.quick {
        println!("left out with --quick (each stack holds 1,000 and 10,000 connections)");
    } else {
        print!("{}", connections_table(&setup, &results.plan)?);
        println!(
            "(GET each stack's simple JSON path from N closed-loop connections held open at once."
        );
        println!(" in flight: requests outstanding, averaged over the window (Little's L);");
        let plan = &results.plan;
        println!(
            " each run: {} s warm-up, then {} s measured, as the table's row;",
            plan.warmup.as_secs_f64(),
            plan.duration.as_secs_f64()
        );
        println!(
            " errors by kind: timed out (no answer within {} s of its send), not connected",
            REQUEST_TIMEOUT.as_secs_f64()
        );
        println!(
            " (the connect was refused or failed), broken (reset or closed mid-answer), 5xx.)"
        );
    }

    println!("\n## Model against reality\n");
    let cores = lab::predict::machine_cores();
    print!("{}", lab::predict::table(&observed, cores));
    println!("(predicted: the visualizer's simulation on {cores} cores, fed each row's clients,");
    println!("wait, CPU per request of the server and of the load generator, and connections per");
    println!("server process counted mid-run. others' cores: CPU other programs used meanwhile,");
    println!("PostgreSQL's included; not given to the model. error: predicted / measured - 1.)");
    Ok(())
}

/// Closed-loop clients of the sweep and the knobs (chapters 3 and 4's 100).
const SWEEP_CLIENTS: usize = 100;
/// The waits swept, in ms: nothing, a fast query, chapters 3 and 4's 50 ms.
const SWEEP_WAITS: [u64; 3] = [0, 5, 50];
/// With `--quick`: the two ends, where the ratio is made and where it is gone.
const QUICK_SWEEP_WAITS: [u64; 2] = [0, 50];

/// The wait sweep and the knobs: how long each load runs, how often it is
/// repeated, and whether server and load generator get a core each.
struct Sweep {
    /// The waits swept, in ms.
    waits: &'static [u64],
    /// Whether the knob rows run (each starts a server of its own).
    knobs: bool,
    rounds: usize,
    warmup: Duration,
    duration: Duration,
    workers: usize,
    pinning: Result<lab::stacks::Pinning, String>,
}

impl Sweep {
    fn new(cli: &Cli) -> Self {
        let (rounds, warmup, duration) = if cli.run.quick {
            (1, Duration::from_millis(200), Duration::from_millis(500))
        } else {
            (3, Duration::from_secs(1), Duration::from_secs(3))
        };
        Self {
            waits: if cli.run.quick {
                &QUICK_SWEEP_WAITS
            } else {
                &SWEEP_WAITS
            },
            knobs: !cli.run.quick,
            rounds,
            warmup,
            duration,
            workers: usize::from(cli.workers),
            pinning: lab::stacks::Pinning::new(),
        }
    }

    fn pinned_note(&self) -> String {
        match &self.pinning {
            Ok(p) => format!(
                "server pinned to core {}, load generator to core {}",
                p.server, p.load
            ),
            Err(why) => format!("not pinned: {why}"),
        }
    }

    /// `rounds` runs of one load, each followed by a drain.
    fn rounds(
        &self,
        server: &ChildServer,
        path: &str,
        drain_path: &str,
    ) -> anyhow::Result<Vec<Measured>> {
        (0..self.rounds)
            .map(|_| {
                let spec = LoadSpec::closed(&server.url(path), SWEEP_CLIENTS, self.duration)?
                    .with_warmup(self.warmup)
                    .with_request_timeout(REQUEST_TIMEOUT);
                let m = measure(server, &spec)?;
                drain(server, drain_path, Duration::from_secs(60))?;
                Ok(m)
            })
            .collect()
    }

    /// One server per (stack, knobs): the sweep's waits and the simple path on
    /// each default, the simple path alone on each knob.
    fn run(&self, setup: &Setup) -> anyhow::Result<(Table, Table)> {
        let pinning = self.pinning.as_ref().ok();
        let mut waits = Table::new([
            "stack", "wait", "clients", "req/s", "min", "max", "bound", "of bound", "p99",
            "errors", "ratio",
        ]);
        let mut knobs = Table::new([
            "stack",
            "knob",
            "clients",
            "req/s",
            "min",
            "max",
            "p99",
            "errors",
            "CPU/request",
            "vs default",
        ]);
        let plain = lab::python::Knobs {
            plain_asyncio: true,
            ..Default::default()
        };
        let orjson = lab::python::Knobs {
            orjson: true,
            ..Default::default()
        };
        let default = lab::python::Knobs::default();
        // (stack, threads, knobs, what the knob row says; None: the default, swept)
        let runs = [
            (StackName::Python(Stack::FastapiAsync), 1, default, None),
            (StackName::Python(Stack::DjangoSync), 1, default, None),
            (
                StackName::Python(Stack::FastapiAsync),
                1,
                plain,
                Some("asyncio + h11 (not uvloop + httptools)"),
            ),
            (
                StackName::Python(Stack::FastapiAsync),
                1,
                orjson,
                Some("orjson (not json)"),
            ),
            (
                StackName::Python(Stack::DjangoGthread),
                1,
                default,
                Some("gthread, 1 thread: keep-alive (not sync: close)"),
            ),
        ];
        let mut swept: Vec<(StackName, u64, f64)> = Vec::new();
        let mut defaults: Vec<(StackName, f64)> = Vec::new();
        for (stack, threads, knob, label) in
            runs.into_iter().filter(|run| self.knobs || run.3.is_none())
        {
            let launch = Launch {
                workers: self.workers,
                threads,
                ..setup.launch_for(stack)
            };
            let mut server = lab::stacks::start_with(stack, &launch, knob, pinning)?;
            warm_up(&server, "/wait?ms=0", self.workers)?;
            if label.is_none() {
                for &wait in self.waits {
                    let path = format!("/wait?ms={wait}");
                    eprintln!("sweep: {} {path}", stack.name());
                    let rounds = self.rounds(&server, &path, "/wait?ms=0")?;
                    let spread = Spread::of(&rounds);
                    let other = swept.iter().find(|(s, w, _)| *s != stack && *w == wait);
                    let ratio_cell = match other {
                        Some((_, _, fast)) => {
                            let value = fast / spread.median.per_second.max(1e-9);
                            Cell::measured(format!("{value:.1}×"), value)
                        }
                        None => Cell::from("-"),
                    };
                    let (bound, of_bound) = if wait == 0 {
                        (Cell::from("-"), Cell::from("-"))
                    } else {
                        let b = stack.bound(SWEEP_CLIENTS, Duration::from_millis(wait), &launch);
                        (num(b, 0), ratio(spread.median.per_second, b))
                    };
                    waits.row([
                        Cell::from(stack.name()),
                        Cell::measured(format!("{wait} ms"), wait as f64 / 1e3),
                        Cell::from(SWEEP_CLIENTS),
                        num(spread.median.per_second, 0),
                        num(spread.min, 0),
                        num(spread.max, 0),
                        bound,
                        of_bound,
                        quantile(&spread.median.report, 0.99),
                        Cell::from(spread.errors),
                        ratio_cell,
                    ]);
                    swept.push((stack, wait, spread.median.per_second));
                }
            }
            if !self.knobs {
                server.stop()?;
                continue;
            }
            eprintln!("knobs: {} {}", stack.name(), label.unwrap_or("default"));
            let rounds = self.rounds(&server, "/api/simple", "/wait?ms=0")?;
            server.stop()?;
            let spread = Spread::of(&rounds);
            let base = match label {
                None => {
                    defaults.push((stack, spread.median.per_second));
                    spread.median.per_second
                }
                // gthread's default is sync's (the same Django, another worker class).
                Some(_) => defaults
                    .iter()
                    .find(|(s, _)| {
                        *s == stack
                            || (stack == StackName::Python(Stack::DjangoGthread)
                                && *s == StackName::Python(Stack::DjangoSync))
                    })
                    .map_or(f64::NAN, |(_, r)| *r),
            };
            knobs.row([
                Cell::from(stack.name()),
                Cell::from(label.unwrap_or("default").to_string()),
                Cell::from(SWEEP_CLIENTS),
                num(spread.median.per_second, 0),
                num(spread.min, 0),
                num(spread.max, 0),
                quantile(&spread.median.report, 0.99),
                Cell::from(spread.errors),
                spread
                    .median
                    .cpu_per_request
                    .map_or(Cell::from("-"), duration),
                ratio(spread.median.per_second, base),
            ]);
        }
        if let Some(pinning) = pinning {
            pinning.release()?;
        }
        Ok((waits, knobs))
    }
}

/// Repeated rounds of one load: the median round, and the spread of req/s.
struct Spread<'a> {
    median: &'a Measured,
    min: f64,
    max: f64,
    errors: u64,
}

impl<'a> Spread<'a> {
    fn of(rounds: &'a [Measured]) -> Self {
        let mut sorted: Vec<&Measured> = rounds.iter().collect();
        sorted.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        Spread {
            median: sorted[sorted.len() / 2],
            min: sorted[0].per_second,
            max: sorted[sorted.len() - 1].per_second,
            errors: rounds.iter().map(|m| m.report.errors).sum(),
        }
    }
}

/// Each stack holding 1,000 and then 10,000 connections on its simple path.
fn connections_table(setup: &Setup, plan: &Plan) -> anyhow::Result<Table> {
    let stacks = [
        (
            StackName::Python(Stack::FastapiAsync),
            setup.launch.workers,
            1,
        ),
        (
            StackName::Python(Stack::DjangoSync),
            setup.launch.workers,
            1,
        ),
        (
            StackName::Python(Stack::DjangoGthread),
            setup.launch.workers,
            16,
        ),
        (
            StackName::Rust(ModelKind::SyncPool),
            setup.launch.workers,
            1,
        ),
        (StackName::Rust(ModelKind::EventLoop), 1, 1),
    ];
    let mut table = Table::new([
        "stack",
        "workers",
        "connections",
        "req/s",
        "in flight",
        "p50",
        "p99",
        "errors",
        "RSS",
    ]);
    for (stack, workers, threads) in stacks {
        let launch = Launch {
            workers,
            threads,
            ..setup.launch_for(stack)
        };
        let mut server = lab::stacks::start(stack, &launch)?;
        warm_up(&server, stack.simple_path(), workers)?;
        for held in [1_000, 10_000] {
            eprintln!("connections: {} holding {held}", stack.name());
            // The table's window and timeout, so that a request the
            // listen backlog left waiting from the start can time out
            // inside the window here too (a 7 s run could never see a
            // 10 s timeout).
            let spec = plan.spec(&server, stack.simple_path(), held)?;
            let m = measure(&server, &spec)?;
            drain(&server, stack.simple_path(), Duration::from_secs(120))?;
            table.row([
                Cell::from(stack.name()),
                Cell::from(match stack {
                    StackName::Python(Stack::DjangoGthread) => {
                        format!("{workers} × {threads} threads")
                    }
                    _ => workers.to_string(),
                }),
                Cell::from(held),
                num(m.per_second, 0),
                num(m.in_flight(), 0),
                quantile(&m.report, 0.5),
                quantile(&m.report, 0.99),
                Cell::from(m.report.failures.summary()),
                m.rss_bytes.map_or(Cell::from("-"), |b| {
                    Cell::measured(format!("{:.0} MB", b as f64 / 1e6), b as f64 / 1e6)
                }),
            ]);
        }
        server.stop()?;
    }
    Ok(table)
}

/// What this run has to work with: the Python venv (or why not) and the
/// database of the DB row.
struct Setup {
    launch: Launch,
    python_skipped: Option<String>,
    /// PostgreSQL, while it runs; dropped (stopped) at the end of `main`.
    postgres: Option<Postgres>,
    database_note: String,
}

impl Setup {
    fn new(cli: &Cli) -> anyhow::Result<Self> {
        let target = lab::python::target_dir();
        let mut launch = Launch {
            workers: usize::from(cli.workers),
            threads: 16,
            database: target.join("ch06.sqlite").display().to_string(),
            db_latency: SQLITE_ROUND_TRIP,
            venv: None,
            exe: std::env::current_exe()?,
        };
        let _ = std::fs::remove_file(&launch.database);
        let started = std::time::Instant::now();
        let python_skipped = match venv_or_skip(cli.run.no_python) {
            Ok(venv) => {
                eprintln!("python: venv ready after {}", human(started.elapsed()));
                launch.venv = Some(venv);
                None
            }
            Err(why) => Some(why),
        };
        // One PostgreSQL for every stack's database row, Python and Rust.
        let (postgres, database_note) = match Postgres::start(&target.join("ch06-postgres")) {
            Ok(pg) => {
                let note = format!(
                    "DB row: PostgreSQL on 127.0.0.1:{} for every stack, a real loopback round \
                     trip (FastAPI: asyncpg, pool of 20; DRF: psycopg, one connection per \
                     worker; event-loop: sqlx, pool of {}; sync-pool: the postgres crate, one \
                     connection per worker thread)",
                    pg.port(),
                    lab::api::async_app::POSTGRES_POOL
                );
                launch.database = pg.dsn();
                (Some(pg), note)
            }
            Err(why) => {
                let note = format!(
                    "DB row: SQLite with an injected {} round trip before each query, for \
                     every stack (no PostgreSQL: {why})",
                    human(SQLITE_ROUND_TRIP)
                );
                (None, note)
            }
        };
        Ok(Self {
            launch,
            python_skipped,
            postgres,
            database_note,
        })
    }

    fn describe(&self, fd_limit: &Result<u64, String>) {
        match &self.python_skipped {
            None => println!(
                "Python stacks: uvicorn + FastAPI, gunicorn + DRF, from python/requirements.txt"
            ),
            Some(why) => println!("Python stacks: skipped ({why})"),
        }
        println!("{}", self.database_note);
        if let Err(why) = fd_limit {
            println!("(could not raise the open-file limit: {why})");
        }
    }

    // ANCHOR: stacks
    /// The stacks of the table: FastAPI `async def` and DRF on gunicorn
    /// `sync` (each with `--workers` processes), then their Rust twins.
    fn stacks(&self) -> Vec<StackName> {
        let mut stacks = Vec::new();
        if self.python_skipped.is_none() {
            stacks.extend([
                StackName::Python(Stack::FastapiAsync),
                StackName::Python(Stack::DjangoSync),
            ]);
        }
        stacks.extend([
            StackName::Rust(ModelKind::SyncPool),
            StackName::Rust(ModelKind::EventLoop),
        ]);
        stacks
    }
    // ANCHOR_END: stacks

    /// How a stack is launched: on PostgreSQL when it runs, with nothing
    /// injected (the round trip is real); else on SQLite with
    /// [`SQLITE_ROUND_TRIP`] (a Rust twin in a temporary file of its own).
    fn launch_for(&self, stack: StackName) -> Launch {
        let mut launch = self.launch.clone();
        if self.postgres.is_some() {
            launch.db_latency = Duration::ZERO;
        } else if matches!(stack, StackName::Rust(_)) {
            launch.database = String::new(); // the lab makes a temp SQLite file
        }
        launch
    }
}

/// The loads of one run.
struct Plan {
    clients: usize,
    /// The connections row's load; not run with `--quick`.
    connections: Option<usize>,
    warmup: Duration,
    duration: Duration,
}

impl Plan {
    fn new(cli: &Cli) -> Self {
        // The warm-up lets 1,000 connections open and settle into the
        // queue (Little's law reads the steady state, not the start).
        let (warmup, duration, connections) = if cli.run.quick {
            (Duration::from_millis(500), Duration::from_secs(1), None)
        } else {
            (Duration::from_secs(3), Duration::from_secs(8), Some(10_000))
        };
        Self {
            clients: cli.clients as usize,
            connections,
            warmup,
            duration,
        }
    }

    fn describe(&self) -> String {
        let connections = match self.connections {
            Some(n) => format!("{n} connections for the connections row"),
            None => "the connections row is left out with --quick".into(),
        };
        format!(
            "Load: {} closed-loop clients per throughput row, {} s measured after {} s warm-up; \
             serialization timed from 1 client; {connections}.",
            self.clients,
            self.duration.as_secs_f64(),
            self.warmup.as_secs_f64(),
        )
    }

    fn spec(&self, server: &ChildServer, path: &str, clients: usize) -> anyhow::Result<LoadSpec> {
        Ok(LoadSpec::closed(&server.url(path), clients, self.duration)?
            .with_warmup(self.warmup)
            .with_request_timeout(REQUEST_TIMEOUT))
    }
}

/// What one stack measured, row by row (None: the stack has no such endpoint).
struct StackResult {
    simple: Measured,
    db: Measured,
    serialization: Option<Measured>,
    connections: Option<Measured>,
}

/// Starts one stack, sends each row's load in turn (waiting for the
/// server's queue to drain between them), stops it.
fn run_stack(stack: StackName, setup: &Setup, plan: &Plan) -> anyhow::Result<StackResult> {
    let mut server = lab::stacks::start(stack, &setup.launch_for(stack))?;
    let id = create_user(&server, &format!("{}@example.com", stack.name()))?;
    let simple_path = stack.simple_path();
    let run = |path: &str, clients: usize| -> anyhow::Result<Measured> {
        let measured = measure(&server, &plan.spec(&server, path, clients)?)?;
        drain(&server, simple_path, Duration::from_secs(60))?;
        Ok(measured)
    };
    let simple = run(simple_path, plan.clients)?;
    let db = run(&format!("/users/{id}"), plan.clients)?;
    let serialization = match stack {
        StackName::Python(_) => Some(run("/api/serialize", 1)?),
        StackName::Rust(_) => None, // the Rust contract has no such endpoint
    };
    let connections = match plan.connections {
        Some(n) => Some(run(simple_path, n)?),
        None => None,
    };
    server.stop()?;
    Ok(StackResult {
        simple,
        db,
        serialization,
        connections,
    })
}

impl StackResult {
    /// The largest RSS the server's group had at the end of a load, and
    /// how many processes it had then.
    fn peak_memory(&self) -> Option<(u64, usize)> {
        [
            Some(&self.simple),
            Some(&self.db),
            self.serialization.as_ref(),
            self.connections.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m.rss_bytes?, m.processes)))
        .max_by_key(|(rss, _)| *rss)
    }
}

/// Every stack's results, and how to print them.
struct Results {
    all: Vec<(StackName, StackResult)>,
    python_skipped: Option<String>,
    plan: Plan,
}

impl Results {
    fn of(&self, stack: StackName) -> Option<&StackResult> {
        self.all.iter().find(|(s, _)| *s == stack).map(|(_, r)| r)
    }

    /// The six published rows beside what this run measured.
    fn reproduced(&self) -> Table {
        use lab::published::{PUBLISHED, Row};
        let mut table = Table::new([
            "row",
            "published FastAPI",
            "published DRF",
            "ratio",
            "FastAPI here",
            "DRF here",
            "ratio here",
            "Rust sync-pool",
            "Rust event-loop",
            "Little's law here",
        ]);
        let missing = match &self.python_skipped {
            Some(why) if why == "--no-python" => "not measured (--no-python)".to_string(),
            Some(_) => "not measured (no python3 ≥ 3.10, see above)".to_string(),
            None => "not measured".to_string(),
        };
        let fast = self.of(StackName::Python(Stack::FastapiAsync));
        let drf = self.of(StackName::Python(Stack::DjangoSync));
        let pool = self.of(StackName::Rust(ModelKind::SyncPool));
        let event = self.of(StackName::Rust(ModelKind::EventLoop));
        for p in &PUBLISHED {
            // (cell text, value for the ratio) for one stack.
            let cell = |r: Option<&StackResult>| -> (String, Option<f64>) {
                let Some(r) = r else {
                    return (missing.clone(), None);
                };
                match p.row {
                    Row::SimpleJson => per_second(&r.simple),
                    Row::DbQuery => per_second(&r.db),
                    Row::Serialization => match &r.serialization {
                        Some(m) if m.report.requests == 0 => {
                            ("no answer in the window".into(), None)
                        }
                        Some(m) => {
                            let p50 = m.report.latency(0.5);
                            (format!("{} (p50)", human(p50)), Some(p50.as_secs_f64()))
                        }
                        None => ("not measured (no such endpoint)".into(), None),
                    },
                    Row::Memory => match r.peak_memory() {
                        Some((rss, processes)) => (
                            format!("{:.0} MB ({processes} proc.)", rss as f64 / 1e6),
                            Some(rss as f64),
                        ),
                        None => ("not measured (no /proc)".into(), None),
                    },
                    Row::Connections => match &r.connections {
                        None => ("not measured (--quick)".into(), None),
                        Some(m) => {
                            let p99 = if m.report.requests > 0 {
                                human(m.report.latency(0.99))
                            } else {
                                "-".into()
                            };
                            let held = self.plan.connections.unwrap_or(0);
                            (
                                format!(
                                    "{}: {}, p99 {p99}",
                                    lab::published::thousands(held as f64),
                                    if m.report.errors == 0 {
                                        "0 errors".to_string()
                                    } else {
                                        m.report.failures.summary()
                                    },
                                ),
                                None,
                            )
                        }
                    },
                    Row::Latency if r.simple.report.requests == 0 => {
                        ("no answer in the window".into(), None)
                    }
                    Row::Latency => {
                        let mean = Duration::from_secs_f64(r.simple.report.latency_us.mean() / 1e6);
                        (format!("{} (mean)", human(mean)), Some(mean.as_secs_f64()))
                    }
                }
            };
            let (fast_text, fast_value) = cell(fast);
            let (drf_text, drf_value) = cell(drf);
            // FastAPI's advantage, the post's way: more req/s, or less time and memory.
            let ratio = match (fast_value, drf_value, p.row) {
                (Some(f), Some(d), Row::SimpleJson | Row::DbQuery) if d > 0.0 => {
                    format!("{:.1}×", f / d)
                }
                (Some(f), Some(d), _) if f > 0.0 => format!("{:.1}×", d / f),
                _ => "-".into(),
            };
            let little = match p.row {
                Row::SimpleJson => self.in_flight(|r| &r.simple),
                Row::DbQuery => self.in_flight(|r| &r.db),
                Row::Latency => self.predicted_latency(),
                _ => "-".into(),
            };
            table.row([
                p.label.to_string(),
                p.fastapi.text(),
                p.drf.text(),
                p.ratio.to_string(),
                fast_text,
                drf_text,
                ratio,
                cell(pool).0,
                cell(event).0,
                little,
            ]);
        }
        table
    }

    /// Little's L on our runs: requests outstanding, averaged over the
    /// window by the load generator, for FastAPI and DRF (or the twins
    /// when Python did not run). tests/ch06_in_flight.rs reads this cell.
    fn in_flight(&self, row: impl Fn(&StackResult) -> &Measured) -> String {
        let shown: Vec<String> = self
            .compared()
            .map(|(stack, r)| format!("{} {:.0}", short(stack), row(r).in_flight()))
            .collect();
        format!(
            "mean in flight: {} of {}",
            shown.join(", "),
            self.plan.clients
        )
    }

    /// The latency a closed loop of `clients` must show at the simple row's
    /// throughput: W = L / λ.
    fn predicted_latency(&self) -> String {
        let shown: Vec<String> = self
            .compared()
            .map(|(stack, r)| {
                let w = lab::published::closed_loop_latency(
                    self.plan.clients as f64,
                    r.simple.per_second.max(1e-9),
                );
                format!("{} {}", short(stack), human(w))
            })
            .collect();
        format!("clients / λ: {}", shown.join(", "))
    }

    /// Every throughput row, for the model-vs-reality table.
    fn observed(&self, setup: &Setup) -> Vec<lab::predict::Observed> {
        let mut rows = Vec::new();
        for (stack, r) in &self.all {
            let launch = setup.launch_for(*stack);
            // The DB row's wait: the injected round trip (none on PostgreSQL).
            for (load, m, wait) in [
                ("simple JSON", &r.simple, Duration::ZERO),
                ("DB query", &r.db, launch.db_latency),
            ] {
                rows.push(lab::predict::Observed {
                    stack: *stack,
                    load: load.into(),
                    clients: self.plan.clients,
                    wait,
                    workers: launch.workers,
                    threads: launch.threads,
                    measured: m.clone(),
                });
            }
        }
        rows
    }

    /// FastAPI and DRF when they ran, else the two Rust twins.
    fn compared(&self) -> impl Iterator<Item = (StackName, &StackResult)> {
        let python = self.python_skipped.is_none();
        self.all
            .iter()
            .filter(move |(s, _)| matches!(s, StackName::Python(_)) == python)
            .map(|(s, r)| (*s, r))
    }

    /// One line per stack and load: everything measured.
    fn detail(&self) -> Table {
        let mut table = Table::new([
            "stack",
            "load",
            "clients",
            "req/s",
            "p50",
            "p99",
            "errors",
            "in flight",
            "RSS",
            "processes",
            "CPU/request",
        ]);
        for (stack, r) in &self.all {
            let loads = [
                ("simple JSON", Some(&r.simple), self.plan.clients),
                ("DB query", Some(&r.db), self.plan.clients),
                ("serialization", r.serialization.as_ref(), 1),
                (
                    "connections",
                    r.connections.as_ref(),
                    self.plan.connections.unwrap_or(0),
                ),
            ];
            for (load, m, clients) in loads {
                let Some(m) = m else { continue };
                let answered = m.report.requests > 0;
                let quantile = |q| {
                    if answered {
                        human(m.report.latency(q))
                    } else {
                        "-".into()
                    }
                };
                table.row([
                    stack.name(),
                    load.to_string(),
                    clients.to_string(),
                    format!("{:.0}", m.per_second),
                    quantile(0.5),
                    quantile(0.99),
                    m.report.failures.summary(),
                    format!("{:.0}", m.in_flight()),
                    m.rss_bytes
                        .map_or("-".into(), |b| format!("{:.0} MB", b as f64 / 1e6)),
                    m.processes.to_string(),
                    match m.cpu_per_request {
                        Some(cpu) if answered => human(cpu),
                        _ => "-".into(),
                    },
                ]);
            }
        }
        table
    }
}

/// Chapters 3 and 4's experiment on the real Python stacks: 100 clients on
/// `GET /wait?ms=50`, each stack against its Little's-law bound; each row
/// is also added to `observed`.
fn wait_table(setup: &Setup, observed: &mut Vec<lab::predict::Observed>) -> anyhow::Result<Table> {
    let (clients, wait) = (100, Duration::from_millis(50));
    let stacks = [
        (
            StackName::Python(Stack::FastapiAsync),
            1,
            "uvicorn, 1 worker",
        ),
        (
            StackName::Python(Stack::FastapiDef),
            1,
            "uvicorn, 1 worker, 40 threads",
        ),
        (
            StackName::Python(Stack::FastapiBlocked),
            1,
            "uvicorn, 1 worker",
        ),
        (StackName::Python(Stack::DjangoSync), 2, "gunicorn -w 2"),
        (
            StackName::Python(Stack::DjangoGthread),
            2,
            "gunicorn -w 2 --threads 16",
        ),
    ];
    let mut table = Table::new([
        "stack", "run as", "clients", "req/s", "bound", "of bound", "p50", "p99", "errors",
    ]);
    for (stack, workers, run_as) in stacks {
        let launch = Launch {
            workers,
            ..setup.launch_for(stack)
        };
        let mut server = lab::stacks::start(stack, &launch)?;
        // Cold Django workers answered nothing in a 5 s window once, on a
        // busy machine: warm them as `serve` does.
        warm_up(&server, "/wait?ms=0", workers)?;
        let path = format!("/wait?ms={}", wait.as_millis());
        let spec = LoadSpec::closed(&server.url(&path), clients, Duration::from_secs(5))?
            .with_warmup(Duration::from_secs(1))
            .with_request_timeout(Duration::from_secs(30));
        let m = measure(&server, &spec)?;
        server.stop()?;
        let bound = stack.bound(clients, wait, &launch);
        table.row([
            Cell::from(stack.name()),
            Cell::from(run_as.to_string()),
            Cell::from(clients),
            num(m.per_second, 0),
            num(bound, 0),
            ratio(m.per_second, bound),
            quantile(&m.report, 0.5),
            quantile(&m.report, 0.99),
            Cell::from(m.report.errors),
        ]);
        observed.push(lab::predict::Observed {
            stack,
            load: "wait 50 ms".into(),
            clients,
            wait,
            workers,
            threads: launch.threads,
            measured: m,
        });
    }
    Ok(table)
}

/// `12,345 req/s` and the number, for a throughput cell.
fn per_second(m: &Measured) -> (String, Option<f64>) {
    let text = format!("{} req/s", lab::published::thousands(m.per_second));
    (text, Some(m.per_second))
}

/// A stack's name in a narrow cell.
fn short(stack: StackName) -> String {
    match stack {
        StackName::Python(Stack::FastapiAsync) => "FastAPI".into(),
        StackName::Python(Stack::DjangoSync) => "DRF".into(),
        StackName::Python(_) => "other".into(),
        StackName::Rust(kind) => kind.name(),
    }
}

/// `serve --stack NAME`: one stack alone until Ctrl-C or SIGTERM. A Rust
/// twin serves in this process; a Python stack runs as a child process
/// group (stopped with it, also if this process is killed).
// ANCHOR: wrk_check
/// `wrk-check`: the four stacks of chapters 3 and 4 on `/wait?ms=50`, each
/// checked by an independent load generator (wrk, two threads, 100
/// connections) against its Little's-law bound.
const WRK_CHECKS: [(StackName, usize); 4] = [
    (StackName::Python(Stack::FastapiAsync), 1), // one loop: all 100 waits overlap → 2,000
    (StackName::Python(Stack::DjangoSync), 2),   // two sync workers → 2 / 50 ms = 40
    (StackName::Python(Stack::FastapiBlocked), 1), // time.sleep on the loop → 1 / 50 ms = 20
    (StackName::Python(Stack::FastapiDef), 1),   // AnyIO's 40 threads → 40 / 50 ms = 800
];
// ANCHOR_END: wrk_check

/// Runs [`WRK_CHECKS`] with `wrk` and prints one row per stack; fails when
/// a stack lands outside the tolerance (on a busy machine it may: the load
/// average is printed with the table).
fn wrk_check(args: &WrkCheckArgs) -> anyhow::Result<()> {
    print_banner("Chapter 6: wrk against the Python stacks on /wait?ms=50");
    let wrk = std::env::var_os("WRK").unwrap_or_else(|| "wrk".into());
    if std::process::Command::new(&wrk).arg("-v").output().is_err() {
        println!("skipped: no wrk on PATH (apt-get install wrk, or set WRK=/path/to/wrk)");
        return Ok(());
    }
    let venv = venv_or_skip(false).map_err(anyhow::Error::msg)?;
    let (clients, wait) = (100, Duration::from_millis(50));
    let load = |when: &str| match std::fs::read_to_string("/proc/loadavg") {
        Ok(text) => println!("load average {when}: {}", text.trim()),
        Err(_) => println!("load average {when}: unknown (no /proc/loadavg)"),
    };
    load("before");
    let mut table = Table::new([
        "stack",
        "workers",
        "bound",
        "wrk req/s",
        "of bound",
        "mean",
        "errors",
        "verdict",
    ]);
    let mut misses = 0;
    for (stack, workers) in WRK_CHECKS {
        let launch = Launch {
            workers,
            threads: 4,
            database: lab::python::target_dir()
                .join("ch06-wrk.sqlite")
                .display()
                .to_string(),
            db_latency: Duration::ZERO,
            venv: Some(venv.clone()),
            exe: std::env::current_exe()?,
        };
        let mut server = lab::stacks::start(stack, &launch)?;
        warm_up(&server, "/wait?ms=0", workers)?; // as `serve` does
        let url = server.url(&format!("/wait?ms={}", wait.as_millis()));
        let command = format!(
            "wrk -t2 -c{clients} -d{}s --timeout 10s '{url}'",
            args.seconds
        );
        eprintln!("{}: {command}", stack.name());
        let out = std::process::Command::new(&wrk)
            .args([
                "-t2",
                &format!("-c{clients}"),
                &format!("-d{}s", args.seconds),
            ])
            .args(["--timeout", "10s", &url])
            .output()?;
        server.stop()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = lab::wrk::Summary::parse(&text)
            .with_context(|| format!("reading wrk's output:\n{text}"))?;
        let bound = stack.bound(clients, wait, &launch);
        let off = (summary.per_second / bound - 1.0) * 100.0;
        let within = off.abs() <= args.tolerance;
        misses += usize::from(!within);
        table.row([
            Cell::from(stack.name()),
            Cell::from(workers),
            num(bound, 0),
            num(summary.per_second, 0),
            ratio(summary.per_second, bound),
            Cell::from(summary.mean_latency.clone()),
            Cell::from(summary.errors),
            Cell::from(if within {
                format!("within ±{:.0} %", args.tolerance)
            } else {
                format!("MISS ({off:+.0} %)")
            }),
        ]);
    }
    print!("{}", table.render());
    println!(
        "(wrk -t2 -c{clients} -d{}s --timeout 10s on /wait?ms=50, each stack alone on 127.0.0.1.",
        args.seconds
    );
    println!(" bound: Little's law, requests that can wait at once / 50 ms. errors: wrk's socket");
    println!(" errors + non-2xx answers.)");
    load("after");
    anyhow::ensure!(
        misses == 0,
        "{misses} of {} stacks outside ±{} % of their bound",
        WRK_CHECKS.len(),
        args.tolerance
    );
    Ok(())
}
