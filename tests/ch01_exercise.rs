//! Chapter 1's exercise and its solution: use Little's law to size a client
//! pool, then check the prediction against the load generator. The formula
//! is `lab::api::in_flight_needed`, shared with chapter 3's exercise and
//! tested there for rounding (`in_flight_needed_rounds_up_and_only_up`).

use std::time::Duration;

use lab::api::in_flight_needed;
use lab::loadgen::{self, LoadSpec};
use lab::upstream::SlowUpstream;

#[test]
fn the_formula_rounds_up() {
    assert_eq!(in_flight_needed(500.0, Duration::from_millis(80)), 40);
    assert_eq!(in_flight_needed(1.0, Duration::from_millis(50)), 1);
    assert_eq!(in_flight_needed(2000.0, Duration::from_millis(50)), 100);
    assert_eq!(in_flight_needed(300.0, Duration::from_millis(70)), 21);
}

// ANCHOR: solution
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_predicted_pool_reaches_the_target() {
    let wait = Duration::from_millis(80);
    let upstream = SlowUpstream::start(wait, 1).unwrap();
    let clients = in_flight_needed(250.0, wait); // 250/s × 0.08 s = 20
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
// ANCHOR_END: solution
