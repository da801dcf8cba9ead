//! Chapter 6's servers, seen from outside: every stack the table compares —
//! the Python ones (uvicorn + FastAPI, gunicorn + DRF) and their Rust twins
//! (the chapter 3/4 models) — under one name, started as a child process
//! group on loopback, driven by the book's load generator, and measured the
//! way an operator would: answers per second, latency quantiles, errors,
//! resident memory summed over every process of the group (a gunicorn
//! master and its workers, uvicorn's supervisor and its workers) and CPU
//! time per answered request, read from /proc with `procfs` — with what
//! chapter 6's model against reality needs beside it: the load generator's
//! CPU, the rest of the machine's, and the connections per server process.
//!
//! Starting and stopping is [`crate::process`]'s job (process group,
//! SIGTERM then SIGKILL, a watchdog if this process dies); the venv and the
//! Python command lines are [`crate::python`]'s. [`Pinning`] puts the server
//! and the load generator on separate cores where the machine has two.
//! Left out: repeated rounds (the chapter's runner repeats [`measure`]).

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::builder::PossibleValue;

use crate::api::{Model, ModelKind};
use crate::loadgen::{self, LoadReport, LoadSpec};
use crate::process::{ChildServer, Ready};
use crate::python::{Knobs, Stack, StackOptions, Venv};

/// Every server `ch06_table serve --stack NAME` can run: the five Python
/// stacks, then the Rust models by their chapter 3/4 names. The names are
/// the ones clap derives for [`Stack`] and [`ModelKind`]; this type only
/// puts the two lists side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackName {
    /// uvicorn or gunicorn serving one of chapter 6's Python apps.
    Python(Stack),
    /// A lab model, by its kind: the Python stacks' Rust twins.
    Rust(ModelKind),
}

impl clap::ValueEnum for StackName {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<StackName>> = LazyLock::new(|| {
            let python = Stack::value_variants()
                .iter()
                .map(|&s| StackName::Python(s));
            python.chain(ModelKind::ALL.map(StackName::Rust)).collect()
        });
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            StackName::Python(stack) => stack.to_possible_value(),
            StackName::Rust(kind) => Some(kind.to_possible_value()?.help(twin_help(*kind))),
        }
    }
}

/// What `--help` says of each Rust twin, beside its model name.
fn twin_help(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::SyncPool => "Rust: k blocking threads, rusqlite (gunicorn's twin)",
        ModelKind::Rouille => "Rust: rouille with a pool of k threads",
        ModelKind::EventLoop => "Rust: axum on one thread, sqlx (uvicorn's twin)",
        ModelKind::WorkStealing => "Rust: axum on k work-stealing threads",
        ModelKind::LoopPerWorker => "Rust: actix-web, one loop per worker",
        ModelKind::BlockedLoop => "Rust: the blocking app called on the loop",
        ModelKind::SpawnBlocking => "Rust: the blocking app on a pool of k threads",
    }
}

impl StackName {
    /// The name on the command line (`fastapi-async`, `sync-pool`, …).
    pub fn name(self) -> String {
        match self {
            StackName::Python(stack) => stack.name(),
            StackName::Rust(kind) => kind.name(),
        }
    }

    /// The path of the published "simple JSON" endpoint on this stack: the
    /// blog's `/api/simple` in Python; the Rust contract's `/hello`, the same
    /// size of answer.
    pub fn simple_path(self) -> &'static str {
        match self {
            StackName::Python(_) => "/api/simple",
            StackName::Rust(_) => "/hello",
        }
    }
}

/// How to start a stack: workers, database, and (for Python) the venv.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Worker processes (Python) or threads/workers/pool size (Rust).
    pub workers: usize,
    /// Threads per gunicorn `gthread` worker.
    pub threads: usize,
    /// A SQLite file or a PostgreSQL DSN ([`crate::db::Database::parse`]);
    /// empty: a Rust twin makes a temporary SQLite file.
    pub database: String,
    /// The injected round trip before each `/users` query.
    pub db_latency: Duration,
    /// The venv, for the Python stacks.
    pub venv: Option<Venv>,
    /// The program whose `serve --stack` runs a Rust twin (the example).
    pub exe: std::path::PathBuf,
}

/// How long a stack may take to get ready (Django imports take a while on
/// a busy machine; a Rust twin is ready in milliseconds).
pub const READY_WITHIN: Duration = Duration::from_secs(60);

