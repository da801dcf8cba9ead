//! Request scope: the resource one request borrows from the app — a pooled
//! SQLite connection — and the transaction a handler opens on it. This is
//! FastAPI's `def get_db(): db = Session(); try: yield db finally:
//! db.close()`, except that the "after `yield`" part is Rust's `Drop`: it
//! runs exactly once, when the owner lets go, whether the handler succeeded,
//! failed, panicked or the client went away.
//!
//! Left out: nested transactions (savepoints), retries on `SQLITE_BUSY`.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::events::{RequestLog, Step};
use crate::users::ApiError;

/// What can go wrong in request scope: an API error from the users resource
/// (4xx/500), or no connection to be had (503: pool exhausted or closed).
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for ScopeError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                ScopeError::Unavailable(e.to_string())
            }
            other => ScopeError::Api(other.into()),
        }
    }
}

impl ScopeError {
    pub fn status(&self) -> u16 {
        match self {
            ScopeError::Api(e) => e.status(),
            ScopeError::Unavailable(_) => 503,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        match self {
            ScopeError::Api(e) => e.body(),
            ScopeError::Unavailable(why) => {
                serde_json::json!({ "detail": format!("service unavailable: {why}") })
            }
        }
    }
}

// ANCHOR: request_db
/// A pooled connection lent to one request. Made by the framework's
/// extractor, owned by the handler (or by a stream the handler returns),
/// and given back to the pool in `Drop`, which records `released`.
pub struct RequestDb {
    conn: PoolConnection<Sqlite>,
    log: RequestLog,
    /// A `BEGIN` was sent and its answer not yet seen (see [`RequestDb::begin`]).
    beginning: bool,
}

impl RequestDb {
    /// Borrows a connection from the pool, waiting at most `timeout` (the
    /// config's `acquire_timeout`; then 503). The pool opened its connections
    /// at startup, so this waits only for one another request holds.
    pub async fn acquire(
        pool: &SqlitePool,
        timeout: Duration,
        log: RequestLog,
    ) -> Result<Self, ScopeError> {
        let conn = tokio::time::timeout(timeout, pool.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        log.record(Step::Acquired);
        Ok(Self {
            conn,
            log,
            beginning: false,
        })
    }

    /// Opens a write transaction. `BEGIN IMMEDIATE` takes SQLite's write
    /// lock up front, so two writers queue on the busy timeout instead of
    /// one failing at `COMMIT` (SQLite cannot upgrade a read lock safely).
    ///
    /// If the request's future is dropped while `BEGIN` is under way (the
    /// client went away), SQLite may have begun a transaction that no `Tx`
    /// owns, so nothing would end it: the connection would go back to the
    /// pool mid-transaction, holding the write lock, and fail every later
    /// `begin` (found by the server fuzzer). `Drop` then closes the
    /// connection instead, which rolls back.
    pub async fn begin(&mut self) -> Result<Tx<'_>, ScopeError> {
        self.beginning = true;
        let tx = self.conn.begin_with("BEGIN IMMEDIATE").await;
        self.beginning = false;
        let tx = tx?;
        Ok(Tx {
            tx: Some(tx),
            log: self.log.clone(),
        })
    }

    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    pub fn log(&self) -> &RequestLog {
        &self.log
    }
}

impl Drop for RequestDb {
    fn drop(&mut self) {
        if self.beginning {
            self.conn.close_on_drop(); // see `begin`: never pool a half-begun transaction
        }
        // `self.conn` is dropped right after this, which hands it back.
        self.log.record(Step::Released);
    }
}
// ANCHOR_END: request_db

// ANCHOR: tx
/// A transaction whose end the handler states: `commit()` or `rollback()`.
/// If the handler does neither (an early `?` return, a panic, a dropped
/// future) sqlx rolls back when it drops, and the log says `implicitly`.
pub struct Tx<'c> {
    tx: Option<Transaction<'c, Sqlite>>,
    log: RequestLog,
}

impl Tx<'_> {
    pub fn conn(&mut self) -> &mut SqliteConnection {
        self.tx
            .as_mut()
            .expect("transaction is open until commit or rollback")
    }

    pub async fn commit(mut self) -> Result<(), ScopeError> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
            self.log.record(Step::Committed);
        }
        Ok(())
    }

    pub async fn rollback(mut self) -> Result<(), ScopeError> {
        if let Some(tx) = self.tx.take() {
            tx.rollback().await?;
            self.log.record(Step::RolledBack { implicit: false });
        }
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            self.log.record(Step::RolledBack { implicit: true });
        }
    }
}
// ANCHOR_END: tx

/// Ends a response's life in the log: records `response sent` if the
/// server pulled the body to its end, `response aborted` if the body was
/// dropped before (the client went away, or shutdown cut it off).
pub struct ResponseEnd {
    log: RequestLog,
    done: bool,
}

impl ResponseEnd {
    pub fn new(log: RequestLog) -> Self {
        Self { log, done: false }
    }

    /// The body's last byte was handed to the server.
    pub fn sent(&mut self) {
        if !self.done {
            self.done = true;
            self.log.finish(true);
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Drop for ResponseEnd {
    fn drop(&mut self) {
        if !self.done {
            self.log.finish(false);
        }
    }
}

/// How long to wait between two chunks of a stream (zero for the first).
pub fn chunk_pause(n: u32, delay: Duration) -> Duration {
    if n == 0 { Duration::ZERO } else { delay }
}
