//! Benchmark (not a test): how close each event-loop model gets to its
//! Little's-law bound at 1,000 clients (50 ms waits, bound 20,000 req/s) and
//! at 10,000 connections (1 s waits, bound 10,000 req/s), and what an idle
//! keep-alive connection costs the server (issue 17 asks for at most 4 KiB;
//! hyper and actix-web allocate 16 KiB of buffers per connection that no
//! setting lowers, so the line says which of the two it is under, and
//! chapter 4's "What a waiting request costs" explains the floor).
//!
//! Run it:   cargo bench --bench event_loops
//! Goals: >= 95 % of the bound at 1,000 clients, >= 90 % at 10,000
//! connections. The server runs in a child process (`serve`), so the client's
//! 10,000 sockets and the server's do not share one open-file limit. The load
//! generator shares the machine with the server, so on 2 cores the CPU, not
//! the model, is often what stops it, and anything else running on the
//! machine shows up as a lower fraction. So each model runs `ROUNDS` times,
//! the models taking turns (a noisy minute hits all of them alike), and a
//! goal is judged on the median round; the best round is shown beside it.
//! Throughput here is the sum of each connection's rate between its first and
//! last answer in the window (`LoadReport::cycle_rate`), so no round can pass
//! the bound by how the window falls on the waits.
//! It prints PASS or FAIL per model and goal, and exits with an error when a
//! goal failed, so it can guard the models against a slowdown. Leaves out
//! the sync models.

use std::time::Duration;

use clap::Parser as _;
use lab::api::Model;
use lab::api::experiment::{
    MemoryCost, Outcome, ServeArgs, Trial, idle_connection_cost, outcome_table, raise_fd_limit,
    run_trial_in_child,
};
use lab::report::{Table, human, percent, print_banner};

/// Rounds per model and size; the median one is judged against the goal.
const ROUNDS: usize = 3;
/// Issue 17's goal for an idle keep-alive connection's server RSS, bytes.
const IDLE_GOAL: f64 = 4.0 * 1024.0;
/// What hyper (8 KiB read + 8 KiB head buffer) and actix-web (8 KiB read +
/// 8 KiB write) allocate per connection, none of it a setting: the floor.
const LIBRARY_FLOOR: f64 = 16.0 * 1024.0;

/// `serve ...` makes this binary the child server of the memory measurement.
#[derive(clap::Parser)]
enum Child {
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let Child::Serve(args) = Child::parse();
        args.run()?;
        return Ok(std::process::ExitCode::SUCCESS);
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
    let mut medians = Vec::new();
    let mut verdicts = Vec::new();
    let mut goals = Table::new([
        "model",
        "clients",
        "median",
        "best",
        "rounds",
        "goal",
        "verdict",
        "server CPU per request",
        "server waited for a core",
    ]);
    for (clients, wait, goal) in runs {
        let mut rounds: Vec<Vec<Outcome>> = vec![Vec::new(); models.len()];
        for round in 1..=ROUNDS {
            for (model, outcomes) in models.iter().zip(&mut rounds) {
                eprintln!(
                    "round {round}/{ROUNDS}: {} at {clients} clients",
                    model.label()
                );
                let trial = Trial {
                    model: *model,
                    clients,
                    wait,
                    warmup: Duration::from_secs(2),
                    duration: Duration::from_secs(5),
                };
                let mut outcome = run_trial_in_child(&exe, trial)?;
                // Judged on each connection's answer rate inside the window
                // (`LoadReport::cycle_rate`), which no window can push past the
                // bound; answers counted by when they finished can pass it when
                // the window is a whole number of waits (5 s of 1 s waits).
                outcome.throughput = outcome.report.cycle_rate;
                outcomes.push(outcome);
            }
        }
        for (model, mut outcomes) in models.iter().zip(rounds) {
            outcomes.sort_by(|a, b| a.fraction().total_cmp(&b.fraction()));
            let median = outcomes[outcomes.len() / 2].clone();
            let of_bound = |o: &Outcome| percent(o.throughput, o.bound);
            let all: Vec<String> = outcomes.iter().map(of_bound).collect();
            let verdict = if median.fraction() >= goal {
                "PASS"
            } else {
                "FAIL"
            };
            verdicts.push(format!(
                "{verdict}: {} at {clients} clients, median {} of the bound (goal >= {:.0}%)",
                model.label(),
                of_bound(&median),
                100.0 * goal
            ));
            goals.row([
                model.label(),
                clients.to_string(),
                of_bound(&median),
                outcomes.last().map_or("-".to_string(), of_bound),
                all.join(" "),
                format!("{:.0}%", 100.0 * goal),
                verdict.to_string(),
                median.cpu.map_or("-".to_string(), |c| {
                    format!(
                        "{}, {:.0}% in the kernel",
                        human(c.cpu_per_request(median.throughput)),
                        100.0 * c.system_share()
                    )
                }),
                median
                    .cpu
                    .map_or("-".to_string(), |c| format!("{:.2} s/s", c.waited_share())),
            ]);
            medians.push(median);
        }
    }
    println!("The median round of each model ({ROUNDS} rounds, models taking turns):");
    print!("{}", outcome_table(&medians));
    println!();
    println!("Fraction of the bound per round, sorted; the goal is judged on the median:");
    print!("{goals}");
    println!(
        "(server CPU: user + system time of the server process, warm-up included, per answer;"
    );
    println!(" waited for a core: seconds per second that the server's threads were ready to run");
    println!(" but found no free core, from /proc/PID/task/*/schedstat)");
    let mut memory = Table::new(MemoryCost::HEADER);
    for model in [Model::EventLoop, Model::LoopPerWorker { workers: 2 }] {
        let cost = idle_connection_cost(&exe, model, 10_000)?;
        let rss = cost.rss_per_item();
        let verdict = if rss <= IDLE_GOAL {
            "goal <= 4 KiB: met"
        } else if rss <= LIBRARY_FLOOR {
            "goal <= 4 KiB: not met; under the library's 16 KiB of buffers"
        } else {
            "goal <= 4 KiB: not met; over the library's 16 KiB of buffers"
        };
        memory.row(cost.row(&format!(
            "{}: idle connection ({verdict})",
            model.kind().name()
        )));
    }
    println!();
    print!("{memory}");
    println!();
    for line in &verdicts {
        println!("{line}");
    }
    Ok(if verdicts.iter().all(|v| v.starts_with("PASS")) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
