//! The server fuzzer: generated bad requests against every server model of
//! chapters 3–4 and both lifespan apps of chapter 5, over loopback.
//!
//! nginx, hyper, uvicorn and SQLite earn trust by surviving inputs nobody
//! would send on purpose. This module sends them: [`inputs`] builds them with
//! proptest strategies, one good request per endpoint family broken in one
//! way per [`InputClass`]; [`wire`] sends each on its own connection and reads
//! what comes back. Every answer must be one of
//!
//! - a 2xx (the input was odd but valid),
//! - a 4xx with a JSON body: the **app** refused it with a message,
//! - a bare 400, 408, 413, 414, 417 or 431 from the **HTTP layer** (hyper,
//!   tiny_http, actix's parser) for bytes that never became a request,
//! - a 505 (or an answer in kind) to a request line naming another HTTP
//!   version,
//! - or a clean close (the server hung up without answering),
//!
//! and nothing else: no 500, no other 5xx, no hang, no panic (a panic hook
//! counts them, caught or not), and the server keeps answering good requests
//! correctly while it is fuzzed and after ([`probe`]). Left out: TLS, HTTP/2,
//! slow clients and overload (separate drills), coverage guidance (a
//! libFuzzer-style search would need nightly and an in-process harness per
//! framework; strategies over the protocol's known weak spots reach the same
//! code from the outside, in `cargo test`).

pub mod inputs;
pub mod probe;
pub mod stacks;
pub mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy as _, ValueTree as _};
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

pub use inputs::{API_FAMILIES, Family, Input, InputClass, LIFESPAN_FAMILIES};
pub use wire::{Answer, End, Ending};

use crate::api::{Model, Options, RunningServer};
use crate::lifespan::{Framework, Recorder};

/// A server the fuzzer can start: one of the API's models, or a lifespan app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Api(Model),
    Lifespan(Framework),
}

impl Server {
    /// Every server model (small pools: the fuzzer needs correctness, not
    /// throughput) and both lifespan apps.
    pub fn all() -> Vec<Server> {
        vec![
            Server::Api(Model::SyncPool { threads: 4 }),
            Server::Api(Model::Rouille { threads: 4 }),
            Server::Api(Model::EventLoop),
            Server::Api(Model::WorkStealing { threads: 2 }),
            Server::Api(Model::LoopPerWorker { workers: 2 }),
            Server::Api(Model::BlockedLoop),
            Server::Api(Model::SpawnBlocking { pool: 4 }),
            Server::Lifespan(Framework::Axum),
            Server::Lifespan(Framework::Actix),
        ]
    }

    pub fn label(&self) -> String {
        match self {
            Server::Api(model) => model.label(),
            Server::Lifespan(framework) => format!("lifespan {}", framework.name()),
        }
    }

    pub fn families(&self) -> &'static [Family] {
        match self {
            Server::Api(_) => &API_FAMILIES,
            Server::Lifespan(_) => &LIFESPAN_FAMILIES,
        }
    }

    /// Which good requests [`probe`] sends to it.
    pub fn probe_kind(&self) -> probe::Kind {
        match self {
            Server::Api(_) => probe::Kind::Api,
            Server::Lifespan(_) => probe::Kind::Lifespan,
        }
    }

    /// The name `--server` takes: the model's `--model` name, or
    /// `lifespan-axum` / `lifespan-actix`.
    pub fn name(&self) -> String {
        match self {
            Server::Api(model) => model.kind().name().to_string(),
            Server::Lifespan(Framework::Axum) => "lifespan-axum".into(),
            Server::Lifespan(Framework::Actix) => "lifespan-actix".into(),
        }
    }
}

/// A server running in this process for one fuzz run. Dropping it stops it.
pub struct Started {
    pub addr: SocketAddr,
    api: Option<RunningServer>,
    lifespan: Option<(tokio::runtime::Runtime, crate::lifespan::Running, PathBuf)>,
}

