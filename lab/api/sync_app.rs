//! The app written the WSGI way: a plain function from request to response
//! that blocks while it waits (`time.sleep`, a blocking database driver).
//!
//! It is what a Django view or a FastAPI `def` endpoint is. The sync workers
//! run it on k threads; the blocked loop runs it on the event loop thread
//! (the bug); `spawn_blocking` runs it on a bounded thread pool (the fix).
//! Each thread keeps one connection: rusqlite on SQLite, the `postgres`
//! crate on PostgreSQL. Left out: connection pooling beyond one connection
//! per thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::contract::{self, ApiRequest, ApiResponse, Route, route};
use crate::db::Database;
use crate::users::{self, ApiError, NewUser, User};
use crate::wait::burn_cpu;

/// The blocking app: where the database lives and how slow it pretends to be.
#[derive(Debug, Clone)]
pub struct SyncApp {
    db: Database,
    db_latency: Duration,
    served: Arc<AtomicU64>,
    /// Called on an event loop's own thread (the blocked loop): see
    /// [`SyncApp::on_an_event_loop`].
    on_a_loop: bool,
}

/// One thread's connection to the users table.
enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres(::postgres::Client),
}

impl Connection {
    fn open(db: &Database) -> Result<Self, ApiError> {
        Ok(match db {
            Database::Sqlite(path) => Connection::Sqlite(open_sqlite(path)?),
            Database::Postgres(dsn) => {
                Connection::Postgres(::postgres::Client::connect(dsn, ::postgres::NoTls)?)
            }
        })
    }

    fn create_schema(&mut self) -> Result<(), ApiError> {
        match self {
            Connection::Sqlite(c) => users::create_schema_sync(c),
            Connection::Postgres(c) => users::pg::create_schema_sync(c),
        }
    }

    fn get_user(&mut self, id: i64) -> Result<User, ApiError> {
        match self {
            Connection::Sqlite(c) => users::get_user_sync(c, id),
            Connection::Postgres(c) => users::pg::get_user_sync(c, id),
        }
    }

    fn insert_user(&mut self, new: &NewUser) -> Result<User, ApiError> {
        match self {
            Connection::Sqlite(c) => users::insert_user_sync(c, new),
            Connection::Postgres(c) => users::pg::insert_user_sync(c, new),
        }
    }
}

thread_local! {
    /// One connection per worker thread, like Django's persistent connections
    /// (`CONN_MAX_AGE`): each thread opens its own the first time it needs one.
    static CONNECTIONS: RefCell<HashMap<Database, Connection>> =
        RefCell::new(HashMap::new());
}

impl SyncApp {
    /// Opens the database (a SQLite file is created if needed) and creates
    /// its table if it is not there.
    pub fn new(db: &Database, db_latency: Duration) -> Result<Self, ApiError> {
        let app = Self {
            db: db.clone(),
            db_latency,
            served: Arc::default(),
            on_a_loop: false,
        };
        // On a thread of its own: the caller may be async code (the
        // `postgres` crate would refuse to block inside its runtime).
        std::thread::scope(|scope| {
            match scope.spawn(|| Connection::open(db)?.create_schema()).join() {
                Ok(created) => created,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })?;
        Ok(app)
    }

    /// The same app, to be called on an event loop's own thread (the
    /// blocked loop). The `postgres` crate blocks by running a small tokio
    /// runtime of its own, which tokio refuses to start on a thread that is
    /// already driving one; there, each PostgreSQL call runs on a helper
    /// thread that the loop waits for — the loop is just as blocked.
    pub fn on_an_event_loop(mut self) -> Self {
        self.on_a_loop = true;
        self
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
                let user = self.with_db(|c| c.get_user(id))?;
                ApiResponse::ok(serde_json::json!(user))
            }
            Route::CreateUser => {
                let new = users::parse_new_user(&req.body)?;
                let user = self.with_db(|c| c.insert_user(&new))?;
                ApiResponse::created(serde_json::json!(user))
            }
        })
    }
    // ANCHOR_END: wsgi_call

    /// Runs `query` on this thread's connection after the injected latency.
    fn with_db<T: Send>(
        &self,
        query: impl FnOnce(&mut Connection) -> Result<T, ApiError> + Send,
    ) -> Result<T, ApiError> {
        if !self.db_latency.is_zero() {
            std::thread::sleep(self.db_latency); // the network round trip
        }
        CONNECTIONS.with(|cell| {
            let mut conns = cell.borrow_mut();
            if !conns.contains_key(&self.db) {
                let conn = self.blocking(|| Connection::open(&self.db))?;
                conns.insert(self.db.clone(), conn);
            }
            let conn = conns.get_mut(&self.db).expect("inserted above");
            self.blocking(|| query(conn))
        })
    }

    /// Runs `work` here, or on a helper thread that this one waits for when
    /// this thread drives an event loop and `work` may use the `postgres`
    /// crate (see [`SyncApp::on_an_event_loop`]).
    fn blocking<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        if self.on_a_loop && self.db.is_postgres() {
            std::thread::scope(|scope| match scope.spawn(work).join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
        } else {
            work()
        }
    }
}

/// Opens a SQLite connection that waits (rather than fails) while another
/// holds the write lock, with WAL so readers do not block the writer.
fn open_sqlite(path: &std::path::Path) -> Result<rusqlite::Connection, ApiError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    Ok(conn)
}
