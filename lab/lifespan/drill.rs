//! The shutdown drill: start the app as a separate process, fire a burst of
//! `POST /users` with distinct emails at it, send it SIGTERM while they are
//! in flight, wait for it to exit, then compare what the clients were told
//! with what is in the SQLite file. The promise being tested: **every 2xx is
//! a row, and every row had a 2xx** — no lost writes, no phantom writes.
//!
//! Left out: retries (a refused request is simply counted), and
//! idempotency keys (the real fix for "the row was written but the client
//! never heard": see the chapter's details).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::server::Framework;
use crate::process::{ChildServer, Ready};
use crate::users::User;

/// Starts the app as a child process (`EXE serve --port 0 --server F --db
/// DB ARGS...`) and waits (at most a minute: a debug build loading a large
/// model is slow) for its "listening on" line.
pub fn start_server(
    exe: &Path,
    framework: Framework,
    db: &Path,
    args: &[String],
) -> anyhow::Result<ChildServer> {
    let server = match framework {
        Framework::Axum => "axum",
        Framework::Actix => "actix",
    };
    let mut command = Command::new(exe);
    command
        .args(["serve", "--port", "0", "--server", server, "--db"])
        .arg(db)
        .args(args);
    ChildServer::start(
        command,
        Ready::Announces("listening on"),
        Duration::from_secs(60),
    )
}

/// The drill's size and timing.
#[derive(Debug, Clone)]
pub struct DrillSpec {
    /// How many `POST /users` to send, each with its own email.
    pub requests: usize,
    /// Sending rate (open loop: requests start on schedule, not when the
    /// previous one answered).
    pub rate: f64,
    /// Send SIGTERM once this many responses (or errors) have come back, or
    /// once half the requests have started.
    pub term_after: usize,
    /// Give up on one request after this long.
    pub request_timeout: Duration,
    /// The server must exit within this long after SIGTERM.
    pub exit_timeout: Duration,
}

impl DrillSpec {
    pub fn new(requests: usize) -> Self {
        Self {
            requests,
            rate: 2_000.0,
            term_after: requests / 3,
            request_timeout: Duration::from_secs(15),
            exit_timeout: Duration::from_secs(20),
        }
    }
}

/// What happened to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx with the stored user in the body.
    Accepted(User),
    /// 503: shutting down or pool exhausted.
    Unavailable,
    /// Any other status.
    Status(u16),
    /// Never connected: the listener was already closed.
    Refused,
    /// Connected, but the connection ended without a response.
    Dropped,
    TimedOut,
}

/// The drill's counts. `lost` and `phantom` must be zero.
#[derive(Debug, Clone, Default)]
pub struct DrillReport {
    pub sent: usize,
    pub accepted: usize,
    pub unavailable: usize,
    pub other_status: usize,
    pub refused: usize,
    pub dropped: usize,
    pub timed_out: usize,
    /// Requests started but not answered when SIGTERM was sent.
    pub in_flight_at_term: usize,
    pub rows: usize,
    /// 2xx answers whose row is missing (a lost write).
    pub lost: usize,
    /// Rows whose request got no 2xx (a write the client never heard of).
    pub phantom: usize,
    pub exit_code: Option<i32>,
    pub exit_after_term: Duration,
    pub log_says_pool_closed: bool,
    pub log: String,
}

async fn post(client: &reqwest::Client, url: &str, email: &str) -> Outcome {
    let res = client
        .post(url)
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await;
    let res = match res {
        Ok(res) => res,
        Err(e) if e.is_timeout() => return Outcome::TimedOut,
        Err(e) if e.is_connect() => return Outcome::Refused,
        Err(_) => return Outcome::Dropped,
    };
    let status = res.status();
    if status.is_success() {
        match res.json::<User>().await {
            Ok(user) => Outcome::Accepted(user),
            Err(_) => Outcome::Dropped,
        }
    } else if status.as_u16() == 503 {
        Outcome::Unavailable
    } else {
        Outcome::Status(status.as_u16())
    }
}

