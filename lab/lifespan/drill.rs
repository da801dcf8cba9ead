//! The shutdown drill: start the app as a separate process, fire a burst of
//! `POST /users` with distinct emails at it, send it SIGTERM while they are
//! in flight, wait for it to exit, then compare what the clients were told
//! with what is in the SQLite file. The promise being tested: **every 2xx is
//! a row, and every row had a 2xx** — no lost writes, no phantom writes.
//!
//! The crash drill ([`run_crash`]) fires the same burst but SIGKILLs the
//! process instead: no handler runs, nothing drains. Then the promise is
//! only **every 2xx is a row**, the file passes `PRAGMA integrity_check`,
//! and the server starts on it and serves. A broken-on-purpose server that
//! answers before it commits must fail it (see
//! [`super::handlers::create_user_ack_first`]).
//!
//! Left out: power loss and kernel crashes (a process kill leaves the
//! kernel's page cache intact; see [`super::resources::open_pool`]);
//! retries (a refused request is simply counted); and
//! idempotency keys (the real fix for "the row was written but the client
//! never heard": see the chapter's details).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::events::{Recorder, StepKind};
use super::resources::Config;
use super::server::{Framework, ShutdownReport};
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

/// A burst of `POST /users` on schedule (open loop), each with its own
/// email, and counters the drill watches to pick its moment.
struct Burst {
    tasks: Vec<tokio::task::JoinHandle<(String, Outcome)>>,
    started: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Burst {
    fn fire(url: &str, spec: &DrillSpec) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(spec.request_timeout)
            .build()?;
        let done = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let t0 = tokio::time::Instant::now();
        let tasks = (0..spec.requests)
            .map(|i| {
                let (client, url) = (client.clone(), url.to_string());
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
        Ok(Self {
            tasks,
            started,
            done,
        })
    }

    /// Requests answered (or failed) so far.
    fn done(&self) -> usize {
        self.done.load(Ordering::SeqCst)
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Requests started and not yet answered.
    fn in_flight(&self) -> usize {
        self.started().saturating_sub(self.done())
    }

    /// Waits for every request's outcome.
    async fn outcomes(self) -> anyhow::Result<Vec<(String, Outcome)>> {
        let mut outcomes = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            outcomes.push(task.await?);
        }
        Ok(outcomes)
    }
}

/// Reads every `(id, email)` row of the users table.
pub fn rows(db: &Path) -> anyhow::Result<Vec<(i64, String)>> {
    let conn = rusqlite::Connection::open(db)?;
    let mut stmt = conn.prepare("SELECT id, email FROM users")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs the drill against a freshly started server process and a database
/// file that does not exist yet (see [`crate::db::TempDbs`]).
pub async fn run(
    exe: &Path,
    framework: Framework,
    db: &Path,
    server_args: &[String],
    spec: &DrillSpec,
) -> anyhow::Result<DrillReport> {
    let mut server = start_server(exe, framework, db, server_args)?;
    let burst = Burst::fire(&server.url("/users"), spec)?;

    // SIGTERM mid-flight: after `term_after` answers, or once half the
    // requests have started, whichever comes first — so that some requests
    // are in flight and some are still to be sent.
    while burst.done() < spec.term_after && burst.started() < spec.requests / 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let in_flight_at_term = burst.in_flight();
    let term_at = Instant::now();
    server.terminate()?;

    let outcomes = burst.outcomes().await?;
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

/// The counter-case to the drill: one request that needs longer than the
/// shutdown deadline, in-process. What "cut off" means is up to the
/// framework, so this only records what happened.
#[derive(Debug)]
pub struct Overrun {
    pub report: ShutdownReport,
    /// From the shutdown call until it returned.
    pub took: Duration,
    /// The status the client got, or why it got none.
    pub answer: Result<u16, &'static str>,
    /// The app logged that its deadline hit.
    pub deadline_hit: bool,
    /// Rows in the database afterwards (1 if the slow write went through).
    pub rows: usize,
}

/// Starts `framework` with handlers that work `work` before writing and a
/// shutdown `deadline`, sends one `POST /users`, and shuts down while the
/// handler runs; `db` must not exist yet.
pub async fn overrun(
    framework: Framework,
    db: &Path,
    work: Duration,
    deadline: Duration,
) -> anyhow::Result<Overrun> {
    let mut config = Config::new(db);
    config.model_entries = 1_000;
    config.work = work;
    config.shutdown_deadline = deadline;
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = super::start(framework, config, Recorder::default(), local).await?;
    let recorder = server.recorder.clone();
    let client = reqwest::Client::builder()
        .timeout(work + deadline + Duration::from_secs(3))
        .build()?;
    let slow = tokio::spawn(post_slow(client, server.url("/users")));
    while !recorder.has(StepKind::HandlerStarted) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let report = server.shutdown().await?;
    let took = started.elapsed();
    let answer = slow.await?;
    Ok(Overrun {
        report,
        took,
        answer,
        deadline_hit: recorder.has(StepKind::DeadlineHit),
        rows: rows(db)?.len(),
    })
}

/// One `POST /users`: the status, or why there was none.
async fn post_slow(client: reqwest::Client, url: String) -> Result<u16, &'static str> {
    let body = serde_json::json!({ "email": "slow@example.com" });
    match client.post(url).json(&body).send().await {
        Ok(res) => Ok(res.status().as_u16()),
        Err(e) if e.is_timeout() => Err("timed out"),
        Err(_) => Err("connection closed, no response"),
    }
}

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

// ANCHOR: crash
/// The crash drill's size, kill point and variant.
#[derive(Debug, Clone)]
pub struct CrashSpec {
    /// The burst, as in the shutdown drill (its `term_after` is not used).
    pub burst: DrillSpec,
    /// SIGKILL once this many requests have been answered (or failed).
    pub kill_after: usize,
    /// **Broken on purpose**: start the server with
    /// `--broken-ack-before-commit-ms`, so that it answers 201 this long
    /// before it writes. `None`: the honest server, which commits first.
    pub broken_ack_before_commit: Option<Duration>,
}

/// Kill points spread over a burst of `requests`: from 5% to 90% of the
/// answers in, one per run.
pub fn kill_points(requests: usize, runs: usize) -> Vec<usize> {
    (0..runs)
        .map(|i| {
            let f = 0.05 + 0.85 * i as f64 / (runs.max(2) - 1) as f64;
            ((requests as f64 * f) as usize).max(1)
        })
        .collect()
}

/// The crash drill's runs: `runs` against the honest server with kill
/// points spread from 5% to 90% of the answers, then `broken_runs` against
/// the broken-on-purpose server that answers `broken_delay` before it
/// commits; frameworks take turns.
pub fn crash_plan(
    requests: usize,
    runs: usize,
    broken_runs: usize,
    broken_delay: Duration,
) -> Vec<(Framework, CrashSpec)> {
    let honest = kill_points(requests, runs).into_iter().map(|k| (k, None));
    let broken = kill_points(requests, broken_runs)
        .into_iter()
        .map(|k| (k, Some(broken_delay)));
    honest
        .chain(broken)
        .enumerate()
        .map(|(run, (kill_after, broken_ack_before_commit))| {
            let spec = CrashSpec {
                burst: DrillSpec::new(requests),
                kill_after,
                broken_ack_before_commit,
            };
            (Framework::ALL[run % 2], spec)
        })
        .collect()
}

/// What one crash drill found.
#[derive(Debug, Clone)]
pub struct CrashReport {
    /// Answers (or failures) counted when SIGKILL was sent.
    pub killed_after: usize,
    /// Requests started but not answered when SIGKILL was sent.
    pub in_flight_at_kill: usize,
    /// Outcomes against the rows after the restart (the probe row left
    /// out). `lost` must be 0. `phantom` need not be: a row committed just
    /// before the kill whose 201 died with the process (the client cannot
    /// tell it from a lost request: the reason for idempotency keys).
    pub counts: DrillReport,
    /// `PRAGMA integrity_check` on the file after the restart: `ok`.
    pub integrity: String,
    /// The server restarted on the file, stored one more row (201) and
    /// exited 0 on SIGTERM with its pool closed.
    pub restarted_cleanly: bool,
    /// The restarted server's log, or why it would not start.
    pub restart_log: String,
}

impl CrashReport {
    /// Why this run fails the drill, if it does: a damaged file, a server
    /// that would not restart on it, or (for the honest server only) an
    /// acknowledged write that is missing.
    pub fn failure(&self, spec: &CrashSpec) -> Option<String> {
        let honest = spec.broken_ack_before_commit.is_none();
        (self.integrity != "ok" || !self.restarted_cleanly || (honest && self.counts.lost > 0))
            .then(|| format!("{self:?}"))
    }
}

/// The email of the row the restarted server is asked to store.
const PROBE_EMAIL: &str = "after-the-crash@example.com";

/// SIGKILLs the server mid-burst, restarts it on the same file, and checks
/// that every write that got a 2xx is there. A process kill is not a power
/// loss: the kernel keeps what the process wrote (see
/// [`super::resources::open_pool`] for what survives which).
pub async fn run_crash(
    exe: &Path,
    framework: Framework,
    db: &Path,
    server_args: &[String],
    spec: &CrashSpec,
) -> anyhow::Result<CrashReport> {
    let mut args = server_args.to_vec();
    if let Some(delay) = spec.broken_ack_before_commit {
        args.push("--broken-ack-before-commit-ms".into());
        args.push(delay.as_millis().to_string());
    }
    let mut server = start_server(exe, framework, db, &args)?;
    let burst = Burst::fire(&server.url("/users"), &spec.burst)?;
    while burst.done() < spec.kill_after && burst.done() < spec.burst.requests {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (killed_after, in_flight_at_kill) = (burst.done(), burst.in_flight());
    server.crash()?; // SIGKILL: no shutdown, no flush, no pool close
    let outcomes = burst.outcomes().await?;
    drop(server);

    let (restarted_cleanly, restart_log) =
        match restart(exe, framework, db, server_args, spec.burst.exit_timeout).await {
            Ok((clean, log)) => (clean, log),
            Err(e) => (false, format!("{e:#}")),
        };
    let rows: Vec<_> = rows(db)?
        .into_iter()
        .filter(|(_, email)| email != PROBE_EMAIL)
        .collect();
    Ok(CrashReport {
        killed_after,
        in_flight_at_kill,
        counts: tally(&outcomes, &rows),
        integrity: integrity_check(db)?,
        restarted_cleanly,
        restart_log,
    })
}
// ANCHOR_END: crash

/// Starts the (honest) server on the crashed file, stores one row, stops
/// it: true if that was a 201 and a clean exit with the pool closed.
async fn restart(
    exe: &Path,
    framework: Framework,
    db: &Path,
    server_args: &[String],
    exit_timeout: Duration,
) -> anyhow::Result<(bool, String)> {
    let mut server = start_server(exe, framework, db, server_args)?;
    let status = reqwest::Client::new()
        .post(server.url("/users"))
        .json(&serde_json::json!({ "email": PROBE_EMAIL }))
        .timeout(Duration::from_secs(10))
        .send()
        .await?
        .status();
    server.terminate()?;
    let (exit, log) = tokio::task::spawn_blocking(move || {
        let exit = server.wait(exit_timeout);
        (exit, server.log())
    })
    .await?;
    let clean = status == 201 && exit?.code == Some(0) && log.contains("pool closed");
    Ok((clean, log))
}

/// `PRAGMA integrity_check`'s answer, its lines joined: `ok` when sound.
pub fn integrity_check(db: &Path) -> anyhow::Result<String> {
    let conn = rusqlite::Connection::open(db)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let lines = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(lines.collect::<Result<Vec<_>, _>>()?.join("; "))
}

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

    #[test]
    fn kill_points_spread_from_early_to_late() {
        assert_eq!(kill_points(1000, 3), [50, 475, 900]);
        assert_eq!(kill_points(1000, 1), [50]);
        assert!(kill_points(10, 20).iter().all(|&k| (1..=10).contains(&k)));
    }
}
