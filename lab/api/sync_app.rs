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
}

/// One thread's connection to the users table.
enum Connection {
    Sqlite(rusqlite::Connection),
    /// The `postgres` client, on a helper thread: see [`PostgresAside`].
    Postgres(PostgresAside),
}

impl Connection {
    fn open(db: &Database) -> Result<Self, ApiError> {
        Ok(match db {
            Database::Sqlite(path) => Connection::Sqlite(open_sqlite(path)?),
            Database::Postgres(dsn) => Connection::Postgres(PostgresAside::connect(dsn)?),
        })
    }

    fn create_schema(&mut self) -> Result<(), ApiError> {
        match self {
            Connection::Sqlite(c) => users::create_schema_sync(c),
            Connection::Postgres(aside) => aside.run(users::pg::create_schema_sync),
        }
    }

    fn get_user(&mut self, id: i64) -> Result<User, ApiError> {
        match self {
            Connection::Sqlite(c) => users::get_user_sync(c, id),
            Connection::Postgres(aside) => aside.run(move |c| users::pg::get_user_sync(c, id)),
        }
    }

    fn insert_user(&mut self, new: &NewUser) -> Result<User, ApiError> {
        match self {
            Connection::Sqlite(c) => users::insert_user_sync(c, new),
            Connection::Postgres(aside) => {
                let new = new.clone();
                aside.run(move |c| users::pg::insert_user_sync(c, &new))
            }
        }
    }
}

/// A query for the helper thread, with its client.
type Job = Box<dyn FnOnce(&mut ::postgres::Client) + Send>;

/// A `postgres` client that lives on a helper thread of its own, handed
/// one query at a time by the worker thread that owns this value, which
/// waits for the answer: still one connection per worker thread, and the
/// worker still blocks while it waits. The `postgres` crate blocks by
/// running a small tokio runtime of its own, which tokio refuses to start on
/// a thread that already drives one (the sync pool's hyper workers, the
/// blocked loop) and which cannot run in a thread-local's destructor (where
/// a worker's connection is closed when the worker ends); on a thread of its
/// own neither happens. The hand-over costs two thread switches per query.
/// The helper ends, closing its connection, when this value is dropped.
struct PostgresAside {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl PostgresAside {
    fn connect(dsn: &str) -> Result<Self, ApiError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let (ready_tx, ready) = std::sync::mpsc::sync_channel(1);
        let dsn = dsn.to_string();
        std::thread::Builder::new()
            .name("postgres-client".into())
            .spawn(move || {
                let mut client = match ::postgres::Client::connect(&dsn, ::postgres::NoTls) {
                    Ok(client) => {
                        let _ = ready_tx.send(Ok(()));
                        client
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(ApiError::from(e)));
                        return;
                    }
                };
                for job in queue {
                    job(&mut client);
                }
            })
            .map_err(|e| ApiError::Internal(format!("starting a PostgreSQL client thread: {e}")))?;
        ready.recv().map_err(|_| helper_gone())??;
        Ok(Self { jobs })
    }

    /// Runs `query` on the helper's client and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce(&mut ::postgres::Client) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer_tx, answer) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = answer_tx.send(query(client));
        });
        self.jobs.send(job).map_err(|_| helper_gone())?;
        answer.recv().map_err(|_| helper_gone())?
    }
}

fn helper_gone() -> ApiError {
    ApiError::Internal("the PostgreSQL client thread stopped".into())
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
        Connection::open(db)?.create_schema()?;
        Ok(Self {
            db: db.clone(),
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
    fn with_db<T>(
        &self,
        query: impl FnOnce(&mut Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        if !self.db_latency.is_zero() {
            std::thread::sleep(self.db_latency); // the network round trip
        }
        CONNECTIONS.with(|cell| {
            let mut conns = cell.borrow_mut();
            if !conns.contains_key(&self.db) {
                conns.insert(self.db.clone(), Connection::open(&self.db)?);
            }
            query(conns.get_mut(&self.db).expect("inserted above"))
        })
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
