//! One contract, seven servers: the same requests — good ones and every kind of
//! bad one (the script in tests/common) — sent to every server model must get
//! identical status codes and JSON bodies, with FastAPI's statuses and
//! shapes, on SQLite and (when PostgreSQL is installed) on PostgreSQL. Then a few sleep-bound checks that each model overlaps waits the
//! way Little's law says it should (wide margins: the box is shared).
//! rouille's burst is sent with `Connection: close`: tiny_http may queue a
//! burst of new keep-alive connections behind busy ones (chapter 3 measures
//! it), and this test checks the pool, not that.
//!
//! Leaves out throughput numbers: those are the examples' and the bench's job.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lab::api::{Model, Options, RunningServer, start};
use lab::db::Database;
use lab::postgres::{Postgres, PostgresError};
use serde_json::json;

mod common;
use common::contract::{Answer, has_detail, run_script, script};

/// The sleep-bound test and the PostgreSQL one take turns: a database
/// starting beside a timed burst slows the burst on a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn every_model() -> Vec<Model> {
    vec![
        Model::SyncPool { threads: 4 },
        Model::Rouille { threads: 4 },
        Model::EventLoop,
        Model::WorkStealing { threads: 2 },
        Model::LoopPerWorker { workers: 2 },
        Model::BlockedLoop,
        Model::SpawnBlocking { pool: 4 },
    ]
}

fn serve(model: Model) -> RunningServer {
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    start(model, any_port, &Options::default()).expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_gives_identical_answers() {
    let expected: Vec<u16> = script().iter().map(|case| case.fastapi).collect();
    let mut reference: Option<Vec<Answer>> = None;
    for model in every_model() {
        let server = serve(model);
        let answers = run_script(&server.url("")).await;
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses, expected, "{}: {answers:#?}", model.label());
        for answer in answers.iter().filter(|a| a.status >= 400) {
            let body = answer.body.as_ref().expect("a JSON body");
            assert!(
                has_detail(body),
                "{}: {} has no detail: {body}",
                model.label(),
                answer.what
            );
        }
        match &reference {
            None => reference = Some(answers),
            Some(first) => assert_eq!(&answers, first, "{} differs", model.label()),
        }
        let took = tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap();
        assert!(
            took < Duration::from_secs(2),
            "{} took {took:?} to stop",
            model.label()
        );
    }
    let answers = reference.unwrap();
    let body = |i: usize| answers[i].body.clone().unwrap();
    assert_eq!(body(0), json!({ "message": "Hello, World!" }));
    assert_eq!(body(9), json!({ "id": 1, "email": "ann@example.com" }));
    // FastAPI's shapes: a message, or a list of Pydantic errors.
    assert_eq!(body(24), json!({ "detail": "Not Found" }));
    assert_eq!(
        body(3),
        json!({ "detail": [{ "type": "missing", "loc": ["query", "ms"], "msg": "Field required" }] })
    );
    assert_eq!(body(14)["detail"][0]["type"], "json_invalid");
}

/// Sends `n` concurrent `GET /wait?ms=wait` and returns the wall time;
/// with `close`, each on its own connection that the answer closes.
async fn burst(server: &RunningServer, n: usize, wait: Duration, close: bool) -> Duration {
    let client = reqwest::Client::new();
    let url = server.url(&format!("/wait?ms={}", wait.as_millis()));
    let start = Instant::now();
    let calls = (0..n).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let mut request = client.get(url);
            if close {
                request = request.header("connection", "close");
            }
            let status = request.send().await.unwrap().status();
            assert_eq!(status, 200);
        }
    });
    futures::future::join_all(calls).await;
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_overlap_as_littles_law_says() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let wait = Duration::from_millis(100);
    // (model, concurrent requests, fewest waits it must take, most it may take)
    let cases = [
        (Model::SyncPool { threads: 4 }, 8, 2.0, 3.5),
        (Model::Rouille { threads: 4 }, 8, 2.0, 3.5),
        (Model::EventLoop, 8, 1.0, 2.5),
        (Model::WorkStealing { threads: 2 }, 8, 1.0, 2.5),
        (Model::LoopPerWorker { workers: 2 }, 8, 1.0, 2.5),
        (Model::BlockedLoop, 4, 4.0, 6.0),
        (Model::SpawnBlocking { pool: 2 }, 4, 2.0, 3.5),
    ];
    for (model, n, fewest, most) in cases {
        let server = serve(model);
        let close = matches!(model, Model::Rouille { .. });
        burst(&server, 2, Duration::ZERO, close).await; // warm up connections and threads
        let took = burst(&server, n, wait, close).await.as_secs_f64() / wait.as_secs_f64();
        assert!(
            took >= fewest * 0.95 && took <= most,
            "{}: {n} requests took {took:.2} waits, expected {fewest}..{most}",
            model.label()
        );
        tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap();
    }
}

/// The same script on PostgreSQL (chapter 6's database row): every model
/// reads and writes the users table through sqlx's Postgres driver (the
/// async models) or the `postgres` crate (the blocking ones), and must
/// answer exactly as it does on SQLite — ids included. Needs PostgreSQL's
/// binaries; without them it prints `skipped: no PostgreSQL` and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_answers_the_same_on_postgres() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = lab::python::target_dir().join("api-contract-postgres");
    let pg = match tokio::task::spawn_blocking(move || Postgres::start(&dir))
        .await
        .unwrap()
    {
        Ok(pg) => pg,
        Err(PostgresError::NotInstalled) => {
            println!("skipped: no PostgreSQL ({})", PostgresError::NotInstalled);
            return;
        }
        Err(e) => panic!("PostgreSQL is installed but did not start: {e}"),
    };
    // The reference: the first model's answers on SQLite.
    let sqlite = serve(Model::EventLoop);
    let reference = run_script(&sqlite.url("")).await;
    tokio::task::spawn_blocking(move || sqlite.stop())
        .await
        .unwrap();
    let options = Options {
        db_latency: Duration::ZERO,
        database: Some(Database::parse(&pg.dsn())),
        ..Options::default()
    };
    for model in every_model() {
        // A fresh table, ids from 1, as each SQLite run gets.
        pg.sql("TRUNCATE users RESTART IDENTITY").unwrap();
        let server = start(model, "127.0.0.1:0".parse().unwrap(), &options)
            .unwrap_or_else(|e| panic!("{} on PostgreSQL: {e:#}", model.label()));
        let answers = run_script(&server.url("")).await;
        assert_eq!(
            answers,
            reference,
            "{} on PostgreSQL differs from SQLite",
            model.label()
        );
        tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap();
    }
    // A user the table already holds is read back as any other.
    pg.sql("INSERT INTO users (email) VALUES ('seeded@example.com')")
        .unwrap();
    for model in [Model::SyncPool { threads: 2 }, Model::EventLoop] {
        let server = start(model, "127.0.0.1:0".parse().unwrap(), &options).unwrap();
        let body: serde_json::Value = reqwest::get(server.url("/users/3"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            body,
            json!({ "id": 3, "email": "seeded@example.com" }),
            "{}",
            model.label()
        );
        tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap();
    }
    println!(
        "every model answered the script on PostgreSQL {} as on SQLite",
        pg.port()
    );
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
}
