//! Chapter 4's idle-connection measurement reaches every connection it
//! opens. rouille's HTTP layer hands a burst of new connections to its
//! thread pool by a race (the rouille appendix) and leaves the losers
//! unanswered for good: opened in a burst, some of these 100 would never be
//! answered and the measurement would stop at its deadline. Opened as
//! `idle_connection_cost` opens them, each gets a thread of its own.
//!
//! Leaves out the event loops' numbers (the figure's test reads those).

use lab::api::Model;
use lab::api::experiment::idle_connection_cost;

#[test]
fn every_idle_connection_on_rouille_is_answered_and_holds_a_thread() {
    let exe = lab::process::build_example("ch04_asgi", !cfg!(debug_assertions))
        .expect("building the example");
    let count = 100;
    let cost = idle_connection_cost(&exe, Model::Rouille { threads: 4 }, count)
        .expect("every idle connection answered before the deadline");
    // One thread per connection; a pool thread left idle by the warm-up's
    // connections may take one of them.
    assert!(
        cost.threads_delta + 4 >= count as u64,
        "{} threads for {count} connections",
        cost.threads_delta
    );
}
