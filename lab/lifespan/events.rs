//! The lifecycle log: every step of the app's life and of each request's
//! life, recorded with the time it happened, so tests and the chapter can
//! read the *order* of events instead of guessing it.
//!
//! A [`Recorder`] is injected into the app at startup (tests keep a clone
//! and read it afterwards); a [`RequestLog`] is the same recorder tagged with
//! one request's id. In `serve` mode the recorder also echoes app-scope
//! events to stderr, which is the log an operator sees on SIGTERM.
//!
//! Left out: log levels, structured output, rotation (use `tracing` in a real
//! service; a `Vec` behind a mutex is enough to teach the order).

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One step in the life of the app (`request: None`) or of a request. Its
/// name (`Step::name`, "released") is the one the chapter's diagrams use;
/// [`StepKind`] is the step without its data, to ask whether one happened.
#[derive(
    Debug, Clone, PartialEq, Eq, strum::IntoStaticStr, strum::VariantNames, strum::EnumDiscriminants,
)]
#[strum_discriminants(name(StepKind), derive(Hash))]
pub enum Step {
    // --- app scope: FastAPI's lifespan, before and after `yield` ---
    #[strum(serialize = "startup began")]
    StartupBegan,
    #[strum(serialize = "pool opened")]
    PoolOpened { connections: u32 },
    #[strum(serialize = "schema migrated")]
    SchemaMigrated,
    #[strum(serialize = "model loaded")]
    ModelLoaded { entries: usize, took: Duration },
    #[strum(serialize = "listening")]
    Listening(SocketAddr),
    #[strum(serialize = "shutdown began")]
    ShutdownBegan { in_flight: usize },
    #[strum(serialize = "drained")]
    Drained { took: Duration },
    #[strum(serialize = "deadline hit")]
    DeadlineHit { in_flight: usize },
    #[strum(serialize = "pool closed")]
    PoolClosed { took: Duration },
    #[strum(serialize = "pool close timed out")]
    PoolCloseTimedOut,
    #[strum(serialize = "model dropped")]
    ModelDropped,
    // --- request scope: FastAPI's `Depends` with `yield` ---
    #[strum(serialize = "received")]
    Received { method: String, path: String },
    #[strum(serialize = "acquired")]
    Acquired,
    #[strum(serialize = "handler started")]
    HandlerStarted,
    #[strum(serialize = "committed")]
    Committed,
    #[strum(serialize = "rolled back")]
    RolledBack { implicit: bool },
    #[strum(serialize = "released")]
    Released,
    #[strum(serialize = "response started")]
    ResponseStarted { status: u16 },
    #[strum(serialize = "chunk")]
    Chunk(u32),
    #[strum(serialize = "response sent")]
    ResponseSent,
    #[strum(serialize = "response aborted")]
    ResponseAborted,
}

impl Step {
    /// The short name the chapter's diagrams use, e.g. `"released"`.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// Every name [`Step::name`] can return.
    pub fn names() -> &'static [&'static str] {
        <Step as strum::VariantNames>::VARIANTS
    }

    pub fn kind(&self) -> StepKind {
        self.into()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Step::PoolOpened { connections } => write!(f, "{name} (max {connections} connections)"),
            Step::ModelLoaded { entries, took } => {
                write!(
                    f,
                    "{name} ({entries} entries in {})",
                    crate::report::human(*took)
                )
            }
            Step::Listening(addr) => write!(f, "{name} on http://{addr}"),
            Step::ShutdownBegan { in_flight } => {
                write!(f, "{name} ({in_flight} requests in flight)")
            }
            Step::Drained { took } => write!(
                f,
                "{name}: every in-flight request finished in {}",
                crate::report::human(*took)
            ),
            Step::DeadlineHit { in_flight } => {
                write!(f, "{name}: {in_flight} requests cut off")
            }
            Step::PoolClosed { took } => write!(f, "{name} in {}", crate::report::human(*took)),
            Step::RolledBack { implicit: true } => write!(f, "{name} (implicitly, on drop)"),
            Step::Received { method, path } => write!(f, "{name} {method} {path}"),
            Step::ResponseStarted { status } => write!(f, "{name} ({status})"),
            Step::Chunk(n) => write!(f, "{name} {n}"),
            _ => f.write_str(name),
        }
    }
}

/// One recorded step: when (since the recorder was made), which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Duration,
    pub request: Option<u64>,
    pub step: Step,
}

/// What the recorder prints to stderr as events happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Print nothing (tests, the example's timelines).
    Off,
    /// Print app-scope events: the `serve` log.
    App,
    /// Print everything, request events too.
    All,
}

/// The injectable lifecycle log: clone it into the app, keep a clone to read.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    start: Instant,
    echo: Echo,
    events: Mutex<Vec<Event>>,
    next_request: AtomicU64,
    in_flight: AtomicUsize,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new(Echo::Off)
    }
}

impl Recorder {
    pub fn new(echo: Echo) -> Self {
        Self {
            inner: Arc::new(Inner {
                start: Instant::now(),
                echo,
                events: Mutex::new(Vec::new()),
                next_request: AtomicU64::new(1),
                in_flight: AtomicUsize::new(0),
            }),
        }
    }

    /// Records an app-scope step.
    pub fn app(&self, step: Step) {
        self.push(None, step);
    }