/// Reads every `(id, email)` row of the users table.
pub fn rows(db: &Path) -> anyhow::Result<Vec<(i64, String)>> {
    let conn = rusqlite::Connection::open(db)?;
    let mut stmt = conn.prepare("SELECT id, email FROM users")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a SQLite file and its WAL companions, so a drill starts empty.
pub fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

// ANCHOR: drill
/// Runs the drill against a freshly started server process.
pub async fn run(
    exe: &Path,
    framework: Framework,
    db: &Path,
    server_args: &[String],
    spec: &DrillSpec,
) -> anyhow::Result<DrillReport> {
    remove_db(db);
    let mut server = start_server(exe, framework, db, server_args)?;
    let url = server.url("/users");
    let client = reqwest::Client::builder()
        .timeout(spec.request_timeout)
        .build()?;
    let done = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let t0 = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..spec.requests)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            let (done, started) = (done.clone(), started.clone());
            let at = t0 + Duration::from_secs_f64(i as f64 / spec.rate);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                started.fetch_add(1, Ordering::SeqCst);
                let email = format!("drill-{i}@example.com");
                let outcome = post(&client, &url, &email).await;
                done.fetch_add(1, Ordering::SeqCst);
                (email, outcome)
            })
        })
        .collect();

    // SIGTERM mid-flight: after `term_after` answers, or once half the
    // requests have started, whichever comes first — so that some requests
    // are in flight and some are still to be sent.
    while done.load(Ordering::SeqCst) < spec.term_after
        && started.load(Ordering::SeqCst) < spec.requests / 2
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let in_flight_at_term = started.load(Ordering::SeqCst) - done.load(Ordering::SeqCst);
    let term_at = Instant::now();
    server.terminate()?;

    let mut outcomes = Vec::with_capacity(spec.requests);
    for task in tasks {
        outcomes.push(task.await?);
    }
    let exit_timeout = spec.exit_timeout.saturating_sub(term_at.elapsed());
    let (exit, log) = tokio::task::spawn_blocking(move || {
        let exit = server.wait(exit_timeout);
        (exit, server.log())
    })
    .await?;
    let exit_code = exit?.code;
    let exit_after_term = term_at.elapsed();
    let mut report = tally(&outcomes, &rows(db)?);
    report.in_flight_at_term = in_flight_at_term;
    report.exit_code = exit_code;
    report.exit_after_term = exit_after_term;
    report.log_says_pool_closed = log.contains("pool closed");
    report.log = log;
    Ok(report)
}
// ANCHOR_END: drill

// ANCHOR: tally
/// Compares what clients were told with what the database holds.
pub fn tally(outcomes: &[(String, Outcome)], rows: &[(i64, String)]) -> DrillReport {
    let mut report = DrillReport {
        sent: outcomes.len(),
        rows: rows.len(),
        ..DrillReport::default()
    };
    let stored: HashMap<&str, i64> = rows.iter().map(|(id, e)| (e.as_str(), *id)).collect();
    let mut told: HashMap<&str, i64> = HashMap::new();
    for (email, outcome) in outcomes {
        match outcome {
            Outcome::Accepted(user) => {
                report.accepted += 1;
                told.insert(email, user.id);
                if stored.get(email.as_str()) != Some(&user.id) {
                    report.lost += 1;
                }
            }
            Outcome::Unavailable => report.unavailable += 1,
            Outcome::Status(_) => report.other_status += 1,
            Outcome::Refused => report.refused += 1,
            Outcome::Dropped => report.dropped += 1,
            Outcome::TimedOut => report.timed_out += 1,
        }
    }
    report.phantom = rows
        .iter()
        .filter(|(_, e)| !told.contains_key(e.as_str()))
        .count();
    report
}
// ANCHOR_END: tally

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_finds_lost_and_phantom_writes() {
        let user = |id, e: &str| User {
            id,
            email: e.to_string(),
        };
        let outcomes = vec![
            ("a@x.io".to_string(), Outcome::Accepted(user(1, "a@x.io"))),
            ("b@x.io".to_string(), Outcome::Accepted(user(2, "b@x.io"))),
            ("c@x.io".to_string(), Outcome::Refused),
            ("d@x.io".to_string(), Outcome::Dropped),
        ];
        let rows = vec![(1, "a@x.io".to_string()), (3, "d@x.io".to_string())];
        let r = tally(&outcomes, &rows);
        assert_eq!((r.sent, r.accepted, r.refused, r.dropped), (4, 2, 1, 1));
        assert_eq!((r.rows, r.lost, r.phantom), (2, 1, 1));
    }
}
