//! The book's load generator: a small `wrk` / `wrk2` written on tokio.
//!
//! HTTP/1.1 keep-alive over N connections to a loopback address, in one of
//! two paces:
//! - **closed loop** (like `wrk`, or `locust` users with no wait time): each
//!   connection sends its next request as soon as the last answer arrives.
//!   When the server slows down, the client slows down with it, so it asks
//!   for less exactly when the server is struggling;
//! - **open loop** (like `wrk2 -R`): request *i* is due at `start + i / rate`
//!   whatever happened before, the way real users keep arriving. Latency is
//!   measured from that *intended* send time, so time spent waiting for a free
//!   connection is counted.
//!
//! Measuring a closed loop from the actual send time hides the queue: one
//! request that stalls for a second is one slow sample, while the hundreds of
//! requests that *would* have been sent meanwhile are never sent at all. Gil
//! Tene called this **coordinated omission**: the client coordinates with the
//! server and omits exactly the bad samples. The open loop puts them back
//! (see `tests/loadgen.rs` for both paces side by side), and
//! [`LoadReport::unfinished`] counts the requests that were due but never
//! got an answer at all.
//!
//! Every run is bounded by a duration (at most 10 minutes) and optionally a
//! request count, only talks to loopback, counts failures instead of
//! panicking, and stops by itself. Left out: TLS, HTTP/2, pipelining,
//! request variety (one request shape per run), remote targets.
//!
//! One job per file:
//! - `spec.rs`: what a run asks for ([`LoadSpec`], [`Pace`]) and its bounds;
//! - `target.rs`: where it may send (a URL, loopback only);
//! - `plan.rs`: what the connections share, and what counts when;
//! - `engine.rs`: the threads and connections that send ([`run_blocking`], [`run`]);
//! - `http.rs`: one keep-alive HTTP/1.1 exchange;
//! - `report.rs`: what was measured ([`LoadReport`]).

mod engine;
pub(crate) mod http; // also the slow-client experiment's ordinary clients
mod plan;
mod report;
mod spec;
mod target;

pub use self::engine::{run, run_blocking};
pub use self::plan::Cycles;
pub use self::report::{Failures, LoadReport};
pub use self::spec::{LoadSpec, MAX_CONNECTIONS, MAX_DURATION, Pace, parse_duration};
pub use self::target::{check_resolved, is_loopback, loopback_target, parse_loopback_url};
