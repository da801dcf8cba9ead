//! actix-web with k workers, each a single-threaded event loop with its own
//! copy of the app and its own database pool: `uvicorn --workers k` (or the
//! older gunicorn with uvicorn workers, deprecated since uvicorn 0.30), one
//! loop per worker.
//!
//! Unlike tokio's multi-thread runtime there is no work stealing: a
//! connection stays on the worker that accepted it. Left out: processes (the
//! workers are threads here), TLS, HTTP/2.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};

use super::contract::{ApiRequest, read_limited};
use super::{AsyncApp, RunningServer};

/// The same adapter as axum's: bounded body, the async app, the answer.
async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    app: web::Data<AsyncApp>,
) -> HttpResponse {
    let answer = match read_limited(payload).await {
        Err(e) => e.into(),
        Ok(body) => {
            let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            app.call(&ApiRequest::new(request.method().as_str(), target, body))
                .await
        }
    };
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(answer.body)
}

/// How long an idle keep-alive connection stays open (actix's default is
/// 5 s; nginx's `keepalive_timeout` is 75 s). Longer than the head timeout,
/// so that a slow head, not idleness, is what gets a client cut off.
const IDLE_KEEP_ALIVE: Duration = Duration::from_secs(75);

/// Starts actix-web with `workers` event loops in its own thread, each
/// with its own copy of `app` and its own pool.
pub fn start(
    listener: std::net::TcpListener,
    workers: usize,
    app: Arc<AsyncApp>,
) -> anyhow::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("actix-server".into())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            let result = system.block_on(async move {
                // ANCHOR: actix_workers
                let server = actix_web::HttpServer::new(move || {
                    // Runs once per worker: each loop gets its own pool.
                    actix_web::App::new()
                        .app_data(web::Data::new(app.with_own_pool()))
                        .default_service(web::to(handle))
                })
                .workers(workers)
                // ANCHOR_END: actix_workers
                // Slow request heads are cut off as in the axum models (actix
                // answers 408); idle keep-alive connections are timed apart,
                // for as long as nginx's default keeps them.
                .client_request_timeout(super::head_timeout::HEAD_TIMEOUT)
                .keep_alive(IDLE_KEEP_ALIVE)
                .disable_signals() // the caller decides when to stop
                .shutdown_timeout(1)
                .listen(listener)?
                .run();
                let _ = handle_tx.send(server.handle());
                server.await
            });
            if let Err(e) = result {
                eprintln!("actix: {e}");
            }
        })?;
    let handle = handle_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| anyhow::anyhow!("actix-web did not start"))?;
    Ok(RunningServer::new(
        addr,
        thread,
        Box::new(move || {
            // Sends the stop command now; completion is awaited by joining.
            drop(handle.stop(true));
        }),
    ))
}
