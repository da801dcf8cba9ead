//! Chapter 3's exercise and its solution: predict a sync pool's throughput
//! and latency from Little's law, then measure them with the load generator;
//! size a pool for a target rate and check that it gets there.
//!
//! Every request sleeps, so the checks are ranges around the bound k / S and
//! the latency L / λ, wide enough for a busy machine. The workers answer in
//! waves (they all start together and all sleep 80 ms), and a 1.5 s window
//! holds about 18 of them, give or take one: so a measured rate may read up
//! to one wave, about 6 %, above the bound without beating it. Bounded: each trial
//! measures 1.5 s after a 1 s warmup, on loopback, and the servers stop when
//! dropped.

use std::net::SocketAddr;
use std::time::Duration;

use lab::api::{Model, Options, in_flight_needed, start};
use lab::loadgen::{self, LoadReport, LoadSpec};

/// `clients` closed-loop clients against a sync pool of `workers` threads
/// whose requests each wait `wait`.
async fn drive(workers: usize, clients: usize, wait: Duration) -> LoadReport {
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = start(
        Model::SyncPool { threads: workers },
        local,
        &Options::default(),
    )
    .unwrap();
    let url = server.url(&format!("/wait?ms={}", wait.as_millis()));
    let spec = LoadSpec::closed(&url, clients, Duration::from_millis(1500))
        .unwrap()
        .with_warmup(Duration::from_secs(1));
    let report = loadgen::run(&spec).await.unwrap();
    drop(server);
    eprintln!(
        "{workers} workers, {clients} clients: {:.1} req/s, p50 {:?}",
        report.requests_per_sec(),
        report.latency(0.5)
    );
    report
}

// ANCHOR: solution
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_from_littles_law_hold() {
    let s = Duration::from_millis(80); // service time: the request's wait

    // 2 clients, 4 workers: every request finds a free worker.
    // λ = L / S = 2 / 0.08 s = 25 req/s, and each takes S = 80 ms.
    let few = drive(4, 2, s).await;
    assert!(
        (18.0..=27.0).contains(&few.requests_per_sec()),
        "{}",
        few.requests_per_sec()
    );
    let p50 = few.latency(0.5);
    assert!(
        (Duration::from_millis(78)..Duration::from_millis(130)).contains(&p50),
        "{p50:?}"
    );

    // 40 clients, 4 workers: the pool is full. λ = k / S = 50 req/s, and by
    // Little's law over the whole server W = L / λ = 40 / 50 = 0.8 s.
    let many = drive(4, 40, s).await;
    assert!(
        (38.0..=54.0).contains(&many.requests_per_sec()),
        "{}",
        many.requests_per_sec()
    );
    let p50 = many.latency(0.5);
    assert!(
        (Duration::from_millis(650)..Duration::from_millis(1100)).contains(&p50),
        "{p50:?}"
    );

    // 300 req/s at 80 ms needs 300 × 0.08 = 24 workers; with more clients
    // than workers, the pool runs at its bound.
    let k = in_flight_needed(300.0, s);
    assert_eq!(k, 24);
    let sized = drive(k, 2 * k, s).await;
    assert!(
        (240.0..=320.0).contains(&sized.requests_per_sec()),
        "{}",
        sized.requests_per_sec()
    );
}
// ANCHOR_END: solution
