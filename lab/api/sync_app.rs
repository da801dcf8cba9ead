//! The app written the WSGI way: a plain function from request to response
//! that blocks while it waits (`time.sleep`, a blocking database driver).
//!
//! It is what a Django view or a FastAPI `def` endpoint is. The sync workers
//! run it on k threads; the blocked loop runs it on the event loop thread
//! (the bug); `spawn_blocking` runs it on a bounded thread pool (the fix).
//! Left out: connection pooling beyond one SQLite connection per thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::contract::{self, ApiRequest, ApiResponse, Route, route};
use crate::users::{self, ApiError};
use crate::wait::burn_cpu;

/// The blocking app: where the database lives and how slow it pretends to be.
#[derive(Debug, Clone)]
pub struct SyncApp {
    db: PathBuf,
    db_latency: Duration,
    served: Arc<AtomicU64>,
}

thread_local! {
    /// One connection per worker thread, like Django's persistent connections
    /// (`CONN_MAX_AGE`): each thread opens its own the first time it needs one.
    static CONNECTIONS: RefCell<HashMap<PathBuf, rusqlite::Connection>> =
        RefCell::new(HashMap::new());
}

impl SyncApp {
    /// Opens (and if needed creates) the database file and its table.
    pub fn new(db: &Path, db_latency: Duration) -> Result<Self, ApiError> {
        users::create_schema_sync(&open(db)?)?;
        Ok(Self {
            db: db.to_path_buf(),
            db_latency,
            served: Arc::default(),
        })
    }

    /// Counts every answer in `served` (the server-side request counter).
    pub fn counting(mut self, served: Arc<AtomicU64>) -> Self {
        self.served = served;
        self
    }

    // ANCHOR: wsgi_call
    /// The WSGI callable: one request in, one response out, blocking meanwhile.
    pub fn call(&self, req: &ApiRequest) -> ApiResponse {
        let answer = self.handle(req).into();
        self.served.fetch_add(1, Ordering::Relaxed);
        answer
    }

    fn handle(&self, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        Ok(match route(&req.method, &req.path, req.query.as_deref())? {
            Route::Hello => contract::hello(),
            Route::Wait(d) => {
                std::thread::sleep(d); // this thread can do nothing else meanwhile
                contract::waited(d)
            }
            Route::Cpu(d) => {
                burn_cpu(d);
                contract::burned(d)
            }
            Route::GetUser(id) => {
                let user = self.with_db(|c| users::get_user_sync(c, id))?;
                ApiResponse::ok(serde_json::json!(user))
            }
            Route::CreateUser => {
                let new = users::parse_new_user(&req.body)?;
                let user = self.with_db(|c| users::insert_user_sync(c, &new))?;
                ApiResponse::created(serde_json::json!(user))
            }
        })
    }
    // ANCHOR_END: wsgi_call

    /// Runs `query` on this thread's connection after the injected latency.
    fn with_db<T>(
        &self,
        query: impl FnOnce(&rusqlite::Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        if !self.db_latency.is_zero() {
            std::thread::sleep(self.db_latency); // the network round trip
        }
        CONNECTIONS.with(|cell| {
            let mut conns = cell.borrow_mut();
            if !conns.contains_key(&self.db) {
                conns.insert(self.db.clone(), open(&self.db)?);
            }
            query(&conns[&self.db])
        })
    }
}

/// Opens a connection that waits (rather than fails) while another holds
/// the write lock, with WAL so readers do not block the writer.
fn open(path: &Path) -> Result<rusqlite::Connection, ApiError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    Ok(conn)
}
