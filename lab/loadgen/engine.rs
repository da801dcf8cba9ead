//! The one engine that runs a load: `threads` OS threads, each with a
//! single-threaded tokio runtime that drives its share of the connections
//! inside one task (the way `wrk -t` gives each thread its own event loop),
//! each connection pacing itself in a closed or an open loop.
//!
//! One task per thread rather than one per connection: the connections of a
//! thread are polled by a `FuturesUnordered`, which polls only the ones
//! that were woken, and share that thread's tally without any locking.
//! Nothing is shared across threads but the [`Plan`]'s few atomics (the open
//! loop's schedule, the budget, the stop signal).
//!
//! Left out: what is asked (`spec.rs`), what counts (`plan.rs`), the HTTP
//! exchange itself (`http.rs`).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;

use super::http::{Client, Exchange, Failure};
use super::plan::{Cycles, Plan};
use super::report::LoadReport;
use super::spec::{LoadSpec, Pace};

/// Pause after a failed connect before trying again, so a dead port is
/// reported as errors rather than burning a core on `connect()` calls.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// The most threads a run accepts.
const MAX_THREADS: usize = 1024;

/// Runs the load on `threads` OS threads of its own (like `wrk -t`) and
/// blocks until the run is over. Call it from plain (non-async) code, e.g.
/// an example's `main`.
pub fn run_blocking(spec: &LoadSpec, threads: usize) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(
        (1..=MAX_THREADS).contains(&threads),
        "threads must be from 1 to {MAX_THREADS}, got {threads}"
    );
    let plan = Plan::new(spec)?;
    drive(&plan, threads)
}

/// [`run_blocking`] from async code: the same engine, with one thread per
/// available core, so the caller's runtime (which may be serving the very
/// server under load) is never blocked. Dropping the future stops the run.
pub async fn run(spec: &LoadSpec) -> anyhow::Result<LoadReport> {
    let plan = Arc::new(Plan::new(spec)?);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    /// Stops the run's threads if the caller stops waiting for them.
    struct StopOnDrop(Arc<Plan>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.stop_now();
        }
    }
    let guard = StopOnDrop(Arc::clone(&plan));
    let report = tokio::task::spawn_blocking(move || drive(&plan, threads)).await?;
    // Finished: the stop it sends now changes nothing.
    drop(guard);
    report
}

/// Runs `plan` on `threads` threads and adds up their tallies.
fn drive(plan: &Plan, threads: usize) -> anyhow::Result<LoadReport> {
    let results: Vec<anyhow::Result<LoadReport>> = std::thread::scope(|scope| {
        let workers: Vec<_> = shares(plan.connections, threads)
            .into_iter()
            .enumerate()
            .map(|(i, share)| {
                std::thread::Builder::new()
                    .name(format!("loadgen-{i}"))
                    .spawn_scoped(scope, move || -> anyhow::Result<LoadReport> {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()?;
                        Ok(runtime.block_on(group(plan, share)))
                    })
            })
            .collect();
        workers
            .into_iter()
            .map(|spawned| match spawned {
                Ok(worker) => worker
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a load generator thread panicked"))),
                Err(e) => Err(anyhow::anyhow!("cannot start a load generator thread: {e}")),
            })
            .collect()
    });
    let mut report = LoadReport::empty();
    for result in results {
        report.merge(&result?);
    }
    report.elapsed = plan.elapsed();
    report.unfinished += plan.never_sent();
    Ok(report)
}

/// Splits `connections` into `groups` near-equal shares (none empty).
fn shares(connections: usize, groups: usize) -> Vec<usize> {
    let groups = groups.clamp(1, connections.max(1));
    (0..groups)
        .map(|g| connections / groups + usize::from(g < connections % groups))
        .collect()
}

/// Runs `connections` connections inside the calling task and returns their
/// combined tally.
async fn group(plan: &Plan, connections: usize) -> LoadReport {
    let tally = RefCell::new(LoadReport::empty());
    {
        let mut all: FuturesUnordered<_> =
            (0..connections).map(|_| connection(plan, &tally)).collect();
        let every_connection_done = async { while all.next().await.is_some() {} };
        tokio::select! {
            () = every_connection_done => {}
            // The run was stopped: dropping the connections counts their
            // requests in flight as unfinished.
            () = plan.stopped() => {}
        }
    }
    tally.into_inner()
}

