//! The app written the ASGI way: an `async fn` that yields to the event loop
//! at every wait (`await asyncio.sleep`, an async database driver). The wait
//! is `wait::simulated_wait`, a timer that fires to the microsecond.
//!
//! It is what a FastAPI `async def` endpoint is. Every `.await` below is a
//! point where the loop may switch to another request; between two awaits
//! the code runs alone on its thread. Left out: per-request transactions
//! (chapter 5).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::contract::{self, ApiRequest, ApiResponse, Route, route};
use crate::users::{self, ApiError};
use crate::wait::{burn_cpu, simulated_wait};

/// The async app: a sqlx pool and the injected database latency.
#[derive(Debug, Clone)]
pub struct AsyncApp {
    pool: SqlitePool,
    db_latency: Duration,
    served: Arc<AtomicU64>,
}

impl AsyncApp {
    /// A lazy pool on an existing database file (create the table first,
    /// e.g. with [`super::SyncApp::new`]): no I/O here, so each actix worker
    /// can build its own pool — like each uvicorn worker process has its own.
    pub fn new(db: &Path, db_latency: Duration) -> Self {
        let options = SqliteConnectOptions::new()
            .filename(db)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_lazy_with(options);
        Self {
            pool,
            db_latency,
            served: Arc::default(),
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
                let user = users::get_user(&self.pool, id).await?;
                ApiResponse::ok(serde_json::json!(user))
            }
            Route::CreateUser => {
                let new = users::parse_new_user(&req.body)?;
                self.db_wait().await;
                let user = users::insert_user(&self.pool, &new).await?;
                ApiResponse::created(serde_json::json!(user))
            }
        })
    }
    // ANCHOR_END: asgi_call

    /// The injected network round trip to the database.
    async fn db_wait(&self) {
        if !self.db_latency.is_zero() {
            simulated_wait(self.db_latency).await;
        }
    }
}
