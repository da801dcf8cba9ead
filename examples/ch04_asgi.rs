//! Chapter 4 — ASGI: the same API on event loops. One loop (uvicorn), a
//! work-stealing pool of loops, one loop per worker (gunicorn + uvicorn
//! workers), the blocked loop (`async def` + `time.sleep`) and its fix
//! (`spawn_blocking`, FastAPI's threadpool for `def`), each under 100 and
//! 1,000 clients waiting 50 ms, against Little's law. Then what an idle
//! keep-alive connection costs an event loop (server in a child process,
//! its RSS read from /proc) beside what a parked thread costs. With
//! `--overload`, the load-shedding figure instead: open-loop arrivals at
//! twice spawn-blocking's capacity against `--limit-concurrency`, then at
//! twice the sync pool's and the blocked loop's, which cannot shed.
//!
//! Run it:   cargo run --release --example ch04_asgi            (about 50 s)
//!           cargo run --release --example ch04_asgi -- --quick (about 12 s)
//!           cargo run --release --example ch04_asgi -- --overload  (about 2 min; --quick: 20 s)
//! One server alone, for curl or wrk (Ctrl-C or SIGTERM stops it):
//!           cargo run --release --example ch04_asgi -- serve --model event-loop --port 8000
//!
//! Leaves out: CPU-bound endpoints (see the chapter) and processes.

use std::time::Duration;

use clap::Parser;
use lab::api::Model;
use lab::api::experiment::{
    ChapterArgs, ChapterCommand, MemoryCost, OverloadPlan, Schedule, idle_connection_cost,
    outcome_table, overload_table, parked_thread_cost, raise_fd_limit, recovered_after,
    run_overload,
};
use lab::report::{Table, print_banner};
use lab::wait::{Timer, timer_overshoot};

#[derive(Parser)]
#[command(about = "Chapter 4: event loops (ASGI) against Little's law")]
struct Cli {
    #[command(flatten)]
    args: ChapterArgs,
    /// Only the overload experiment: twice a model's capacity, open loop,
    /// against a concurrency limit that answers 503.
    #[arg(long)]
    overload: bool,
}

fn main() -> anyhow::Result<()> {
    let Cli {
        args: cli,
        overload,
    } = Cli::parse();
    if let Some(ChapterCommand::Serve(args)) = &cli.command {
        return args.run();
    }
    if overload {
        return overload_figure(&cli);
    }
    print_banner("Chapter 4: event loops (ASGI) against Little's law");
    let fd_limit = raise_fd_limit();
    // Quick: enough for every queue to fill (W = 50 ms; 1,000 connections
    // open in well under the warm-up) and a few hundred answers per row.
    let (warmup, duration, idle, held) = if cli.quick {
        (
            Duration::from_millis(200),
            Duration::from_millis(500),
            1_000,
            200,
        )
    } else {
        (
            Duration::from_millis(750),
            Duration::from_secs(3),
            10_000,
            1_000,
        )
    };
    let wait = Duration::from_millis(cli.wait_ms);
    // ANCHOR: models
    let models = [
        Model::EventLoop,                    // uvicorn, one worker
        Model::WorkStealing { threads: 2 },  // tokio multi-thread
        Model::LoopPerWorker { workers: 2 }, // uvicorn --workers 2
        Model::BlockedLoop,                  // async def + time.sleep
        Model::SpawnBlocking { pool: 40 },   // def endpoint, 40-thread pool
    ];
    // ANCHOR_END: models
    let schedule = Schedule {
        wait,
        warmup,
        duration,
    };
    let trials = [100, 1_000]
        .into_iter()
        .flat_map(|clients| models.map(|model| (model, clients)));
    let outcomes = schedule.run_all(trials)?;
    println!("{}", schedule.describe());
    println!("bound = Little's law: (requests that can wait at once) / wait.\n");
    print!("{}", outcome_table(&outcomes));

    let (tasks, rounds) = (100, if cli.quick { 2 } else { 6 });
    println!(
        "\nThe simulated wait's timer: {tasks} tasks on one loop, each waiting {} ms {rounds} times.",
        wait.as_millis()
    );
    let mut timers = Table::new(["timer", "mean time past the deadline"]);
    for (name, timer) in [
        ("tokio::time::sleep", Timer::Tokio),
        ("async_io::Timer (the lab's simulated_wait)", Timer::AsyncIo),
    ] {
        let late = timer_overshoot(timer, tasks, rounds, wait)?;
        timers.row([name.to_string(), lab::report::human(late)]);
    }
    print!("{timers}");

    println!("\nIdle keep-alive connections: what each one costs.");
    match &fd_limit {
        Ok(n) => println!("(open-file limit raised to {n})"),
        Err(why) => println!("(could not raise the open-file limit: {why})"),
    }
    let exe = std::env::current_exe()?;
    let mut table = Table::new(MemoryCost::HEADER);
    eprintln!("idle connections: {idle} on each event loop, {held} holding a thread each");
    let event_loop = idle_connection_cost(&exe, Model::EventLoop, idle)?;
    table.row(event_loop.row("idle connection, event-loop (axum)"));
    let per_worker = idle_connection_cost(&exe, Model::LoopPerWorker { workers: 2 }, idle)?;
    table.row(per_worker.row("idle connection, loop-per-worker (actix)"));
    // The thread each connection holds is tiny_http's, not one of rouille's
    // k handler threads (those run a request, then come free): chapter 3's
    // k = 32 serves them all. The connections are opened one at a time.
    let rouille = Model::Rouille { threads: 32 };
    let holding = idle_connection_cost(&exe, rouille, held)?;
    table.row(holding.row("idle connection holding a thread (rouille)"));
    let threads = parked_thread_cost(held)?;
    table.row(threads.row("parked OS thread (2 MiB stack reserved)"));
    print!("{table}");
    println!(
        "(connections: the server's RSS and threads, measured in a child process; parked threads:\n this process; kernel stack: machine-wide, from /proc/meminfo)"
    );
    println!(
        "(server stopped {} after SIGTERM)",
        lab::report::human(event_loop.stop_took.unwrap_or_default())
    );
    Ok(())
}