/// One connection's life: send until the run ends or the budget is spent.
async fn connection(plan: &Plan, tally: &RefCell<LoadReport>) {
    let mut line = Line {
        client: Client::new(plan.addr),
        in_flight: false,
        sent: Instant::now(),
        tally,
        cycles: Cycles::default(),
        closed: plan.pace == Pace::Closed,
    };
    match plan.pace {
        Pace::Closed => closed_loop(plan, &mut line).await,
        Pace::Open { rate_per_sec } => open_loop(plan, rate_per_sec, &mut line).await,
    }
}

/// Closed loop: the next request leaves only when the last answer is in,
/// so a slow server also slows down the client (and the load it gets).
async fn closed_loop(plan: &Plan, line: &mut Line<'_>) {
    loop {
        let sent = Instant::now();
        if plan.is_over(sent) {
            return;
        }
        let exchange = line.exchange(plan, sent + plan.request_timeout).await;
        // Latency from the actual send: what `wrk` reports.
        if !line.count(plan, exchange, sent) {
            return;
        }
        back_off_after_connect_failure(plan, exchange).await;
        // Like `wrk`, send again only after the runtime's next look at the
        // sockets: every answer that arrived together is read (and timed)
        // before any of their connections writes again, so the server gets
        // the next requests as one burst and the clock stops at each answer
        // rather than after its neighbours' next sends.
        tokio::task::yield_now().await;
    }
}

// ANCHOR: open_loop
/// Open loop: slot i is due at start + i / rate. A free connection takes
/// the next slot; when all are busy, slots fall behind and wait in line.
async fn open_loop(plan: &Plan, rate: f64, line: &mut Line<'_>) {
    let mut pause = std::pin::pin!(tokio::time::sleep_until(plan.start));
    while !plan.is_over(Instant::now()) {
        let Some(due) = plan.next_due(rate) else {
            return;
        };
        pause.as_mut().reset(due);
        pause.as_mut().await; // returns at once when the slot is already late
        if plan.is_over(Instant::now()) {
            return;
        }
        plan.sending(due);
        let exchange = line
            .exchange(plan, Instant::now() + plan.request_timeout)
            .await;
        // Latency from the *intended* time: queueing is not hidden.
        if !line.count(plan, exchange, due) {
            return;
        }
        back_off_after_connect_failure(plan, exchange).await;
    }
}
// ANCHOR_END: open_loop

async fn back_off_after_connect_failure(plan: &Plan, exchange: Exchange) {
    if exchange == Exchange::Failed(Failure::Connect) {
        tokio::time::sleep_until((Instant::now() + CONNECT_BACKOFF).min(plan.end)).await;
    }
}

/// One connection and its share of the bookkeeping. Dropping it mid-request
/// (the run stopped) still counts the request as unfinished, and its TCP
/// connects always reach the tally.
struct Line<'a> {
    client: Client,
    in_flight: bool,
    /// When the current (or last) request was actually sent.
    sent: Instant,
    tally: &'a RefCell<LoadReport>,
    /// Its answers in the measured phase (their rate counts for a closed loop).
    cycles: Cycles,
    closed: bool,
}

impl Line<'_> {
    async fn exchange(&mut self, plan: &Plan, timeout_at: Instant) -> Exchange {
        self.in_flight = true;
        self.sent = Instant::now();
        let exchange = self
            .client
            .exchange(&plan.template, timeout_at, plan.end)
            .await;
        self.in_flight = false;
        exchange
    }

    /// See [`Plan::count`]. (The tally is borrowed only here and in `drop`,
    /// never across an `.await`.)
    fn count(&mut self, plan: &Plan, exchange: Exchange, since: Instant) -> bool {
        plan.count(
            exchange,
            since,
            self.sent,
            &mut self.tally.borrow_mut(),
            &mut self.cycles,
        )
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        let mut tally = self.tally.borrow_mut();
        tally.connects += self.client.connects();
        if self.closed {
            tally.cycle_rate += self.cycles.rate();
        }
        if self.in_flight {
            tally.unfinished += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_connection() {
        assert_eq!(shares(10, 3), vec![4, 3, 3]);
        assert_eq!(shares(2, 8), vec![1, 1]);
        assert_eq!(shares(1, 1), vec![1]);
    }
}