impl Started {
    pub fn start(server: Server) -> anyhow::Result<Started> {
        let any_port: SocketAddr = "127.0.0.1:0".parse()?;
        match server {
            Server::Api(model) => {
                let running = crate::api::start(model, any_port, &Options::default())?;
                Ok(Started {
                    addr: running.addr(),
                    api: Some(running),
                    lifespan: None,
                })
            }
            Server::Lifespan(framework) => {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let db = std::env::temp_dir().join(format!(
                    "waiting-well-fuzz-{}-{}.sqlite",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                let config = crate::lifespan::Config {
                    model_entries: 1_000,
                    chunk_delay: Duration::ZERO,
                    page_size: 50,
                    shutdown_deadline: Duration::from_secs(2),
                    ..crate::lifespan::Config::new(&db)
                };
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                let running = runtime.block_on(crate::lifespan::start(
                    framework,
                    config,
                    Recorder::default(),
                    any_port,
                ))?;
                Ok(Started {
                    addr: running.addr,
                    api: None,
                    lifespan: Some((runtime, running, db)),
                })
            }
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(api) = self.api.take() {
            api.stop();
        }
        if let Some((runtime, running, db)) = self.lifespan.take() {
            let _ = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), running.shutdown()).await
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
            for suffix in ["", "-wal", "-shm"] {
                let mut path = db.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

// ANCHOR: verdict
/// What one input got, judged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// A 2xx: odd but valid.
    Success,
    /// A 4xx with a JSON message: the app refused it.
    AppRefused,
    /// A bare 400/408/413/414/417/431: the HTTP layer refused it.
    HttpRefused(u16),
    /// A request line that named another HTTP version got a 505, or an
    /// answer in that version.
    OtherVersion,
    /// No answer, then a clean close or reset.
    Closed,
    /// The client went away first (an early-disconnect input).
    ClientLeft,
    /// Anything else: a 5xx, a bare 4xx from the app, a hang, garbage.
    Failure(String),
}

/// The statuses an HTTP layer may answer without a JSON body: the request
/// could not be read (400), took too long (408), was too large (413, 414,
/// 431), or expected what the server does not do (417, `Expect: foo`).
pub const HTTP_LAYER_STATUSES: [u16; 6] = [400, 408, 413, 414, 417, 431];

/// Judges one exchange: the worst of its answers, or how it ended.
pub fn judge(input: &Input, exchange: &wire::Exchange) -> Verdict {
    let verdict = judge_answers(input, exchange);
    match exchange.late {
        // Right but late: past the deadline, within its grace.
        Some(took) if !matches!(verdict, Verdict::Failure(_)) => Verdict::Failure(format!(
            "answered or closed only after {} (slow, not a hang)",
            crate::report::human(took)
        )),
        _ => verdict,
    }
}

/// [`judge`], leaving out when the exchange ended.
fn judge_answers(input: &Input, exchange: &wire::Exchange) -> Verdict {
    match &exchange.end {
        End::Aborted => return Verdict::ClientLeft,
        End::NoServer(why) => return Verdict::Failure(format!("server gone: {why}")),
        End::TimedOut => {
            return Verdict::Failure(format!(
                "no answer and no close in {} deadlines (hang)",
                1 + wire::GRACE_DEADLINES
            ));
        }
        End::Closed | End::Reset => {}
    }
    let answers = match wire::parse_answers(&exchange.bytes) {
        Ok(answers) => answers,
        // A reset can cut an answer short; what arrived before it counts.
        Err(_) if exchange.end == End::Reset => return Verdict::Closed,
        // A streamed 2xx cut short by a close: actix-web hangs up mid-answer
        // when the request's own (unread) chunked body turns out malformed.
        Err(_) if exchange.bytes.starts_with(b"HTTP/1.1 2") => return Verdict::Closed,
        Err(why) => return Verdict::Failure(why),
    };
    let mut verdict = Verdict::Closed;
    for (i, answer) in answers.iter().enumerate() {
        let this = match (answer.status, answer.json) {
            _ if answer.other_version && input.odd_version => Verdict::OtherVersion,
            (200..=299, _) => Verdict::Success,
            (400..=499, true) => Verdict::AppRefused,
            (status, false) if HTTP_LAYER_STATUSES.contains(&status) => {
                Verdict::HttpRefused(status)
            }
            (505, _) if input.odd_version => Verdict::OtherVersion,
            (status, json) => {
                let body = if json { "JSON" } else { "no JSON" };
                return Verdict::Failure(format!("answer {}: {status} with {body}", i + 1));
            }
        };
        if i == 0 {
            verdict = this; // the first answer says which layer answered
        }
    }
    verdict
}
// ANCHOR_END: verdict

/// What kind of failure [`judge`]'s reason names: `5xx` (an answer with
/// a 5xx status), `hang`, `slow` (a right answer after the deadline),
/// `server gone`, or `other` (a bare 4xx from the app, garbage).
pub fn failure_kind(why: &str) -> &'static str {
    if why.contains("server gone") {
        "server gone"
    } else if why.contains("(hang)") {
        "hang"
    } else if why.contains("(slow, not a hang)") {
        "slow"
    } else if why
        .split_once(": ")
        .is_some_and(|(answer, rest)| answer.starts_with("answer ") && rest.starts_with('5'))
    {
        "5xx"
    } else {
        "other"
    }
}

impl Verdict {
    /// The column this verdict is counted in.
    pub fn column(&self) -> &'static str {
        match self {
            Verdict::Success => "2xx",
            Verdict::AppRefused => "4xx app JSON",
            Verdict::HttpRefused(_) => "4xx HTTP layer",
            Verdict::OtherVersion => "other version",
            Verdict::Closed => "closed",
            Verdict::ClientLeft => "client left",
            Verdict::Failure(_) => "FAILED",
        }
    }
}

/// The columns of the per-class table, in order.
pub const COLUMNS: [&str; 7] = [
    "2xx",
    "4xx app JSON",
    "4xx HTTP layer",
    "other version",
    "closed",
    "client left",
    "FAILED",
];

/// Counts panics anywhere in this process (caught by a framework or not):
/// the hook is installed once and keeps calling the previous one. Any panic
/// fails a run, third-party ones included: the fuzzer found one in
/// actix-http, which is patched (vendor/actix-http/PATCHED.md).
pub fn panic_count() -> u64 {
    PANICS.load(Ordering::SeqCst)
}

static PANICS: AtomicU64 = AtomicU64::new(0);
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the panic-counting hook (idempotent).
pub fn count_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            let mut first = FIRST_PANIC.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| info.to_string());
            drop(first);
            previous(info);
        }));
    });
}

