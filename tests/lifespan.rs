//! Chapter 5's lifespan tests, in the style of FastAPI's own
//! (`tests/test_router_events.py`, `test_dependency_contextmanager.py`):
//! the app-wide resources exist only between startup and shutdown, the
//! port opens only after they are ready, the request-scoped connection is
//! released exactly once per request (success, failure, client disconnect
//! mid-stream), the recorded order of events is the chapter's diagrams,
//! and graceful shutdown finishes in-flight requests. Each test runs the
//! same checks against axum and actix-web.
//!
//! Left out: the separate-process SIGTERM drill (tests/shutdown_drill.rs).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lab::lifespan::events::names_in_text;
use lab::lifespan::{Config, Framework, Recorder, Running, StepKind, client};

const OK: &[&str] = &[
    "received",
    "acquired",
    "handler started",
    "committed",
    "released",
    "response started",
    "response sent",
];
const ROLLED_BACK: &[&str] = &[
    "received",
    "acquired",
    "handler started",
    "rolled back",
    "released",
    "response started",
    "response sent",
];
const BAD_INPUT: &[&str] = &[
    "received",
    "acquired",
    "handler started",
    "released",
    "response started",
    "response sent",
];
const STREAM_RELEASE_FIRST: &[&str] = &[
    "received",
    "acquired",
    "handler started",
    "released",
    "response started",
    "chunk",
    "response sent",
];
const STREAM_HELD: &[&str] = &[
    "received",
    "acquired",
    "handler started",
    "response started",
    "chunk",
    "released",
    "response sent",
];
const APP: &[&str] = &[
    "startup began",
    "pool opened",
    "schema migrated",
    "model loaded",
    "listening",
    "shutdown began",
    "drained",
    "pool closed",
    "model dropped",
];

/// Database `name` for `framework`, in one temporary folder per test run.
/// (A static is never dropped, so the folder outlives the run; each test
/// uses its own file names, so a fresh run never sees old rows.)
fn temp_db(name: &str, framework: Framework) -> PathBuf {
    static DBS: std::sync::LazyLock<lab::db::TempDbs> =
        std::sync::LazyLock::new(|| lab::db::TempDbs::new().expect("a temporary folder"));
    DBS.path(&format!("{name}-{}", framework.name()))
}

fn small_config(name: &str, framework: Framework) -> Config {
    let mut config = Config::new(temp_db(name, framework));
    config.model_entries = 1_000;
    config.chunk_delay = Duration::from_millis(10);
    config.shutdown_deadline = Duration::from_secs(5);
    config
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// `POST path` with a JSON body given as text: status, request id, JSON.
async fn post(
    client: &reqwest::Client,
    server: &Running,
    path: &str,
    body: &str,
) -> (u16, u64, serde_json::Value) {
    let answer = client::post(client, server.addr, path, body).await.unwrap();
    (answer.status, answer.request_id, answer.json())
}

fn request_id(res: &reqwest::Response) -> u64 {
    client::request_id(res).expect("an x-request-id header")
}

async fn names_when_finished(server: &Running, id: u64) -> Vec<&'static str> {
    assert!(
        server
            .recorder
            .wait_until_finished(id, Duration::from_secs(5))
            .await,
        "request {id} never finished: {:?}",
        server.recorder.request_names(id)
    );
    server.recorder.request_names(id)
}

fn released_count(server: &Running, id: u64) -> usize {
    server
        .recorder
        .count(|e| e.request == Some(id) && e.step.kind() == StepKind::Released)
}

/// When each step of `kind` happened, in order.
fn times(events: &[lab::lifespan::Event], kind: StepKind) -> Vec<Duration> {
    events
        .iter()
        .filter(|e| e.step.kind() == kind)
        .map(|e| e.at)
        .collect()
}

