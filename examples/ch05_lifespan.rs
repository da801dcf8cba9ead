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
//! 3. the counter-case: held connections starve the pool;
//! 4. the shutdown drill: a burst of `POST /users` against this program
//!    running as a separate `serve` process, SIGTERM mid-flight, then the
//!    counts: every 2xx is a row, every row had a 2xx;
//! 5. the other counter-case: a request longer than the shutdown deadline,
//!    and what each framework does with it.
//!
//! Run:   cargo run --release --example ch05_lifespan            (<= 60 s)
//!        cargo run --release --example ch05_lifespan -- --quick (<= 20 s)
//! Serve: cargo run --release --example ch05_lifespan -- serve --port 8000 --db users.sqlite
//!        (then `curl -d '{"email":"ann@example.com"}' localhost:8000/users`; Ctrl-C stops it)
//! Crash: cargo run --release --example ch05_lifespan -- crash-drill --runs 20
//!        (SIGKILL mid-burst at 20 kill points, restart, count: every 2xx must be a row;
//!        then the broken-on-purpose server that answers before it commits must lose some)
//!
//! Leaves out: the sync (rouille) server; TLS; anything not on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use lab::lifespan::drill::{self, DrillSpec};
use lab::lifespan::{Config, Echo, Framework, Recorder, Running};
use lab::report::{Cell, Table, human, print_banner};

#[derive(Parser)]
#[command(about = "Chapter 5: lifespan, request scope and graceful shutdown in axum and actix-web")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A shorter run (<= 20 s): a smaller model and a smaller drill.
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

#[derive(Args)]
struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the log says which).
    #[arg(long)]
    port: u16,
    /// The SQLite file holding the users table (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// Which framework serves the app.
    #[arg(long, value_enum, default_value = "axum")]
    server: Framework,
    /// Entries in the expensive startup table (the stand-in ML model).
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u32).range(1..=50_000_000))]
    model_entries: u32,
    /// Connections in the SQLite pool.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pool_size: u32,
    /// Simulated upstream wait in POST /users, in ms, before the write.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    work_ms: u64,
    /// Seconds shutdown waits for in-flight requests.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    deadline_secs: u64,
    /// Log every request's events too, not only the app's.
    #[arg(long)]
    verbose: bool,
    /// BROKEN ON PURPOSE, for the crash drill only: answer POST /users with 201 and
    /// write the row this many ms later (a lost write if the process dies between).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    broken_ack_before_commit_ms: Option<u64>,
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
        None => runtime.block_on(demo(cli)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let mut config = Config::new(&args.db);
    config.model_entries = args.model_entries as usize;
    config.pool_size = args.pool_size;
    config.work = Duration::from_millis(args.work_ms);
    config.shutdown_deadline = Duration::from_secs(args.deadline_secs);
    config.broken_ack_before_commit = args.broken_ack_before_commit_ms.map(Duration::from_millis);
    if let Some(ms) = args.broken_ack_before_commit_ms {
        eprintln!("BROKEN ON PURPOSE: answering POST /users {ms} ms before writing the row");
    }
    let recorder = Recorder::new(if args.verbose { Echo::All } else { Echo::App });
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    // A signal during startup stops it: nothing is listening yet.
    let running = tokio::select! {
        running = lab::lifespan::start(args.server, config, recorder, addr) => running?,
        signal = lab::lifespan::server::wait_for_signal() => {
            eprintln!("got {}: exiting before startup finished", signal?);
            return Ok(0);
        }
    };
    let report = running.serve_until_signal().await?;
    eprintln!("exiting with status {}", report.exit_code());
    Ok(report.exit_code())
}

struct Sizes {
    model_entries: usize,
    drill_requests: usize,
}

async fn demo(cli: Cli) -> anyhow::Result<()> {
    print_banner("Chapter 5: lifespan and request scope in axum and actix-web");
    let sizes = Sizes {
        model_entries: if cli.quick { 200_000 } else { 2_000_000 },
        drill_requests: cli
            .drill_requests
            .map_or(if cli.quick { 1_000 } else { 2_000 }, |n| n as usize),
    };
    let dbs = lab::db::TempDbs::new()?; // removed, with every file in it, on return
    run_all(&sizes, dbs.dir()).await
}

async fn run_all(sizes: &Sizes, dir: &Path) -> anyhow::Result<()> {
    timelines(sizes, dir).await?;
    starvation(dir).await?;
    drills(sizes, dir).await?;
    overrun(dir).await
}

