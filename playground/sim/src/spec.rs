//! What to simulate: the server model and the workload, with the limits that keep
//! one run small enough for a browser tab (out-of-range inputs are clamped, and
//! [`Workload::clamp`] / [`ModelSpec::clamp`] say what they changed so the UI can show it).
//!
//! Times are integer microseconds so that runs are exactly reproducible.

use serde::{Deserialize, Serialize};

/// The six server models the visualizer compares. Their names are the lab's
/// (`lab::api::ModelKind`, `--model`), plus `gil-threads`, which only the
/// simulation has; ARCHITECTURE.md has the glossary. The lab's
/// `spawn-blocking` is [`ModelKind::BlockedLoop`] with
/// [`ModelSpec::offload`]: one loop, its blocking calls moved to a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// k sync workers, one request each for its whole life (gunicorn sync/gthread; rouille).
    SyncPool,
    /// One event loop: CPU phases serialized on one thread, waits overlap
    /// (uvicorn with 1 worker; tokio current_thread).
    EventLoop,
    /// One event loop where some handlers block it (`time.sleep` in `async def`;
    /// `std::thread::sleep` in an `async fn`), optionally offloaded to a blocking pool
    /// (`def` endpoints; `spawn_blocking`).
    BlockedLoop,
    /// k threads sharing one GIL with a switch interval (CPython threads; gunicorn gthread).
    GilThreads,
    /// k event loops, each connection pinned to one at accept (`uvicorn --workers k`; actix-web).
    LoopPerWorker,
    /// A work-stealing multi-thread runtime: any idle worker runs any ready task (tokio multi-thread).
    WorkStealing,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::SyncPool,
        ModelKind::EventLoop,
        ModelKind::BlockedLoop,
        ModelKind::GilThreads,
        ModelKind::LoopPerWorker,
        ModelKind::WorkStealing,
    ];

    /// The model's name (URLs, exports, presets), the same as the lab's `--model`.
    pub fn id(self) -> &'static str {
        match self {
            ModelKind::SyncPool => "sync-pool",
            ModelKind::EventLoop => "event-loop",
            ModelKind::BlockedLoop => "blocked-loop",
            ModelKind::GilThreads => "gil-threads",
            ModelKind::LoopPerWorker => "loop-per-worker",
            ModelKind::WorkStealing => "work-stealing",
        }
    }

    /// The ids before the names were made one with the lab's, so that links
    /// shared then (`?ww=model:pool,…`) still open the same run.
    fn old_id(self) -> &'static str {
        match self {
            ModelKind::SyncPool => "pool",
            ModelKind::EventLoop => "loop",
            ModelKind::BlockedLoop => "blocked",
            ModelKind::GilThreads => "gil",
            ModelKind::LoopPerWorker => "pinned",
            ModelKind::WorkStealing => "stealing",
        }
    }

    /// The model with this id (or old id).
    pub fn from_id(id: &str) -> Option<ModelKind> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.id() == id || m.old_id() == id)
    }

    /// Name shown in the UI: the id, what it is, its real-world counterparts.
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::SyncPool => "sync-pool: k sync workers (gunicorn sync · rouille)",
            ModelKind::EventLoop => "event-loop: one event loop (uvicorn · tokio current_thread)",
            ModelKind::BlockedLoop => {
                "blocked-loop: an event loop with blocking handlers (time.sleep in async def · thread::sleep in async fn)"
            }
            ModelKind::GilThreads => {
                "gil-threads: threads sharing a GIL (CPython threads · gunicorn gthread)"
            }
            ModelKind::LoopPerWorker => {
                "loop-per-worker: k event loops, each connection pinned to one (uvicorn --workers k · actix-web)"
            }
            ModelKind::WorkStealing => {
                "work-stealing: k runtime workers sharing all tasks (tokio multi-thread)"
            }
        }
    }

    /// How many lanes (threads that run CPU work) the model has for `workers`.
    pub fn lanes(self, workers: u32) -> u32 {
        match self {
            ModelKind::EventLoop | ModelKind::BlockedLoop => 1,
            _ => workers,
        }
    }

    /// Whether a request holds its worker while it waits (lanes show waits).
    pub fn holds_worker(self) -> bool {
        matches!(self, ModelKind::SyncPool | ModelKind::GilThreads)
    }
}

