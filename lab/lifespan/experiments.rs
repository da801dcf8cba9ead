//! Chapter 5's in-process experiments, one function per section of the
//! chapter: each starts the app (axum or actix-web) on a loopback port,
//! sends it requests, stops it, and returns what the recorder saw, so the
//! example only prints tables and the tests can check the same runs.
//!
//! * [`timelines`]: the app scope and one request per [`SCENARIOS`] entry;
//! * [`shutdown_in_flight`]: shutdown while slow writes and streaming
//!   exports are still running;
//! * [`starvation`]: two held streams take a pool of two, a write waits.
//!
//! Left out: the drills that run the app as a separate process
//! ([`super::drill`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Method;

use super::client::{self, Answer};
use super::events::{Event, Recorder, StepKind};
use super::resources::Config;
use super::server::{self, Framework, Running, ShutdownReport};

/// Any free port on loopback.
fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start(framework: Framework, config: Config) -> anyhow::Result<Running> {
    server::start(framework, config, Recorder::default(), local()).await
}

/// One request the chapter follows through the request scope.
#[derive(Debug)]
pub struct Scenario {
    pub title: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub json: Option<&'static str>,
}

impl Scenario {
    async fn send(&self, client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<Answer> {
        client::call(client, addr, self.method.clone(), self.path, self.json).await
    }
}

/// The emails [`timelines`] stores before its requests.
const SEEDED: [&str; 5] = [
    "ann@example.com",
    "bob@example.com",
    "cy@example.com",
    "di@example.com",
    "ed@example.com",
];

/// The request-scope cases: a commit, a rollback, and the two ways to
/// stream (release the connection first, or hold it to the end).
pub const SCENARIOS: [Scenario; 4] = [
    Scenario {
        title: "POST /users (commits)",
        method: Method::POST,
        path: "/users",
        json: Some(r#"{"email":"fay@example.com"}"#),
    },
    Scenario {
        title: "POST /users/batch with a duplicate (rolls back)",
        method: Method::POST,
        path: "/users/batch",
        json: Some(r#"{"emails":["gus@example.com","ann@example.com"]}"#),
    },
    Scenario {
        title: "GET /users/export?hold=false (release, then stream)",
        method: Method::GET,
        path: "/users/export?hold=false",
        json: None,
    },
    Scenario {
        title: "GET /users/export?hold=true (hold until the stream ends)",
        method: Method::GET,
        path: "/users/export?hold=true",
        json: None,
    },
];

/// What one framework's app recorded in [`timelines`].
#[derive(Debug)]
pub struct Timelines {
    pub framework: Framework,
    /// The app-scope events (times since the recorder was made).
    pub app: Vec<Event>,
    /// Per [`SCENARIOS`] entry: its status and its request's events (times
    /// since `received`).
    pub requests: Vec<(u16, Vec<Event>)>,
    /// Rows in `users` once every scenario ran.
    pub rows: i64,
    pub shutdown: ShutdownReport,
}

/// Starts the app, seeds five users, sends each scenario once, stops the
/// app: the order of events in both scopes.
pub async fn timelines(framework: Framework, config: Config) -> anyhow::Result<Timelines> {
    let client = reqwest::Client::new();
    let server = start(framework, config).await?;
    client::seed_users(&client, server.addr, SEEDED.map(String::from)).await?;
    let mut requests = Vec::new();
    for scenario in &SCENARIOS {
        let answer = scenario.send(&client, server.addr).await?;
        let id = answer.request_id;
        server
            .recorder
            .wait_until_finished(id, Duration::from_secs(5))
            .await;
        requests.push((answer.status, server.recorder.request_timeline(id)));
    }
    let rows = client::user_count(&server).await?;
    let recorder = server.recorder.clone();
    let shutdown = server.shutdown().await?;
    Ok(Timelines {
        framework,
        app: recorder.app_events(),
        requests,
        rows,
        shutdown,
    })
}

/// The requests [`shutdown_in_flight`] has running when shutdown begins.
pub const IN_FLIGHT: [Scenario; 4] = [
    Scenario {
        title: "POST /users (slow write 1)",
        method: Method::POST,
        path: "/users",
        json: Some(r#"{"email":"slow-1@example.com"}"#),
    },
    Scenario {
        title: "POST /users (slow write 2)",
        method: Method::POST,
        path: "/users",
        json: Some(r#"{"email":"slow-2@example.com"}"#),
    },
    Scenario {
        title: "GET /users/export?hold=true (stream, holds its connection)",
        method: Method::GET,
        path: "/users/export?hold=true",
        json: None,
    },
    Scenario {
        title: "GET /users/export?hold=false (stream, released its connection)",
        method: Method::GET,
        path: "/users/export?hold=false",
        json: None,
    },
];

/// What [`shutdown_in_flight`] recorded. Times are since the first of the
/// in-flight requests was received.
#[derive(Debug)]
pub struct InFlightShutdown {
    pub framework: Framework,
    /// The app-scope events from `shutdown began` on.
    pub app: Vec<Event>,
    /// Per [`IN_FLIGHT`] entry: its status and its events.
    pub requests: Vec<(u16, Vec<Event>)>,
    pub shutdown: ShutdownReport,
}

/// Graceful shutdown with work in flight: seeds `seed` users in one batch,
/// starts every [`IN_FLIGHT`] request, and begins shutdown as soon as all
/// their handlers have started. (`config.work` makes the writes slow,
/// `config.chunk_delay` the streams.)
pub async fn shutdown_in_flight(
    framework: Framework,
    config: Config,
    seed: usize,
) -> anyhow::Result<InFlightShutdown> {
    let client = reqwest::Client::new();
    let server = start(framework, config).await?;
    let emails: Vec<String> = (0..seed).map(|i| format!("u{i}@example.com")).collect();
    let batch = serde_json::json!({ "emails": emails }).to_string();
    let seeded = client::post(&client, server.addr, "/users/batch", &batch).await?;
    anyhow::ensure!(seeded.status == 201, "seeding: {}", seeded.json());
    let started_before = server.recorder.count_of(StepKind::HandlerStarted);
    let calls: Vec<_> = IN_FLIGHT
        .iter()
        .map(|scenario| {
            let (client, addr) = (client.clone(), server.addr);
            tokio::spawn(async move { scenario.send(&client, addr).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.recorder.count_of(StepKind::HandlerStarted) < started_before + IN_FLIGHT.len() {
        anyhow::ensure!(Instant::now() < deadline, "the requests never started");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let recorder = server.recorder.clone();
    let shutdown = server.shutdown().await?;
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await??);
    }
    let events = |id| -> Vec<Event> {
        recorder
            .events()
            .into_iter()
            .filter(|e| e.request == Some(id))
            .collect()
    };
    let t0 = answers
        .iter()
        .filter_map(|a| events(a.request_id).first().map(|e| e.at))
        .min()
        .unwrap_or_default();
    let since_t0 = |events: Vec<Event>| -> Vec<Event> {
        events
            .into_iter()
            .map(|e| Event {
                at: e.at.saturating_sub(t0),
                ..e
            })
            .collect()
    };
    let app = recorder
        .app_events()
        .into_iter()
        .skip_while(|e| e.step.kind() != StepKind::ShutdownBegan)
        .collect();
    Ok(InFlightShutdown {
        framework,
        app: since_t0(app),
        requests: answers
            .iter()
            .map(|a| (a.status, since_t0(events(a.request_id))))
            .collect(),
        shutdown,
    })
}

/// What the write in [`starvation`] got, and how long it waited.
#[derive(Debug)]
pub struct Starved {
    pub status: u16,
    pub took: Duration,
}

/// The counter-case: a pool of two, two slow exports that hold (or first
/// release) their connection, then one `POST /users`, which must wait for a
/// connection (and times out with a 503 if none comes back in time).
pub async fn starvation(
    framework: Framework,
    config: Config,
    hold: bool,
) -> anyhow::Result<Starved> {
    let client = reqwest::Client::new();
    let server = start(framework, config).await?;
    let emails = (0..8).map(|i| format!("seed{i}@example.com"));
    client::seed_users(&client, server.addr, emails).await?;
    let path = if hold {
        "/users/export?hold=true"
    } else {
        "/users/export?hold=false"
    };
    let exports: Vec<_> = (0..2)
        .map(|_| {
            let (client, addr) = (client.clone(), server.addr);
            tokio::spawn(async move { client::call(&client, addr, Method::GET, path, None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await; // both streams are going
    let started = Instant::now();
    let json = r#"{"email":"late@example.com"}"#;
    let status = client::post(&client, server.addr, "/users", json)
        .await?
        .status;
    let took = started.elapsed();
    for export in exports {
        export.await??;
    }
    server.shutdown().await?;
    Ok(Starved { status, took })
}
