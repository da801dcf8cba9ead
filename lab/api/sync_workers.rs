//! The sync server: k worker threads, each serving one connection at a time
//! and blocking in the app while it waits — gunicorn's sync workers
//! (`gunicorn -w k`), or its gthread workers with k = workers × threads.
//!
//! Like gunicorn's sync worker, each answer closes its connection
//! (`Connection: close`) and waiting connections queue in the kernel's
//! listen backlog (2048, gunicorn's default). At most k requests are in
//! progress, so throughput is at most k / wait.
//!
//! Why not rouille for the chapter's numbers: rouille (`rouille_app`, also
//! measured in chapter 3) reads HTTP with tiny_http 0.12, which runs each
//! connection on a thread of its own task pool for the connection's whole
//! life, and a burst of connects can leave some queued behind busy keep-alive
//! connections, unanswered. HTTP parsing here is hyper's; each worker thread
//! drives it on a private single-threaded runtime and never yields while the
//! app blocks. Left out: processes, worker timeouts.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use super::contract::{ApiRequest, ApiResponse};
use super::{RunningServer, SyncApp};
use crate::users::{ApiError, MAX_BODY_BYTES};

/// Reads the (bounded) body, then calls the blocking app on this thread.
async fn handle(app: Arc<SyncApp>, request: hyper::Request<Incoming>) -> ApiResponse {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return ApiError::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            }
            .into();
        }
        Err(e) => return ApiError::BadBody(format!("could not read body: {e}")).into(),
    };
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    app.call(&ApiRequest::new(parts.method.as_str(), target, body)) // blocks the worker
}

fn to_hyper(answer: ApiResponse) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(answer.body_bytes())));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

// ANCHOR: sync_worker
/// One worker: accept a connection, serve its request, close, repeat.
async fn worker(
    listener: tokio::net::TcpListener,
    app: Arc<SyncApp>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue, // e.g. out of file descriptors: try again
            },
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |request| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(to_hyper(handle(app, request).await)) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(false) // like gunicorn's sync worker
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .await;
    }
}
// ANCHOR_END: sync_worker

/// Starts `workers` worker threads sharing one listening socket.
pub fn start(addr: SocketAddr, workers: usize, app: SyncApp) -> anyhow::Result<RunningServer> {
    let listener = crate::net::bind_and_listen(addr)?;
    let addr = listener.local_addr()?;
    let app = Arc::new(app);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut threads = Vec::with_capacity(workers);
    for i in 0..workers {
        let (listener, app, stop) = (listener.try_clone()?, app.clone(), stop_rx.clone());
        let thread = std::thread::Builder::new()
            .name(format!("sync-worker-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let Ok(runtime) = runtime else { return };
                runtime.block_on(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        worker(listener, app, stop).await;
                    }
                });
            })?;
        threads.push(thread);
    }
    // One thread to wait on, which ends when every worker has.
    let all = std::thread::Builder::new()
        .name("sync-workers".into())
        .spawn(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })?;
    Ok(RunningServer::new(
        addr,
        all,
        Box::new(move || {
            let _ = stop_tx.send(true);
        }),
    ))
}
