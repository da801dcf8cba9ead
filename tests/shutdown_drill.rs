//! The shutdown drill against a real, separate server process: build the
//! chapter 5 example, run it in `serve` mode, fire 1,000 concurrent
//! `POST /users` with distinct emails, send SIGTERM while they are in
//! flight, and check the promise: every 2xx is a row in the SQLite file,
//! every row had a 2xx, refused requests got a connection error or 503
//! (never a 2xx without a row), the pool closed (the log says so), and the
//! process exited 0 within the deadline. Once for axum, once for actix-web.
//!
//! Then the crash drill, a few runs of what `ch05_lifespan crash-drill`
//! repeats 20 times: SIGKILL mid-burst at kill points from early to late,
//! restart on the same file; every 2xx must be a row, `PRAGMA
//! integrity_check` must say ok, the restarted server must serve and exit 0.
//! And the same drill must catch the broken-on-purpose server that answers
//! before it commits.
//!
//! Left out: Windows (process groups and SIGTERM are Unix).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use lab::db::TempDbs;
use lab::lifespan::Framework;
use lab::lifespan::drill::{self, DrillSpec};

/// The example's path, built once for all tests in this file.
fn example_binary() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        lab::process::build_example("ch05_lifespan", !cfg!(debug_assertions))
            .expect("building the example")
    })
    .clone()
}

fn server_args() -> Vec<String> {
    [
        "--model-entries",
        "20000",
        "--work-ms",
        "5",
        "--deadline-secs",
        "10",
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_burst_loses_no_write_and_invents_none() {
    let exe = example_binary();
    let spec = DrillSpec::new(1_000);
    let dbs = TempDbs::new().unwrap();
    for framework in Framework::ALL {
        let db = dbs.path(&format!("burst-{}", framework.name()));
        let r = drill::run(&exe, framework, &db, &server_args(), &spec)
            .await
            .unwrap();
        let name = framework.name();
        eprintln!(
            "{name}: sent {} in-flight-at-SIGTERM {} 2xx {} 503 {} refused {} dropped {} rows {} exit {:?} after {:?}",
            r.sent,
            r.in_flight_at_term,
            r.accepted,
            r.unavailable,
            r.refused,
            r.dropped,
            r.rows,
            r.exit_code,
            r.exit_after_term
        );
        assert_eq!(r.sent, 1_000);
        assert!(
            r.in_flight_at_term > 0,
            "{name}: SIGTERM came when nothing was in flight"
        );
        assert!(
            r.accepted > 0,
            "{name}: nothing was accepted before SIGTERM"
        );
        assert_eq!(r.lost, 0, "{name}: a 2xx without its row\n{}", r.log);
        assert_eq!(r.phantom, 0, "{name}: a row without its 2xx\n{}", r.log);
        assert_eq!(r.rows, r.accepted, "{name}");
        // Refusals are connection errors or 503s: nothing else, no timeouts.
        assert_eq!(r.other_status + r.timed_out, 0, "{name}: {r:?}");
        assert_eq!(r.accepted + r.unavailable + r.refused + r.dropped, r.sent);
        assert_eq!(
            r.exit_code,
            Some(0),
            "{name} did not exit cleanly\n{}",
            r.log
        );
        assert!(
            r.log_says_pool_closed,
            "{name}: no 'pool closed' in the log\n{}",
            r.log
        );
        assert!(
            r.exit_after_term < Duration::from_secs(11),
            "{name} overran its 10 s deadline"
        );
    }
}

/// Runs the crash drill `runs` times, frameworks taking turns, kill points
/// spread over the burst; prints one line per run.
async fn crash_runs(runs: usize, broken: Option<Duration>) -> Vec<drill::CrashReport> {
    let exe = example_binary();
    let dbs = TempDbs::new().unwrap();
    let mut reports = Vec::new();
    for (run, kill_after) in drill::kill_points(1_000, runs).into_iter().enumerate() {
        let framework = Framework::ALL[run % 2];
        let spec = drill::CrashSpec {
            burst: DrillSpec::new(1_000),
            kill_after,
            broken_ack_before_commit: broken,
        };
        let db = dbs.path(&format!("crash-{run}"));
        let r = drill::run_crash(&exe, framework, &db, &server_args(), &spec)
            .await
            .unwrap();
        let c = &r.counts;
        eprintln!(
            "{} broken={broken:?}: killed after {} answers, {} in flight; 2xx {} missing {} \
             rows-without-2xx {} integrity {} restart {}",
            framework.name(),
            r.killed_after,
            r.in_flight_at_kill,
            c.accepted,
            c.lost,
            c.phantom,
            r.integrity,
            r.restarted_cleanly
        );
        assert_eq!(c.sent, 1_000);
        assert_eq!(r.integrity, "ok", "{}: {r:?}", framework.name());
        assert!(
            r.restarted_cleanly,
            "{}: the server did not come back on the crashed file\n{}",
            framework.name(),
            r.restart_log
        );
        reports.push(r);
    }
    reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_write() {
    for r in crash_runs(4, None).await {
        assert!(r.counts.accepted > 0, "killed before any answer: {r:?}");
        assert!(
            r.in_flight_at_kill > 0,
            "nothing in flight at the kill: {r:?}"
        );
        assert_eq!(r.counts.lost, 0, "a 2xx without its row: {r:?}");
    }
}

/// The drill can fail: a server that answers 201 200 ms before it writes
/// loses acknowledged writes when it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_catches_the_server_that_answers_before_it_commits() {
    let reports = crash_runs(2, Some(Duration::from_millis(200))).await;
    let lost: usize = reports.iter().map(|r| r.counts.lost).sum();
    assert!(lost >= 1, "the broken server lost nothing: {reports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_mode_stores_users_and_answers_errors_as_json() {
    let exe = example_binary();
    let dbs = TempDbs::new().unwrap();
    for framework in Framework::ALL {
        let db = dbs.path(&format!("serve-{}", framework.name()));
        let mut server = drill::start_server(&exe, framework, &db, &server_args()).unwrap();
        let url = server.url("/users");
        let client = reqwest::Client::new();
        let post = |body: &'static str| {
            client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };

        let res = post(r#"{"email":"ann@example.com"}"#).await.unwrap();
        assert_eq!(res.status(), 201);
        let user: serde_json::Value = res.json().await.unwrap();
        assert_eq!(user["email"], "ann@example.com");
        assert!(user["id"].as_i64().unwrap() > 0);
        for (body, want) in [
            (r#"{"email":"ann@example.com"}"#, 409),
            (r#"{"email":"#, 422),
            (r#"{"email":"no at sign"}"#, 422),
            (r#"{"name":"ann"}"#, 422),
        ] {
            let res = post(body).await.unwrap();
            assert_eq!(res.status(), want, "{body}");
            let json: serde_json::Value = res.json().await.unwrap();
            assert!(
                json["detail"].is_string() || json["detail"].is_array(),
                "{body}: {json}"
            );
        }
        server.terminate().unwrap();
        let exit = tokio::task::block_in_place(|| server.wait(Duration::from_secs(15))).unwrap();
        assert_eq!(exit.code, Some(0), "{}", server.log());
        assert!(server.log().contains("pool closed"), "{}", server.log());
        let rows = drill::rows(Path::new(&db)).unwrap();
        assert_eq!(
            rows,
            vec![(user["id"].as_i64().unwrap(), "ann@example.com".to_string())]
        );
    }
}
