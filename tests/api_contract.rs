//! One contract, seven servers: the same requests — good ones and every kind of
//! bad one — sent to every server model must get identical status codes and
//! JSON bodies. Then a few sleep-bound checks that each model overlaps waits
//! the way Little's law says it should (wide margins: the box is shared).
//! rouille's burst is sent with `Connection: close`: tiny_http may queue a
//! burst of new keep-alive connections behind busy ones (chapter 3 measures
//! it), and this test checks the pool, not that.
//!
//! Leaves out throughput numbers: those are the examples' and the bench's job.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lab::api::{Model, Options, RunningServer, start};
use lab::users::MAX_BODY_BYTES;
use serde_json::{Value, json};

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

/// The script: (method, path, body, expected status).
fn script() -> Vec<(&'static str, &'static str, Option<String>, u16)> {
    let user = |email: &str| Some(json!({ "email": email }).to_string());
    vec![
        ("GET", "/hello", None, 200),
        ("GET", "/wait?ms=5", None, 200),
        ("GET", "/wait?ms=abc", None, 422),
        ("GET", "/wait", None, 422),
        ("GET", "/wait?ms=10001", None, 422),
        ("GET", "/wait?ms=-1", None, 422),
        ("GET", "/cpu?us=100", None, 200),
        ("GET", "/cpu?us=100001", None, 422),
        ("POST", "/users", user("ann@example.com"), 201),
        ("GET", "/users/1", None, 200),
        ("GET", "/users/999", None, 404),
        ("GET", "/users/abc", None, 422),
        ("POST", "/users", user("ann@example.com"), 409),
        ("POST", "/users", Some(r#"{"email": "#.into()), 400),
        ("POST", "/users", Some("not json".into()), 400),
        ("POST", "/users", Some("{}".into()), 422),
        ("POST", "/users", Some(r#"{"email": 42}"#.into()), 422),
        ("POST", "/users", user("no-at-sign"), 422),
        ("POST", "/users", user("bob@localhost"), 422),
        ("POST", "/users", Some(" ".repeat(MAX_BODY_BYTES + 1)), 413),
        ("POST", "/users", user("bob@example.com"), 201),
        ("GET", "/users/2", None, 200),
        ("GET", "/nope", None, 404),
        ("POST", "/hello", None, 405),
        ("DELETE", "/users/1", None, 405),
    ]
}

async fn run_script(server: &RunningServer) -> Vec<(String, u16, Value)> {
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for (method, path, body, _) in script() {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = client.request(method.clone(), server.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON body");
        answers.push((format!("{method} {path}"), status, body));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_gives_identical_answers() {
    let expected: Vec<u16> = script().iter().map(|s| s.3).collect();
    let mut reference: Option<Vec<(String, u16, Value)>> = None;
    for model in every_model() {
        let server = serve(model);
        let answers = run_script(&server).await;
        let statuses: Vec<u16> = answers.iter().map(|a| a.1).collect();
        assert_eq!(statuses, expected, "{}: {answers:#?}", model.label());
        for (what, status, body) in &answers {
            if *status >= 400 {
                let message = body["error"].as_str().unwrap_or("");
                assert!(
                    !message.is_empty(),
                    "{}: {what} has no message",
                    model.label()
                );
            }
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
    assert_eq!(answers[0].2, json!({ "message": "Hello, World!" }));
    assert_eq!(answers[9].2, json!({ "id": 1, "email": "ann@example.com" }));
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
