//! One API served by seven server models — the experiment of chapters 3 and 4.
//!
//! | [`Model`]          | built with                         | Python analog                               |
//! |--------------------|------------------------------------|---------------------------------------------|
//! | `SyncPool`         | hyper, k blocking worker threads   | gunicorn `-w k` (sync) / `-k gthread`       |
//! | `Rouille`          | rouille, `pool_size(k)`            | a threaded WSGI server (gthread, waitress)  |
//! | `EventLoop`        | axum on tokio `current_thread`     | uvicorn, one worker, `async def`            |
//! | `WorkStealing`     | axum on tokio `multi_thread`       | (none: one loop shared by k threads)        |
//! | `LoopPerWorker`    | actix-web, k workers               | `uvicorn --workers k` (processes)           |
//! | `BlockedLoop`      | axum, blocking app on the loop     | `async def` calling `time.sleep`            |
//! | `SpawnBlocking`    | axum, blocking app in a k-pool     | FastAPI `def` endpoint (threadpool)         |
//!
//! The routes and their answers live once in [`contract`]; the blocking app
//! ([`SyncApp`], rusqlite) and the async app ([`AsyncApp`], sqlx) differ only
//! in how they wait. [`start`] returns a [`RunningServer`] whose
//! [`RunningServer::stop`] returns within about 2 s; [`serve_until_signal`]
//! is the `serve` mode of the examples. Left out: TLS, HTTP/2, processes
//! (workers are threads in one process).

pub mod actix_app;
pub mod async_app;
pub mod axum_app;
pub mod contract;
pub mod experiment;
pub mod head_timeout;
pub mod rouille_app;
pub mod slow_clients;
pub mod sync_app;
pub mod sync_workers;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use async_app::AsyncApp;
pub use contract::{ApiRequest, ApiResponse, Route};
pub use sync_app::SyncApp;

use crate::db::TempDbs;
use axum_app::{Flavor, Runtime};

/// A server model: how requests are scheduled onto threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// `threads` blocking worker threads, one connection each at a time.
    SyncPool { threads: usize },
    /// rouille (tiny_http) with a pool of `threads` handler threads.
    Rouille { threads: usize },
    /// axum on one tokio thread.
    EventLoop,
    /// axum on `threads` work-stealing tokio threads.
    WorkStealing { threads: usize },
    /// actix-web with `workers` single-threaded loops.
    LoopPerWorker { workers: usize },
    /// axum on one thread, the blocking app called on the loop.
    BlockedLoop,
    /// axum on one thread, the blocking app in a pool of `pool` threads.
    SpawnBlocking { pool: usize },
}

/// The name of a server model: what `--model` takes, what every table,
/// the visualizer and the chapters call it (ARCHITECTURE.md has the
/// glossary). clap derives the command-line names, `sync-pool` and so on,
/// from the variants, the one place they are spelled; [`ModelKind::name`]
/// reads them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ModelKind {
    SyncPool,
    Rouille,
    EventLoop,
    WorkStealing,
    LoopPerWorker,
    BlockedLoop,
    SpawnBlocking,
}

impl ModelKind {
    /// Every kind, in the order `--model` lists them (a test holds this to
    /// clap's `value_variants`).
    pub const ALL: [ModelKind; 7] = [
        ModelKind::SyncPool,
        ModelKind::Rouille,
        ModelKind::EventLoop,
        ModelKind::WorkStealing,
        ModelKind::LoopPerWorker,
        ModelKind::BlockedLoop,
        ModelKind::SpawnBlocking,
    ];

    /// The name on the command line (`sync-pool`, …), as clap derives it.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .expect("no variant is skipped")
            .get_name()
            .to_string()
    }
}

