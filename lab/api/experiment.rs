//! The measurement behind chapters 3 and 4: start one server model, drive it
//! with the book's load generator, and compare the throughput with the bound
//! Little's law gives. Also the pieces the examples share: the `serve`
//! subcommand, raising the open-file limit, reading a process's memory.
//!
//! Left out: anything but `GET /wait?ms=N` (the chapters' one experiment).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Model, ModelKind, Options, serve_until_signal, start};
use crate::loadgen::{self, LoadReport, LoadSpec};
use crate::process::{ChildServer, Ready};
use crate::report::{Cell, Table, duration, human, num, ratio};

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

/// Where the server's CPU went in a trial run against a child server: the
/// difference between two readings of its counters. `waited` is time its
/// threads spent runnable but waiting for a free core (the kernel's
/// `run_delay`): the share of the machine that was not there when the server
/// wanted it. On 2 cores shared with the load generator and other work this,
/// not the model, is what pulls a fraction down. (The load generator's own
/// threads have exited by the time the trial ends, and their counters with
/// them, so they are not counted.)
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    /// CPU time in the server's own code.
    pub user: Duration,
    /// CPU time in the kernel on the server's behalf.
    pub system: Duration,
    /// Runnable time spent waiting for a core, summed over its threads.
    pub waited: Duration,
    /// How long the trial ran, warm-up included.
    pub over: Duration,
}

impl CpuUse {
    /// Reads the counters of process `pid` now (`over` is left at zero).
    /// None where /proc has no such process or no schedstat.
    fn read(pid: u32) -> Option<CpuUse> {
        let (user, system) = process_cpu_time(pid)?;
        let waited = run_queue_wait(pid)?;
        Some(CpuUse {
            user,
            system,
            waited,
            over: Duration::ZERO,
        })
    }

    /// What was used between the reading `before` and this one, `over` long.
    fn since(self, before: CpuUse, over: Duration) -> CpuUse {
        CpuUse {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
            waited: self.waited.saturating_sub(before.waited),
            over,
        }
    }

    /// User plus system time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }

    /// Thread-seconds spent waiting for a core, per second of trial
    /// (0.5 = half a core's worth of waiting).
    pub fn waited_share(&self) -> f64 {
        self.waited.as_secs_f64() / self.over.as_secs_f64()
    }

    /// The share of the CPU time spent in the kernel.
    pub fn system_share(&self) -> f64 {
        self.system.as_secs_f64() / self.cpu().as_secs_f64().max(1e-9)
    }

    /// CPU time per answered request, given the throughput (warm-up
    /// included in both, so an estimate).
    pub fn cpu_per_request(&self, throughput: f64) -> Duration {
        let requests = throughput * self.over.as_secs_f64();
        Duration::from_secs_f64(self.cpu().as_secs_f64() / requests.max(1.0))
    }
}

/// CPU time a process has used, (user, system), from `/proc/PID/stat`.
fn process_cpu_time(pid: u32) -> Option<(Duration, Duration)> {
    let stat = proc_of(pid)?.stat().ok()?;
    let per_second = procfs::ticks_per_second().max(1) as f64;
    let seconds = |ticks: u64| Duration::from_secs_f64(ticks as f64 / per_second);
    Some((seconds(stat.utime), seconds(stat.stime)))
}

/// Sum of `run_delay` (from `/proc/PID/task/TID/schedstat`) over a
/// process's threads.
fn run_queue_wait(pid: u32) -> Option<Duration> {
    let mut total_ns = 0u64;
    for task in proc_of(pid)?.tasks().ok()? {
        total_ns += task.ok()?.schedstat().ok()?.run_delay;
    }
    Some(Duration::from_nanos(total_ns))
}

