//! A throwaway PostgreSQL cluster for chapter 6's database row: `initdb`
//! into a folder under `target/`, a server on a free loopback port, the
//! users table created (and optionally filled), and `pg_ctl stop` when the
//! [`Postgres`] value is dropped.
//!
//! It uses Debian's binaries in `/usr/lib/postgresql/VERSION/bin` (the
//! newest version there; `$WW_PG_BIN` overrides). PostgreSQL refuses to run
//! as root, so when we are root every server-side command runs as the
//! `postgres` user through `runuser`, in a folder that user owns. Without
//! PostgreSQL, [`Postgres::start`] returns [`PostgresError::NotInstalled`]
//! so the caller can fall back to SQLite and say so.
//!
//! Every command (`initdb`, `pg_ctl start -w`, `psql`, `pg_ctl stop`) runs to
//! completion; the server itself is pg_ctl's daemon, not our child. Left out:
//! passwords (`-A trust` on loopback only), TLS, tuning beyond
//! `max_connections`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a cluster could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// No `initdb` in `/usr/lib/postgresql/*/bin` (nor in `$WW_PG_BIN`).
    #[error(
        "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin; \
         `apt-get install postgresql`)"
    )]
    NotInstalled,
    /// A command failed; the message has its output (and the server log).
    #[error("{0}")]
    Failed(String),
}

/// The role `initdb` creates and the apps connect as (trusted on loopback).
pub const ROLE: &str = "app";

/// The users table, the PostgreSQL twin of [`crate::users::SCHEMA`].
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (\
    id BIGSERIAL PRIMARY KEY, \
    email TEXT NOT NULL UNIQUE)";

/// A running throwaway cluster; dropping it stops the server.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

/// The newest `/usr/lib/postgresql/N/bin` that has `initdb`, or `$WW_PG_BIN`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WW_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| d.join("initdb").exists());
    }
    newest_bin_dir(Path::new("/usr/lib/postgresql"))
}

/// The `N/bin` under `root` with the highest numeric `N` that has `initdb`.
fn newest_bin_dir(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: f64 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, bin)| bin)
}

impl Postgres {
    /// Makes a fresh cluster in `dir` (emptied first), starts it on a free
    /// loopback port, waits until it accepts connections and creates the
    /// users table. About 2 s.
    pub fn start(dir: &Path) -> Result<Self, PostgresError> {
        let bin = find_bin_dir().ok_or(PostgresError::NotInstalled)?;
        let failed = |what: &str, e: std::io::Error| PostgresError::Failed(format!("{what}: {e}"));
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| failed("emptying the folder", e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| failed("creating the folder", e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| failed("resolving the folder", e))?;
        let as_postgres = rustix::process::geteuid().is_root();
        if as_postgres {
            let (uid, gid) = postgres_user()?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| failed("giving the folder to the postgres user", e))?;
        }
        let port = free_port().map_err(|e| failed("finding a free port", e))?;
        let mut pg = Postgres {
            bin,
            dir,
            port,
            as_postgres,
            running: false,
        };
        let data = pg.dir.join("data");
        pg.server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", ROLE, "--no-sync", "-E", "UTF8"])
            .run("initdb")?;
        // pg_ctl hands these to the server through a shell: quote the folder.
        let options = format!(
            "-p {port} -k '{}' -c listen_addresses=127.0.0.1 -c max_connections=200",
            pg.dir.display()
        );
        pg.running = true; // from here on, Drop stops it even if start fails midway
        let started = pg
            .server_command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(pg.dir.join("log"))
            .args(["-w", "-t", "30", "start"])
            .run("pg_ctl start");
        if let Err(PostgresError::Failed(why)) = started {
            let log = std::fs::read_to_string(pg.dir.join("log")).unwrap_or_default();
            return Err(PostgresError::Failed(format!("{why}\nserver log:\n{log}")));
        }
        pg.sql(SCHEMA)?;
        Ok(pg)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The DSN for asyncpg, psycopg, sqlx: `postgresql://app@127.0.0.1:PORT/postgres`.
    pub fn dsn(&self) -> String {
        format!("postgresql://{ROLE}@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL through `psql` (as us: it is only a client), stopping at the first error.
    pub fn sql(&self, sql: &str) -> Result<(), PostgresError> {
        Cmd(Command::new(self.bin.join("psql")))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", ROLE])
            .args(["-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .run("psql")
    }

    /// Empties the users table and fills it with `count` users
    /// `user1@example.com` … with ids 1..=count.
    pub fn seed_users(&self, count: u32) -> Result<(), PostgresError> {
        self.sql(&format!(
            "TRUNCATE users RESTART IDENTITY; \
             INSERT INTO users (email) \
             SELECT 'user' || i || '@example.com' FROM generate_series(1, {count}) AS i"
        ))
    }

    /// Stops the server (`pg_ctl stop -m fast`, which ends its connections);
    /// if that fails, kills the postmaster by the pid in its pid file.
    pub fn stop(&mut self) -> Result<(), PostgresError> {
        if !std::mem::take(&mut self.running) {
            return Ok(());
        }
        let data = self.dir.join("data");
        let stopped = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "fast", "-w", "-t", "20", "stop"])
            .run("pg_ctl stop");
        if stopped.is_err() {
            let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            let pid = pid_file.lines().next().and_then(|l| l.trim().parse().ok());
            if let Some(pid) = pid.and_then(rustix::process::Pid::from_raw) {
                // The postmaster, from the cluster's own pid file; its
                // backends exit when it does.
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        stopped
    }

    /// A server-side program (`initdb`, `pg_ctl`), as `postgres` when we are root.
    fn server_command(&self, program: &str) -> Cmd {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            Cmd(command)
        } else {
            Cmd(Command::new(path))
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping PostgreSQL in {}: {e}", self.dir.display());
        }
    }
}

/// A command run to completion, its output kept for the error message.
struct Cmd(Command);

impl Cmd {
    fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.0.arg(arg);
        self
    }

    fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.0.args(args);
        self
    }

    fn run(mut self, what: &str) -> Result<(), PostgresError> {
        // The server writes its log to a file; pg_ctl must not keep our pipes open.
        let out = self
            .0
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| PostgresError::Failed(format!("{what}: could not start: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        Err(PostgresError::Failed(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// The uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_user() -> Result<(u32, u32), PostgresError> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() != Some(&"postgres") || fields.len() < 4 {
                return None;
            }
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        })
        .ok_or_else(|| {
            PostgresError::Failed("running as root, but there is no `postgres` user".into())
        })
}

/// A port that was free a moment ago (PostgreSQL cannot be told "port 0").
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_version_with_initdb_wins() {
        let root = std::env::temp_dir().join(format!("ww-pg-bin-{}", std::process::id()));
        for (version, with_initdb) in [("13", true), ("15", true), ("16", false), ("x", true)] {
            let bin = root.join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            if with_initdb {
                std::fs::write(bin.join("initdb"), b"").unwrap();
            }
        }
        assert_eq!(newest_bin_dir(&root), Some(root.join("15").join("bin")));
        assert_eq!(newest_bin_dir(&root.join("missing")), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
