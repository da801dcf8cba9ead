//! Chapter 5: lifespan and request scope — startup, shutdown, per-request
//! resources, and no lost writes.
//!
//! Shows, for axum and for actix-web:
//! 1. the app-scope timeline: the pool, the schema and an expensive "model"
//!    are ready before the port opens, and released after the last request;
//! 2. request-scope timelines: when the pooled connection is acquired and
//!    released relative to the handler and the response, for a request that
//!    commits, one that rolls back, and a streaming response that releases
//!    the connection first or holds it until the stream ends;
//! 3. shutdown with requests in flight: slow writes and both kinds of
//!    stream finish before the pool closes;
//! 4. the counter-case: held connections starve the pool;
//! 5. the shutdown drill: a burst of `POST /users` against this program
//!    running as a separate `serve` process, SIGTERM mid-flight, then the
//!    counts: every 2xx is a row, every row had a 2xx;
//! 6. the other counter-case: a request longer than the shutdown deadline,
//!    and what each framework does with it.
//!
//! Run:   cargo run --release --example ch05_lifespan            (<= 60 s)
//!        cargo run --release --example ch05_lifespan -- --quick (<= 15 s)
//! Serve: cargo run --release --example ch05_lifespan -- serve --port 8000 --db users.sqlite
//!        (then `curl -d '{"email":"ann@example.com"}' localhost:8000/users`; Ctrl-C stops it)
//! Crash: cargo run --release --example ch05_lifespan -- crash-drill --runs 20
//!        (SIGKILL mid-burst at 20 kill points, restart, count: every 2xx must be a row;
//!        then the broken-on-purpose server that answers before it commits must lose some)
//!
//! The HTTP plumbing (starting the apps, calling them, the drills) lives in
//! `lab::lifespan` (`experiments`, `client`, `drill`, `serve`); this file
//! sets each section up and prints its tables.
//!
//! Leaves out: the sync (rouille) server; TLS; anything not on loopback.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use lab::lifespan::drill::{self, DrillSpec};
use lab::lifespan::experiments::{self, IN_FLIGHT, SCENARIOS, Scenario};
use lab::lifespan::serve::{ServeArgs, serve};
use lab::lifespan::{Config, Event, Framework};
use lab::progress::Progress;
use lab::report::{Cell, Table, human, print_banner};

#[derive(Parser)]
#[command(about = "Chapter 5: lifespan, request scope and graceful shutdown in axum and actix-web")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A shorter run (<= 15 s): a smaller model and a smaller drill.
    #[arg(long)]
    quick: bool,
    /// POST /users requests in each shutdown drill (default 2000; 1000 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=20_000))]
    drill_requests: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the app alone until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// SIGKILL the server mid-burst, restart it, and count: every 2xx must be a row.
    CrashDrill(CrashDrillArgs),
}

#[derive(Args)]
struct CrashDrillArgs {
    /// Crash drills against the honest server, kill points spread from 5% to 90% of the
    /// answers, frameworks taking turns.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    runs: u32,
    /// Then as many against the broken-on-purpose server, which must lose writes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=100))]
    broken_runs: u32,
    /// POST /users requests in each burst.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(100..=20_000))]
    requests: u32,
    /// A shorter run: at most 6 honest and 2 broken runs.
    #[arg(long)]
    quick: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Some(Command::Serve(args)) => {
            let code = runtime.block_on(serve(args)).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                2
            });
            drop(runtime);
            std::process::exit(code);
        }
        Some(Command::CrashDrill(args)) => runtime.block_on(crash_drills(args)),
        None => runtime.block_on(chapter(cli)),
    }
}

struct Sizes {
    model_entries: usize,
    drill_requests: usize,
}

/// The chapter, section by section.
async fn chapter(cli: Cli) -> anyhow::Result<()> {
    print_banner("Chapter 5: lifespan and request scope in axum and actix-web");
    let sizes = Sizes {
        model_entries: if cli.quick { 200_000 } else { 2_000_000 },
        drill_requests: cli
            .drill_requests
            .map_or(if cli.quick { 1_000 } else { 2_000 }, |n| n as usize),
    };
    let dbs = lab::db::TempDbs::new()?; // removed, with every file in it, on return
    let dir = dbs.dir();
    let bar = Progress::new("ch05", 5);
    // Counted as each step begins, so a log shows which one is running.
    let progress = |what: &str| {
        bar.set_message(what);
        bar.inc();
    };
    progress("app and request scope");
    timelines(&sizes, dir).await?;
    progress("shutdown with requests in flight");
    shutdown_in_flight(dir).await?;
    progress("pool starvation");
    starvation(dir).await?;
    progress("shutdown drills (separate processes)");
    drills(&sizes, dir).await?;
    progress("a request longer than the deadline");
    overrun(dir).await?;
    bar.finish();
    Ok(())
}