fn proc_of(pid: u32) -> Option<procfs::process::Process> {
    procfs::process::Process::new(i32::try_from(pid).ok()?).ok()
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
    /// Runs one trial per (model, clients) pair, in order, with a progress
    /// bar on stderr (hidden when stderr is not a terminal; stdout is the
    /// figure).
    pub fn run_all(
        self,
        trials: impl IntoIterator<Item = (Model, usize)>,
    ) -> anyhow::Result<Vec<Outcome>> {
        let trials: Vec<_> = trials.into_iter().collect();
        let bar = indicatif::ProgressBar::new(trials.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let outcomes = trials
            .into_iter()
            .map(|(model, clients)| {
                bar.set_message(format!("{}, {clients} clients", model.label()));
                let outcome = run_trial(Trial {
                    model,
                    clients,
                    wait: self.wait,
                    warmup: self.warmup,
                    duration: self.duration,
                });
                bar.inc(1);
                outcome
            })
            .collect();
        bar.finish_and_clear();
        outcomes
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
    server.stop();
    let bound = trial.model.bound(trial.clients, trial.wait);
    Ok(Outcome {
        trial,
        report,
        throughput,
        bound,
        cpu: None,
    })
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

/// Starts `exe serve --model M --workers K --port 0` (an example running
/// itself again, in `serve` mode) and waits for its address.
pub fn serve_in_child(exe: &Path, model: Model) -> anyhow::Result<ChildServer> {
    let mut command = Command::new(exe);
    command.args([
        "serve",
        "--model",
        &model.kind().name(),
        "--port",
        "0",
        "--workers",
    ]);
    command.arg(model.workers().to_string());
    ChildServer::start(command, Ready::Announces("listening on"), SERVE_READY)
}

/// How long a child server may take to print its address.
const SERVE_READY: Duration = Duration::from_secs(10);

/// Threads for the load generator: one per core, as `wrk -t` is usually set.
pub fn load_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The table every chapter prints: one row per trial, and under it what a
/// latency cell marked [`CUT_SHORT`] means, if there is one.
pub fn outcome_table(outcomes: &[Outcome]) -> String {
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
            Cell::from(o.trial.model.label()),
            Cell::from(o.trial.model.python_analog()),
            Cell::from(o.trial.clients),
            num(o.throughput, 0),
            num(o.bound, 0),
            ratio(o.throughput, o.bound),
            latency_cell(o, o.report.latency(0.5)),
            latency_cell(o, o.report.latency(0.99)),
            Cell::from(o.report.errors),
        ]);
    }
    format!("{table}{}", cut_short_note(outcomes))
}

/// A latency cell: `-` when no answer came in at all, `≥ X (window)` when
/// the run was too short for the queue ([`Outcome::latency_cut_short`]), so
/// `X`, measured on the answers that came in, is only a lower bound (the
/// cell's value, in seconds, is that lower bound).
pub fn latency_cell(outcome: &Outcome, latency: Duration) -> Cell {
    if outcome.report.requests == 0 {
        "-".into()
    } else if outcome.latency_cut_short() {
        Cell::measured(
            format!("≥ {} {CUT_SHORT}", human(latency)),
            latency.as_secs_f64(),
        )
    } else {
        duration(latency)
    }
}

/// The mark on a latency cell that the run's window cut short.
pub const CUT_SHORT: &str = "(window)";

/// The note under a table with cut-short cells (empty if there are none):
/// what the mark means, with the latency Little's law gives for each row.
pub fn cut_short_note(outcomes: &[Outcome]) -> String {
    let rows: String = outcomes
        .iter()
        .filter(|o| o.report.requests > 0 && o.latency_cut_short())
        .map(|o| {
            format!(
                "  {}, {} clients: {}\n",
                o.trial.model.label(),
                o.trial.clients,
                human(o.littles_law_latency())
            )
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\n≥ ... {CUT_SHORT}: the queue is longer than this run, so only requests short enough\nto finish inside it were timed, and the real latency is longer. Little's law\n(clients / req/s) puts it at:\n{rows}"
    )
}

/// Raises this process's open-file limit (each connection is a file
/// descriptor): to 65,536 if allowed (root may raise the hard limit), else to
/// the hard limit. Returns the new soft limit, or why it could not.
pub fn raise_fd_limit() -> Result<u64, String> {
    use rlimit::Resource;
    const WANTED: u64 = 65_536;
    let (_, hard) = Resource::NOFILE.get().map_err(|e| e.to_string())?;
    if hard < WANTED && Resource::NOFILE.set(WANTED, WANTED).is_ok() {
        return Ok(WANTED);
    }
    Resource::NOFILE
        .set(hard, hard)
        .map_err(|e| e.to_string())?;
    Ok(hard)
}

/// Resident memory (VmRSS) of process `pid` in bytes, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    Some(proc_of(pid)?.status().ok()?.vmrss? * 1024)
}

