//! The book's load generator: a small `wrk` / `wrk2` written on tokio.
//!
//! HTTP/1.1 keep-alive over N connections to a loopback address (the
//! client itself is in `loadgen/http.rs`: one pre-serialized request, answers
//! parsed by `httparse`), in one of two paces:
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
//! **What is counted, and when.** Like `wrk`, an exchange is counted (in
//! `requests` or `errors`, and in the latency histogram) when it *finishes*
//! inside the measured phase `[start + warmup, end]`, whenever it was sent:
//! an answer sent during the warmup that comes back after it counts. Its
//! latency still runs from the actual send (closed loop) or the intended send
//! (open loop). Requests still waiting for an answer when the phase ends are
//! not dropped silently: they are counted as `unfinished`. Counting by send
//! time instead would undercount throughput badly when latencies are long
//! (100 connections on a 2-worker pool with 50 ms handlers wait 2.5 s each).
//!
//! Every run is bounded by a duration (at most 10 minutes) and optionally a
//! request count, only talks to loopback, counts failures instead of
//! panicking, and stops by itself. Left out: TLS, HTTP/2, pipelining,
//! request variety (one request shape per run), remote targets.

pub(crate) mod http; // also the slow-client experiment's ordinary clients
mod target;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::sync::Notify;
use tokio::time::Instant;

use self::http::{Client, Exchange, Failure, RequestTemplate};
pub use self::target::{check_resolved, is_loopback, loopback_target};

/// The longest measured phase (and warmup) a run accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The most connections a run accepts.
pub const MAX_CONNECTIONS: usize = 20_000;
/// Pause after a failed connect before trying again, so a dead port is
/// reported as errors rather than burning a core on `connect()` calls.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// Latencies above an hour are recorded as an hour.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each connection sends again as soon as it has its answer.
    Closed,
    /// A constant total rate (requests per second) across all connections.
    Open { rate_per_sec: f64 },
}

/// What to measure: one request shape, sent over and over.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Loopback only: anything else is refused with an error.
    pub addr: SocketAddr,
    /// Path and query, e.g. `/wait?ms=50`.
    pub path: String,
    /// `GET` unless a body is given, then `POST` with `content-type: application/json`.
    pub body: Option<String>,
    pub connections: usize,
    pub pace: Pace,
    /// Hard bound on the measured phase.
    pub duration: Duration,
    /// Optional bound on the number of measured requests, answered or failed
    /// (the run stops at whichever comes first; requests still in flight
    /// then are `unfinished`).
    pub max_requests: Option<u64>,
    /// Time spent sending before measurement starts: answers that arrive
    /// in it are not counted.
    pub warmup: Duration,
    /// A request taking longer than this counts as an error.
    pub request_timeout: Duration,
}

impl LoadSpec {
    /// A closed-loop spec for `GET url`, e.g. `http://127.0.0.1:3000/hello`.
    pub fn closed(url: &str, connections: usize, duration: Duration) -> anyhow::Result<Self> {
        let (addr, path) = parse_loopback_url(url)?;
        Ok(Self {
            addr,
            path,
            body: None,
            connections,
            pace: Pace::Closed,
            duration,
            max_requests: None,
            warmup: Duration::ZERO,
            request_timeout: Duration::from_secs(10),
        })
    }

