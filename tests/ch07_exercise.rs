//! Chapter 7's exercise and its solution: a pool of 5 connections, 50 ms
//! per query, 40 requests in flight — predict the throughput and the
//! latency with Little's law, size the pool for 300 req/s, and check both
//! on the chapter's pool model (`lab::questions::q04_sync_session::semaphore_pool`,
//! tokio tasks and a `Semaphore`, no network). Sleep-bound, so the checks
//! are wide ranges around the bounds; each run lasts about 1 s.

use std::time::Duration;

use lab::api::in_flight_needed;
use lab::questions::q04_sync_session::{QUERY, semaphore_pool};

// ANCHOR: exercise
#[test]
fn the_exercise_sizes_a_pool() {
    let query = QUERY; // 50 ms per query
    // 5 connections, 40 in flight: the pool is the bottleneck.
    let bound = 5.0 / query.as_secs_f64(); // 100 req/s
    let latency = Duration::from_secs_f64(40.0 / bound); // Little: W = L / λ = 400 ms
    assert_eq!(bound, 100.0);
    assert_eq!(latency, Duration::from_millis(400));
    // For 300 req/s: connections ≥ rate × query time.
    let needed = in_flight_needed(300.0, query);
    assert_eq!(needed, 15);

    let small = semaphore_pool(5, 40, Duration::from_secs(1)).unwrap();
    assert!(small.per_second <= bound * 1.1, "{small:?} beats its bound");
    assert!(small.per_second >= bound * 0.6, "{small:?}");
    assert!(small.p99 >= latency / 2, "{small:?}: the queue should show");
    let sized = semaphore_pool(needed, 40, Duration::from_secs(1)).unwrap();
    assert!(sized.per_second >= 300.0 * 0.6, "{sized:?}");
    assert!(sized.per_second <= 300.0 * 1.1, "{sized:?} beats its bound");
}
// ANCHOR_END: exercise
