//! Chapter 1's exercise and its solution: use Little's law to size a client
//! pool, then check the prediction against the load generator.

use std::time::Duration;

use lab::loadgen::{self, LoadSpec};
use lab::upstream::SlowUpstream;

// ANCHOR: solution
/// How many requests must be in flight to reach `target` requests per second
/// when each takes `time_per_request`: Little's law, L = λ·W, rounded up.
fn clients_needed(target_per_sec: f64, time_per_request: Duration) -> usize {
    (target_per_sec * time_per_request.as_secs_f64()).ceil() as usize
}
// ANCHOR_END: solution

#[test]
fn the_formula_rounds_up() {
    assert_eq!(clients_needed(500.0, Duration::from_millis(80)), 40);
    assert_eq!(clients_needed(1.0, Duration::from_millis(50)), 1);
    assert_eq!(clients_needed(2000.0, Duration::from_millis(50)), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_predicted_pool_reaches_the_target() {
    let wait = Duration::from_millis(80);
    let upstream = SlowUpstream::start(wait, 1).unwrap();
    let clients = clients_needed(250.0, wait);
    let spec = LoadSpec::closed(&upstream.url("/slow"), clients, Duration::from_millis(1500))
        .unwrap()
        .with_warmup(Duration::from_millis(200));
    let report = loadgen::run(&spec).await.unwrap();
    // Sleep-bound, so wide margins: the server's own overhead makes each
    // request a little longer than 80 ms, so throughput lands a little short.
    let rate = report.requests_per_sec();
    assert!(
        (200.0..=260.0).contains(&rate),
        "{clients} clients gave {rate:.0} req/s"
    );
    // Half the clients give about half the rate: the law is linear in L.
    let half = LoadSpec {
        connections: clients / 2,
        ..spec
    };
    let half_rate = loadgen::run(&half).await.unwrap().requests_per_sec();
    assert!(
        (0.4..=0.6).contains(&(half_rate / rate)),
        "{half_rate:.0} vs {rate:.0}"
    );
}
