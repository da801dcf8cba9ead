//! The sync server: rouille (on tiny_http) with a fixed pool of k threads
//! running the blocking app — gunicorn's sync workers (`-w k`) or its gthread
//! workers (`-w W --threads T`, k = W × T), in one process.
//!
//! At most k requests are in progress; the rest queue. Left out: gunicorn's
//! pre-fork processes, its worker timeout and restarts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::contract::{ApiRequest, ApiResponse, read_limited_sync};
use super::{RunningServer, SyncApp};

// ANCHOR: rouille_handler
/// Adapts rouille's request to the app and the app's answer back: the part
/// of a WSGI server that builds `environ` and implements `start_response`.
fn handle(app: &SyncApp, request: &rouille::Request) -> rouille::Response {
    let answer: ApiResponse = match request.data().map(read_limited_sync) {
        Some(Err(e)) => e.into(),
        body => {
            let body = body.and_then(Result::ok).unwrap_or_default();
            app.call(&ApiRequest::new(request.method(), request.raw_url(), body))
        }
    };
    rouille::Response::from_data("application/json", answer.body_bytes())
        .with_status_code(answer.status)
}

/// Starts the server on a pool of `threads` handler threads.
pub fn start(addr: SocketAddr, threads: usize, app: SyncApp) -> anyhow::Result<RunningServer> {
    let app = Arc::new(app);
    let server = rouille::Server::new(addr, move |request| handle(&app, request))
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?
        .pool_size(threads);
    // ANCHOR_END: rouille_handler
    let addr = server.server_addr();
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = stopping.clone();
    let thread = std::thread::Builder::new()
        .name("rouille-accept".into())
        .spawn(move || {
            // Poll with a short timeout so a stop request is seen quickly.
            while !flag.load(Ordering::Relaxed) {
                server.poll_timeout(Duration::from_millis(50));
            }
        })?;
    Ok(RunningServer::new(
        addr,
        thread,
        Box::new(move || stopping.store(true, Ordering::Relaxed)),
    ))
}
