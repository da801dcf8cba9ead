//! A small, real SQLite database (rusqlite, in memory) whose queries can be
//! given extra latency, standing in for a database across a network: the
//! query itself takes microseconds, the round trip takes what you set.
//!
//! Also [`TempDbs`], the one place the lab makes SQLite files that must not
//! outlive a run (the servers of chapters 3-5, their tests, the drill), and
//! [`Database`], where the API's users table lives: a SQLite file or a
//! PostgreSQL server, told apart as the Python apps tell `WW_DATABASE` apart.
//!
//! Left out: connection pools and async drivers (chapters 3-5 use sqlx).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::wait::simulated_wait_blocking;

/// A fresh temporary folder for SQLite files, removed with everything in it
/// (the `-wal` and `-shm` files SQLite adds too) when dropped.
pub struct TempDbs(tempfile::TempDir);

impl TempDbs {
    pub fn new() -> std::io::Result<Self> {
        tempfile::Builder::new()
            .prefix("waiting-well-")
            .tempdir()
            .map(Self)
    }

    /// The file for database `name`: `FOLDER/NAME.sqlite` (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(format!("{name}.sqlite"))
    }

    /// The folder itself.
    pub fn dir(&self) -> &Path {
        self.0.path()
    }
}

/// Where the users table lives. Chosen from one string the way
/// `python/lab_common.py` chooses from `WW_DATABASE`: a PostgreSQL DSN
/// (`postgresql://…` or `postgres://…`), else the path of a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Database {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL server, by its DSN (its users table: [`crate::postgres::SCHEMA`]).
    Postgres(String),
}

impl Database {
    /// A DSN is PostgreSQL, anything else a SQLite path.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("postgresql://") || text.starts_with("postgres://") {
            Database::Postgres(text.to_string())
        } else {
            Database::Sqlite(PathBuf::from(text))
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(dsn) => f.write_str(dsn),
        }
    }
}

pub struct SimulatedDb {
    conn: Connection,
    latency: Duration,
}

impl SimulatedDb {
    /// An in-memory database with `rows` products, each query delayed by `latency`.
    pub fn open(rows: u32, latency: Duration) -> rusqlite::Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL);",
        )?;
        {
            let mut insert =
                conn.prepare("INSERT INTO products (id, name, price_cents) VALUES (?1, ?2, ?3)")?;
            for id in 1..=rows {
                insert.execute((id, format!("product {id}"), 100 + (id * 37) % 900))?;
            }
        }
        Ok(Self { conn, latency })
    }

    // ANCHOR: query_with_latency
    /// Looks a product up: the network round trip (a blocking wait), then the
    /// query itself (real SQLite work, microseconds).
    pub fn query_with_latency(&self, id: u32) -> rusqlite::Result<Option<(String, u32)>> {
        simulated_wait_blocking(self.latency);
        self.conn
            .query_row(
                "SELECT name, price_cents FROM products WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
    }
    // ANCHOR_END: query_with_latency
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dsn_is_postgres_and_anything_else_a_sqlite_file() {
        let dsn = "postgresql://app@127.0.0.1:5432/postgres";
        assert_eq!(Database::parse(dsn), Database::Postgres(dsn.into()));
        assert!(Database::parse("postgres://app@localhost/db").is_postgres());
        let file = Database::parse("target/ch06.sqlite");
        assert_eq!(file, Database::Sqlite("target/ch06.sqlite".into()));
        assert_eq!(file.to_string(), "target/ch06.sqlite");
        assert!(!Database::parse("postgresql.sqlite").is_postgres());
    }

    #[test]
    fn finds_rows_and_misses_absent_ones() {
        let db = SimulatedDb::open(10, Duration::ZERO).unwrap();
        let (name, _) = db.query_with_latency(3).unwrap().unwrap();
        assert_eq!(name, "product 3");
        assert!(db.query_with_latency(11).unwrap().is_none());
    }

    #[test]
    fn latency_is_added_to_every_query() {
        let db = SimulatedDb::open(1, Duration::from_millis(30)).unwrap();
        let started = std::time::Instant::now();
        db.query_with_latency(1).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
