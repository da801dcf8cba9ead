//! Benchmark (not a test): how close each event-loop model gets to its
//! Little's-law bound at 1,000 clients (50 ms waits, bound 20,000 req/s) and
//! at 10,000 connections (1 s waits, bound 10,000 req/s), and what an idle
//! keep-alive connection costs the server (goal: at most 16 KiB).
//!
//! Run it:   cargo bench --bench event_loops
//! Goals: >= 95 % of the bound at 1,000 clients, >= 90 % at 10,000
//! connections. The server runs in a child process (`serve`), so the client's
//! 10,000 sockets and the server's do not share one open-file limit. The load
//! generator shares the machine with the server, so on 2 cores the CPU, not
//! the model, is often what stops it; the table says which goals were met
//! rather than failing. Leaves out the sync models.

use std::time::Duration;

use clap::Parser as _;
use lab::api::Model;
use lab::api::experiment::{
    MemoryCost, ServeArgs, Trial, idle_connection_cost, outcome_table, raise_fd_limit,
    run_trial_in_child,
};
use lab::report::{Table, print_banner};

/// `serve ...` makes this binary the child server of the memory measurement.
#[derive(clap::Parser)]
enum Child {
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let Child::Serve(args) = Child::parse();
        return args.run();
    }
    print_banner("Event loops against their bound (benchmark)");
    // The clients' sockets count against this process's open-file limit (the
    // server is a child process with its own).
    let fd_limit = match raise_fd_limit() {
        Ok(n) => n,
        Err(why) => {
            println!("could not raise the open-file limit: {why}");
            1024
        }
    };
    let most_clients = fd_limit.saturating_sub(100).min(10_000) as usize;
    println!("open-file limit: {fd_limit}, so at most {most_clients} connections");
    let exe = std::env::current_exe()?;
    let models = [
        Model::EventLoop,
        Model::WorkStealing { threads: 2 },
        Model::LoopPerWorker { workers: 2 },
    ];
    let runs = [
        (1_000, Duration::from_millis(50), 0.95),
        (most_clients, Duration::from_secs(1), 0.90),
    ];
    let mut outcomes = Vec::new();
    let mut goals = Table::new(["model", "clients", "of bound", "goal", "met"]);
    for (clients, wait, goal) in runs {
        for model in models {
            let trial = Trial {
                model,
                clients,
                wait,
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(6),
            };
            let outcome = run_trial_in_child(&exe, trial)?;
            goals.row([
                model.label(),
                clients.to_string(),
                format!("{:.1}%", 100.0 * outcome.fraction()),
                format!("{:.0}%", 100.0 * goal),
                if outcome.fraction() >= goal {
                    "yes"
                } else {
                    "no"
                }
                .to_string(),
            ]);
            outcomes.push(outcome);
        }
    }
    print!("{}", outcome_table(&outcomes));
    println!();
    print!("{goals}");
    let mut memory = Table::new(MemoryCost::HEADER);
    for model in ["event-loop", "loop-per-worker"] {
        let cost = idle_connection_cost(&exe, model, 10_000)?;
        let goal = if cost.rss_per_item() <= 16.0 * 1024.0 {
            "met"
        } else {
            "not met"
        };
        memory.row(cost.row(&format!(
            "{model}: idle connection (goal <= 16 KiB: {goal})"
        )));
    }
    println!();
    print!("{memory}");
    Ok(())
}
