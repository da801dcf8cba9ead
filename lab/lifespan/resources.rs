//! App scope: what the app builds once at startup and tears down once at
//! shutdown — FastAPI's `lifespan` before and after its `yield`, Django's
//! `AppConfig.ready()`. Here: the configuration, the SQLite pool (schema
//! migrated, WAL, a busy timeout) and one deliberately expensive resource,
//! a [`Model`] standing in for an ML model that takes a while to load.
//!
//! Left out: reading configuration from the environment (the example's flags
//! do that), real migrations (one idempotent `CREATE TABLE`), hot reload.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::events::{Recorder, Step};

/// Everything the app is configured with; fixed for the app's life.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file (created if missing).
    pub db_path: PathBuf,
    /// Most connections the pool opens.
    pub pool_size: u32,
    /// How long SQLite waits for another writer's lock before `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// How long a request waits for a pooled connection before a 503.
    pub acquire_timeout: Duration,
    /// Size of the expensive resource's table (bigger = slower startup).
    pub model_entries: usize,
    /// A simulated wait in `POST /users` before the write (an upstream call).
    pub work: Duration,
    /// Rows per chunk of the streaming export.
    pub page_size: u32,
    /// Pause between chunks of the streaming export (a slow producer).
    pub chunk_delay: Duration,
    /// How long shutdown waits for in-flight requests before cutting them off.
    pub shutdown_deadline: Duration,
    /// actix-web worker threads (axum uses the tokio runtime's threads).
    pub workers: usize,
    /// **Broken on purpose**, for the crash drill only: answer `POST /users`
    /// with 201 at once and write the row this long afterwards (see
    /// [`super::handlers::create_user_ack_first`]). Always `None` outside
    /// the drill: commit, then answer.
    pub broken_ack_before_commit: Option<Duration>,
}

impl Config {
    /// Sensible defaults for a file at `db_path`.
    pub fn new(db_path: impl Into<PathBuf>) -> Self {
        Self {
            db_path: db_path.into(),
            pool_size: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            model_entries: 500_000,
            work: Duration::ZERO,
            page_size: 2,
            chunk_delay: Duration::from_millis(20),
            shutdown_deadline: Duration::from_secs(10),
            workers: 2,
            broken_ack_before_commit: None,
        }
    }
}

// ANCHOR: model
/// The expensive resource: a sorted table of hashes built once at startup
/// (think: an ML model's weights). Handlers share it through an `Arc`; its
/// `Drop` records `model dropped`, so tests can see when it is released.
pub struct Model {
    table: Vec<u64>,
    recorder: Recorder,
}

impl Model {
    /// Builds the table on a blocking thread: CPU work must not stall the
    /// event loop (chapter 4), even at startup.
    pub async fn load(entries: usize, recorder: Recorder) -> anyhow::Result<Self> {
        let started = Instant::now();
        let table = tokio::task::spawn_blocking(move || {
            let mut table: Vec<u64> = (0..entries as u64).map(splitmix64).collect();
            table.sort_unstable();
            table
        })
        .await?;
        recorder.app(Step::ModelLoaded {
            entries,
            took: started.elapsed(),
        });
        Ok(Self { table, recorder })
    }
}
// ANCHOR_END: model

impl Model {
    pub fn entries(&self) -> usize {
        self.table.len()
    }

    /// A cheap use of the expensive table: how many entries hash below `x`'s
    /// hash (a binary search), i.e. a stable "score" in 0..entries.
    pub fn score(&self, text: &str) -> usize {
        let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            splitmix64(h ^ u64::from(b))
        });
        self.table.partition_point(|&v| v < h)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        self.recorder.app(Step::ModelDropped);
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How long opening the pool (every connection) may take at startup.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

// ANCHOR: open_pool
/// Opens the pool on a SQLite file: WAL so readers never block the writer,
/// a busy timeout so concurrent writers queue instead of failing at once,
/// `synchronous = NORMAL` (safe with WAL), then migrates the schema.
///
/// All `pool_size` connections are opened here, under [`STARTUP_DEADLINE`],
/// not the requests' short `acquire_timeout`: sqlx would apply its acquire
/// timeout to opening the connections too, and on a busy machine opening a
/// SQLite file can take longer than a request may wait (the chapter's
/// 300 ms). So a request only ever waits for a connection another request
/// holds, and [`super::scope::RequestDb::acquire`] bounds that wait.
///
/// How durable that is: in WAL mode every `COMMIT` has written its pages to
/// the `-wal` file before it returns; NORMAL skips only the `fsync`. So a
/// committed row survives the *process* dying (SIGKILL, a panic, the OOM
/// killer: the kernel still holds the written pages), which the crash drill
/// checks, but may be lost if the *machine* loses power or the kernel
/// crashes before the next checkpoint's `fsync`. `synchronous = FULL` also
/// survives power loss, at one `fsync` per commit.
pub async fn open_pool(config: &Config) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(&config.db_path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(config.busy_timeout);
    let pool = SqlitePoolOptions::new()
        .max_connections(config.pool_size)
        .min_connections(config.pool_size) // all of them, now (see above)
        .acquire_timeout(STARTUP_DEADLINE.max(config.acquire_timeout))
        .connect_with(options)
        .await
        .with_context(|| format!("opening the SQLite file {}", config.db_path.display()))?;
    crate::users::create_schema(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("migrating the schema: {e}"))?;
    Ok(pool)
}
// ANCHOR_END: open_pool

