//! The app written the ASGI way: an `async fn` that yields to the event loop
//! at every wait (`await asyncio.sleep`, an async database driver). The wait
//! is `wait::simulated_wait`, a timer that fires to the microsecond.
//!
//! It is what a FastAPI `async def` endpoint is. Every `.await` below is a
//! point where the loop may switch to another request; between two awaits
//! the code runs alone on its thread. The database is SQLite (sqlx runs
//! each query on a helper thread) or PostgreSQL (sqlx's Postgres driver
//! reads the socket on the loop itself, as asyncpg does). Left out:
//! per-request transactions (chapter 5).

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::contract::{self, ApiRequest, ApiResponse, Route, route};
use crate::db::Database;
use crate::users::{self, ApiError, NewUser, User};
use crate::wait::{burn_cpu, simulated_wait};

/// Connections in a pool on SQLite (one writer at a time: more would wait).
const SQLITE_POOL: u32 = 8;
/// Connections in a pool on PostgreSQL: the FastAPI app's asyncpg pool of 20.
pub const POSTGRES_POOL: u32 = 20;

/// The async app: a sqlx pool and the injected database latency.
#[derive(Debug, Clone)]
pub struct AsyncApp {
    pool: Pool,
    db_latency: Duration,
    served: Arc<AtomicU64>,
}

/// A sqlx pool on either database.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

// The pools keep their connections (no idle timeout, no lifetime), so sqlx
// starts no maintenance task: building one needs no tokio runtime, and
// `api::start` builds it on the caller's thread. One builder per driver, so
// that `new` and `with_own_pool` cannot drift apart.
impl Pool {
    /// A lazy pool of [`SQLITE_POOL`] connections: no I/O here.
    fn sqlite(options: SqliteConnectOptions) -> Pool {
        Pool::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(SQLITE_POOL)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with(options),
        )
    }

    /// A lazy pool of [`POSTGRES_POOL`] connections: no I/O here.
    fn postgres(options: PgConnectOptions) -> Pool {
        Pool::Postgres(
            PgPoolOptions::new()
                .max_connections(POSTGRES_POOL)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with(options),
        )
    }
}

impl AsyncApp {
    /// A lazy pool on `db`, whose table must exist (create it first, e.g.
    /// with [`super::SyncApp::new`]): no I/O here. Fails only on a DSN that
    /// cannot be parsed. Needs no tokio runtime: the pools start no
    /// maintenance task (see `Pool::sqlite`).
    pub fn new(db: &Database, db_latency: Duration) -> Result<Self, ApiError> {
        let pool = match db {
            Database::Sqlite(path) => Pool::sqlite(
                SqliteConnectOptions::new()
                    .filename(path)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5)),
            ),
            Database::Postgres(dsn) => Pool::postgres(PgConnectOptions::from_str(dsn)?),
        };
        Ok(Self {
            pool,
            db_latency,
            served: Arc::default(),
        })
    }

    /// The same app with a pool of its own (same database, same size), so
    /// that each actix worker has its own — as each uvicorn worker process
    /// has its own. Lazy: no I/O here.
    pub fn with_own_pool(&self) -> Self {
        let pool = match &self.pool {
            Pool::Sqlite(pool) => Pool::sqlite((*pool.connect_options()).clone()),
            Pool::Postgres(pool) => Pool::postgres((*pool.connect_options()).clone()),
        };
        Self {
            pool,
            ..self.clone()
        }
    }

    /// Counts every answer in `served` (the server-side request counter).
    pub fn counting(mut self, served: Arc<AtomicU64>) -> Self {
        self.served = served;
        self
    }

    // ANCHOR: asgi_call
    /// The ASGI app: the same routes, but every wait is an `.await`.
    pub async fn call(&self, req: &ApiRequest) -> ApiResponse {
        let answer = self.handle(req).await.into();
        self.served.fetch_add(1, Ordering::Relaxed);
        answer
    }

    async fn handle(&self, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        Ok(match route(&req.method, &req.path, req.query.as_deref())? {
            Route::Hello => contract::hello(),
            Route::Wait(d) => {
                simulated_wait(d).await; // the loop serves others meanwhile
                contract::waited(d)
            }
            Route::Cpu(d) => {
                burn_cpu(d); // no await: the loop is busy, as in Python
                contract::burned(d)
            }
            Route::GetUser(id) => {
                self.db_wait().await;
                let user = self.get_user(id).await?;
                ApiResponse::ok(serde_json::json!(user))
            }
            Route::CreateUser => {
                let new = users::parse_new_user(&req.body)?;
                self.db_wait().await;
                let user = self.insert_user(&new).await?;
                ApiResponse::created(serde_json::json!(user))
            }
        })
    }
    // ANCHOR_END: asgi_call

    async fn get_user(&self, id: i64) -> Result<User, ApiError> {
        match &self.pool {
            Pool::Sqlite(pool) => users::get_user(pool, id).await,
            Pool::Postgres(pool) => users::pg::get_user(pool, id).await,
        }
    }

    async fn insert_user(&self, new: &NewUser) -> Result<User, ApiError> {
        match &self.pool {
            Pool::Sqlite(pool) => users::insert_user(pool, new).await,
            Pool::Postgres(pool) => users::pg::insert_user(pool, new).await,
        }
    }

    /// The injected network round trip to the database.
    async fn db_wait(&self) {
        if !self.db_latency.is_zero() {
            simulated_wait(self.db_latency).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (size, idle timeout, lifetime) of the app's pool.
    fn settings(app: &AsyncApp) -> (u32, Option<Duration>, Option<Duration>) {
        match &app.pool {
            Pool::Sqlite(pool) => {
                let o = pool.options();
                (
                    o.get_max_connections(),
                    o.get_idle_timeout(),
                    o.get_max_lifetime(),
                )
            }
            Pool::Postgres(pool) => {
                let o = pool.options();
                (
                    o.get_max_connections(),
                    o.get_idle_timeout(),
                    o.get_max_lifetime(),
                )
            }
        }
    }

    #[test]
    fn a_worker_pool_is_built_like_the_first_and_outside_tokio() {
        // No runtime here: a pool that started sqlx's maintenance task
        // would panic on being built.
        let sqlite = Database::Sqlite(std::env::temp_dir().join("never-opened.sqlite"));
        let postgres = Database::Postgres("postgresql://app@127.0.0.1:1/never".into());
        for (db, size) in [(sqlite, SQLITE_POOL), (postgres, POSTGRES_POOL)] {
            let app = AsyncApp::new(&db, Duration::ZERO).unwrap();
            assert_eq!(settings(&app), (size, None, None), "{db:?}");
            assert_eq!(settings(&app.with_own_pool()), settings(&app), "{db:?}");
        }
    }
}
