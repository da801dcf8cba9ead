//! Trials: start one server model, drive it with the book's load generator
//! for a warm-up and a measured window, and set the throughput beside the
//! bound Little's law gives. Chapters 3 and 4 run these; the benches run the
//! child-process variant.
//!
//! Left out: how outcomes are printed ([`super::table`]), what the /proc
//! counters mean ([`super::proc_counters`]), anything but `GET /wait?ms=N`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::child::serve_in_child;
use super::proc_counters::CpuUse;
use crate::api::{Model, Options, RunningServer, start};
use crate::loadgen::{self, LoadReport, LoadSpec};

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
    /// Answers per second, counted by the server over the measured window.
    pub throughput: f64,
    /// Little's law bound in requests per second.
    pub bound: f64,
    /// The server's CPU use and wait for a core, where measured.
    pub cpu: Option<CpuUse>,
}

impl Outcome {
    /// Measured throughput as a fraction of the bound (1.0 = at the bound).
    pub fn fraction(&self) -> f64 {
        self.throughput / self.bound
    }

    /// How long a request takes, by Little's law: each closed-loop client
    /// always has one request out, so W = clients / throughput. Unlike the
    /// load generator's latencies, this counts requests that never finished.
    pub fn littles_law_latency(&self) -> Duration {
        let seconds = self.trial.clients as f64 / self.throughput.max(1e-9);
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    }

    /// True when the run is too short for its queue, so the measured
    /// latencies are cut short. The queue fills during the first W (as
    /// Little's law gives it); answers that finish then waited less than W,
    /// and answers that would have waited longer than the run never come
    /// in. When W is past the middle of the measured window, most answers in
    /// it are of the first kind: every latency quantile is then only a
    /// lower bound.
    pub fn latency_cut_short(&self) -> bool {
        self.littles_law_latency() > self.trial.warmup + self.trial.duration / 2
    }
}

/// Requests waiting longer than this count as failed. Long on purpose: with
/// 1,000 clients on 2 threads a request legitimately waits many seconds.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The timing every trial of one table shares.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub wait: Duration,
    pub warmup: Duration,
    pub duration: Duration,
}

impl Schedule {
    /// Runs one trial per (model, clients) pair, in order, with its progress
    /// on stderr (a bar, or a line per trial off a terminal; stdout is the
    /// figure).
    pub fn run_all(
        self,
        trials: impl IntoIterator<Item = (Model, usize)>,
    ) -> anyhow::Result<Vec<Outcome>> {
        let trials: Vec<_> = trials.into_iter().collect();
        let bar = crate::progress::Progress::new("trials", trials.len());
        // Each server drains the queue its clients left (up to 2 s) on a
        // thread of its own while the next trial runs: its threads sleep in
        // the simulated waits, so they take no measurable CPU from it.
        let mut stopping = Vec::new();
        let mut outcomes = Vec::new();
        for (model, clients) in trials {
            bar.set_message(format!("{}, {clients} clients", model.label()));
            let (outcome, server) = measure(Trial {
                model,
                clients,
                wait: self.wait,
                warmup: self.warmup,
                duration: self.duration,
            })?;
            stopping.push(std::thread::spawn(move || server.stop()));
            outcomes.push(outcome);
            bar.inc();
        }
        for stop in stopping {
            let _ = stop.join();
        }
        bar.finish();
        Ok(outcomes)
    }

    /// The line above a table of outcomes: what was sent, and for how long.
    pub fn describe(&self) -> String {
        format!(
            "GET /wait?ms={} from closed-loop clients, {} s measured after {} s warmup.",
            self.wait.as_millis(),
            self.duration.as_secs_f64(),
            self.warmup.as_secs_f64()
        )
    }
}

// ANCHOR: run_trial
/// Starts the model and sends `GET /wait?ms=W` from `clients` connections
/// (the load generator runs on its own threads in this process). Throughput
/// is counted on the server over the measured window, like `wrk` counts
/// completions; latency comes from the load generator.
pub fn run_trial(trial: Trial) -> anyhow::Result<Outcome> {
    let (outcome, server) = measure(trial)?;
    server.stop();
    Ok(outcome)
}

/// [`run_trial`] without the stop: the server is returned still draining
/// the requests the clients left behind.
fn measure(trial: Trial) -> anyhow::Result<(Outcome, RunningServer)> {
    let any_port: SocketAddr = "127.0.0.1:0".parse()?;
    let server = start(trial.model, any_port, &Options::default())?;
    let spec = load_spec(&trial, server.addr())?;
    let load = std::thread::spawn(move || loadgen::run_blocking(&spec, load_threads()));
    std::thread::sleep(trial.warmup);
    let (before, since) = (server.served(), Instant::now());
    std::thread::sleep(trial.duration);
    let throughput = (server.served() - before) as f64 / since.elapsed().as_secs_f64();
    let report = load
        .join()
        .map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
    let bound = trial.model.bound(trial.clients, trial.wait);
    let outcome = Outcome {
        trial,
        report,
        throughput,
        bound,
        cpu: None,
    };
    Ok((outcome, server))
}

/// The load of one trial: `clients` closed-loop clients on `GET /wait?ms=W`.
fn load_spec(trial: &Trial, addr: SocketAddr) -> anyhow::Result<LoadSpec> {
    let url = format!("http://{addr}/wait?ms={}", trial.wait.as_millis());
    Ok(LoadSpec::closed(&url, trial.clients, trial.duration)?
        .with_warmup(trial.warmup)
        .with_request_timeout(REQUEST_TIMEOUT))
}
// ANCHOR_END: run_trial

/// Like [`run_trial`], but the server runs as `exe serve --model ...` in a
/// child process, so client and server sockets do not share one open-file
/// limit (10,000 connections need 20,000 descriptors in one process).
/// Throughput is the load generator's count of answers in the measured
/// window, which the server's own count cannot be read across processes.
pub fn run_trial_in_child(exe: &Path, trial: Trial) -> anyhow::Result<Outcome> {
    let mut child = serve_in_child(exe, trial.model)?;
    let (before, started) = (CpuUse::read(child.pid()), Instant::now());
    let report = loadgen::run_blocking(&load_spec(&trial, child.addr())?, load_threads())?;
    let cpu = before
        .zip(CpuUse::read(child.pid()))
        .map(|(before, after)| after.since(before, started.elapsed()));
    child.stop()?;
    Ok(Outcome {
        trial,
        throughput: report.requests_per_sec(),
        report,
        bound: trial.model.bound(trial.clients, trial.wait),
        cpu,
    })
}

/// Threads for the load generator: one per core, as `wrk -t` is usually set.
pub fn load_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
