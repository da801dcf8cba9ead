//! The `serve` command: the chapter 5 app alone in its own process until
//! SIGTERM or Ctrl-C, logging its app-scope events to stderr. The drills
//! ([`super::drill`]) start it this way (`EXE serve --port 0 --server F --db
//! DB ...`), so its flags live here, beside the code that reads them.
//!
//! Left out: configuration files and environment variables (flags only).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::events::{Echo, Recorder};
use super::resources::Config;
use super::server::{self, Framework};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the log says which).
    #[arg(long)]
    pub port: u16,
    /// The SQLite file holding the users table (created if missing).
    #[arg(long)]
    pub db: PathBuf,
    /// Which framework serves the app.
    #[arg(long, value_enum, default_value = "axum")]
    pub server: Framework,
    /// Entries in the expensive startup table (the stand-in ML model).
    #[arg(long, default_value_t = 500_000, value_parser = clap::value_parser!(u32).range(1..=50_000_000))]
    pub model_entries: u32,
    /// Connections in the SQLite pool.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub pool_size: u32,
    /// Simulated upstream wait in POST /users, in ms, before the write.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub work_ms: u64,
    /// Seconds shutdown waits for in-flight requests.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub deadline_secs: u64,
    /// Log every request's events too, not only the app's.
    #[arg(long)]
    pub verbose: bool,
    /// BROKEN ON PURPOSE, for the crash drill only: answer POST /users with 201 and
    /// write the row this many ms later (a lost write if the process dies between).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub broken_ack_before_commit_ms: Option<u64>,
}

impl ServeArgs {
    fn config(&self) -> Config {
        let mut config = Config::new(&self.db);
        config.model_entries = self.model_entries as usize;
        config.pool_size = self.pool_size;
        config.work = Duration::from_millis(self.work_ms);
        config.shutdown_deadline = Duration::from_secs(self.deadline_secs);
        config.broken_ack_before_commit =
            self.broken_ack_before_commit_ms.map(Duration::from_millis);
        config
    }
}

/// Serves until SIGTERM or SIGINT; returns the exit status (0 only for a
/// clean shutdown). A signal during startup stops it: nothing is listening
/// yet.
pub async fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    if let Some(ms) = args.broken_ack_before_commit_ms {
        eprintln!("BROKEN ON PURPOSE: answering POST /users {ms} ms before writing the row");
    }
    let recorder = Recorder::new(if args.verbose { Echo::All } else { Echo::App });
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let running = tokio::select! {
        running = server::start(args.server, args.config(), recorder, addr) => running?,
        signal = server::wait_for_signal() => {
            eprintln!("got {}: exiting before startup finished", signal?);
            return Ok(0);
        }
    };
    let report = running.serve_until_signal().await?;
    eprintln!("exiting with status {}", report.exit_code());
    Ok(report.exit_code())
}