/// Two or more timelines side by side, one column pair per framework.
fn side_by_side(caption: &str, lines: &[&[Event]]) {
    println!("{caption}");
    let mut header = vec!["#".to_string()];
    for framework in Framework::ALL {
        header.extend([framework.name().to_string(), "at".to_string()]);
    }
    let mut table = Table::new(header);
    for i in 0..lines.iter().map(|l| l.len()).max().unwrap_or(0) {
        let mut row = vec![Cell::from(i + 1)];
        for line in lines {
            // The time's value (seconds) is what the chapter's timeline charts draw.
            let (step, at) = line.get(i).map_or((Cell::from(""), Cell::from("")), |e| {
                let ms = format!("{:.1} ms", e.at.as_secs_f64() * 1e3);
                (
                    Cell::from(e.step.to_string()),
                    Cell::measured(ms, e.at.as_secs_f64()),
                )
            });
            row.extend([step, at]);
        }
        table.row(row);
    }
    println!("{table}");
}

/// Each request's status per framework, then its timeline (times `since`).
fn per_request(what: &str, since: &str, scenarios: &[Scenario], runs: [&[(u16, Vec<Event>)]; 2]) {
    let mut statuses = Table::new([what, "axum", "actix-web"]);
    for (i, s) in scenarios.iter().enumerate() {
        statuses.row([
            s.title.to_string(),
            runs[0][i].0.to_string(),
            runs[1][i].0.to_string(),
        ]);
    }
    println!("{statuses}");
    for (i, s) in scenarios.iter().enumerate() {
        side_by_side(
            &format!("{} (times {since})", s.title),
            &[&runs[0][i].1, &runs[1][i].1],
        );
    }
}

async fn timelines(sizes: &Sizes, dir: &Path) -> anyhow::Result<()> {
    let mut runs = Vec::new();
    for framework in Framework::ALL {
        let mut config = Config::new(dir.join(format!("timeline-{}.sqlite", framework.name())));
        config.model_entries = sizes.model_entries;
        config.chunk_delay = Duration::from_millis(30);
        config.page_size = 2;
        let run = experiments::timelines(framework, config).await?;
        anyhow::ensure!(
            run.shutdown.exit_code() == 0,
            "unclean shutdown: {:?}",
            run.shutdown
        );
        runs.push(run);
    }
    let [axum, actix] = &runs[..] else {
        unreachable!()
    };
    println!("## App scope: startup before the port opens, shutdown after the last request\n");
    side_by_side(
        "(times since the recorder was made)",
        &[&axum.app, &actix.app],
    );

    println!("## Request scope: the order of events, per request\n");
    let requests = [&axum.requests[..], &actix.requests[..]];
    per_request("request", "since `received`", &SCENARIOS, requests);
    let mut rows = Table::new(["rows in users after the requests", "axum", "actix-web"]);
    rows.row([
        "5 seeded + fay; gus rolled back".to_string(),
        axum.rows.to_string(),
        actix.rows.to_string(),
    ]);
    println!("{rows}");
    Ok(())
}

/// Shutdown begins while two slow writes and two streams are running: all
/// four finish, and only then is the pool closed.
async fn shutdown_in_flight(dir: &Path) -> anyhow::Result<()> {
    println!("## Shutdown with requests in flight: they finish, then the pool closes\n");
    println!(
        "(two POST /users that wait 300 ms before writing, and two exports of the 6 seeded \
         rows and any stored meanwhile, one row per chunk every 60 ms; shutdown begins once \
         all four handlers have started)\n"
    );
    let mut runs = Vec::new();
    for framework in Framework::ALL {
        let mut config = Config::new(dir.join(format!("in-flight-{}.sqlite", framework.name())));
        config.model_entries = 1_000;
        config.work = Duration::from_millis(300);
        config.page_size = 1;
        config.chunk_delay = Duration::from_millis(60);
        let run = experiments::shutdown_in_flight(framework, config, 6).await?;
        anyhow::ensure!(
            run.shutdown.exit_code() == 0 && run.shutdown.in_flight == IN_FLIGHT.len(),
            "{}: {:?}",
            framework.name(),
            run.shutdown
        );
        runs.push(run);
    }
    let [axum, actix] = &runs[..] else {
        unreachable!()
    };
    let caption = "shutdown of the app (times since the first request was received)";
    side_by_side(caption, &[&axum.app, &actix.app]);
    let requests = [&axum.requests[..], &actix.requests[..]];
    let since = "since the first request was received";
    per_request("request in flight at shutdown", since, &IN_FLIGHT, requests);
    Ok(())
}

