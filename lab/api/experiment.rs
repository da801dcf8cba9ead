//! The measurement behind chapters 3 and 4: start one server model, drive it
//! with the book's load generator, and compare the throughput with the bound
//! Little's law gives. Also the pieces the examples share: the `serve`
//! subcommand, raising the open-file limit, reading a process's memory.
//!
//! Left out: anything but `GET /wait?ms=N` (the chapters' one experiment).

use std::net::SocketAddr;
use std::time::Duration;

use super::{Model, Options, serve_until_signal, shutdown_signal, start};
use crate::loadgen::{self, LoadReport, LoadSpec};
use crate::report::{Table, human, percent};

/// One run: a model, a number of closed-loop clients, the wait per request.
#[derive(Debug, Clone, Copy)]
pub struct Trial {
    pub model: Model,
    pub clients: usize,
    pub wait: Duration,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a trial measured, beside what Little's law allows.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub trial: Trial,
    pub report: LoadReport,
    /// Little's law bound in requests per second.
    pub bound: f64,
}

impl Outcome {
    /// Measured throughput as a fraction of the bound (1.0 = at the bound).
    pub fn fraction(&self) -> f64 {
        self.report.requests_per_sec() / self.bound
    }
}

/// Requests waiting longer than this count as failed. Long on purpose: with
/// 1,000 clients on 2 threads a request legitimately waits many seconds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

// ANCHOR: run_trial
/// Starts the model, sends `GET /wait?ms=W` from `clients` connections (the
/// load generator runs on its own threads in this process), stops the server.
pub fn run_trial(trial: Trial) -> anyhow::Result<Outcome> {
    let any_port: SocketAddr = "127.0.0.1:0".parse()?;
    let server = start(trial.model, any_port, &Options::default())?;
    let path = format!("/wait?ms={}", trial.wait.as_millis());
    let spec = LoadSpec::closed(&server.url(&path), trial.clients, trial.duration)?
        .with_warmup(trial.warmup)
        .with_request_timeout(REQUEST_TIMEOUT);
    let report = loadgen::run_blocking(&spec, load_threads())?;
    server.stop();
    let bound = trial.model.bound(trial.clients, trial.wait);
    Ok(Outcome {
        trial,
        report,
        bound,
    })
}
// ANCHOR_END: run_trial

/// Threads for the load generator: one per core, as `wrk -t` is usually set.
pub fn load_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The table every chapter prints: one row per trial.
pub fn outcome_table(outcomes: &[Outcome]) -> Table {
    let mut table = Table::new([
        "model",
        "Python analog",
        "clients",
        "req/s",
        "bound",
        "of bound",
        "p50",
        "p99",
        "errors",
    ]);
    for o in outcomes {
        table.row([
            o.trial.model.label(),
            o.trial.model.python_analog().to_string(),
            o.trial.clients.to_string(),
            format!("{:.0}", o.report.requests_per_sec()),
            format!("{:.0}", o.bound),
            percent(o.report.requests_per_sec(), o.bound),
            human(o.report.latency(0.5)),
            human(o.report.latency(0.99)),
            o.report.errors.to_string(),
        ]);
    }
    table
}

/// Raises this process's open-file limit to its hard limit (each connection
/// is a file descriptor). Returns the new soft limit, or why it could not.
pub fn raise_fd_limit() -> Result<u64, String> {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(limit.rlim_cur as u64)
    }
}

/// Resident memory (VmRSS) of process `pid` in bytes, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// Virtual memory (VmSize) of process `pid` in bytes, from /proc (Linux).
pub fn virtual_bytes(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmSize:").map(|kib| kib * 1024)
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The examples' `serve` subcommand: one model alone on `port` (for curl or
/// wrk) until Ctrl-C or SIGTERM.
pub fn serve_main(model: Model, port: u16, db_latency: Duration) -> anyhow::Result<()> {
    if let Err(why) = raise_fd_limit() {
        eprintln!("could not raise the open-file limit: {why}");
    }
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let options = Options {
        db_latency,
        db_path: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve_until_signal(model, addr, &options, |_| {
        shutdown_signal()
    }))?;
    Ok(())
}

/// The `serve` subcommand's flags, shared by the chapter 3 and 4 examples.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The server model to run.
    #[arg(long, value_parser = super::MODEL_NAMES)]
    pub model: String,
    /// Port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Threads (sync-pool), workers (loop-per-worker, work-stealing) or
    /// blocking-pool size (spawn-blocking); ignored by the one-loop models.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub workers: u16,
    /// Simulated database round trip added to every /users query, in ms.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub db_latency_ms: u64,
}

impl ServeArgs {
    /// Runs [`serve_main`] with these flags.
    pub fn run(&self) -> anyhow::Result<()> {
        let model = Model::from_name(&self.model, usize::from(self.workers))?;
        serve_main(model, self.port, Duration::from_millis(self.db_latency_ms))
    }
}