    /// An open-loop spec for `GET url` at `rate_per_sec` requests per second
    /// in total, spread over up to `connections` connections.
    pub fn open(
        url: &str,
        connections: usize,
        rate_per_sec: f64,
        duration: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            pace: Pace::Open { rate_per_sec },
            ..Self::closed(url, connections, duration)?
        })
    }

    /// Sends `POST` with this JSON body instead of `GET`.
    pub fn with_body(mut self, json: impl Into<String>) -> Self {
        self.body = Some(json.into());
        self
    }

    /// Stops after this many measured requests (answered or failed).
    pub fn with_max_requests(mut self, n: u64) -> Self {
        self.max_requests = Some(n);
        self
    }

    /// Sends (without measuring) for this long first.
    pub fn with_warmup(mut self, warmup: Duration) -> Self {
        self.warmup = warmup;
        self
    }

    /// Counts a request as failed after this long.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Checks the bounds every run must respect; `run` calls this first.
    pub fn validate(&self) -> anyhow::Result<()> {
        check_resolved(&self.addr.to_string(), &[self.addr])?;
        anyhow::ensure!(
            (1..=MAX_CONNECTIONS).contains(&self.connections),
            "connections must be from 1 to {MAX_CONNECTIONS}, got {}",
            self.connections
        );
        anyhow::ensure!(
            !self.duration.is_zero() && self.duration <= MAX_DURATION,
            "duration must be above zero and at most {MAX_DURATION:?}, got {:?}",
            self.duration
        );
        anyhow::ensure!(
            self.warmup <= MAX_DURATION,
            "warmup must be at most {MAX_DURATION:?}, got {:?}",
            self.warmup
        );
        anyhow::ensure!(
            !self.request_timeout.is_zero() && self.request_timeout <= MAX_DURATION,
            "the request timeout must be above zero and at most {MAX_DURATION:?}, got {:?}",
            self.request_timeout
        );
        anyhow::ensure!(
            self.max_requests != Some(0),
            "max_requests must be at least 1 (or None for no bound)"
        );
        if let Pace::Open { rate_per_sec } = self.pace {
            anyhow::ensure!(
                rate_per_sec.is_finite() && rate_per_sec > 0.0,
                "the open-loop rate must be a positive number of requests per second, got {rate_per_sec}"
            );
        }
        RequestTemplate::new(self.addr, &self.path, self.body.as_deref())?;
        Ok(())
    }
}

/// Why requests failed, by kind; they add up to [`LoadReport::errors`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    /// The TCP connection could not be opened (e.g. nothing listens).
    pub connect: u64,
    /// No full answer within the request timeout.
    pub timeout: u64,
    /// The connection broke mid-exchange (reset, closed before the answer).
    pub broken: u64,
    /// The server answered 5xx.
    pub server_error: u64,
}

impl Failures {
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.broken + self.server_error
    }
}

/// What a run measured. Latencies are recorded in microseconds.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests answered with a 2xx/3xx/4xx status, counted when the answer
    /// arrived inside the measured phase (whenever the request was sent).
    pub requests: u64,
    /// Connection failures, timeouts and 5xx answers, counted like `requests`
    /// by when they happened.
    pub errors: u64,
    /// Length of the measured phase.
    pub elapsed: Duration,
    pub latency_us: hdrhistogram::Histogram<u64>,
    /// `errors` broken down by kind.
    pub failures: Failures,
    /// Every answer by status code (5xx included), in the measured phase.
    pub status: std::collections::BTreeMap<u16, u64>,
    /// TCP connections opened over the whole run (warmup included); equal to
    /// the number of connections when keep-alive held throughout.
    pub connects: u64,
    /// Requests with no answer by the end of the measured phase: sent (at
    /// any time, warmup included) and still in flight when it ended, or
    /// (open loop) due in it but never sent because every connection was
    /// busy. An open loop far above capacity shows most of its load here.
    pub unfinished: u64,
}

impl LoadReport {
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// Latency at quantile `q` in 0..=1 (e.g. 0.99).
    pub fn latency(&self, q: f64) -> Duration {
        Duration::from_micros(self.latency_us.value_at_quantile(q))
    }
    pub fn max_latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.max())
    }

    fn empty() -> Self {
        Self {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency_us: new_histogram(),
            failures: Failures::default(),
            status: Default::default(),
            connects: 0,
            unfinished: 0,
        }
    }

    fn merge(&mut self, other: &LoadReport) {
        self.requests += other.requests;
        self.errors += other.errors;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.failures.connect += other.failures.connect;
        self.failures.timeout += other.failures.timeout;
        self.failures.broken += other.failures.broken;
        self.failures.server_error += other.failures.server_error;
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.connects += other.connects;
        self.unfinished += other.unfinished;
    }

    /// Adds one exchange that finished at `done`, with latency from `since`.
    fn record(&mut self, exchange: Exchange, since: Instant, done: Instant) {
        match exchange {
            Exchange::Answered(code) => {
                *self.status.entry(code).or_default() += 1;
                if code >= 500 {
                    self.errors += 1;
                    self.failures.server_error += 1;
                } else {
                    self.requests += 1;
                    let us = done.saturating_duration_since(since).as_micros();
                    let us = us.min(u128::from(MAX_LATENCY_US)) as u64;
                    self.latency_us.saturating_record(us.max(1));
                }
            }
            Exchange::Failed(kind) => {
                self.errors += 1;
                match kind {
                    Failure::Connect => self.failures.connect += 1,
                    Failure::Timeout => self.failures.timeout += 1,
                    Failure::Broken => self.failures.broken += 1,
                }
            }
            Exchange::Cut => self.unfinished += 1,
        }
    }
}