    fn push(&self, request: Option<u64>, step: Step) {
        let at = self.inner.start.elapsed();
        let echo = match self.inner.echo {
            Echo::Off => false,
            Echo::App => request.is_none(),
            Echo::All => true,
        };
        if echo {
            let who = request.map_or("app".to_string(), |r| format!("req {r}"));
            eprintln!("[{:>9.1} ms] {who:<8} {step}", at.as_secs_f64() * 1e3);
        }
        let mut events = self.inner.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push(Event { at, request, step });
    }

    /// Starts a request's log: gives it the next id and records `received`.
    pub fn begin_request(&self, method: &str, path: &str) -> RequestLog {
        let id = self.inner.next_request.fetch_add(1, Ordering::Relaxed);
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        let log = RequestLog {
            recorder: self.clone(),
            id,
        };
        log.record(Step::Received {
            method: method.to_string(),
            path: path.to_string(),
        });
        log
    }

    /// Requests received whose response has not been sent or aborted yet.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// A copy of every event so far, in the order they were recorded.
    pub fn events(&self) -> Vec<Event> {
        self.inner
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The steps of one request, in order.
    pub fn request_steps(&self, id: u64) -> Vec<Step> {
        self.events()
            .into_iter()
            .filter(|e| e.request == Some(id))
            .map(|e| e.step)
            .collect()
    }

    /// One request's events, with times since its `received`: what a
    /// per-request timeline shows.
    pub fn request_timeline(&self, id: u64) -> Vec<Event> {
        let events: Vec<Event> = self
            .events()
            .into_iter()
            .filter(|e| e.request == Some(id))
            .collect();
        let t0 = events.first().map_or(Duration::ZERO, |e| e.at);
        events
            .into_iter()
            .map(|e| Event { at: e.at - t0, ..e })
            .collect()
    }

    /// The app-scope events, with times since the recorder was made.
    pub fn app_events(&self) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.request.is_none())
            .collect()
    }

    /// The names of one request's steps, chunks folded into one "chunk".
    pub fn request_names(&self, id: u64) -> Vec<&'static str> {
        let steps = self.request_steps(id);
        let repeated_chunk = |i: usize| {
            i > 0 && steps[i].kind() == StepKind::Chunk && steps[i - 1].kind() == StepKind::Chunk
        };
        (0..steps.len())
            .filter(|&i| !repeated_chunk(i))
            .map(|i| steps[i].name())
            .collect()
    }

    /// The names of the app-scope steps, in order.
    pub fn app_names(&self) -> Vec<&'static str> {
        self.app_events()
            .into_iter()
            .map(|e| e.step.name())
            .collect()
    }

    /// How many recorded events match `pred`.
    pub fn count(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.events().iter().filter(|e| pred(e)).count()
    }

    /// How many steps of this kind have been recorded (any scope).
    pub fn count_of(&self, kind: StepKind) -> usize {
        self.count(|e| e.step.kind() == kind)
    }

    /// True once a step of this kind has been recorded (any scope).
    pub fn has(&self, kind: StepKind) -> bool {
        self.count_of(kind) > 0
    }

    /// Waits (polling, bounded by `timeout`) until request `id` has finished:
    /// its response was sent or aborted *and* its resource released. Returns
    /// false on timeout. Responses reach the client a moment before the
    /// server records that the body ended, so tests wait here.
    pub async fn wait_until_finished(&self, id: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let kinds: Vec<StepKind> = self.request_steps(id).iter().map(Step::kind).collect();
            let had = |kind| kinds.contains(&kind);
            let ended = had(StepKind::ResponseSent) || had(StepKind::ResponseAborted);
            let released = had(StepKind::Released) || !had(StepKind::Acquired);
            if ended && released {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A request's view of the recorder: every step it records carries its id.
#[derive(Clone)]
pub struct RequestLog {
    recorder: Recorder,
    id: u64,
}

impl RequestLog {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn record(&self, step: Step) {
        self.recorder.push(Some(self.id), step);
    }

    /// Records the end of the response (sent or aborted) and counts the
    /// request as no longer in flight.
    pub fn finish(&self, sent: bool) {
        self.record(if sent {
            Step::ResponseSent
        } else {
            Step::ResponseAborted
        });
        self.recorder.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads step names out of a text diagram, in order: on each line, the
/// leftmost known step name (used to check the chapter's diagrams against
/// what the server records).
pub fn names_in_text(text: &str) -> Vec<&'static str> {
    text.lines()
        .filter_map(|line| {
            Step::names()
                .iter()
                .filter_map(|name| line.find(name).map(|at| (at, *name)))
                .min_by_key(|(at, name)| (*at, usize::MAX - name.len()))
                .map(|(_, name)| name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_get_their_own_ids_and_order() {
        let rec = Recorder::default();
        let a = rec.begin_request("GET", "/a");
        let b = rec.begin_request("GET", "/b");
        a.record(Step::Acquired);
        b.record(Step::Acquired);
        a.record(Step::Released);
        a.finish(true);
        assert_eq!(
            rec.request_names(a.id()),
            ["received", "acquired", "released", "response sent"]
        );
        assert_eq!(rec.request_names(b.id()), ["received", "acquired"]);
        assert_eq!(rec.in_flight(), 1);
    }

    #[test]
    fn names_are_read_from_a_diagram() {
        let text =
            "  │ ──▶ received\n  │     acquired   ┐\n  │ response started (201)\n no step here\n";
        assert_eq!(
            names_in_text(text),
            ["received", "acquired", "response started"]
        );
        for step in [Step::ResponseSent, Step::Chunk(1), Step::PoolCloseTimedOut] {
            assert!(Step::names().contains(&step.name()));
        }
    }
}