/// Starts `stack` on a free loopback port as a child process group.
pub fn start(stack: StackName, launch: &Launch) -> anyhow::Result<ChildServer> {
    start_with(stack, launch, Knobs::default(), None)
}

// ANCHOR: pinning
/// [`start`] with chapter 6's knobs turned (Python stacks only; a Rust twin
/// has no such switches) and, with `pinning`, the server's whole process
/// group on the server's core: it inherits the core of the thread that
/// starts it, and this thread moves to the load generator's core afterwards
/// (the load generator's threads, started from it, inherit that one).
pub fn start_with(
    stack: StackName,
    launch: &Launch,
    knobs: Knobs,
    pinning: Option<&Pinning>,
) -> anyhow::Result<ChildServer> {
    if let Some(pinning) = pinning {
        pinning.this_thread_to(pinning.server)?;
    }
    let started = start_unpinned(stack, launch, knobs);
    if let Some(pinning) = pinning {
        pinning.this_thread_to(pinning.load)?;
    }
    started
}
// ANCHOR_END: pinning

fn start_unpinned(stack: StackName, launch: &Launch, knobs: Knobs) -> anyhow::Result<ChildServer> {
    let (command, ready) = match stack {
        StackName::Python(python) => {
            let venv = launch
                .venv
                .as_ref()
                .context("a Python stack needs the virtual environment")?;
            // uvicorn and gunicorn print the port they were given, so pick a
            // free one and wait until it accepts.
            let port = free_port()?;
            let options = StackOptions {
                workers: launch.workers,
                threads: launch.threads,
                database: launch.database.clone(),
                db_latency: launch.db_latency,
            };
            let ready = Ready::Accepts(SocketAddr::from(([127, 0, 0, 1], port)));
            (python.command_with(venv, port, &options, knobs), ready)
        }
        StackName::Rust(_) => {
            let mut command = Command::new(&launch.exe);
            command
                .args(["serve", "--stack", &stack.name(), "--port", "0"])
                .args(["--workers", &launch.workers.to_string()])
                .args([
                    "--db-latency-ms",
                    &launch.db_latency.as_millis().to_string(),
                ]);
            if !launch.database.is_empty() {
                command.args(["--database", &launch.database]);
            }
            (command, Ready::Announces("listening on"))
        }
    };
    ChildServer::start(command, ready, READY_WITHIN)
        .with_context(|| format!("starting {}", stack.name()))
}

/// The server on one core, the load generator on another, so that neither
/// takes CPU from the other (on a 2-core machine each gets one). Made only
/// where this thread may run on two cores or more; [`Pinning::release`]
/// gives this thread back every core it had.
#[derive(Debug, Clone)]
pub struct Pinning {
    /// The core the server's process group runs on.
    pub server: usize,
    /// The core the load generator's threads run on.
    pub load: usize,
    all: rustix::thread::CpuSet,
}

impl Pinning {
    /// The first two cores this thread may use, or why pinning is off.
    pub fn new() -> Result<Pinning, String> {
        let all = rustix::thread::sched_getaffinity(None).map_err(|e| e.to_string())?;
        let mut cores = (0..rustix::thread::CpuSet::MAX_CPU).filter(|&c| all.is_set(c));
        match (cores.next(), cores.next()) {
            (Some(load), Some(server)) => Ok(Pinning { server, load, all }),
            _ => Err("this process may use only one core".into()),
        }
    }

    fn this_thread_to(&self, core: usize) -> anyhow::Result<()> {
        let mut set = rustix::thread::CpuSet::new();
        set.set(core);
        rustix::thread::sched_setaffinity(None, &set)
            .with_context(|| format!("pinning this thread to core {core}"))
    }

    /// This thread (and threads it starts from now on) on every core again.
    pub fn release(&self) -> anyhow::Result<()> {
        rustix::thread::sched_setaffinity(None, &self.all).context("unpinning this thread")
    }
}

// ANCHOR: concurrency
impl StackName {
    /// How many requests can be waiting at once with `clients` clients:
    /// Little's law's L, for the bound L / W.
    pub fn concurrency(self, clients: usize, launch: &Launch) -> usize {
        let slots = match self {
            StackName::Python(Stack::FastapiAsync) => clients, // every await overlaps
            StackName::Python(Stack::FastapiDef) => FASTAPI_THREADS * launch.workers,
            StackName::Python(Stack::FastapiBlocked | Stack::DjangoSync) => launch.workers,
            StackName::Python(Stack::DjangoGthread) => launch.workers * launch.threads,
            StackName::Rust(kind) => Model::new(kind, launch.workers).concurrency(clients),
        };
        slots.min(clients)
    }

