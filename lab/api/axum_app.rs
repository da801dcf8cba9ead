//! The async servers built on axum and tokio: one event loop (uvicorn with
//! one worker), a work-stealing pool of loops, and the two ways to call the
//! blocking app from an async handler — wrongly (the blocked loop) and
//! rightly (`spawn_blocking`, what FastAPI does for `def` endpoints).
//!
//! Left out: HTTP/2, TLS, middleware.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::contract::{ApiRequest, ApiResponse, read_limited};
use super::head_timeout::{HEAD_TIMEOUT, HeadClock, Timed};
use super::{AsyncApp, RunningServer, SyncApp};
use crate::users::ApiError;

/// Which app the handler calls, and how.
#[derive(Clone)]
pub enum Flavor {
    /// The async app: every wait is an await.
    Async(Arc<AsyncApp>),
    /// The blocking app called on the loop thread.
    BlockedLoop(Arc<SyncApp>),
    /// The blocking app sent to tokio's bounded blocking pool.
    SpawnBlocking(Arc<SyncApp>),
}

// ANCHOR: blocked_loop
/// BAD: an `async def` that calls `time.sleep` — the loop thread runs the
/// blocking app itself, so no other request moves until it returns.
async fn blocked_loop(app: Arc<SyncApp>, req: ApiRequest) -> ApiResponse {
    app.call(&req) // <- the one line that differs
}
// ANCHOR_END: blocked_loop

// ANCHOR: spawn_blocking
/// GOOD: a `def` endpoint as FastAPI runs it — on a thread of a bounded pool
/// while the loop keeps serving others.
async fn spawn_blocking(app: Arc<SyncApp>, req: ApiRequest) -> ApiResponse {
    tokio::task::spawn_blocking(move || app.call(&req))
        .await
        .unwrap_or_else(panicked) // <- the one line
}
// ANCHOR_END: spawn_blocking

fn panicked(e: tokio::task::JoinError) -> ApiResponse {
    ApiError::Internal(format!("handler panicked: {e}")).into()
}

// ANCHOR: axum_handler
/// The ASGI server's side: read the body (bounded), call the app, write the
/// answer. One catch-all handler, so routing lives in the contract.
async fn handle(State(flavor): State<Flavor>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let answer = match read_limited(body.into_data_stream()).await {
        Err(e) => e.into(),
        Ok(body) => {
            let req = ApiRequest::new(parts.method.as_str(), target, body);
            match flavor {
                Flavor::Async(app) => app.call(&req).await,
                Flavor::BlockedLoop(app) => blocked_loop(app, req).await,
                Flavor::SpawnBlocking(app) => spawn_blocking(app, req).await,
            }
        }
    };
    let status = axum::http::StatusCode::from_u16(answer.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(answer.body)).into_response()
}
// ANCHOR_END: axum_handler

/// The router: every path goes to [`handle`].
pub fn router(flavor: Flavor) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(flavor)
}

/// How many threads the runtime gets.
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    /// One thread runs every task: one event loop.
    CurrentThread { max_blocking: usize },
    /// `workers` threads that steal tasks from each other.
    MultiThread { workers: usize },
}

/// Waits until the stop flag is set (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// What `axum::serve` does, but HTTP/1.1 only: hyper's `http1` connection
/// instead of hyper-util's auto (HTTP/1 + HTTP/2) one, which keeps more state
/// per idle keep-alive connection. A client slower than [`HEAD_TIMEOUT`]
/// to send a request head is disconnected; an idle one is not. After
/// `stop`, accepting ends and each connection finishes its current
/// request, then closes.
async fn serve_http1(listener: TcpListener, app: axum::Router, stop: watch::Receiver<bool>) {
    // Every connection task holds a clone of `open`; `closed()` waits for all.
    let (all_closed, open) = watch::channel(());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    eprintln!("axum: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopped(stop.clone()) => break,
        };
        // The head timeout's clock: started by bytes of a new head, stopped
        // when the service gets the parsed request (see `head_timeout`).
        let clock = HeadClock::accepted();
        let service = {
            let (app, clock) = (TowerToHyperService::new(app.clone()), clock.clone());
            hyper::service::service_fn(move |request| {
                clock.request_began();
                let response = hyper::service::Service::call(&app, request);
                let clock = clock.clone();
                async move {
                    let response = response.await;
                    clock.request_ended();
                    response
                }
            })
        };
        let (stop, open) = (stop.clone(), open.clone());
        tokio::spawn(async move {
            let io = TokioIo::new(Timed::new(stream, clock.clone()));
            let conn = http1::Builder::new().serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                // In this order: a head that is waiting in the socket (a loop
                // that was blocked, say) is read before its age is checked.
                biased;
                _ = conn.as_mut() => {}
                // A head slower than HEAD_TIMEOUT: drop the connection (closes it).
                _ = clock.expired(HEAD_TIMEOUT) => {}
                _ = stopped(stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(open);
        });
    }
    drop((listener, open));
    all_closed.closed().await;
}

/// How long in-flight requests get to finish after a stop request.
const GRACE: Duration = Duration::from_millis(1_200);

/// Starts axum on its own runtime in its own thread.
pub fn start(
    listener: std::net::TcpListener,
    runtime: Runtime,
    limit_concurrency: Option<usize>,
    flavor: impl FnOnce() -> Flavor,
) -> anyhow::Result<RunningServer> {
    let addr: SocketAddr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    // ANCHOR: runtimes
    let rt = match runtime {
        Runtime::CurrentThread { max_blocking } => tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(max_blocking) // the spawn_blocking bound
            .enable_all()
            .build()?,
        Runtime::MultiThread { workers } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers) // loops that steal each other's tasks
            .enable_all()
            .build()?,
    };
    // ANCHOR_END: runtimes
    let flavor = {
        let _inside = rt.enter(); // sqlx pools need the runtime they will run on
        flavor()
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("axum-server".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return eprintln!("axum: {e}"),
                };
                let app = super::shed::limited(router(flavor), limit_concurrency);
                let serve = serve_http1(listener, app, stop_rx.clone());
                // Graceful, but bounded: after GRACE, in-flight requests are dropped.
                tokio::select! {
                    _ = serve => {}
                    _ = async { stopped(stop_rx).await; tokio::time::sleep(GRACE).await } => {}
                }
            });
            // Do not wait for blocking tasks still sleeping in the pool.
            rt.shutdown_timeout(Duration::from_millis(100));
        })?;
    Ok(RunningServer::new(
        addr,
        thread,
        Box::new(move || {
            let _ = stop_tx.send(true);
        }),
    ))
}