/// The app-wide resources, built by [`AppResources::start`] before the
/// server binds its port and torn down by [`AppResources::close`] after the
/// server has stopped.
#[derive(Clone)]
pub struct AppResources {
    pub config: Arc<Config>,
    pub pool: SqlitePool,
    pub model: Arc<Model>,
    pub recorder: Recorder,
    /// Only when the config asks for the broken-on-purpose variant.
    pub ack_first: Option<Arc<super::handlers::AckFirst>>,
}

impl AppResources {
    // ANCHOR: startup
    /// Startup: everything a request may need exists before the first one.
    pub async fn start(config: Config, recorder: Recorder) -> anyhow::Result<Self> {
        recorder.app(Step::StartupBegan);
        let pool = open_pool(&config).await?;
        recorder.app(Step::PoolOpened {
            connections: config.pool_size,
        });
        recorder.app(Step::SchemaMigrated);
        let model = Arc::new(Model::load(config.model_entries, recorder.clone()).await?);
        let ack_first = match config.broken_ack_before_commit {
            Some(delay) => Some(Arc::new(
                super::handlers::AckFirst::new(&pool, delay).await?,
            )),
            None => None,
        };
        Ok(Self {
            config: Arc::new(config),
            pool,
            model,
            recorder,
            ack_first,
        })
    }
    // ANCHOR_END: startup

    // ANCHOR: close
    /// Shutdown, after the server stopped: close the pool (waits for every
    /// connection to come back, bounded by `deadline`), then let go of the
    /// model once no worker holds it any more. Returns true if both were
    /// released in time.
    pub async fn close(self, deadline: Duration) -> bool {
        let Self {
            pool,
            model,
            recorder,
            ..
        } = self;
        let started = Instant::now();
        let pool_closed = tokio::time::timeout(deadline, pool.close()).await.is_ok();
        recorder.app(if pool_closed {
            Step::PoolClosed {
                took: started.elapsed(),
            }
        } else {
            Step::PoolCloseTimedOut
        });
        // Server workers drop their clones of the app state as they exit;
        // wait for the last one so `Drop for Model` runs here, not never.
        while Arc::strong_count(&model) > 1 && started.elapsed() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let model_released = Arc::strong_count(&model) == 1;
        drop(model);
        pool_closed && model_released
    }
    // ANCHOR_END: close
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pool_commits_to_a_wal_with_synchronous_normal() {
        let dbs = crate::db::TempDbs::new().unwrap();
        let pool = open_pool(&Config::new(dbs.path("pragmas"))).await.unwrap();
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(&pool)
            .await
            .unwrap();
        // What the crash drill's durability rests on (see `open_pool`).
        assert_eq!((mode.0.as_str(), sync.0), ("wal", 1));
        pool.close().await;
    }

    /// The requests' acquire timeout does not bound opening the pool (it
    /// did: a 300 ms timeout failed startup now and then on a busy machine;
    /// with a zero timeout it failed every time).
    #[tokio::test]
    async fn startup_opens_every_connection_whatever_the_acquire_timeout() {
        let dbs = crate::db::TempDbs::new().unwrap();
        let mut config = Config::new(dbs.path("zero-timeout"));
        config.pool_size = 3;
        config.acquire_timeout = Duration::ZERO;
        let pool = open_pool(&config).await.unwrap();
        assert_eq!(pool.size(), 3);
        pool.close().await;
    }

    #[tokio::test]
    async fn model_scores_are_stable_and_in_range() {
        let rec = Recorder::default();
        let model = Model::load(1000, rec.clone()).await.unwrap();
        assert_eq!(
            model.score("ann@example.com"),
            model.score("ann@example.com")
        );
        assert!(model.score("x") <= 1000);
        drop(model);
        assert_eq!(rec.app_names(), ["model loaded", "model dropped"]);
    }
}