    /// Little's law bound in requests per second when each request waits `wait`.
    pub fn bound(self, clients: usize, wait: Duration, launch: &Launch) -> f64 {
        self.concurrency(clients, launch) as f64 / wait.as_secs_f64()
    }
}
// ANCHOR_END: concurrency

/// FastAPI runs `def` endpoints on AnyIO's thread limiter: 40 threads per
/// worker process by default.
pub const FASTAPI_THREADS: usize = 40;

/// The lab model a Rust [`StackName`] names, with `workers` as its size.
pub fn rust_model(stack: StackName, workers: usize) -> Option<Model> {
    match stack {
        StackName::Rust(kind) => Some(Model::new(kind, workers)),
        StackName::Python(_) => None,
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Memory and CPU of a whole process group, summed over its processes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupUsage {
    /// How many processes the group has.
    pub processes: usize,
    /// Resident memory, summed (shared pages count once per process, as
    /// `ps` and `top` count them).
    pub rss_bytes: u64,
    /// User + system CPU time, summed over the live processes and the
    /// children they have reaped.
    pub cpu: Duration,
}

impl GroupUsage {
    /// Reads every process whose process group is `group` (its leader's
    /// pid). None where /proc cannot be read.
    pub fn read(group: u32) -> Option<GroupUsage> {
        let page = procfs::page_size();
        let ticks = procfs::ticks_per_second() as f64;
        let mut usage = GroupUsage::default();
        for process in procfs::process::all_processes().ok()? {
            // A process may exit while we walk /proc: skip it.
            let Ok(stat) = process.and_then(|p| p.stat()) else {
                continue;
            };
            if u32::try_from(stat.pgrp).ok() != Some(group) {
                continue;
            }
            usage.processes += 1;
            usage.rss_bytes += stat.rss * page;
            let ticks_used = stat.utime + stat.stime;
            let reaped = u64::try_from(stat.cutime + stat.cstime).unwrap_or(0);
            usage.cpu += Duration::from_secs_f64((ticks_used + reaped) as f64 / ticks);
        }
        (usage.processes > 0).then_some(usage)
    }
}

/// One load run against one server: what the load generator saw and what
/// the server's process group used.
#[derive(Debug, Clone)]
pub struct Measured {
    pub report: LoadReport,
    /// Answers per second in the measured window.
    pub per_second: f64,
    /// The group's RSS at the end of the run.
    pub rss_bytes: Option<u64>,
    /// How many processes the group had then.
    pub processes: usize,
    /// The group's CPU time per answered request (warm-up included on both
    /// sides, so an estimate).
    pub cpu_per_request: Option<Duration>,
    /// This process's CPU time per answered request: the load generator's
    /// share of the same cores (chapter 6's model against reality).
    pub client_cpu_per_request: Duration,
    /// The CPU every other program on the machine used over the run (all
    /// cores busy, from /proc/stat, minus the server's group and this
    /// process), per answered request: a database on the same cores, other
    /// users' work. None where /proc/stat cannot be read.
    pub other_cpu_per_request: Option<Duration>,
    /// Established connections to the server per process of its group, in
    /// the middle of the measured window, largest first (processes holding
    /// none left out): how the kernel's accept spread the clients.
    pub connections: Vec<usize>,
}

impl Measured {
    /// Little's L of the run: how many requests were outstanding on
    /// average over the measured window, counted by the load generator
    /// (about the number of clients when every connection is served, and
    /// never more).
    pub fn in_flight(&self) -> f64 {
        self.report.mean_in_flight()
    }
}

// ANCHOR: measure
/// Sends `spec`'s load to `server` (the load generator's threads run in
/// this process, the server in its own) and reads the server's group
/// before and after.
pub fn measure(server: &ChildServer, spec: &LoadSpec) -> anyhow::Result<Measured> {
    let group = server.pid();
    let (before, started) = (GroupUsage::read(group), Instant::now());
    let machine = machine_busy();
    let client_cpu = cpu_time::ProcessTime::now();
    // Counted once, halfway through the measured window (a bounded sleep).
    let (midway, port) = (spec.warmup + spec.duration / 2, spec.addr.port());
    let counter = std::thread::spawn(move || {
        std::thread::sleep(midway);
        connections_by_process(group, port)
    });
    let report = loadgen::run_blocking(spec, crate::api::experiment::load_threads())?;
    let client_cpu = client_cpu.elapsed();
    let machine = machine
        .zip(machine_busy())
        .map(|(b, a)| a.saturating_sub(b));
    let over = started.elapsed();
    let after = GroupUsage::read(group);
    let per_second = report.requests_per_sec();
    let answered = (per_second * over.as_secs_f64()).max(1.0);
    let server_cpu = before
        .zip(after)
        .map(|(before, after)| after.cpu.saturating_sub(before.cpu));
    let cpu_per_request = server_cpu.map(|cpu| cpu.div_f64(answered));
    let other_cpu_per_request = machine.zip(server_cpu).map(|(busy, server)| {
        busy.saturating_sub(server)
            .saturating_sub(client_cpu)
            .div_f64(answered)
    });
    Ok(Measured {
        per_second,
        rss_bytes: after.map(|a| a.rss_bytes),
        processes: after.map_or(0, |a| a.processes),
        cpu_per_request,
        client_cpu_per_request: client_cpu.div_f64(answered),
        other_cpu_per_request,
        connections: counter.join().unwrap_or_default(),
        report,
    })
}
// ANCHOR_END: measure

/// How many established TCP connections to local `port` each process of
/// process group `group` holds (its socket fds matched against
/// /proc/net/tcp), largest first; empty where /proc cannot be read.
pub fn connections_by_process(group: u32, port: u16) -> Vec<usize> {
    let Ok(table) = procfs::net::tcp() else {
        return Vec::new();
    };
    let ours: std::collections::HashSet<u64> = table
        .iter()
        .filter(|e| e.local_address.port() == port && e.state == procfs::net::TcpState::Established)
        .map(|e| e.inode)
        .collect();
    let Ok(processes) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let mut counts: Vec<usize> = processes
        .flatten()
        .filter(|p| p.stat().is_ok_and(|s| u32::try_from(s.pgrp).ok() == Some(group)))
        .filter_map(|p| {
            let fds = p.fd().ok()?;
            let n = fds
                .flatten()
                .filter(|fd| matches!(fd.target, procfs::process::FDTarget::Socket(i) if ours.contains(&i)))
                .count();
            (n > 0).then_some(n)
        })
        .collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts
}

/// CPU time all cores spent busy since boot (/proc/stat: everything but
/// idle and I/O wait).
fn machine_busy() -> Option<Duration> {
    use procfs::CurrentSI as _;
    let t = procfs::KernelStats::current().ok()?.total;
    let ticks = t.user
        + t.nice
        + t.system
        + t.irq.unwrap_or(0)
        + t.softirq.unwrap_or(0)
        + t.steal.unwrap_or(0);
    Some(Duration::from_secs_f64(
        ticks as f64 / procfs::ticks_per_second() as f64,
    ))
}

/// Waits until `server` answers one `GET path`: after a closed loop of
/// many clients stops, a server whose workers take one request at a time
/// still has the abandoned requests in its listen backlog and works through
/// them; the next measurement must not start behind that queue. Returns how
/// long the queue took to drain.
pub fn drain(server: &ChildServer, path: &str, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(within)
        .build()?;
    let status = client.get(server.url(path)).send()?.status();
    anyhow::ensure!(status.is_success(), "GET {path} answered {status}");
    Ok(started.elapsed())
}

/// Sends `rounds` × the group's worker count sequential `GET path`s, each on
/// a new connection so the kernel spreads them over the workers: a fresh
/// Django worker builds its URL resolver, DRF settings and serializers on
/// its first requests (and a fresh uvicorn worker warms Pydantic), which on
/// a busy 2-core machine took long enough to cost a 10-second wrk run a
/// third of its throughput. A load generator without a warm-up (wrk has
/// none) should start after this.
pub fn warm_up(server: &ChildServer, path: &str, workers: usize) -> anyhow::Result<()> {
    const ROUNDS: usize = 10;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()?;
    for _ in 0..ROUNDS * workers.max(1) {
        let status = client.get(server.url(path)).send()?.status();
        anyhow::ensure!(status.is_success(), "warm-up GET {path} answered {status}");
    }
    Ok(())
}

/// Creates one user through `POST /users` and returns its id, so that the
/// database row reads a row that exists (on every stack, SQLite or
/// PostgreSQL, without knowing its ids).
pub fn create_user(server: &ChildServer, email: &str) -> anyhow::Result<u64> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let answer = client
        .post(server.url("/users"))
        .json(&serde_json::json!({ "email": email }))
        .send()?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().context("POST /users answered no JSON")?;
    anyhow::ensure!(
        status.as_u16() == 201,
        "POST /users answered {status}: {body}"
    );
    body["id"]
        .as_u64()
        .with_context(|| format!("POST /users answered no id: {body}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum as _;

    /// The names every script, figure and chapter uses: renaming a variant
    /// renames a command-line value, so it has to show up here.
    const NAMES: [&str; 12] = [
        "fastapi-async",
        "fastapi-def",
        "fastapi-blocked",
        "django-sync",
        "django-gthread",
        "sync-pool",
        "rouille",
        "event-loop",
        "work-stealing",
        "loop-per-worker",
        "blocked-loop",
        "spawn-blocking",
    ];

    #[test]
    fn every_name_round_trips_and_the_list_stays_the_same() {
        let names: Vec<String> = StackName::value_variants()
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(names, NAMES);
        for &stack in StackName::value_variants() {
            assert_eq!(StackName::from_str(&stack.name(), false), Ok(stack));
            match stack {
                StackName::Python(python) => assert_eq!(python.name(), stack.name()),
                StackName::Rust(kind) => {
                    assert_eq!(kind.name(), stack.name());
                    assert_eq!(rust_model(stack, 2).unwrap().kind(), kind);
                }
            }
        }
    }

    #[test]
    fn the_command_line_takes_each_name_and_lists_them_on_a_bad_one() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Args {
            #[arg(long)]
            stack: StackName,
        }
        let parse = |name: &str| Args::try_parse_from(["ch06_table", "--stack", name]);
        assert_eq!(
            parse("fastapi-async").unwrap().stack,
            StackName::Python(Stack::FastapiAsync)
        );
        assert_eq!(
            parse("sync-pool").unwrap().stack,
            StackName::Rust(ModelKind::SyncPool)
        );
        let error = parse("flask").err().unwrap().to_string();
        assert!(error.contains(&NAMES.join(", ")), "{error}");
    }

    #[test]
    fn bounds_follow_the_chapters() {
        let launch = |workers, threads| Launch {
            workers,
            threads,
            database: String::new(),
            db_latency: Duration::ZERO,
            venv: None,
            exe: std::path::PathBuf::new(),
        };
        let wait = Duration::from_millis(50);
        let bound =
            |stack: StackName, workers, threads| stack.bound(100, wait, &launch(workers, threads));
        let python = StackName::Python;
        let rust = StackName::Rust;
        assert_eq!(bound(python(Stack::FastapiAsync), 1, 1), 2_000.0);
        assert_eq!(bound(python(Stack::FastapiDef), 1, 1), 800.0);
        assert_eq!(bound(python(Stack::FastapiBlocked), 1, 1), 20.0);
        assert_eq!(bound(python(Stack::DjangoSync), 2, 1), 40.0);
        assert_eq!(bound(python(Stack::DjangoGthread), 2, 16), 640.0);
        assert_eq!(bound(rust(ModelKind::SyncPool), 2, 1), 40.0);
        assert_eq!(bound(rust(ModelKind::EventLoop), 1, 1), 2_000.0);
    }

    #[test]
    fn pinning_moves_this_thread_and_gives_it_back() {
        // A thread of our own: the test harness's threads keep their cores.
        std::thread::spawn(|| {
            let Ok(pinning) = Pinning::new() else {
                return; // one core: nothing to check
            };
            pinning.this_thread_to(pinning.load).unwrap();
            assert_eq!(crate::api::experiment::load_threads(), 1);
            pinning.release().unwrap();
            assert!(crate::api::experiment::load_threads() >= 2);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn this_process_group_is_read() {
        // The test runs in some process group; reading it finds at least us.
        let group = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        let usage = GroupUsage::read(group).expect("our own group");
        assert!(usage.processes >= 1);
        assert!(usage.rss_bytes > 1 << 20, "{usage:?}");
        assert!(GroupUsage::read(u32::MAX >> 1).is_none());
    }
}