async fn user_count(server: &Running) -> i64 {
    client::user_count(server).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_exist_only_between_startup_and_shutdown() {
    for framework in Framework::ALL {
        let recorder = Recorder::default();
        let mut config = small_config("lifespan", framework);
        config.model_entries = 300_000; // slow enough to poke at the port meanwhile
        // A free port, so the test can knock on it while startup runs.
        let addr = std::net::TcpListener::bind(local())
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(
            !recorder.has(StepKind::ModelLoaded),
            "no model before startup"
        );

        let starting = tokio::spawn(lab::lifespan::start(
            framework,
            config,
            recorder.clone(),
            addr,
        ));
        let mut refused = 0;
        while !starting.is_finished() {
            match tokio::net::TcpStream::connect(addr).await {
                // The port opens only after every resource is ready.
                Ok(_) => assert!(
                    recorder.has(StepKind::ModelLoaded) && recorder.has(StepKind::SchemaMigrated),
                    "{framework:?} accepted a connection before startup finished"
                ),
                Err(_) => refused += 1,
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let server = starting.await.unwrap().unwrap();
        let model = server.model();
        assert!(model.upgrade().is_some(), "the model exists while serving");
        let res = reqwest::get(server.url("/model")).await.unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["entries"], 300_000);

        let report = server.shutdown().await.unwrap();
        assert_eq!(report.exit_code(), 0, "{framework:?}: {report:?}");
        assert!(
            model.upgrade().is_none(),
            "{framework:?} kept the model after shutdown"
        );
        assert_eq!(recorder.app_names(), APP, "{framework:?}");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "port closed after shutdown"
        );
        eprintln!("{framework:?}: {refused} connection attempts refused during startup");
        assert!(
            refused > 0,
            "{framework:?}: startup was never seen from outside"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_scope_is_released_exactly_once_whatever_the_handler_does() {
    let client = reqwest::Client::new();
    for framework in Framework::ALL {
        let server = lab::lifespan::start(
            framework,
            small_config("scope", framework),
            Recorder::default(),
            local(),
        )
        .await
        .unwrap();
        let cases: [(&str, &str, u16, &[&str]); 5] = [
            ("/users", r#"{"email":"ann@example.com"}"#, 201, OK),
            ("/users", r#"{"email":"ann@example.com"}"#, 409, ROLLED_BACK),
            ("/users", r#"{"email":"#, 422, BAD_INPUT),
            ("/users", r#"{"email":"not-an-email"}"#, 422, BAD_INPUT),
            (
                "/users/batch",
                r#"{"emails":["bo@example.com","ann@example.com"]}"#,
                409,
                ROLLED_BACK,
            ),
        ];
        for (path, body, want, order) in cases {
            let (status, id, json) = post(&client, &server, path, body).await;
            assert_eq!(status, want, "{framework:?} {path} {body}: {json}");
            if status >= 400 {
                assert!(!json["detail"].is_null(), "a JSON detail: {json}");
            }
            assert_eq!(
                names_when_finished(&server, id).await,
                order,
                "{framework:?} {path} {body}"
            );
            assert_eq!(released_count(&server, id), 1);
        }
        // The rolled-back batch left no trace: only ann is stored.
        assert_eq!(user_count(&server).await, 1, "{framework:?}");
        server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_release_before_or_after_the_body_as_chosen() {
    let client = reqwest::Client::new();
    for framework in Framework::ALL {
        let server = lab::lifespan::start(
            framework,
            small_config("stream", framework),
            Recorder::default(),
            local(),
        )
        .await
        .unwrap();
        for i in 0..5 {
            let body = format!(r#"{{"email":"u{i}@example.com"}}"#);
            assert_eq!(post(&client, &server, "/users", &body).await.0, 201);
        }
        for (hold, order) in [(false, STREAM_RELEASE_FIRST), (true, STREAM_HELD)] {
            let res = client
                .get(server.url(&format!("/users/export?hold={hold}")))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let id = request_id(&res);
            let text = res.text().await.unwrap();
            assert_eq!(text.lines().count(), 5, "every user streamed: {text}");
            assert_eq!(
                names_when_finished(&server, id).await,
                order,
                "{framework:?} hold={hold}"
            );
            assert_eq!(released_count(&server, id), 1);
            // The times agree with the order: released before the first
            // chunk, or after the last one.
            let events = server.recorder.request_timeline(id);
            let at = |kind| times(&events, kind);
            let released = at(StepKind::Released)[0];
            let chunks = at(StepKind::Chunk);
            if hold {
                assert!(released >= *chunks.iter().max().unwrap());
            } else {
                assert!(released <= *chunks.iter().min().unwrap());
            }
        }
        let res = client
            .get(server.url("/users/export?hold=maybe"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "junk query values get a JSON 4xx");
        server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_stream_still_releases_the_connection_once() {
    let client = reqwest::Client::new();
    for framework in Framework::ALL {
        let mut config = small_config("disconnect", framework);
        config.pool_size = 1; // a leaked connection would starve every later request
        config.acquire_timeout = Duration::from_secs(2);
        config.page_size = 1;
        config.chunk_delay = Duration::from_millis(20);
        let server = lab::lifespan::start(framework, config, Recorder::default(), local())
            .await
            .unwrap();
        let emails: Vec<String> = (0..80).map(|i| format!("\"u{i}@example.com\"")).collect();
        let batch = format!(r#"{{"emails":[{}]}}"#, emails.join(","));
        assert_eq!(post(&client, &server, "/users/batch", &batch).await.0, 201);

        let mut res = client
            .get(server.url("/users/export?hold=true"))
            .send()
            .await
            .unwrap();
        let id = request_id(&res);
        assert!(res.chunk().await.unwrap().is_some(), "got a first chunk");
        drop(res); // hang up: 79 chunks (~1.6 s) were still to come

        let names = names_when_finished(&server, id).await;
        assert!(
            names.contains(&"response aborted"),
            "{framework:?}: {names:?}"
        );
        assert!(
            !names.contains(&"response sent"),
            "{framework:?}: {names:?}"
        );
        assert_eq!(released_count(&server, id), 1, "{framework:?}: {names:?}");
        // The one pooled connection is back: a write gets it at once.
        let (status, ..) = post(
            &client,
            &server,
            "/users",
            r#"{"email":"late@example.com"}"#,
        )
        .await;
        assert_eq!(status, 201, "{framework:?}");
        server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_and_refuses_new_ones() {
    let client = reqwest::Client::new();
    for framework in Framework::ALL {
        let mut config = small_config("drain", framework);
        config.work = Duration::from_millis(400); // each POST waits on "upstream"
        let server = lab::lifespan::start(framework, config, Recorder::default(), local())
            .await
            .unwrap();
        let (url, addr, recorder, pool) = (
            server.url("/users"),
            server.addr,
            server.recorder.clone(),
            server.pool.clone(),
        );
        let posts: Vec<_> = (0..5)
            .map(|i| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let body = serde_json::json!({ "email": format!("slow{i}@example.com") });
                    client
                        .post(url)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                })
            })
            .collect();
        while recorder.count_of(StepKind::HandlerStarted) < 5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopping = tokio::spawn(server.shutdown());
        while !recorder.has(StepKind::ShutdownBegan) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // New requests must be refused while the five are still running
        // (each waits 400 ms). One that slips in before the listener
        // closes must be a 201 with its row, like any other.
        let mut late_accepted = 0;
        let refused_while_draining = loop {
            let still_running = recorder.count_of(StepKind::ResponseSent) < 5;
            let email = format!("late{late_accepted}@example.com");
            let late = reqwest::Client::new()
                .post(&url)
                .json(&serde_json::json!({ "email": email }))
                .send()
                .await;
            match late {
                Err(_) => break still_running,
                Ok(res) => {
                    assert_eq!(
                        res.status(),
                        201,
                        "{framework:?}: a late request got a non-201 answer"
                    );
                    late_accepted += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(
            refused_while_draining,
            "{framework:?}: new requests were served until the in-flight ones ended"
        );
        for post in posts {
            assert_eq!(
                post.await.unwrap().unwrap(),
                201,
                "{framework:?}: in-flight requests finish"
            );
        }
        let report = stopping.await.unwrap().unwrap();
        assert_eq!(
            (report.in_flight, report.drained, report.released),
            (5, true, true),
            "{framework:?}"
        );
        assert!(pool.is_closed());
        // Every step of shutdown happened after the last response was sent.
        let names = recorder.app_names();
        assert_eq!(
            &names[names.len() - 4..],
            ["shutdown began", "drained", "pool closed", "model dropped"]
        );
        let last_sent = recorder
            .events()
            .iter()
            .filter(|e| e.step.kind() == StepKind::ResponseSent)
            .map(|e| e.at)
            .max()
            .unwrap();
        let drained = recorder
            .events()
            .iter()
            .find(|e| e.step.kind() == StepKind::Drained)
            .unwrap()
            .at;
        assert!(last_sent <= drained);
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
        let rows = lab::lifespan::drill::rows(&temp_db("drain", framework)).unwrap();
        assert_eq!(
            rows.len(),
            5,
            "{framework:?}: every 201 is a row, nothing else"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_all_or_nothing() {
    let client = reqwest::Client::new();
    for framework in Framework::ALL {
        let server = lab::lifespan::start(
            framework,
            small_config("batch", framework),
            Recorder::default(),
            local(),
        )
        .await
        .unwrap();
        let (status, _, json) = post(
            &client,
            &server,
            "/users/batch",
            r#"{"emails":["a@x.io","b@x.io"]}"#,
        )
        .await;
        assert_eq!(status, 201, "{json}");
        assert_eq!(json.as_array().map(Vec::len), Some(2));
        // The third address is new, the fourth a duplicate: neither is kept.
        let (status, ..) = post(
            &client,
            &server,
            "/users/batch",
            r#"{"emails":["c@x.io","a@x.io"]}"#,
        )
        .await;
        assert_eq!(status, 409);
        // Validation fails before the transaction opens.
        let (status, ..) = post(
            &client,
            &server,
            "/users/batch",
            r#"{"emails":["d@x.io","nope"]}"#,
        )
        .await;
        assert_eq!(status, 422);
        let (status, ..) = post(&client, &server, "/users/batch", r#"{"emails":[]}"#).await;
        assert_eq!(status, 422);
        assert_eq!(
            user_count(&server).await,
            2,
            "{framework:?}: only the first batch stored"
        );
        server.shutdown().await.unwrap();
    }
}

// ANCHOR: exercise_test
/// Chapter 5's exercise: the pool is a pool of k workers in chapter 3's
/// sense. With 2 connections and 50 ms of work per `POST /users` done while
/// holding one, 20 requests sent at once are served 2 at a time: the log
/// never shows more than 2 between `acquired` and `released`, and the burst
/// takes at least 20 × 50 ms / 2 = 0.5 s (Little's law: λ ≤ 2 / 0.05 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exercise_the_pool_bounds_the_requests_in_service() {
    let client = reqwest::Client::new();
    for framework in Framework::ALL {
        let mut config = small_config("pool-bound", framework);
        config.pool_size = 2;
        config.work = Duration::from_millis(50);
        let server = lab::lifespan::start(framework, config, Recorder::default(), local())
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let burst = (0..20).map(|n| {
            let body = format!(r#"{{"email": "u{n}@x.io"}}"#);
            let (client, server) = (&client, &server);
            async move { post(client, server, "/users", &body).await.0 }
        });
        let statuses = futures::future::join_all(burst).await;
        let took = started.elapsed();
        assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");

        let (mut holding, mut most) = (0i32, 0i32);
        for event in server.recorder.events() {
            match event.step.kind() {
                StepKind::Acquired => holding += 1,
                StepKind::Released => holding -= 1,
                _ => continue,
            }
            most = most.max(holding);
        }
        assert_eq!(most, 2, "{framework:?}: connections held at once");
        assert!(
            took >= Duration::from_millis(500) && took < Duration::from_secs(4),
            "{framework:?}: the burst took {took:?}"
        );
        server.shutdown().await.unwrap();
    }
}
// ANCHOR_END: exercise_test

/// The chapter's diagrams are checked against the orders the tests above
/// assert, so a diagram cannot drift from what the servers record.
#[test]
fn the_chapters_diagrams_show_the_recorded_order() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ch05-lifespan.md");
    let chapter = std::fs::read_to_string(&path).unwrap();
    let expected: [(&str, &[&str]); 5] = [
        ("app", APP),
        ("ok", OK),
        ("rolled-back", ROLLED_BACK),
        ("stream-release-first", STREAM_RELEASE_FIRST),
        ("stream-held", STREAM_HELD),
    ];
    for (name, order) in expected {
        let marker = format!("<!-- order: {name} -->");
        let after = chapter
            .split_once(&marker)
            .unwrap_or_else(|| panic!("the chapter has no {marker}"))
            .1;
        let block = after
            .split("```")
            .nth(1)
            .expect("a fenced diagram after the marker");
        let mut names = names_in_text(block);
        names.dedup(); // "chunk" may be drawn more than once
        assert_eq!(names, order, "diagram {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_that_overruns_its_deadline_says_so() {
    for framework in Framework::ALL {
        let db = temp_db("overrun", framework);
        let work = Duration::from_millis(2_500); // longer than the deadline
        let o = lab::lifespan::drill::overrun(framework, &db, work, Duration::from_secs(1))
            .await
            .unwrap();
        let (report, answer, took) = (&o.report, o.answer, o.took);
        assert!(!report.drained, "{framework:?}: {report:?}");
        assert_eq!(
            report.exit_code(),
            1,
            "{framework:?}: an overrun is not a clean exit"
        );
        assert!(o.deadline_hit, "{framework:?}: no 'deadline hit' logged");
        assert!(
            took < Duration::from_secs(4),
            "{framework:?}: shutdown took {took:?}"
        );
        // Whatever happened to the slow request, its answer and the table agree.
        eprintln!("{framework:?}: {report:?} took {took:?}, client got {answer:?}");
        match answer {
            Ok(201) => assert_eq!(o.rows, 1, "{framework:?}: a 201 without its row"),
            ref other => assert_eq!(o.rows, 0, "{framework:?}: {other:?} but a row exists"),
        }
        // What "cut off" means differs, as the chapter says: actix-web drops
        // the handler's future at its deadline; axum only stops waiting, and
        // the request's own task finishes it while the process lives.
        match framework {
            Framework::Axum => assert!(matches!(answer, Ok(201)), "{answer:?}"),
            Framework::Actix => assert!(answer.is_err(), "{answer:?}"),
        }
    }
}

/// The chapter's shutdown-with-requests-in-flight timeline, checked: every
/// request that was running when shutdown began is answered in full, the
/// held stream gives its connection back only after its last chunk, the
/// released one before its first, and the pool closes after the last
/// response was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_writes_and_streams_in_flight_finish_before_the_pool_closes() {
    use lab::lifespan::experiments::{IN_FLIGHT, shutdown_in_flight};
    for framework in Framework::ALL {
        let mut config = small_config("in-flight", framework);
        config.work = Duration::from_millis(200);
        config.page_size = 1;
        config.chunk_delay = Duration::from_millis(30);
        let run = shutdown_in_flight(framework, config, 4).await.unwrap();
        assert_eq!(
            (run.shutdown.in_flight, run.shutdown.exit_code()),
            (IN_FLIGHT.len(), 0),
            "{framework:?}: {:?}",
            run.shutdown
        );
        let app_at = |kind: StepKind| {
            run.app
                .iter()
                .find(|e| e.step.kind() == kind)
                .unwrap_or_else(|| panic!("{framework:?}: no {kind:?} in {:?}", run.app))
                .at
        };
        let (began, pool_closed) = (
            app_at(StepKind::ShutdownBegan),
            app_at(StepKind::PoolClosed),
        );
        for ((status, events), scenario) in run.requests.iter().zip(&IN_FLIGHT) {
            assert!(
                (200..300).contains(status),
                "{framework:?} {}: {status}",
                scenario.title
            );
            let at = |kind| times(events, kind);
            let (sent, released) = (at(StepKind::ResponseSent), at(StepKind::Released));
            assert_eq!(
                (sent.len(), released.len()),
                (1, 1),
                "{framework:?}: {events:?}"
            );
            assert!(
                at(StepKind::HandlerStarted)[0] <= began,
                "{}: in flight at shutdown",
                scenario.title
            );
            assert!(
                sent[0] <= pool_closed,
                "{framework:?} {}: pool closed first",
                scenario.title
            );
            let chunks = at(StepKind::Chunk);
            if scenario.path.contains("hold=true") {
                assert!(
                    released[0] >= *chunks.iter().max().unwrap(),
                    "{framework:?}: {events:?}"
                );
            } else if scenario.path.contains("hold=false") {
                assert!(
                    released[0] <= *chunks.iter().min().unwrap(),
                    "{framework:?}: {events:?}"
                );
            }
        }
    }
}
