//! A local "slow upstream": an axum HTTP server on 127.0.0.1 whose answers
//! take a configurable time, standing in for the database or API a real
//! handler waits on. It runs on its own tokio runtime thread so that it keeps
//! answering whatever the code under test does with its own threads.
//!
//! Routes:
//! - `GET /hello` answers at once with a small JSON body;
//! - `GET /slow` answers after the server's configured delay;
//! - `GET /wait?ms=N` answers after N milliseconds (0..=60000).
//!
//! Its waits are [`simulated_wait`], async-io's microsecond timer, like every
//! simulated wait in the lab (see `wait.rs` for why not tokio's).
//!
//! Left out: TLS, HTTP/2, anything not on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::wait::simulated_wait;
use serde_json::{Value, json};

/// The longest wait `/wait?ms=` accepts, so a typo cannot hang a run.
pub const MAX_WAIT_MS: u64 = 60_000;

/// A running slow upstream; dropping it stops the server.
pub struct SlowUpstream {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowUpstream {
    /// Starts the server on an ephemeral loopback port with `delay` for `/slow`.
    /// `threads` is the number of tokio worker threads serving it.
    pub fn start(delay: Duration, threads: usize) -> anyhow::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), delay, threads)
    }

    /// Like [`SlowUpstream::start`] on a chosen loopback address.
    pub fn start_on(addr: SocketAddr, delay: Duration, threads: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "the upstream only binds to loopback"
        );
        // Bound with std so that `start` also works from inside async code,
        // with the servers' long listen queue: with std's 128, a few hundred
        // clients connecting at once overflow it, and each dropped SYN costs
        // its client a 1 s retransmit that would be measured as waiting.
        let listener = crate::net::bind_and_listen(addr)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("slow-upstream")
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(delay);
        let thread = std::thread::Builder::new()
            .name("slow-upstream".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
                // Connections still open (keep-alive clients) are dropped here.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for SlowUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The upstream's routes, also usable on a runtime of the caller's choosing.
pub fn router(delay: Duration) -> Router {
    Router::new()
        .route("/hello", get(hello))
        .route("/slow", get(slow))
        .route("/wait", get(wait))
        .with_state(delay)
}

async fn hello() -> Json<Value> {
    Json(json!({ "message": "hello" }))
}

async fn slow(State(delay): State<Duration>) -> Json<Value> {
    simulated_wait(delay).await;
    Json(json!({ "waited_ms": delay.as_millis() as u64 }))
}

#[derive(Deserialize)]
struct WaitParams {
    ms: Option<String>,
}

async fn wait(Query(params): Query<WaitParams>) -> (StatusCode, Json<Value>) {
    let parsed = params.ms.as_deref().map(str::parse::<u64>);
    match parsed {
        Some(Ok(ms)) if ms <= MAX_WAIT_MS => {
            simulated_wait(Duration::from_millis(ms)).await;
            (StatusCode::OK, Json(json!({ "waited_ms": ms })))
        }
        _ => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": format!("`ms` must be a whole number of milliseconds from 0 to {MAX_WAIT_MS}")
            })),
        ),
    }
}
