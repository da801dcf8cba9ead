//! Chapter 7 — the questions FastAPI and Django users ask, each settled by a
//! measurement: the Python stacks of chapter 6 where the question is about
//! Python, a Rust twin always. One `## ` section per question; the
//! measurements live in `lab/questions/`, one module each.
//!
//! Run it:   cargo run --release --example ch07_questions            (every question)
//!           cargo run --release --example ch07_questions -- --quick (under 60 s once
//!           the Python venv exists)
//!           cargo run --release --example ch07_questions -- --only 3 (one question)
//!           cargo run --release --example ch07_questions -- --no-python (Rust rows only)
//! One Rust twin alone, for curl or wrk (the questions start theirs this way,
//! as child process groups, so their memory is measured like Python's):
//!           cargo run --release --example ch07_questions -- serve --stack loop-per-worker --workers 2 --port 8000
//!
//! The Python stacks need a python3 ≥ 3.10 (the venv goes under target/,
//! made by the first run); without one each question says what it skipped.

use std::time::Instant;

use clap::Parser;
use lab::python::{RunnerArgs, venv_or_skip};
use lab::questions::shared::at_once;
use lab::questions::{Ctx, QUESTIONS, Question, start_together};
use lab::report::{human, print_banner};
use lab::stacks::StackName;

#[derive(Parser)]
#[command(about = "Chapter 7: readers' questions, each settled by a measurement")]
struct Cli {
    #[command(subcommand)]
    command: Option<Serve>,
    #[command(flatten)]
    run: RunnerArgs,
    /// Run only these questions (1–15), e.g. `--only 3` or `--only 1,2`.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=15))]
    only: Vec<u8>,
}

#[derive(clap::Subcommand)]
enum Serve {
    /// Run one Rust twin alone until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The Rust twin, by its model name (`lab::stacks::start` passes it).
    #[arg(long, value_enum)]
    stack: StackName,
    /// Port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Threads / workers / pool size.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=4096))]
    workers: u16,
    /// Simulated database round trip added to every /users query, in ms.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    db_latency_ms: u64,
}

fn main() -> anyhow::Result<()> {
    // `cargo run --example` builds no `ww-watchdog`: this program is its own
    // (it stops the servers if the runner is killed).
    lab::process::be_own_watchdog();
    let cli = Cli::parse();
    if let Some(Serve::Serve(args)) = &cli.command {
        // The Python stacks are started by the questions themselves
        // (`ch06_table serve` runs them alone); here only the Rust twins.
        let Some(model) = lab::stacks::rust_model(args.stack, usize::from(args.workers)) else {
            anyhow::bail!(
                "{} is a Python stack: run it with `cargo run --release --example ch06_table -- serve --stack {}`",
                args.stack.name(),
                args.stack.name()
            );
        };
        let db_latency = std::time::Duration::from_millis(args.db_latency_ms);
        return lab::api::experiment::serve_main(model, args.port, db_latency);
    }
    print_banner("Chapter 7: readers' questions, each settled by a measurement");
    let ctx = Ctx::new(cli.run.quick, venv_or_skip(cli.run.no_python));
    if let Err(why) = ctx.venv() {
        println!("Python rows skipped: {why}\n");
    }
    let selected: Vec<&Question> = QUESTIONS
        .iter()
        .filter(|q| cli.only.is_empty() || cli.only.contains(&q.number))
        .collect();
    for question in &selected {
        // --quick: the servers of this question's group start at once
        // (`lab::questions::start_together`), before it runs.
        let together = start_together(&ctx, question, &selected);
        if !together.is_empty() {
            let started = Instant::now();
            let ctx = &ctx;
            at_once(
                together
                    .iter()
                    .filter_map(|q| q.prepare)
                    .map(|p| move || p(ctx)),
            );
            let numbers: Vec<String> = together.iter().map(|q| q.number.to_string()).collect();
            eprintln!(
                "servers of questions {} started at once in {}",
                numbers.join(", "),
                human(started.elapsed())
            );
        }
        println!("## {}. {}\n", question.number, question.title);
        let started = Instant::now();
        eprintln!("question {}: {} …", question.number, question.title);
        (question.run)(&ctx)?;
        eprintln!(
            "question {}: done in {}",
            question.number,
            human(started.elapsed())
        );
        println!();
    }
    Ok(())
}
