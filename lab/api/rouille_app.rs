//! The blocking app served by rouille: the natural Rust analog of a WSGI
//! server, a sync handler per request run on a pool of k threads
//! (`rouille::Server::pool_size(k)`).
//!
//! Only the adapter lives here — rouille's request to the contract's
//! [`ApiRequest`] and back; the routes and answers are [`SyncApp`]'s. rouille
//! reads HTTP with tiny_http 0.12, which gives every connection its own
//! reading thread and keeps it for as long as the client keeps the connection
//! alive; chapter 3 measures where that caps throughput below k / wait.
//! Left out: rouille's router and helpers (the contract does the routing).

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, TryRecvError};
use std::time::Duration;

use super::contract::ApiRequest;
use super::{RunningServer, SyncApp};
use crate::users::{ApiError, MAX_BODY_BYTES};

/// How long one `poll_timeout` waits for a request before the stop flag is
/// checked again.
const POLL: Duration = Duration::from_millis(20);

// ANCHOR: rouille_adapter
/// rouille's request as the contract's: method, raw target, and a body read
/// to at most one byte past the limit, so a huge upload is refused (413)
/// without being stored.
fn to_api_request(request: &rouille::Request) -> Result<ApiRequest, ApiError> {
    let mut body = Vec::new();
    if let Some(data) = request.data() {
        data.take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| ApiError::BadBody(format!("could not read body: {e}")))?;
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(ApiRequest::new(request.method(), request.raw_url(), body))
}

/// The handler rouille runs on one of its k pool threads: adapt, call the
/// blocking app (the thread waits with it), answer JSON.
fn handle(app: &SyncApp, request: &rouille::Request) -> rouille::Response {
    let answer = match to_api_request(request) {
        Ok(request) => app.call(&request),
        Err(refused) => refused.into(),
    };
    rouille::Response::from_data("application/json", answer.body_bytes())
        .with_status_code(answer.status)
}
// ANCHOR_END: rouille_adapter

/// Starts rouille on `addr` with a pool of `threads` handler threads.
pub fn start(addr: SocketAddr, threads: usize, app: SyncApp) -> anyhow::Result<RunningServer> {
    let app = Arc::new(app);
    let server = rouille::Server::new(addr, move |request| handle(&app, request))
        .map_err(|e| anyhow::anyhow!("rouille could not listen on {addr}: {e}"))?
        .pool_size(threads.max(1));
    let addr = server.server_addr();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    // `Server::stoppable` would do, but checks its channel only once a second.
    // `poll_timeout` returns after POLL without a request; under unbroken
    // traffic it keeps dispatching, and `RunningServer::stop`'s deadline
    // applies. Dropping the server closes the listening socket.
    let thread = std::thread::Builder::new()
        .name("rouille".into())
        .spawn(move || {
            while let Err(TryRecvError::Empty) = stop_rx.try_recv() {
                server.poll_timeout(POLL);
            }
        })?;
    Ok(RunningServer::new(
        addr,
        thread,
        Box::new(move || {
            let _ = stop_tx.send(());
        }),
    ))
}