/// How long each phase lasts around its configured mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dist {
    Fixed,
    Exponential,
}

/// Where requests come from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Arrivals {
    /// N clients, each sends a request, waits for the answer, thinks, repeats.
    Closed { clients: u32, think_us: u64 },
    /// Poisson arrivals at a fixed rate, whatever the server does.
    Open { rate_per_s: f64 },
}

/// The work each request does and how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub arrivals: Arrivals,
    /// CPU before the wait (parse, validate, build the query), mean µs.
    pub cpu_before_us: u64,
    /// The I/O wait (database, upstream HTTP), mean µs.
    pub wait_us: u64,
    /// CPU after the wait (serialize the answer), mean µs.
    pub cpu_after_us: u64,
    pub dist: Dist,
    /// Total requests in the run (arrivals stop after this many).
    pub requests: u32,
    pub seed: u64,
}

/// The server model and its knobs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub kind: ModelKind,
    /// Pool size, GIL threads, loops (loop-per-worker) or runtime workers (ignored by the one-loop models).
    pub workers: u32,
    /// GIL: forced switch after this long with a waiter (CPython `sys.getswitchinterval()`, 5 ms).
    pub switch_interval_us: u64,
    /// blocked-loop: share of requests (0..=1) whose wait is a blocking call.
    pub blocking_share: f64,
    /// blocked-loop: run blocking calls in a blocking pool instead of on the loop
    /// (the lab's `spawn-blocking`).
    pub offload: bool,
    /// blocked-loop with `offload`: how many blocking calls the pool runs at
    /// once; the rest queue for a thread (FastAPI's `def` endpoints: 40 per
    /// worker; tokio's `spawn_blocking`: 512). 0: no limit.
    #[serde(default)]
    pub blocking_pool: u32,
    /// gil-threads: processes the `workers` threads are split into, each with
    /// its own GIL; a connection stays with the process that accepted it
    /// (gunicorn `gthread`: `--workers` processes × `--threads`).
    #[serde(default = "one")]
    pub processes: u32,
    /// CPU cores the lanes share: at most this many CPU phases run at once,
    /// the others wait for a core in line. 0: a core for every lane.
    #[serde(default)]
    pub cores: u32,
    /// With `cores`: CPU each closed-loop client spends per request on the
    /// same cores before it sends the next one (the load generator, or a
    /// database on the same machine), mean µs.
    #[serde(default)]
    pub shared_cpu_us: u64,
    /// loop-per-worker, and gil-threads with several processes: the share
    /// (0..=1) of connections the first loop / process accepts, the rest
    /// spread evenly (a kernel's accept is rarely even between processes
    /// racing for it). 0: every connection picks one at random.
    #[serde(default)]
    pub pin_share: f64,
}

fn one() -> u32 {
    1
}

impl ModelSpec {
    /// A model with the defaults the book uses (5 ms GIL interval, half the
    /// handlers blocking, not offloaded).
    pub fn new(kind: ModelKind, workers: u32) -> ModelSpec {
        ModelSpec {
            kind,
            workers,
            switch_interval_us: 5_000,
            blocking_share: 0.5,
            offload: false,
            blocking_pool: 0,
            processes: 1,
            cores: 0,
            shared_cpu_us: 0,
            pin_share: 0.0,
        }
    }

    /// The process (gil-threads: which GIL) thread `thread` belongs to: the
    /// threads are split into `processes` runs of about equal length.
    pub fn process_of(&self, thread: u32) -> u32 {
        if self.kind != ModelKind::GilThreads || self.processes <= 1 {
            return 0;
        }
        (u64::from(thread) * u64::from(self.processes) / u64::from(self.workers.max(1))) as u32
    }

    /// How many processes (GILs) the model has: `processes` for gil-threads, else 1.
    pub fn process_count(&self) -> u32 {
        if self.kind == ModelKind::GilThreads {
            self.processes.clamp(1, self.workers.max(1))
        } else {
            1
        }
    }