/// The first panic's message, if any.
pub fn first_panic() -> Option<String> {
    FIRST_PANIC
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// How much to send, and how.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Inputs per endpoint family (classes take turns within a family).
    pub per_family: u64,
    /// Client threads sending at once.
    pub clients: usize,
    /// Seed of the generator: the same seed sends the same inputs.
    pub seed: u64,
    /// How long one exchange may take before it counts as a hang.
    pub deadline: Duration,
    /// How long a server may be silent before the client half-closes
    /// (see [`wire::QUIET`]).
    pub quiet: Duration,
    /// Pause between good-request probes while fuzzing.
    pub probe_every: Duration,
}

impl Plan {
    pub fn new(per_family: u64) -> Plan {
        Plan {
            per_family,
            clients: 8,
            seed: 16,
            deadline: Duration::from_secs(10),
            quiet: wire::QUIET,
            probe_every: Duration::from_millis(100),
        }
    }
}

/// One failing input, kept to be shown (bytes escaped, cut to 300).
#[derive(Debug, Clone)]
pub struct Example {
    pub family: &'static str,
    pub class: InputClass,
    pub why: String,
    pub input: String,
}

/// What one fuzz run saw.
#[derive(Debug, Clone)]
pub struct Report {
    /// Per input class: verdict column -> count.
    pub by_class: BTreeMap<InputClass, BTreeMap<&'static str, u64>>,
    /// Per endpoint family: inputs sent.
    pub by_family: BTreeMap<&'static str, u64>,
    /// HTTP-layer refusals by status.
    pub http_statuses: BTreeMap<u16, u64>,
    pub failures: u64,
    /// Failures by kind ([`failure_kind`]: `5xx`, `hang`, `slow`,
    /// `server gone`, `other`).
    pub failure_kinds: BTreeMap<&'static str, u64>,
    pub examples: Vec<Example>,
    /// Panics counted by the hook during the run.
    pub panics: u64,
    pub probes_ok: u64,
    pub probes_failed: Vec<String>,
    /// The probe after the run, on the same server.
    pub after: Result<(), String>,
    pub took: Duration,
    /// Set if the run stopped early because the server was gone.
    pub server_gone: Option<String>,
    /// Then: the last inputs each client sent, one of which killed it.
    pub suspects: Vec<(&'static str, InputClass, Input)>,
}

impl Default for Report {
    fn default() -> Report {
        Report {
            by_class: BTreeMap::new(),
            by_family: BTreeMap::new(),
            http_statuses: BTreeMap::new(),
            failures: 0,
            failure_kinds: BTreeMap::new(),
            examples: Vec::new(),
            panics: 0,
            probes_ok: 0,
            probes_failed: Vec::new(),
            after: Ok(()),
            took: Duration::ZERO,
            server_gone: None,
            suspects: Vec::new(),
        }
    }
}

impl Report {
    pub fn inputs(&self) -> u64 {
        self.by_family.values().sum()
    }

