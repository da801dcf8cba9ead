//! The chapter 3 and 4 examples' command line: a measured run (the default)
//! or `serve` to run one model alone, for curl or wrk.
//!
//! Left out: the measured run itself (each example's `main`), and chapters
//! 6 and 7's `serve --stack`, which also runs the Python stacks
//! (`crate::stacks::ServeArgs`, on top of [`serve_with`]).

use std::net::SocketAddr;
use std::time::Duration;

use super::fd_limit::raise_fd_limit;
use crate::api::{Model, ModelKind, Options, serve_until_signal};

/// One model alone on `port` (for curl or wrk) until Ctrl-C or SIGTERM:
/// the examples' `serve` subcommand, with every setting of [`Options`].
pub fn serve_with(model: Model, port: u16, options: &Options) -> anyhow::Result<()> {
    if let Err(why) = raise_fd_limit() {
        eprintln!("could not raise the open-file limit: {why}");
    }
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve_until_signal(model, addr, options, |_| async {
        if let Err(why) = crate::lifespan::server::wait_for_signal().await {
            eprintln!("cannot wait for SIGTERM or Ctrl-C ({why}): stopping");
        }
    }))?;
    Ok(())
}

/// The flags of the chapter 3 and 4 examples: a measured run (the default)
/// or `serve` to run one model alone. Each example adds its own `about`.
#[derive(Debug, clap::Args)]
pub struct ChapterArgs {
    #[command(subcommand)]
    pub command: Option<ChapterCommand>,
    /// Short runs (under 20 s in all) instead of the full ones.
    #[arg(long)]
    pub quick: bool,
    /// How long each request waits (simulated I/O), in ms.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub wait_ms: u64,
}

#[derive(Debug, clap::Subcommand)]
pub enum ChapterCommand {
    /// Run one server model alone until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
}

/// The `serve` subcommand's flags, shared by the chapter 3 and 4 examples.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The server model to run.
    #[arg(long, value_enum)]
    pub model: ModelKind,
    /// Port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Threads (sync-pool, rouille), workers (loop-per-worker, work-stealing) or
    /// blocking-pool size (spawn-blocking); ignored by the one-loop models.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub workers: u16,
    /// Simulated database round trip added to every /users query, in ms.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub db_latency_ms: u64,
    /// Answer 503 (with Retry-After) when this many requests are already
    /// inside the server, like uvicorn's `--limit-concurrency`. The axum
    /// models only (event-loop, work-stealing, blocked-loop, spawn-blocking);
    /// without it, requests queue without limit.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub limit_concurrency: Option<u32>,
}

impl ServeArgs {
    /// Runs [`serve_with`] with these flags.
    pub fn run(&self) -> anyhow::Result<()> {
        let model = Model::new(self.model, usize::from(self.workers));
        let options = Options {
            db_latency: Duration::from_millis(self.db_latency_ms),
            limit_concurrency: self.limit_concurrency.map(|n| n as usize),
            ..Options::default()
        };
        serve_with(model, self.port, &options)
    }
}