/// The load-shedding figure: spawn-blocking (FastAPI's `def` endpoints) with
/// a limit of twice its pool, before, during and after twice its capacity;
/// then the two models that cannot shed, driven the same way.
fn overload_figure(cli: &ChapterArgs) -> anyhow::Result<()> {
    print_banner("Chapter 4: overload, shed with a concurrency limit");
    let _ = raise_fd_limit();
    let quick = cli.quick;
    // ANCHOR: overload_plan
    let plan = OverloadPlan {
        model: Model::SpawnBlocking { pool: 40 }, // FastAPI def, 40 threads
        limit: Some(80), // uvicorn --limit-concurrency 80: 40 running, 40 waiting
        wait: Duration::from_millis(cli.wait_ms),
        before: Duration::from_secs(if quick { 1 } else { 2 }),
        overload: Duration::from_secs(if quick { 3 } else { 30 }),
        window: Duration::from_millis(500),
        windows: if quick { 4 } else { 6 },
        connections: 400,
    };
    // ANCHOR_END: overload_plan
    let capacity = plan.capacity();
    anyhow::ensure!(
        capacity * lab::api::experiment::overload::OVERLOAD <= 5_000.0,
        "twice the capacity ({capacity:.0} req/s) is beyond the load generator's reach \
         on a small machine: use --wait-ms 16 or more"
    );
    println!(
        "Open loop on up to {} connections: half of capacity, then twice it, then half again,\nmeasured in {} s windows (each phase on fresh connections).",
        plan.connections,
        plan.window.as_secs_f64()
    );
    overload_run(&plan)?;
    // No limit to shed with: the sync pool's queue is the listen backlog
    // (sync-pool takes no --limit-concurrency), and a blocked loop has one
    // request inside at a time, so a limit would never be reached. The
    // same 30 s at twice capacity: their queue grows all along.
    let cannot_shed = [Model::SyncPool { threads: 32 }, Model::BlockedLoop];
    for model in cannot_shed {
        overload_run(&OverloadPlan {
            model,
            limit: None,
            ..plan
        })?;
    }
    println!(
        "\n(failed: neither 2xx nor 503, or timed out, or broken off; unfinished: still in flight\n when the phase ended; RSS: the server's, from /proc; peak RSS: its high-water mark, VmHWM)"
    );
    Ok(())
}

/// One model's overload run: what it is, its table, and when it recovered.
fn overload_run(plan: &OverloadPlan) -> anyhow::Result<()> {
    let phases = run_overload(&std::env::current_exe()?, plan)?;
    let limit = match plan.limit {
        Some(limit) => format!("with --limit-concurrency {limit}"),
        None => "without a limit".into(),
    };
    println!(
        "\n{} {limit}: capacity {:.0} req/s (k / wait, {} ms waits); overload at twice it for {} s.\n",
        plan.model.label(),
        plan.capacity(),
        plan.wait.as_millis(),
        plan.overload.as_secs()
    );
    print!("{}", overload_table(&phases));
    let factor = lab::api::experiment::overload::RECOVERED;
    match recovered_after(&phases, plan.window) {
        Some(after) => println!(
            "p99 back within {factor}x of the p99 before: in the window starting {} after the overload.",
            lab::report::human(after)
        ),
        None => println!("p99 not back within {factor}x of the p99 before in this run."),
    }
    Ok(())
}