    /// Clamp to [`Limits`]; returns a message per changed value.
    pub fn clamp(&mut self, limits: &Limits) -> Vec<String> {
        let mut notes = Vec::new();
        clamp_u32(
            &mut self.workers,
            1,
            limits.max_workers,
            "workers",
            &mut notes,
        );
        clamp_u64(
            &mut self.switch_interval_us,
            100,
            1_000_000,
            "switch interval (µs)",
            &mut notes,
        );
        clamp_u32(
            &mut self.blocking_pool,
            0,
            limits.max_clients,
            "blocking pool",
            &mut notes,
        );
        clamp_u32(
            &mut self.processes,
            1,
            self.workers,
            "processes",
            &mut notes,
        );
        clamp_u32(&mut self.cores, 0, limits.max_workers, "cores", &mut notes);
        clamp_u64(
            &mut self.shared_cpu_us,
            0,
            limits.max_phase_us,
            "shared CPU (µs)",
            &mut notes,
        );
        if !(0.0..=1.0).contains(&self.pin_share) || self.pin_share.is_nan() {
            let v = if self.pin_share > 1.0 { 1.0 } else { 0.0 };
            notes.push(format!("pinned share clamped to {v}"));
            self.pin_share = v;
        }
        if !(0.0..=1.0).contains(&self.blocking_share) || self.blocking_share.is_nan() {
            let v = if self.blocking_share > 1.0 { 1.0 } else { 0.0 };
            notes.push(format!("blocking share clamped to {v}"));
            self.blocking_share = v;
        }
        notes
    }
}

/// Bounds on one run, so any input finishes quickly and fits in memory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub max_workers: u32,
    pub max_clients: u32,
    pub max_requests: u32,
    /// Longest mean phase, µs.
    pub max_phase_us: u64,
    /// The engine stops (and marks the run truncated) after this many events.
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // A pool as big as the lab's largest (the engine holds up to 4,096).
            max_workers: 1_024,
            max_clients: 1_000,
            max_requests: 1_000_000,
            max_phase_us: 10_000_000,
            // About 11 events a request, 16 with the GIL: a million requests fit.
            max_events: 24_000_000,
        }
    }
}

impl Workload {
    /// Clamp to [`Limits`]; returns a message per changed value.
    pub fn clamp(&mut self, limits: &Limits) -> Vec<String> {
        let mut notes = Vec::new();
        match &mut self.arrivals {
            Arrivals::Closed { clients, think_us } => {
                clamp_u32(clients, 1, limits.max_clients, "clients", &mut notes);
                clamp_u64(
                    think_us,
                    0,
                    limits.max_phase_us,
                    "think time (µs)",
                    &mut notes,
                );
            }
            Arrivals::Open { rate_per_s } => {
                let (lo, hi) = (0.1, 1_000_000.0);
                if rate_per_s.is_nan() || *rate_per_s < lo || *rate_per_s > hi {
                    let v = if *rate_per_s > hi { hi } else { lo };
                    notes.push(format!("arrival rate clamped to {v}/s"));
                    *rate_per_s = v;
                }
            }
        }
        let max = limits.max_phase_us;
        clamp_u64(
            &mut self.cpu_before_us,
            0,
            max,
            "CPU before (µs)",
            &mut notes,
        );
        clamp_u64(&mut self.wait_us, 0, max, "wait (µs)", &mut notes);
        clamp_u64(&mut self.cpu_after_us, 0, max, "CPU after (µs)", &mut notes);
        clamp_u32(
            &mut self.requests,
            1,
            limits.max_requests,
            "requests",
            &mut notes,
        );
        notes
    }
}

fn clamp_u32(v: &mut u32, lo: u32, hi: u32, name: &str, notes: &mut Vec<String>) {
    let c = (*v).clamp(lo, hi);
    if c != *v {
        notes.push(format!("{name} clamped to {c}"));
        *v = c;
    }
}

fn clamp_u64(v: &mut u64, lo: u64, hi: u64, name: &str, notes: &mut Vec<String>) {
    let c = (*v).clamp(lo, hi);
    if c != *v {
        notes.push(format!("{name} clamped to {c}"));
        *v = c;
    }
}