/// Virtual memory (VmSize) of process `pid` in bytes, from /proc (Linux).
pub fn virtual_bytes(pid: u32) -> Option<u64> {
    Some(proc_of(pid)?.status().ok()?.vmsize? * 1024)
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
    runtime.block_on(serve_until_signal(model, addr, &options, |_| async {
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
}

impl ServeArgs {
    /// Runs [`serve_main`] with these flags.
    pub fn run(&self) -> anyhow::Result<()> {
        let model = Model::new(self.model, usize::from(self.workers));
        serve_main(model, self.port, Duration::from_millis(self.db_latency_ms))
    }
}

/// The memory cost of `count` idle things: RSS and virtual size growth.
#[derive(Debug, Clone)]
pub struct MemoryCost {
    pub count: usize,
    pub rss_delta: u64,
    pub virtual_delta: u64,
    /// Growth of the kernel's thread stacks (`KernelStack` in /proc/meminfo,
    /// machine-wide): memory a thread costs that no process's RSS shows.
    pub kernel_stack_delta: Option<u64>,
    /// For a child server: how long it took to exit after SIGTERM.
    pub stop_took: Option<Duration>,
}

impl MemoryCost {
    pub fn rss_per_item(&self) -> f64 {
        self.rss_delta as f64 / self.count.max(1) as f64
    }

    /// The header matching [`MemoryCost::row`].
    pub const HEADER: [&'static str; 6] = [
        "what",
        "count",
        "RSS delta",
        "RSS per item",
        "virtual per item",
        "kernel stack per item",
    ];

    /// A table row: what, count, RSS delta, RSS per item, virtual per item,
    /// kernel stack per item.
    /// Byte columns hold KiB or MiB as their value, as their text reads.
    pub fn row(&self, what: &str) -> [Cell; 6] {
        let per = |b: u64| {
            let kib = b as f64 / 1024.0 / self.count.max(1) as f64;
            Cell::measured(format!("{kib:.1} KiB"), kib)
        };
        let mib = self.rss_delta as f64 / (1024.0 * 1024.0);
        [
            Cell::from(what),
            Cell::from(self.count),
            Cell::measured(format!("{mib:.1} MiB"), mib),
            per(self.rss_delta),
            per(self.virtual_delta),
            self.kernel_stack_delta.map_or("-".into(), per),
        ]
    }
}

// ANCHOR: idle_connections
/// Starts `exe serve --model MODEL` as a child process, opens
/// `count` keep-alive connections that each send one `GET /hello` and then
/// stay idle, and reports how much the server's RSS grew. The clients live in
/// this process, so only the server's memory is counted.
pub fn idle_connection_cost(exe: &Path, model: Model, count: usize) -> anyhow::Result<MemoryCost> {
    let mut child = serve_in_child(exe, model)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let addr = child.addr();
    let pid = child.pid();
    let result = runtime.block_on(async move {
        let _warm = open_idle(addr, 100).await?; // first allocations are not per connection
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (rss0, virt0) = (rss_bytes(pid), virtual_bytes(pid));
        let connections = open_idle(addr, count).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss1, virt1) = (rss_bytes(pid), virtual_bytes(pid));
        drop(connections);
        let delta = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
        anyhow::Ok(MemoryCost {
            count,
            rss_delta: delta(rss0, rss1),
            virtual_delta: delta(virt0, virt1),
            kernel_stack_delta: None,
            stop_took: None,
        })
    });
    let stopped = child.stop()?;
    let mut cost = result?;
    cost.stop_took = (!stopped.killed).then_some(stopped.took);
    Ok(cost)
}

/// Opens `count` connections, sends one request on each and reads the
/// answer, then returns them still open (idle keep-alive).
async fn open_idle(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<tokio::net::TcpStream>> {
    use futures::StreamExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let one = |_| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await?;
        anyhow::ensure!(buf[..n].starts_with(b"HTTP/1.1 200"), "unexpected answer");
        anyhow::Ok(stream)
    };
    let opened: Vec<_> = futures::stream::iter(0..count)
        .map(one)
        .buffer_unordered(64)
        .collect()
        .await;
    opened.into_iter().collect()
}
// ANCHOR_END: idle_connections

/// Spawns `count` threads that park until released, and reports how this
/// process's RSS and virtual size grew: a thread-per-connection server pays
/// this for every connection, idle or not.
pub fn parked_thread_cost(count: usize) -> anyhow::Result<MemoryCost> {
    let pid = std::process::id();
    let (rss0, virt0, kstack0) = (rss_bytes(pid), virtual_bytes(pid), kernel_stack_bytes());
    let release = std::sync::Arc::new(std::sync::Barrier::new(count + 1));
    let mut threads = Vec::with_capacity(count);
    for _ in 0..count {
        let release = release.clone();
        threads.push(std::thread::spawn(move || {
            release.wait();
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (rss1, virt1, kstack1) = (rss_bytes(pid), virtual_bytes(pid), kernel_stack_bytes());
    release.wait();
    for thread in threads {
        let _ = thread.join();
    }
    let delta = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
    Ok(MemoryCost {
        count,
        rss_delta: delta(rss0, rss1),
        virtual_delta: delta(virt0, virt1),
        kernel_stack_delta: Some(delta(kstack0, kstack1)),
        stop_took: None,
    })
}

/// Machine-wide kernel stack memory (`KernelStack:` in /proc/meminfo), bytes.
fn kernel_stack_bytes() -> Option<u64> {
    use procfs::Current as _;
    procfs::Meminfo::current().ok()?.kernel_stack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_readings_of_this_process() {
        let me = std::process::id();
        crate::wait::burn_cpu(Duration::from_millis(50));
        let cpu = CpuUse::read(me).expect("/proc/self is readable");
        assert!(cpu.cpu() > Duration::ZERO, "{cpu:?}");
        assert!(rss_bytes(me).unwrap() > 1024 * 1024);
        assert!(virtual_bytes(me).unwrap() >= rss_bytes(me).unwrap());
        assert!(kernel_stack_bytes().unwrap() > 0);
        assert!(raise_fd_limit().unwrap() >= 1024);
    }

    /// An outcome of `clients` closed-loop clients served at `throughput`,
    /// with one answer of `latency` recorded, over 1 s warm-up + 5 s.
    fn outcome(clients: usize, throughput: f64, latency: Duration) -> Outcome {
        let mut latency_us = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        latency_us.record(latency.as_micros() as u64).unwrap();
        Outcome {
            trial: Trial {
                // Any model: only the numbers below matter.
                model: Model::SyncPool { threads: 2 },
                clients,
                wait: Duration::from_millis(50),
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(5),
            },
            report: LoadReport {
                requests: 1,
                errors: 0,
                elapsed: Duration::from_secs(5),
                latency_us,
                failures: Default::default(),
                status: Default::default(),
                connects: clients as u64,
                unfinished: 0,
            },
            throughput,
            bound: 40.0,
            cpu: None,
        }
    }

    #[test]
    fn latencies_are_marked_only_when_the_queue_outlasts_the_window() {
        // 100 clients on 2 workers: 2.5 s a request, inside a 1 s + 5 s run.
        let fits = outcome(100, 40.0, Duration::from_millis(2_500));
        assert!(!fits.latency_cut_short());
        assert_eq!(
            latency_cell(&fits, Duration::from_millis(2_500)).text(),
            "2.50 s"
        );
        assert_eq!(cut_short_note(&[fits]), "");
        // 1,000 clients: 25 s a request, so the 3.49 s measured is a floor.
        let cut = outcome(1_000, 40.0, Duration::from_millis(3_490));
        assert!(cut.latency_cut_short());
        assert_eq!(cut.littles_law_latency(), Duration::from_secs(25));
        let cell = latency_cell(&cut, Duration::from_millis(3_490));
        assert_eq!(cell.text(), "≥ 3.49 s (window)");
        let note = cut_short_note(&[cut]);
        assert!(note.contains(", 1000 clients: 25.00 s"), "{note}");
    }
}
