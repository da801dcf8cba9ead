//! Chapter 4 — ASGI: the same API on event loops. One loop (uvicorn), a
//! work-stealing pool of loops, one loop per worker (gunicorn + uvicorn
//! workers), the blocked loop (`async def` + `time.sleep`) and its fix
//! (`spawn_blocking`, FastAPI's threadpool for `def`), each under 100 and
//! 1,000 clients waiting 50 ms, against Little's law. Then what an idle
//! keep-alive connection costs an event loop (server in a child process,
//! its RSS read from /proc) beside what a parked thread costs.
//!
//! Run it:   cargo run --release --example ch04_asgi            (about 65 s)
//!           cargo run --release --example ch04_asgi -- --quick (about 17 s)
//! One server alone, for curl or wrk (Ctrl-C or SIGTERM stops it):
//!           cargo run --release --example ch04_asgi -- serve --model event-loop --port 8000
//!
//! Leaves out: CPU-bound endpoints (see the chapter) and processes.

use std::time::Duration;

use clap::Parser;
use lab::api::Model;
use lab::api::experiment::{
    ChapterArgs, ChapterCommand, MemoryCost, Schedule, idle_connection_cost, outcome_table,
    parked_thread_cost, raise_fd_limit,
};
use lab::report::{Table, print_banner};
use lab::wait::{Timer, timer_overshoot};

#[derive(Parser)]
#[command(about = "Chapter 4: event loops (ASGI) against Little's law")]
struct Cli {
    #[command(flatten)]
    args: ChapterArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse().args;
    if let Some(ChapterCommand::Serve(args)) = &cli.command {
        return args.run();
    }
    print_banner("Chapter 4: event loops (ASGI) against Little's law");
    let fd_limit = raise_fd_limit();
    let (warmup, duration, idle) = if cli.quick {
        (
            Duration::from_millis(250),
            Duration::from_millis(700),
            1_000,
        )
    } else {
        (Duration::from_secs(1), Duration::from_secs(4), 10_000)
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
    let event_loop = idle_connection_cost(&exe, Model::EventLoop, idle)?;
    table.row(event_loop.row("idle connection, event-loop (axum)"));
    let per_worker = idle_connection_cost(&exe, Model::LoopPerWorker { workers: 2 }, idle)?;
    table.row(per_worker.row("idle connection, loop-per-worker (actix)"));
    let threads = parked_thread_cost(1_000)?;
    table.row(threads.row("parked OS thread (2 MiB stack reserved)"));
    print!("{table}");
    println!("(connections: the server's RSS, measured in a child process; threads: this process)");
    println!(
        "(server stopped {} after SIGTERM)",
        lab::report::human(event_loop.stop_took.unwrap_or_default())
    );
    Ok(())
}