impl Model {
    /// A model of kind `kind` with `k` threads, workers or pool threads (as
    /// `--workers`; at least 1, ignored by the one-loop models).
    pub fn new(kind: ModelKind, k: usize) -> Self {
        let k = k.max(1);
        match kind {
            ModelKind::SyncPool => Model::SyncPool { threads: k },
            ModelKind::Rouille => Model::Rouille { threads: k },
            ModelKind::EventLoop => Model::EventLoop,
            ModelKind::WorkStealing => Model::WorkStealing { threads: k },
            ModelKind::LoopPerWorker => Model::LoopPerWorker { workers: k },
            ModelKind::BlockedLoop => Model::BlockedLoop,
            ModelKind::SpawnBlocking => Model::SpawnBlocking { pool: k },
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Model::SyncPool { .. } => ModelKind::SyncPool,
            Model::Rouille { .. } => ModelKind::Rouille,
            Model::EventLoop => ModelKind::EventLoop,
            Model::WorkStealing { .. } => ModelKind::WorkStealing,
            Model::LoopPerWorker { .. } => ModelKind::LoopPerWorker,
            Model::BlockedLoop => ModelKind::BlockedLoop,
            Model::SpawnBlocking { .. } => ModelKind::SpawnBlocking,
        }
    }

    /// Its threads, workers or pool size: the `--workers` that [`Model::new`]
    /// turns back into this model (1 for the one-loop models).
    pub fn workers(&self) -> usize {
        match *self {
            Model::SyncPool { threads: k }
            | Model::Rouille { threads: k }
            | Model::WorkStealing { threads: k }
            | Model::LoopPerWorker { workers: k }
            | Model::SpawnBlocking { pool: k } => k,
            Model::EventLoop | Model::BlockedLoop => 1,
        }
    }

    /// A short label with the size, e.g. `sync-pool k=32`.
    pub fn label(&self) -> String {
        match self {
            Model::EventLoop | Model::BlockedLoop => self.kind().name(),
            _ => format!("{} k={}", self.kind().name(), self.workers()),
        }
    }

    /// What the model stands in for in Python.
    pub fn python_analog(&self) -> &'static str {
        match *self {
            Model::SyncPool { .. } => "gunicorn sync/gthread",
            Model::Rouille { .. } => "threaded WSGI server",
            Model::EventLoop => "uvicorn, async def",
            Model::WorkStealing { .. } => "(no Python analog)",
            Model::LoopPerWorker { .. } => "uvicorn --workers k",
            Model::BlockedLoop => "async def + time.sleep",
            Model::SpawnBlocking { .. } => "FastAPI def (threadpool)",
        }
    }

    // ANCHOR: littles_law
    /// How many requests can be waiting at once with `clients` clients.
    pub fn concurrency(&self, clients: usize) -> usize {
        match *self {
            Model::SyncPool { threads: k }
            | Model::Rouille { threads: k }
            | Model::SpawnBlocking { pool: k } => k.min(clients),
            Model::EventLoop | Model::WorkStealing { .. } | Model::LoopPerWorker { .. } => clients,
            Model::BlockedLoop => 1.min(clients),
        }
    }

    /// Little's law, L = λW, solved for the throughput λ: at most
    /// `concurrency` requests in progress, each taking at least `wait`.
    pub fn bound(&self, clients: usize, wait: Duration) -> f64 {
        self.concurrency(clients) as f64 / wait.as_secs_f64()
    }
    // ANCHOR_END: littles_law
}

/// Settings shared by every model.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra latency before each database query (a simulated network round trip).
    pub db_latency: Duration,
    /// The SQLite file; `None` makes a fresh one in the temp dir, deleted on stop.
    pub db_path: Option<PathBuf>,
}

/// A server running in its own thread(s). Dropping it stops it.
pub struct RunningServer {
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Option<Box<dyn FnOnce() + Send>>,
    temp_db: Option<TempDbs>,
    served: Arc<AtomicU64>,
}

/// How long [`RunningServer::stop`] waits for the server thread.
pub const STOP_DEADLINE: Duration = Duration::from_secs(2);

