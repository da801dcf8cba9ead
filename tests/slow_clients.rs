//! Slow clients against the server models, on loopback: 50 connections that
//! send one header line per second and never finish their request head.
//!
//! - The event-loop models (axum on one thread, actix-web with two loops)
//!   keep serving ordinary requests while they trickle, close every slow
//!   connection once its head has taken longer than the head timeout, and
//!   leave idle keep-alive connections open (they answer again on the same
//!   socket after idling longer than that timeout).
//! - The sync pool (k = 4) is stopped by k slow clients: an ordinary request
//!   gets no answer while they trickle — the lesson of chapter 3.
//!
//! Each test takes about 8 s (the head timeout is 5 s).

use std::net::SocketAddr;
use std::time::Duration;

use lab::api::head_timeout::HEAD_TIMEOUT;
use lab::api::slow_clients::{self, SlowReport, SlowSpec};
use lab::api::{Model, Options};

fn spec(slow: usize) -> SlowSpec {
    SlowSpec::new(slow)
}

async fn measure(model: Model, spec: &SlowSpec) -> SlowReport {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = lab::api::start(model, local, &Options::default()).unwrap();
    let report = slow_clients::run(server.addr(), spec).await.unwrap();
    eprintln!("{}: {report:?}", model.label());
    server.stop();
    report
}

async fn event_loop_keeps_serving(model: Model) {
    let r = measure(model, &spec(50)).await;
    let name = model.label();
    assert_eq!(r.slow_not_connected, 0, "{name}");
    assert_eq!(
        r.others_answered.len(),
        r.others,
        "{name}: ordinary requests went unanswered while slow clients trickled"
    );
    assert_eq!(
        r.slow_closed_after.len(),
        r.slow,
        "{name}: slow heads were not all cut off"
    );
    // Not before the timeout (a little slack for when the clock started).
    assert!(
        r.slow_closed_after[0] >= HEAD_TIMEOUT - Duration::from_millis(500),
        "{name}: a slow client was closed after {:?}, before the head timeout",
        r.slow_closed_after[0]
    );
    assert_eq!(
        r.idle_kept, r.idle,
        "{name}: an idle keep-alive connection was closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_loop_serves_others_and_cuts_slow_heads_not_idle_connections() {
    event_loop_keeps_serving(Model::EventLoop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_per_worker_serves_others_and_cuts_slow_heads_not_idle_connections() {
    event_loop_keeps_serving(Model::LoopPerWorker { workers: 2 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k_slow_clients_stop_a_sync_pool_of_k_threads() {
    let mut spec = spec(4);
    spec.idle = 0; // the sync pool closes every connection after one answer
    let r = measure(Model::SyncPool { threads: 4 }, &spec).await;
    assert_eq!(
        r.others_answered.len(),
        0,
        "the sync pool answered while all its threads read slow heads: {r:?}"
    );
    assert!(
        r.slow_closed_after.is_empty(),
        "the sync pool has no head timeout (gunicorn's sync worker neither): {r:?}"
    );
}
