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
//! One stack alone, for curl or wrk (the questions start their Rust twins
//! this way, as child process groups, so their memory is measured like
//! Python's; `lab::stacks::ServeArgs`, the same `serve` as ch06_table's):
//!           cargo run --release --example ch07_questions -- serve --stack loop-per-worker --workers 2 --port 8000
//!
//! The Python stacks need a python3 ≥ 3.10 (the venv goes under target/,
//! made by the first run); without one each question says what it skipped.

use std::time::{Duration, Instant};

use clap::Parser;
use lab::python::{RunnerArgs, venv_or_skip};
use lab::questions::{Ctx, QUESTIONS, Question, start_together};
use lab::report::{human, print_banner};
use lab::stacks::ServeArgs;

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
    /// Run one stack alone until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<()> {
    // `cargo run --example` builds no `ww-watchdog`: this program is its own
    // (it stops the servers if the runner is killed).
    lab::process::be_own_watchdog();
    let cli = Cli::parse();
    if let Some(Serve::Serve(args)) = &cli.command {
        return args.run();
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
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // --quick: servers starting in the background (`Start::until`).
        let mut beside: Vec<(u8, String, std::thread::ScopedJoinHandle<Duration>)> = Vec::new();
        for question in &selected {
            let (due, later): (Vec<_>, Vec<_>) = beside
                .into_iter()
                .partition(|(until, _, _)| *until <= question.number);
            beside = later;
            for (_, numbers, starting) in due {
                let waited = Instant::now();
                let took = starting
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                eprintln!(
                    "servers of {numbers} started in the background in {} \
                     (waited {} for them)",
                    human(took),
                    human(waited.elapsed())
                );
            }
            // --quick: the servers of a group of questions start at once
            // (`lab::questions::start_together`), now or in the background.
            for start in start_together(&ctx, question, &selected) {
                let ctx = &ctx;
                match start.until {
                    None => {
                        let started = Instant::now();
                        start.run(ctx);
                        eprintln!(
                            "servers of {} started at once in {}",
                            start.named(),
                            human(started.elapsed())
                        );
                    }
                    Some(until) => {
                        let numbers = start.named();
                        eprintln!("servers of {numbers} starting in the background …");
                        let starting = scope.spawn(move || {
                            let started = Instant::now();
                            start.run(ctx);
                            started.elapsed()
                        });
                        beside.push((until, numbers, starting));
                    }
                }
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
    })
}