fn config(db: PathBuf, sizes: &Sizes) -> Config {
    let mut config = Config::new(db);
    config.model_entries = sizes.model_entries;
    config.chunk_delay = Duration::from_millis(30);
    config.page_size = 2;
    config
}

/// One request's events, with times relative to its `received`.
fn request_events(recorder: &Recorder, id: u64) -> Vec<(String, Duration)> {
    let events: Vec<_> = recorder
        .events()
        .into_iter()
        .filter(|e| e.request == Some(id))
        .collect();
    let t0 = events.first().map_or(Duration::ZERO, |e| e.at);
    events
        .into_iter()
        .map(|e| (e.step.to_string(), e.at - t0))
        .collect()
}

fn app_events(recorder: &Recorder) -> Vec<(String, Duration)> {
    recorder
        .events()
        .into_iter()
        .filter(|e| e.request.is_none())
        .map(|e| (e.step.to_string(), e.at))
        .collect()
}

/// Two timelines side by side: axum's and actix-web's.
fn side_by_side(title: &str, axum: &[(String, Duration)], actix: &[(String, Duration)]) {
    println!("{title}");
    let mut table = Table::new(["#", "axum", "at", "actix-web", "at"]);
    for i in 0..axum.len().max(actix.len()) {
        // The time's value (seconds) is what the chapter's timeline chart draws.
        let cell = |t: &[(String, Duration)]| {
            t.get(i)
                .map_or((Cell::from(""), Cell::from("")), |(s, at)| {
                    let ms = format!("{:.1} ms", at.as_secs_f64() * 1e3);
                    (Cell::from(s), Cell::measured(ms, at.as_secs_f64()))
                })
        };
        let (a, a_at) = cell(axum);
        let (b, b_at) = cell(actix);
        table.row([Cell::from(i + 1), a, a_at, b, b_at]);
    }
    println!("{table}");
}

struct Scenario {
    title: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<serde_json::Value>,
}

async fn send(
    client: &reqwest::Client,
    base: &Running,
    s: &Scenario,
) -> anyhow::Result<(u16, u64)> {
    let req = match s.method {
        "POST" => client.post(base.url(s.path)),
        _ => client.get(base.url(s.path)),
    };
    let req = match &s.body {
        Some(body) => req.json(body),
        None => req,
    };
    let res = req.send().await?;
    let status = res.status().as_u16();
    let id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    res.bytes().await?; // read the whole body, streamed or not
    Ok((status, id))
}

async fn timelines(sizes: &Sizes, dir: &Path) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut servers = Vec::new();
    for framework in Framework::ALL {
        let db = dir.join(format!("timeline-{}.sqlite", framework.name()));
        let server =
            lab::lifespan::start(framework, config(db, sizes), Recorder::default(), local).await?;
        let emails = ["ann", "bob", "cy", "di", "ed"].map(|name| format!("{name}@example.com"));
        seed_users(&client, &server.url("/users"), emails).await?;
        servers.push(server);
    }
    let scenarios = [
        Scenario {
            title: "POST /users (commits)",
            method: "POST",
            path: "/users",
            body: Some(serde_json::json!({ "email": "fay@example.com" })),
        },
        Scenario {
            title: "POST /users/batch with a duplicate (rolls back)",
            method: "POST",
            path: "/users/batch",
            body: Some(serde_json::json!({ "emails": ["gus@example.com", "ann@example.com"] })),
        },
        Scenario {
            title: "GET /users/export?hold=false (release, then stream)",
            method: "GET",
            path: "/users/export?hold=false",
            body: None,
        },
        Scenario {
            title: "GET /users/export?hold=true (hold until the stream ends)",
            method: "GET",
            path: "/users/export?hold=true",
            body: None,
        },
    ];
    let mut statuses = Table::new(["request", "axum", "actix-web"]);
    let mut request_tables = Vec::new();
    for s in &scenarios {
        let mut lines = Vec::new();
        let mut codes = Vec::new();
        for server in &servers {
            let (status, id) = send(&client, server, s).await?;
            server
                .recorder
                .wait_until_finished(id, Duration::from_secs(5))
                .await;
            lines.push(request_events(&server.recorder, id));
            codes.push(status.to_string());
        }
        statuses.row([s.title.to_string(), codes[0].clone(), codes[1].clone()]);
        request_tables.push((s.title, lines));
    }
    let mut rows = Table::new(["rows in users after the requests", "axum", "actix-web"]);
    let mut counts = Vec::new();
    for server in &servers {
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&server.pool)
            .await?;
        counts.push(n.0.to_string());
    }
    rows.row([
        "5 seeded + fay; gus rolled back".to_string(),
        counts[0].clone(),
        counts[1].clone(),
    ]);

    let mut app = Vec::new();
    for server in servers {
        let recorder = server.recorder.clone();
        let report = server.shutdown().await?;
        anyhow::ensure!(report.exit_code() == 0, "unclean shutdown: {report:?}");
        app.push(app_events(&recorder));
    }
    println!("## App scope: startup before the port opens, shutdown after the last request\n");
    side_by_side("(times since the recorder was made)", &app[0], &app[1]);
    println!("## Request scope: the order of events, per request\n");
    println!("{statuses}");
    for (title, lines) in request_tables {
        side_by_side(
            &format!("{title} (times since `received`)"),
            &lines[0],
            &lines[1],
        );
    }
    println!("{rows}");
    Ok(())
}