    /// Clean: no failure, no panic, every probe answered correctly.
    pub fn clean(&self) -> bool {
        self.failures == 0
            && self.panics == 0
            && self.probes_failed.is_empty()
            && self.after.is_ok()
            && self.server_gone.is_none()
    }

    fn add(&mut self, family: &'static str, class: InputClass, verdict: &Verdict, input: &Input) {
        *self.by_family.entry(family).or_default() += 1;
        *self
            .by_class
            .entry(class)
            .or_default()
            .entry(verdict.column())
            .or_default() += 1;
        match verdict {
            Verdict::HttpRefused(status) => *self.http_statuses.entry(*status).or_default() += 1,
            Verdict::Failure(why) => {
                self.failures += 1;
                *self.failure_kinds.entry(failure_kind(why)).or_default() += 1;
                if self.examples.len() < 10 {
                    self.examples.push(Example {
                        family,
                        class,
                        why: why.clone(),
                        input: escape(&input.bytes, 300),
                    });
                }
            }
            _ => {}
        }
    }

    /// Adds another run's counts (e.g. the next family's) to this one.
    pub fn absorb(&mut self, other: Report) {
        self.panics += other.panics;
        self.probes_ok += other.probes_ok;
        let room = 10usize.saturating_sub(self.probes_failed.len());
        self.probes_failed
            .extend(other.probes_failed.iter().take(room).cloned());
        if self.after.is_ok() {
            self.after = other.after.clone();
        }
        self.took += other.took;
        self.merge(other);
    }

    fn merge(&mut self, other: Report) {
        for (class, columns) in other.by_class {
            let mine = self.by_class.entry(class).or_default();
            for (column, n) in columns {
                *mine.entry(column).or_default() += n;
            }
        }
        for (family, n) in other.by_family {
            *self.by_family.entry(family).or_default() += n;
        }
        for (status, n) in other.http_statuses {
            *self.http_statuses.entry(status).or_default() += n;
        }
        self.failures += other.failures;
        for (kind, n) in other.failure_kinds {
            *self.failure_kinds.entry(kind).or_default() += n;
        }
        let room = 10usize.saturating_sub(self.examples.len());
        self.examples.extend(other.examples.into_iter().take(room));
        if self.server_gone.is_none() {
            self.server_gone = other.server_gone;
        }
        self.suspects.extend(other.suspects);
    }

    /// The per-class table: one row per input class, one column per verdict.
    pub fn class_table(&self) -> crate::report::Table {
        let mut table = crate::report::Table::new(
            std::iter::once("input class")
                .chain(std::iter::once("sent"))
                .chain(COLUMNS),
        );
        for (class, columns) in &self.by_class {
            let sent: u64 = columns.values().sum();
            let cells = COLUMNS
                .iter()
                .map(|c| columns.get(c).copied().unwrap_or(0).to_string());
            table.row(
                [class.name().to_string(), sent.to_string()]
                    .into_iter()
                    .chain(cells),
            );
        }
        table
    }
}

/// Bytes as text: printable ASCII kept, the rest escaped, cut to `max` chars.
pub fn escape(bytes: &[u8], max: usize) -> String {
    let text: String = bytes.escape_ascii().to_string();
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}… ({} bytes)", bytes.len())
    } else {
        text
    }
}

/// Fuzzes the server at `addr` with `plan.per_family` inputs for each of
/// `families`, from `plan.clients` threads, probing it with good requests
/// meanwhile and once after. `alive` says whether the server still exists
/// (a child process can die; then the run stops and says so).
pub fn run(
    addr: SocketAddr,
    probe_kind: probe::Kind,
    families: &'static [Family],
    plan: &Plan,
    alive: &(dyn Fn() -> Result<(), String> + Sync),
) -> Report {
    count_panics();
    let panics_before = panic_count();
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let mut report = Report::default();
    let (probes_ok, probes_failed) = std::thread::scope(|scope| {
        let prober = scope.spawn(|| {
            let (mut ok, mut failed) = (0u64, Vec::new());
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                match probe::check(addr, probe_kind, n) {
                    Ok(()) => ok += 1,
                    Err(why) => {
                        if failed.len() < 10 {
                            failed.push(why);
                        }
                    }
                }
                std::thread::sleep(plan.probe_every);
            }
            (ok, failed)
        });
        let clients: Vec<_> = (0..plan.clients.max(1))
            .map(|client| {
                let stop = &stop;
                scope.spawn(move || fuzz_client(addr, families, plan, client, stop, alive))
            })
            .collect();
        for client in clients {
            match client.join() {
                Ok(part) => report.merge(part),
                Err(_) => report.failures += 1, // a panic in the fuzzer itself
            }
        }
        stop.store(true, Ordering::Relaxed);
        prober
            .join()
            .unwrap_or((0, vec!["the prober panicked".into()]))
    });
    report.probes_ok = probes_ok;
    report.probes_failed = probes_failed;
    report.after = match alive() {
        Ok(()) => probe::check(addr, probe_kind, u64::MAX),
        Err(why) => Err(why),
    };
    report.panics = panic_count() - panics_before;
    report.took = started.elapsed();
    report
}