fn new_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .expect("constant histogram bounds are valid")
}

/// Parses a duration the way `wrk` writes them: `500ms`, `5s`, `2m`, or a
/// bare number of seconds (`1.5`). Meant as a clap `value_parser`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration such as 500ms, 5s or 2m, got {text:?}"))?;
    let seconds = match unit.trim() {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use us, ms, s or m)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("bad duration {text:?}: {e}"))
}

/// Splits `http://127.0.0.1:PORT/path` into an address and a path, refusing
/// anything that is not loopback (see [`loopback_target`]: names are resolved
/// and every address they resolve to must be loopback).
pub fn parse_loopback_url(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("only http:// URLs are supported, got {url:?}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    Ok((loopback_target(host)?, path))
}

/// What every connection of one run shares: the clock marks, the request,
/// and the counters that hand out open-loop slots and measured requests.
struct Plan {
    addr: SocketAddr,
    template: RequestTemplate,
    pace: Pace,
    request_timeout: Duration,
    /// When sending begins (warmup starts here).
    start: Instant,
    /// When measurement begins: `start + warmup`.
    measure_from: Instant,
    /// When the run ends: `measure_from + duration`.
    end: Instant,
    /// Open loop: the next slot in the shared schedule.
    next_slot: AtomicU64,
    /// Measured completions still allowed; `None` when unbounded (then no
    /// shared counter is touched per request).
    budget: Option<AtomicU64>,
    /// Open loop: slots due in the measured phase that were actually sent.
    sent_in_window: AtomicU64,
    /// Set once the budget is spent: every connection stops.
    stopped: AtomicBool,
    /// When the budget ran out (the measured phase ends there).
    stopped_at: OnceLock<Instant>,
    /// Wakes the groups when `stopped` is set, so that they drop the
    /// connections still waiting for an answer.
    stop: Notify,
}

impl Plan {
    fn new(spec: &LoadSpec) -> anyhow::Result<Self> {
        spec.validate()?;
        let start = Instant::now();
        let measure_from = start + spec.warmup;
        Ok(Self {
            addr: spec.addr,
            template: RequestTemplate::new(spec.addr, &spec.path, spec.body.as_deref())?,
            pace: spec.pace,
            request_timeout: spec.request_timeout,
            start,
            measure_from,
            end: measure_from + spec.duration,
            next_slot: AtomicU64::new(0),
            budget: spec.max_requests.map(AtomicU64::new),
            sent_in_window: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            stopped_at: OnceLock::new(),
            stop: Notify::new(),
        })
    }

    /// The measured phase ends at `end`, or earlier when the budget ran out.
    fn measured_end(&self) -> Instant {
        self.stopped_at
            .get()
            .map_or(self.end, |&at| at.min(self.end))
    }

    /// Open loop: slots due in the measured phase that no connection sent
    /// before it ended (every connection was busy).
    fn never_sent(&self) -> u64 {
        let Pace::Open { rate_per_sec } = self.pace else {
            return 0;
        };
        let slots_before = |t: Instant| {
            (t.saturating_duration_since(self.start).as_secs_f64() * rate_per_sec).ceil() as u64
        };
        let due = slots_before(self.measured_end()) - slots_before(self.measure_from);
        due.saturating_sub(self.sent_in_window.load(Ordering::Relaxed))
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Ends the run early (the budget is spent) and wakes every group.
    fn stop_now(&self) {
        let _ = self.stopped_at.set(Instant::now());
        self.stopped.store(true, Ordering::Release);
        self.stop.notify_waiters();
    }

    /// Resolves once [`Plan::stop_now`] was called.
    async fn stopped(&self) {
        let notified = self.stop.notified();
        let mut notified = std::pin::pin!(notified);
        // Registered before the check, so a stop in between is not missed.
        notified.as_mut().enable();
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    /// Counts one finished exchange the way `wrk` does: by when it
    /// *finished*. Answers that come in during the warmup are not counted,
    /// whenever they were sent; those that come in during the measured phase
    /// are, even if they were sent during the warmup. Latency runs from
    /// `since` (the send, or the open loop's intended send). Returns false
    /// when the connection must stop (the run ended or the budget is spent).
    fn count(&self, exchange: Exchange, since: Instant, tally: &Mutex<LoadReport>) -> bool {
        if exchange == Exchange::Cut {
            // Still in flight when the run ended.
            lock(tally).unfinished += 1;
            return false;
        }
        let done = Instant::now();
        if done < self.measure_from {
            return true;
        }
        if let Some(budget) = &self.budget {
            let taken = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            });
            match taken {
                Ok(1) => {
                    lock(tally).record(exchange, since, done);
                    self.stop_now();
                    return false;
                }
                Ok(_) => {}
                // Another connection took the last one: not counted.
                Err(_) => return false,
            }
        }
        lock(tally).record(exchange, since, done);
        true
    }

    /// One connection's life: send until the run ends or the budget is spent.
    async fn connection(&self, tally: &Mutex<LoadReport>) {
        let mut line = Line {
            client: Client::new(self.addr),
            in_flight: false,
            tally,
        };
        match self.pace {
            Pace::Closed => self.closed_loop(&mut line).await,
            Pace::Open { rate_per_sec } => self.open_loop(rate_per_sec, &mut line).await,
        }
    }

    /// Closed loop: the next request leaves only when the last answer is in,
    /// so a slow server also slows down the client (and the load it gets).
    async fn closed_loop(&self, line: &mut Line<'_>) {
        loop {
            let sent = Instant::now();
            if sent >= self.end || self.is_stopped() {
                return;
            }
            let timeout_at = sent + self.request_timeout;
            let exchange = line.exchange(&self.template, timeout_at, self.end).await;
            // Latency from the actual send: what `wrk` reports.
            if !self.count(exchange, sent, line.tally) {
                return;
            }
            self.back_off_after_connect_failure(exchange).await;
        }
    }

    // ANCHOR: open_loop
    /// Open loop: slot i is due at start + i / rate. A free connection takes
    /// the next slot; when all are busy, slots fall behind and wait in line.
    async fn open_loop(&self, rate: f64, line: &mut Line<'_>) {
        let mut pause = std::pin::pin!(tokio::time::sleep_until(self.start));
        while Instant::now() < self.end && !self.is_stopped() {
            let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
            let intended = self.start + Duration::from_secs_f64(slot as f64 / rate);
            if intended >= self.end {
                return;
            }
            pause.as_mut().reset(intended);
            pause.as_mut().await; // returns at once when the slot is already late
            if self.is_stopped() {
                return;
            }
            if intended >= self.measure_from {
                self.sent_in_window.fetch_add(1, Ordering::Relaxed);
            }
            let timeout_at = Instant::now() + self.request_timeout;
            let exchange = line.exchange(&self.template, timeout_at, self.end).await;
            // Latency from the *intended* time: queueing is not hidden.
            if !self.count(exchange, intended, line.tally) {
                return;
            }
            self.back_off_after_connect_failure(exchange).await;
        }
    }
    // ANCHOR_END: open_loop

    async fn back_off_after_connect_failure(&self, exchange: Exchange) {
        if exchange == Exchange::Failed(Failure::Connect) {
            tokio::time::sleep_until((Instant::now() + CONNECT_BACKOFF).min(self.end)).await;
        }
    }

    /// Runs `connections` connections inside the calling task and returns
    /// their combined tally. One task per group (not per connection) keeps
    /// one histogram per group and no locking across threads.
    async fn group(&self, connections: usize) -> LoadReport {
        let tally = Mutex::new(LoadReport::empty());
        {
            let mut all: FuturesUnordered<_> =
                (0..connections).map(|_| self.connection(&tally)).collect();
            let every_connection_done = async { while all.next().await.is_some() {} };
            tokio::select! {
                () = every_connection_done => {}
                // The budget is spent: dropping the connections counts
                // their requests in flight as unfinished.
                () = self.stopped() => {}
            }
        }
        tally
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The measured phase's length: cut short when the budget ran out first.
    fn elapsed(&self) -> Duration {
        Instant::now()
            .min(self.measured_end())
            .saturating_duration_since(self.measure_from)
    }
}

/// One connection and its share of the bookkeeping. Dropping it mid-request
/// (the run stopped) still counts the request as unfinished, and its TCP
/// connects always reach the tally.
struct Line<'a> {
    client: Client,
    in_flight: bool,
    tally: &'a Mutex<LoadReport>,
}

impl Line<'_> {
    async fn exchange(
        &mut self,
        template: &RequestTemplate,
        timeout_at: Instant,
        end: Instant,
    ) -> Exchange {
        self.in_flight = true;
        let exchange = self.client.exchange(template, timeout_at, end).await;
        self.in_flight = false;
        exchange
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        let mut tally = lock(self.tally);
        tally.connects += self.client.connects();
        if self.in_flight {
            tally.unfinished += 1;
        }
    }
}