/// The counter-case: two held streams take both pool connections, and a
/// POST has to wait for one (then times out: 503) — unless the streams let
/// go of their connections before streaming.
async fn starvation(dir: &Path) -> anyhow::Result<()> {
    println!("## Counter-case: holding the connection while streaming starves the pool\n");
    println!("(pool of 2, acquire timeout 300 ms; two slow exports, then one POST /users)\n");
    let mut table = Table::new(["server", "export mode", "POST status", "POST took"]);
    for framework in Framework::ALL {
        for hold in [false, true] {
            let db = dir.join(format!("starve-{}-{hold}.sqlite", framework.name()));
            let mut config = Config::new(db);
            config.model_entries = 1_000;
            config.pool_size = 2;
            config.acquire_timeout = Duration::from_millis(300);
            config.page_size = 1;
            config.chunk_delay = Duration::from_millis(100);
            let post = experiments::starvation(framework, config, hold).await?;
            let mode = if hold {
                "hold until the end"
            } else {
                "release, then stream"
            };
            table.row([
                framework.name(),
                mode,
                &post.status.to_string(),
                &human(post.took),
            ]);
        }
    }
    println!("{table}");
    Ok(())
}

async fn drills(sizes: &Sizes, dir: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let spec = DrillSpec::new(sizes.drill_requests);
    println!("## Shutdown drill: SIGTERM while POST /users requests are in flight\n");
    println!(
        "({} requests with distinct emails, sent at {} per second to `ch05_lifespan serve` \
         in its own process; SIGTERM after {} answers or half the requests sent)\n",
        spec.requests, spec.rate, spec.term_after
    );
    let args: Vec<String> = [
        "--model-entries",
        "100000",
        "--work-ms",
        "5",
        "--pool-size",
        "8",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut table = Table::new(["count", "axum", "actix-web"]);
    let mut reports = Vec::new();
    for framework in Framework::ALL {
        let db = dir.join(format!("drill-{}.sqlite", framework.name()));
        reports.push(drill::run(&exe, framework, &db, &args, &spec).await?);
    }
    type Cell = fn(&drill::DrillReport) -> String;
    let rows: [(&str, Cell); 13] = [
        ("requests sent", |r| r.sent.to_string()),
        ("in flight at SIGTERM", |r| r.in_flight_at_term.to_string()),
        ("answered 2xx", |r| r.accepted.to_string()),
        ("answered 503", |r| r.unavailable.to_string()),
        ("answered other status", |r| r.other_status.to_string()),
        ("refused (connect failed)", |r| r.refused.to_string()),
        ("dropped (no response)", |r| r.dropped.to_string()),
        ("timed out", |r| r.timed_out.to_string()),
        ("rows in the database", |r| r.rows.to_string()),
        ("2xx without a row (lost)", |r| r.lost.to_string()),
        ("rows without a 2xx (phantom)", |r| r.phantom.to_string()),
        ("exit status", |r| {
            r.exit_code.map_or("killed".into(), |c| c.to_string())
        }),
        ("exited after SIGTERM", |r| human(r.exit_after_term)),
    ];
    for (name, cell) in rows {
        table.row([name.to_string(), cell(&reports[0]), cell(&reports[1])]);
    }
    println!("{table}");
    println!("The axum server's log (stderr), as an operator sees it:\n");
    for line in reports[0].log.lines() {
        println!("    {line}");
    }
    println!();
    for (framework, r) in Framework::ALL.iter().zip(&reports) {
        anyhow::ensure!(
            r.lost == 0 && r.phantom == 0 && r.exit_code == Some(0) && r.log_says_pool_closed,
            "{} drill failed: {r:?}",
            framework.name()
        );
    }
    Ok(())
}

/// The broken variant's pause between its 201 and its write: long enough
/// that a kill almost always falls inside it for some request.
const BROKEN_ACK_DELAY: Duration = Duration::from_millis(200);

/// `crash-drill`: SIGKILL mid-burst, restart, count — honest runs first,
/// then the broken-on-purpose variant, one table row per run.
async fn crash_drills(args: CrashDrillArgs) -> anyhow::Result<()> {
    print_banner("Chapter 5: the crash drill (SIGKILL mid-burst, restart, count)");
    let exe = std::env::current_exe()?;
    let dbs = lab::db::TempDbs::new()?;
    let requests = args.requests as usize;
    let (runs, broken_runs) = if args.quick {
        (args.runs.min(6), args.broken_runs.min(2))
    } else {
        (args.runs, args.broken_runs)
    };
    let server_args: Vec<String> = ["--model-entries", "20000", "--work-ms", "5"]
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "({requests} POST /users per run, sent at {} per second to `ch05_lifespan serve` in its \
         own process; SIGKILL after the given number of answers; then the same file is \
         reopened by a fresh server, which must store one more row and exit 0)\n",
        DrillSpec::new(requests).rate
    );
    let mut table = Table::new([
        "run",
        "server",
        "variant",
        "killed after",
        "in flight",
        "answered 2xx",
        "2xx rows present",
        "2xx rows missing",
        "rows without a 2xx",
        "integrity_check",
        "restart",
        "took",
    ]);
    let plan = drill::crash_plan(
        requests,
        runs as usize,
        broken_runs as usize,
        BROKEN_ACK_DELAY,
    );
    let (total, all_started) = (plan.len(), Instant::now());
    let (mut honest_missing, mut broken_missing, mut failures) = (0, 0, Vec::new());
    for (run, (framework, spec)) in plan.into_iter().enumerate() {
        eprintln!(
            "crash drill: run {}/{total} ({:.1} s)",
            run + 1,
            all_started.elapsed().as_secs_f64()
        );
        let db = dbs.path(&format!("crash-{run}"));
        let started = Instant::now();
        let r = drill::run_crash(&exe, framework, &db, &server_args, &spec).await?;
        let c = &r.counts;
        let broken = spec.broken_ack_before_commit.is_some();
        let variant = if broken {
            "broken: 201 before commit"
        } else {
            "commit, then 201"
        };
        table.row([
            (run + 1).to_string(),
            framework.name().to_string(),
            variant.to_string(),
            r.killed_after.to_string(),
            r.in_flight_at_kill.to_string(),
            c.accepted.to_string(),
            (c.accepted - c.lost).to_string(),
            c.lost.to_string(),
            c.phantom.to_string(),
            r.integrity.clone(),
            if r.restarted_cleanly { "ok" } else { "FAILED" }.to_string(),
            human(started.elapsed()),
        ]);
        if broken {
            broken_missing += c.lost;
        } else {
            honest_missing += c.lost;
        }
        failures.extend(
            r.failure(&spec)
                .map(|why| format!("run {}: {why}", run + 1)),
        );
    }
    println!("{table}");
    println!(
        "honest server: {honest_missing} acknowledged writes missing in {runs} runs; \
         broken-on-purpose server: {broken_missing} missing in {broken_runs} runs\n"
    );
    anyhow::ensure!(
        failures.is_empty(),
        "crash drill failed:\n{}",
        failures.join("\n")
    );
    anyhow::ensure!(
        broken_runs == 0 || broken_missing > 0,
        "the broken-on-purpose server lost nothing: the drill cannot tell it from the honest one"
    );
    Ok(())
}

/// The other counter-case: a request that needs longer than the shutdown
/// deadline. What "cut off" means is up to the framework.
async fn overrun(dir: &Path) -> anyhow::Result<()> {
    println!("## Counter-case: a request longer than the shutdown deadline\n");
    println!("(one POST /users that waits 2.5 s before writing; shutdown deadline 1 s)\n");
    let mut table = Table::new([
        "server",
        "shutdown took",
        "exit status",
        "the client got",
        "rows stored",
    ]);
    for framework in Framework::ALL {
        let db = dir.join(format!("overrun-{}.sqlite", framework.name()));
        let (work, deadline) = (Duration::from_millis(2_500), Duration::from_secs(1));
        let o = drill::overrun(framework, &db, work, deadline).await?;
        let answer = match o.answer {
            Ok(status) => reqwest::StatusCode::from_u16(status)?.to_string(),
            Err(why) => why.to_string(),
        };
        table.row([
            framework.name().to_string(),
            human(o.report.took),
            o.report.exit_code().to_string(),
            answer,
            o.rows.to_string(),
        ]);
    }
    println!("{table}");
    Ok(())
}
