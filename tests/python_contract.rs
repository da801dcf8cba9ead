//! The Python side of the lab answers the contract. The requests of
//! tests/common go to the FastAPI app in its three flavours (uvicorn) and
//! must get exactly the answers a Rust server gives — the same statuses, the
//! same bodies once Pydantic's extra `input`/`ctx` fields are set aside —
//! and to the DRF app on gunicorn (`sync` and `gthread`), which must give
//! DRF's own statuses. Every stack also serves `/api/simple` and the
//! 10,000-object `/api/serialize`, and, when PostgreSQL is installed, reads
//! and writes the users table there (asyncpg for `async def`, psycopg for
//! `def` and Django).
//!
//! Needs a python3 ≥ 3.10: without one it prints `skipped: no python3 ≥ 3.10`
//! and passes. The first run makes the venv under target/ (about a minute of
//! pip, once); later runs reuse it. Each server runs in its own process
//! group, and the whole group is stopped when its guard drops — pass, fail
//! or panic. Server logs go to target/python-contract/*.log.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lab::api::{Model, Options};
use lab::db::Database;
use lab::postgres::{Postgres, PostgresError};
use lab::python::{Stack, StackOptions, Venv, find_python, target_dir};
use serde_json::{Value, json};

mod common;
use common::contract::{Answer, comparable_detail, has_detail, run_script, script};

/// A Python server in its own process group, stopped (group and all) on drop.
struct PythonServer {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl PythonServer {
    fn start(stack: Stack, venv: &Venv, options: &StackOptions, scratch: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = scratch.join(format!("{}-{port}.log", stack.name()));
        let output = File::create(&log).unwrap();
        let child = stack
            .command(venv, port, options)
            .process_group(0) // its workers join the group: one signal reaches all
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("the server starts");
        let mut server = PythonServer { child, addr, log };
        server.wait_until_ready(stack);
        server
    }