/// Within one group the lock is never contended (one task polls every
/// connection of the group), so it costs an uncontended atomic swap.
fn lock(tally: &Mutex<LoadReport>) -> std::sync::MutexGuard<'_, LoadReport> {
    tally
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Splits `connections` into `groups` near-equal shares (none empty).
fn shares(connections: usize, groups: usize) -> Vec<usize> {
    let groups = groups.clamp(1, connections.max(1));
    (0..groups)
        .map(|g| connections / groups + usize::from(g < connections % groups))
        .collect()
}

/// Runs the load described by `spec` on the current tokio runtime.
///
/// Connections are spread over one task per available core; on a
/// multi-thread runtime they run in parallel. Dropping the future stops the
/// run.
pub async fn run(spec: &LoadSpec) -> anyhow::Result<LoadReport> {
    let plan = Arc::new(Plan::new(spec)?);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut tasks = tokio::task::JoinSet::new();
    for share in shares(spec.connections, cores) {
        let plan = Arc::clone(&plan);
        tasks.spawn(async move { plan.group(share).await });
    }
    let mut report = LoadReport::empty();
    while let Some(done) = tasks.join_next().await {
        report.merge(&done?);
    }
    report.elapsed = plan.elapsed();
    report.unfinished += plan.never_sent();
    Ok(report)
}