/// One client thread: inputs `client, client + clients, ...` of the run,
/// families and classes taking turns.
fn fuzz_client(
    addr: SocketAddr,
    families: &'static [Family],
    plan: &Plan,
    client: usize,
    stop: &AtomicBool,
    alive: &(dyn Fn() -> Result<(), String> + Sync),
) -> Report {
    let mut report = Report::default();
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&plan.seed.to_le_bytes());
    seed[8..16].copy_from_slice(&(client as u64).to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        RunnerConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let classes = InputClass::ALL;
    let strategies: Vec<Vec<_>> = families
        .iter()
        .map(|&f| classes.iter().map(|&c| inputs::strategy(f, c)).collect())
        .collect();
    let total = plan.per_family * families.len() as u64;
    let clients = plan.clients.max(1) as u64;
    let mut recent = std::collections::VecDeque::with_capacity(4);
    let mut i = client as u64;
    while i < total && !stop.load(Ordering::Relaxed) {
        let family = (i % families.len() as u64) as usize;
        let class = ((i / families.len() as u64) % classes.len() as u64) as usize;
        let input = match strategies[family][class].new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(_) => {
                i += clients;
                continue;
            }
        };
        let exchange = wire::exchange(addr, &input.bytes, input.ending, plan.quiet, plan.deadline);
        let mut verdict = judge(&input, &exchange);
        if let Verdict::Failure(why) = &verdict
            && let Err(gone) = alive()
        {
            verdict = Verdict::Failure(format!("{why}; server gone: {gone}"));
            report.server_gone = Some(gone);
        }
        report.add(families[family].name, classes[class], &verdict, &input);
        if recent.len() == 4 {
            recent.pop_front();
        }
        recent.push_back((families[family].name, classes[class], input));
        if report.server_gone.is_some() {
            stop.store(true, Ordering::Relaxed);
        }
        i += clients;
    }
    if stop.load(Ordering::Relaxed) {
        report.suspects.extend(recent); // the server died: keep what was sent last
    }
    report
}

/// Starts `server` in this process, fuzzes it and stops it.
pub fn run_in_process(server: Server, plan: &Plan) -> anyhow::Result<Report> {
    let started = Started::start(server)?;
    let report = run(
        started.addr,
        server.probe_kind(),
        server.families(),
        plan,
        &|| Ok(()),
    );
    drop(started);
    Ok(report)
}

/// Shared by the example and the tests: one line per server.
pub fn summary_row(server: &str, report: &Report) -> Vec<String> {
    let count = |c: &str| -> u64 {
        report
            .by_class
            .values()
            .map(|cols| cols.get(c).copied().unwrap_or(0))
            .sum()
    };
    let min_family = report.by_family.values().copied().min().unwrap_or(0);
    vec![
        server.to_string(),
        report.inputs().to_string(),
        min_family.to_string(),
        count("2xx").to_string(),
        count("4xx app JSON").to_string(),
        count("4xx HTTP layer").to_string(),
        count("other version").to_string(),
        (count("closed") + count("client left")).to_string(),
        report.failures.to_string(),
        report.panics.to_string(),
        format!(
            "{}/{}",
            report.probes_ok,
            report.probes_ok + report.probes_failed.len() as u64
        ),
        if report.after.is_ok() { "yes" } else { "NO" }.to_string(),
        crate::report::human(report.took),
    ]
}

/// The header of [`summary_row`].
pub const SUMMARY_HEADER: [&str; 13] = [
    "server",
    "inputs",
    "min/family",
    "2xx",
    "4xx app",
    "4xx HTTP",
    "other version",
    "closed",
    "FAILED",
    "panics",
    "probes ok",
    "good after",
    "took",
];
