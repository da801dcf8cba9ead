//! `serve --stack NAME`: one of chapter 6's stacks alone on loopback, for
//! curl or wrk, until Ctrl-C or SIGTERM — the subcommand of both runners
//! with these stacks, `ch06_table` and `ch07_questions` (chapter 7's
//! questions start their Rust twins through it, as child process groups,
//! so that their memory is measured the way Python's is).
//!
//! A Rust twin runs in this process; a Python stack is a child process
//! group (uvicorn or gunicorn from the venv), warmed before its port is
//! announced and stopped with the group when the signal comes. Left out:
//! the knobs of chapter 6's sweep (`Knobs`): a stack served alone runs with
//! its defaults. Chapters 3 and 4's `serve --model` is
//! [`crate::api::experiment::ServeArgs`].

use std::net::SocketAddr;
use std::time::Duration;

use super::{READY_WITHIN, StackName, free_port, warm_up};
use crate::api::{Model, Options};
use crate::db::Database;
use crate::process::{ChildServer, Ready};
use crate::python::{StackOptions, target_dir, venv_or_skip};
use crate::report::human;

/// The `serve` subcommand's flags (`#[command(subcommand)]` with
/// `Serve(ServeArgs)`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The stack: a Python one or a Rust twin by its model name.
    #[arg(long, value_enum)]
    pub stack: StackName,
    /// Port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Worker processes (Python; default 1, uvicorn's and gunicorn's own
    /// default) or threads / workers / pool size (Rust; default 2).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub workers: Option<u16>,
    /// Simulated database round trip added to every /users query, in ms.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub db_latency_ms: u64,
    /// The users table: a PostgreSQL DSN (postgresql://…) or a SQLite file.
    /// Default: a fresh temporary SQLite file (Rust), target/ch06-serve.sqlite (Python).
    #[arg(long)]
    pub database: Option<String>,
}

impl ServeArgs {
    /// Serves the stack until Ctrl-C or SIGTERM.
    pub fn run(&self) -> anyhow::Result<()> {
        let workers = usize::from(self.workers.unwrap_or(match self.stack {
            StackName::Python(_) => 1,
            StackName::Rust(_) => 2,
        }));
        let db_latency = Duration::from_millis(self.db_latency_ms);
        let python_stack = match self.stack {
            StackName::Rust(kind) => {
                let model = Model::new(kind, workers);
                let options = Options {
                    db_latency,
                    database: self.database.as_deref().map(Database::parse),
                    ..Default::default()
                };
                return crate::api::experiment::serve_with(model, self.port, &options);
            }
            StackName::Python(stack) => stack,
        };
        let venv = venv_or_skip(false).map_err(anyhow::Error::msg)?;
        let port = if self.port == 0 {
            free_port()?
        } else {
            self.port
        };
        let options = StackOptions {
            workers,
            database: self
                .database
                .clone()
                .unwrap_or_else(|| target_dir().join("ch06-serve.sqlite").display().to_string()),
            db_latency,
            ..Default::default()
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut server = ChildServer::start(
            python_stack.command(&venv, port, &options),
            Ready::Accepts(addr),
            READY_WITHIN,
        )?;
        // Fresh workers are slow on their first requests: warm them before
        // announcing the port, so the reader's first wrk run measures the
        // steady state.
        warm_up(&server, "/wait?ms=0", workers)?;
        println!(
            "{} listening on {} — Ctrl-C or SIGTERM to stop",
            self.stack.name(),
            server.url("")
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(crate::lifespan::server::wait_for_signal())?;
        let exit = server.stop()?;
        println!("stopped in {}", human(exit.took));
        Ok(())
    }
}