/// Runs the load on `threads` OS threads of its own, each with a
/// single-threaded tokio runtime driving its share of the connections (the
/// way `wrk -t` works), and blocks until the run is over. Call it from plain
/// (non-async) code, e.g. an example's `main`.
pub fn run_blocking(spec: &LoadSpec, threads: usize) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(
        (1..=1024).contains(&threads),
        "threads must be from 1 to 1024, got {threads}"
    );
    let plan = Arc::new(Plan::new(spec)?);
    let results: Vec<anyhow::Result<LoadReport>> = std::thread::scope(|scope| {
        let workers: Vec<_> = shares(spec.connections, threads)
            .into_iter()
            .map(|share| {
                let plan = Arc::clone(&plan);
                scope.spawn(move || -> anyhow::Result<LoadReport> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let local = tokio::task::LocalSet::new();
                    Ok(local.block_on(&runtime, local_group(plan, share)))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a load generator thread panicked")))
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

/// Like [`Plan::group`], but one task per connection on this thread's
/// `LocalSet`: the runtime wakes each connection directly.
async fn local_group(plan: Arc<Plan>, connections: usize) -> LoadReport {
    let tally = Rc::new(Mutex::new(LoadReport::empty()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (plan, tally) = (Arc::clone(&plan), Rc::clone(&tally));
        tasks.spawn_local(async move { plan.connection(&tally).await });
    }
    tokio::select! {
        () = async { while tasks.join_next().await.is_some() {} } => {}
        () = plan.stopped() => {}
    }
    // The budget is spent (or all are done already): dropping the
    // connections still waiting counts their requests as unfinished.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Every task is done: take the tally out (no clone of the histogram).
    std::mem::replace(&mut *lock(&tally), LoadReport::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_wrk() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("1e999").is_err());
    }

    #[test]
    fn shares_cover_every_connection() {
        assert_eq!(shares(10, 3), vec![4, 3, 3]);
        assert_eq!(shares(2, 8), vec![1, 1]);
        assert_eq!(shares(1, 1), vec![1]);
    }

    #[test]
    fn specs_out_of_bounds_are_refused() {
        let ok = LoadSpec::closed("http://127.0.0.1:9/x", 1, Duration::from_secs(1)).unwrap();
        assert!(ok.validate().is_ok());
        let mut s = ok.clone();
        s.connections = 0;
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.connections = MAX_CONNECTIONS + 1;
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.duration = Duration::from_secs(601);
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.request_timeout = Duration::MAX;
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.pace = Pace::Open { rate_per_sec: 0.0 };
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.pace = Pace::Open {
            rate_per_sec: f64::NAN,
        };
        assert!(s.validate().is_err());
        let mut s = ok;
        s.addr = "10.0.0.1:80".parse().unwrap();
        assert!(s.validate().is_err());
    }
}