    /// Ready when the port accepts a connection; a server that exits first
    /// fails the test with its log.
    fn wait_until_ready(&mut self, stack: Stack) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            let exited = self.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "{} did not start ({exited:?}):\n{}",
                stack.name(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// The one place that stops a server: SIGTERM to its whole process group
/// (uvicorn's and gunicorn's workers are in it), up to 5 s to exit, then
/// SIGKILL to whatever is left of the group. (The lab's child-process helper
/// will take this over.)
fn stop_group(child: &mut Child) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let group = Pid::from_raw(child.id() as i32);
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(group, Signal::SIGKILL); // no-op (ESRCH) when all are gone
    let _ = child.wait();
}

/// A fresh scratch folder under target/.
fn scratch() -> PathBuf {
    let dir = target_dir().join("python-contract");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sqlite_options(scratch: &Path, stack: Stack) -> StackOptions {
    StackOptions {
        // Two sync workers: a POST and the GET after it may meet different
        // processes, as they would in production.
        workers: if stack == Stack::DjangoSync { 2 } else { 1 },
        threads: 4,
        database: scratch
            .join(format!("{}.sqlite", stack.name()))
            .display()
            .to_string(),
        db_latency: Duration::ZERO,
    }
}

const EVERY_STACK: [Stack; 5] = [
    Stack::FastapiAsync,
    Stack::FastapiDef,
    Stack::FastapiBlocked,
    Stack::DjangoSync,
    Stack::DjangoGthread,
];

#[test]
fn python_apps_answer_the_contract() {
    let python = match find_python() {
        Ok(python) => python,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let started = Instant::now();
    let venv = Venv::ensure(&python, |step| println!("{step}")).expect("the venv");
    println!(
        "venv {} ready in {:.1?}",
        venv.dir.display(),
        started.elapsed()
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let scratch = scratch();

    // The reference: a Rust server's answers to the same script.
    let rust_options = Options {
        db_latency: Duration::ZERO,
        database: Some(Database::Sqlite(scratch.join("rust.sqlite"))),
        ..Options::default()
    };
    let rust = lab::api::start(
        Model::EventLoop,
        "127.0.0.1:0".parse().unwrap(),
        &rust_options,
    )
    .expect("the Rust server starts");
    let reference = runtime.block_on(run_script(&rust.url("")));
    rust.stop();

    for stack in EVERY_STACK {
        let started = Instant::now();
        let server = PythonServer::start(stack, &venv, &sqlite_options(&scratch, stack), &scratch);
        println!("{} started in {:.1?}", stack.name(), started.elapsed());
        let answers = runtime.block_on(run_script(&server.url()));
        check_statuses(stack, &answers);
        if stack.is_fastapi() {
            same_answers_as_rust(stack, &answers, &reference);
        } else {
            drf_answers(stack, &answers);
        }
        runtime.block_on(simple_and_serialize(stack, &server.url()));
        let stopping = Instant::now();
        drop(server);
        println!(
            "{} answered the contract, stopped in {:.1?} ({:.1?} in all)",
            stack.name(),
            stopping.elapsed(),
            started.elapsed()
        );
    }

    match Postgres::start(&scratch.join("postgres")) {
        Err(PostgresError::NotInstalled) => {
            println!(
                "skipped the PostgreSQL part: {}",
                PostgresError::NotInstalled
            )
        }
        Err(e) => panic!("PostgreSQL is installed but did not start: {e}"),
        Ok(pg) => {
            println!("PostgreSQL on port {}: the users routes again", pg.port());
            pg.seed_users(3).expect("seeded");
            for stack in [Stack::FastapiAsync, Stack::FastapiDef, Stack::DjangoSync] {
                let options = StackOptions {
                    database: pg.dsn(),
                    ..sqlite_options(&scratch, stack)
                };
                let server = PythonServer::start(stack, &venv, &options, &scratch);
                runtime.block_on(users_on_postgres(stack, &server.url()));
            }
        }
    }
}

/// Every status is the one the script expects of this stack.
fn check_statuses(stack: Stack, answers: &[Answer]) {
    for (case, answer) in script().iter().zip(answers) {
        let want = if stack.is_fastapi() {
            case.fastapi
        } else {
            case.drf
        };
        assert_eq!(
            answer.status,
            want,
            "{}: {} answered {:?}",
            stack.name(),
            answer.what,
            answer.body
        );
    }
}

/// FastAPI and the Rust server: the same body for every answer (errors
/// compared by their `detail`, without Pydantic's `input`/`ctx`).
fn same_answers_as_rust(stack: Stack, answers: &[Answer], reference: &[Answer]) {
    for (python, rust) in answers.iter().zip(reference) {
        let (py, rs) = (python.body.as_ref(), rust.body.as_ref());
        let (py, rs) = (py.expect("a JSON body"), rs.expect("a JSON body"));
        if python.status >= 400 {
            assert_eq!(
                comparable_detail(py),
                comparable_detail(rs),
                "{}: {} differs from the Rust server's",
                stack.name(),
                python.what
            );
        } else {
            assert_eq!(py, rs, "{}: {}", stack.name(), python.what);
        }
    }
}

/// DRF's own shapes: `{"detail": ...}` for parse errors, 404 (its own), 405
/// and our 413; `{"field": [messages]}` for invalid input; Django's HTML
/// page (not JSON) for a path no route matches.
fn drf_answers(stack: Stack, answers: &[Answer]) {
    for answer in answers.iter().filter(|a| a.status >= 400) {
        let what = format!("{}: {}", stack.name(), answer.what);
        match &answer.body {
            None => assert_eq!(answer.status, 404, "{what}: only Django's 404 page is HTML"),
            Some(body) if answer.status == 400 => {
                let detail = body["detail"].as_str().unwrap_or("");
                let field_errors = body.as_object().is_some_and(|fields| {
                    fields
                        .values()
                        .all(|v| v.as_array().is_some_and(|m| !m.is_empty()))
                });
                assert!(
                    detail.starts_with("JSON parse error") || field_errors,
                    "{what}: {body}"
                );
            }
            Some(body) => assert!(has_detail(body), "{what}: {body}"),
        }
    }
}

/// `/api/simple` and `/api/serialize` answer as the published benchmark's.
async fn simple_and_serialize(stack: Stack, base: &str) {
    let get = |path: &str| reqwest::get(format!("{base}{path}"));
    let simple: Value = get("/api/simple").await.unwrap().json().await.unwrap();
    assert_eq!(
        simple,
        json!({ "message": "Hello World", "status": "success" }),
        "{}",
        stack.name()
    );
    let rows: Vec<Value> = get("/api/serialize").await.unwrap().json().await.unwrap();
    assert_eq!(rows.len(), 10_000, "{}", stack.name());
    assert_eq!(
        rows[9_999],
        json!({ "id": 10_000, "name": "User 10000", "email": "user10000@example.com" })
    );
}

/// On PostgreSQL: a seeded row, a new one, a duplicate and a missing one.
async fn users_on_postgres(stack: Stack, base: &str) {
    let client = reqwest::Client::new();
    let get = |id: u32| client.get(format!("{base}/users/{id}")).send();
    let email = format!("{}@example.com", stack.name());
    let post = || {
        client
            .post(format!("{base}/users"))
            .json(&json!({ "email": email }))
            .send()
    };
    let seeded = get(2).await.unwrap();
    assert_eq!(seeded.status(), 200, "{}", stack.name());
    let seeded: Value = seeded.json().await.unwrap();
    assert_eq!(seeded, json!({ "id": 2, "email": "user2@example.com" }));
    let created = post().await.unwrap();
    assert_eq!(created.status(), 201, "{}", stack.name());
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["email"], email.as_str());
    let again = get(created["id"].as_u64().unwrap() as u32).await.unwrap();
    assert_eq!(again.json::<Value>().await.unwrap(), created);
    let duplicate = post().await.unwrap().status();
    let want = if stack.is_fastapi() { 409 } else { 400 };
    assert_eq!(duplicate, want, "{}", stack.name());
    assert_eq!(get(999).await.unwrap().status(), 404, "{}", stack.name());
}