impl RunningServer {
    pub(crate) fn new(
        addr: SocketAddr,
        thread: std::thread::JoinHandle<()>,
        stop: Box<dyn FnOnce() + Send>,
    ) -> Self {
        Self {
            addr,
            thread: Some(thread),
            stop: Some(stop),
            temp_db: None,
            served: Arc::default(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests the app has answered so far (counted server-side,
    /// as `wrk` counts completions: whenever they were sent).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting, gives in-flight requests a moment, and returns how
    /// long that took — never much more than [`STOP_DEADLINE`]: a thread that
    /// is still busy then is left to finish on its own.
    pub fn stop(mut self) -> Duration {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Duration {
        let start = Instant::now();
        if let Some(stop) = self.stop.take() {
            stop();
        }
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && start.elapsed() < STOP_DEADLINE {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        self.temp_db = None; // removes the database, if it was a temporary one
        start.elapsed()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts `model` on `addr` (use port 0 for a free port).
pub fn start(model: Model, addr: SocketAddr, options: &Options) -> anyhow::Result<RunningServer> {
    let temp = TempDbs::new()?; // removed when the server stops
    let db = options.db_path.clone().unwrap_or_else(|| temp.path("api"));
    let served = Arc::new(AtomicU64::new(0)); // answers, counted by the app
    let sync_app = SyncApp::new(&db, options.db_latency)?.counting(served.clone());
    let async_app = || Arc::new(AsyncApp::new(&db, options.db_latency).counting(served.clone()));
    let bind = || crate::net::bind_and_listen(addr);
    let mut server = match model {
        Model::SyncPool { threads } => sync_workers::start(addr, threads, sync_app)?,
        Model::Rouille { threads } => rouille_app::start(addr, threads, sync_app)?,
        Model::EventLoop => {
            axum_app::start(bind()?, Runtime::CurrentThread { max_blocking: 1 }, || {
                Flavor::Async(async_app())
            })?
        }
        Model::WorkStealing { threads } => {
            axum_app::start(bind()?, Runtime::MultiThread { workers: threads }, || {
                Flavor::Async(async_app())
            })?
        }
        Model::LoopPerWorker { workers } => actix_app::start(
            bind()?,
            workers,
            db.clone(),
            options.db_latency,
            served.clone(),
        )?,
        Model::BlockedLoop => {
            axum_app::start(bind()?, Runtime::CurrentThread { max_blocking: 1 }, || {
                Flavor::BlockedLoop(sync_app.into())
            })?
        }
        Model::SpawnBlocking { pool } => axum_app::start(
            bind()?,
            Runtime::CurrentThread { max_blocking: pool },
            || Flavor::SpawnBlocking(sync_app.into()),
        )?,
    };
    server.served = served;
    server.temp_db = Some(temp);
    Ok(server)
}

/// The `serve` mode: starts `model`, prints `listening on http://ADDR`, runs
/// until the future `shutdown(addr)` completes (e.g. on a signal),
/// then stops within about 2 s and returns how long stopping took.
pub async fn serve_until_signal<F, Fut>(
    model: Model,
    addr: SocketAddr,
    options: &Options,
    shutdown: F,
) -> anyhow::Result<Duration>
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = start(model, addr, options)?;
    println!(
        "{} ({}) listening on http://{} — Ctrl-C or SIGTERM to stop",
        model.label(),
        model.python_analog(),
        server.addr()
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    shutdown(server.addr()).await;
    let took = tokio::task::spawn_blocking(move || server.stop()).await?;
    println!("stopped in {}", crate::report::human(took));
    Ok(took)
}

// ANCHOR: in_flight_needed
/// How many requests must be in flight (clients in a closed loop, workers ×
/// threads in a pool) to reach `target_per_sec` when each takes
/// `time_per_request`: Little's law, L = λ·W, rounded up. Chapters 1 and 3.
///
/// The product is taken in whole nanoseconds: `300.0 * 0.07` is
/// 21.000000000000004 in binary floating point (0.07 has no exact form), and
/// rounding that up would ask for 22. With an integral rate the product in
/// nanoseconds is exact, so a whole λ·W stays whole.
pub fn in_flight_needed(target_per_sec: f64, time_per_request: Duration) -> usize {
    let in_flight = target_per_sec * time_per_request.as_nanos() as f64 / 1e9;
    in_flight.ceil().max(0.0) as usize
}
// ANCHOR_END: in_flight_needed

// ANCHOR: exercise_loop_bound
/// Chapter 4 exercise: the bound of one event loop with `clients` clients
/// when each request spends `awaited` in awaits (they overlap) and then
/// `blocking` in code that never awaits (blocking calls or CPU work: they take
/// turns on the one thread). A request takes `awaited + blocking` in all.
pub fn loop_bound(clients: usize, awaited: Duration, blocking: Duration) -> f64 {
    let overlapped = clients as f64 / (awaited + blocking).as_secs_f64();
    if blocking.is_zero() {
        overlapped
    } else {
        overlapped.min(1.0 / blocking.as_secs_f64())
    }
}
// ANCHOR_END: exercise_loop_bound

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn littles_law_bounds_match_the_chapters() {
        let wait = Duration::from_millis(50);
        assert_eq!(Model::SyncPool { threads: 2 }.bound(100, wait), 40.0);
        assert_eq!(Model::SyncPool { threads: 32 }.bound(100, wait), 640.0);
        assert_eq!(Model::Rouille { threads: 32 }.bound(100, wait), 640.0);
        assert_eq!(Model::EventLoop.bound(100, wait), 2_000.0);
        assert_eq!(Model::BlockedLoop.bound(100, wait), 20.0);
        assert_eq!(Model::SpawnBlocking { pool: 40 }.bound(100, wait), 800.0);
    }

    #[test]
    fn model_names_round_trip() {
        use clap::ValueEnum as _;
        for kind in ModelKind::ALL {
            let model = Model::new(kind, 3);
            assert_eq!(model.kind(), kind);
            assert_eq!(Model::new(model.kind(), model.workers()), model);
            let on_the_command_line = kind.to_possible_value().expect("no variant is skipped");
            assert_eq!(on_the_command_line.get_name(), kind.name());
            assert_eq!(ModelKind::from_str(&kind.name(), false), Ok(kind));
            assert!(model.label().starts_with(&kind.name()));
        }
        assert_eq!(ModelKind::ALL, ModelKind::value_variants());
    }

    #[test]
    fn in_flight_needed_rounds_up_and_only_up() {
        let ms = Duration::from_millis;
        assert_eq!(in_flight_needed(300.0, ms(70)), 21); // not 22
        assert_eq!(in_flight_needed(300.0, ms(80)), 24);
        assert_eq!(in_flight_needed(250.0, ms(80)), 20);
        assert_eq!(in_flight_needed(40.0, ms(50)), 2);
        assert_eq!(in_flight_needed(41.0, ms(50)), 3);
        assert_eq!(in_flight_needed(1.0, ms(50)), 1);
        assert_eq!(in_flight_needed(0.0, ms(50)), 0);
        // Every whole rate and millisecond time against integer arithmetic.
        for rate in 1..=2_000u64 {
            for millis in 1..=200u64 {
                let exact = (rate * millis).div_ceil(1_000) as usize;
                assert_eq!(
                    in_flight_needed(rate as f64, ms(millis)),
                    exact,
                    "{rate}/s × {millis} ms"
                );
            }
        }
    }

    #[test]
    fn exercise_loop_bound() {
        let ms = Duration::from_millis;
        // The chapter's case: 45 ms awaited, then 5 ms blocking.
        assert_eq!(loop_bound(100, ms(45), ms(5)), 200.0);
        assert_eq!(loop_bound(100, ms(50), Duration::ZERO), 2_000.0);
        assert_eq!(loop_bound(100, Duration::ZERO, ms(50)), 20.0); // the blocked loop
        assert_eq!(loop_bound(100, ms(49), ms(1)), 1_000.0);
        assert_eq!(loop_bound(10, ms(49), ms(1)), 200.0);
    }
}