/// The counter-case: two held streams take both pool connections, and a
/// POST has to wait for one (then times out: 503) — unless the streams let
/// go of their connections before streaming.
async fn starvation(dir: &Path) -> anyhow::Result<()> {
    println!("## Counter-case: holding the connection while streaming starves the pool\n");
    println!("(pool of 2, acquire timeout 300 ms; two slow exports, then one POST /users)\n");
    let client = reqwest::Client::new();
    let mut table = Table::new(["server", "export mode", "POST status", "POST took"]);
    for framework in Framework::ALL {
        for hold in [false, true] {
            let db = dir.join(format!("starve-{}-{hold}.sqlite", framework.name()));
            let mut cfg = Config::new(db);
            cfg.model_entries = 1_000;
            cfg.pool_size = 2;
            cfg.acquire_timeout = Duration::from_millis(300);
            cfg.page_size = 1;
            cfg.chunk_delay = Duration::from_millis(100);
            let local = SocketAddr::from(([127, 0, 0, 1], 0));
            let server = lab::lifespan::start(framework, cfg, Recorder::default(), local).await?;
            let emails = (0..8).map(|i| format!("seed{i}@example.com"));
            seed_users(&client, &server.url("/users"), emails).await?;
            let url = server.url(&format!("/users/export?hold={hold}"));
            let exports: Vec<_> = (0..2)
                .map(|_| {
                    let (client, url) = (client.clone(), url.clone());
                    tokio::spawn(async move { client.get(url).send().await?.bytes().await })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(150)).await; // both streams are going
            let started = Instant::now();
            let body = serde_json::json!({ "email": "late@example.com" });
            let status = client
                .post(server.url("/users"))
                .json(&body)
                .send()
                .await?
                .status();
            let took = started.elapsed();
            for export in exports {
                export.await??;
            }
            let mode = if hold {
                "hold until the end"
            } else {
                "release, then stream"
            };
            table.row([framework.name(), mode, status.as_str(), &human(took)]);
            server.shutdown().await?;
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
    let variants = std::iter::repeat_n(None, runs as usize)
        .zip(drill::kill_points(requests, runs as usize))
        .chain(
            std::iter::repeat_n(Some(BROKEN_ACK_DELAY), broken_runs as usize)
                .zip(drill::kill_points(requests, broken_runs as usize)),
        );
    let (mut honest_missing, mut broken_missing, mut failures) = (0, 0, Vec::new());
    for (run, (broken, kill_after)) in variants.enumerate() {
        let framework = Framework::ALL[run % 2];
        let spec = drill::CrashSpec {
            burst: DrillSpec::new(requests),
            kill_after,
            broken_ack_before_commit: broken,
        };
        let db = dbs.path(&format!("crash-{run}"));
        let started = Instant::now();
        let r = drill::run_crash(&exe, framework, &db, &server_args, &spec).await?;
        let c = &r.counts;
        let variant = if broken.is_some() {
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
        if broken.is_some() {
            broken_missing += c.lost;
        } else {
            honest_missing += c.lost;
        }
        if r.integrity != "ok" || !r.restarted_cleanly || (broken.is_none() && c.lost > 0) {
            failures.push(format!("run {}: {r:?}", run + 1));
        }
    }
    println!("{table}");
    println!(
        "honest server: {honest_missing} acknowledged writes missing in {} runs; \
         broken-on-purpose server: {broken_missing} missing in {broken_runs} runs\n",
        runs
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

/// Stores one user per email through the API, failing on any non-2xx answer.
async fn seed_users(
    client: &reqwest::Client,
    url: &str,
    emails: impl IntoIterator<Item = String>,
) -> anyhow::Result<()> {
    for email in emails {
        client
            .post(url)
            .json(&serde_json::json!({ "email": email }))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}
