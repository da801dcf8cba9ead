//! The chapter 5 app in actix-web: app-wide resources in `App::app_data`
//! (`web::Data`), the request-scoped connection as a `FromRequest`
//! extractor, a `from_fn` middleware that logs each response's start and
//! end, and graceful shutdown with `ServerHandle::stop(true)` under
//! `shutdown_timeout`.
//!
//! actix-web runs each worker on its own thread with its own single-threaded
//! runtime; the app factory closure runs once per worker, so every worker
//! holds a clone of the shared resources (cheap: they are `Arc`s inside).
//!
//! Left out: TLS, HTTP/2, actix's own signal handling (disabled so that the
//! app decides what SIGTERM does, the same way in both frameworks).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use tokio::sync::oneshot;

use super::events::{RequestLog, Step};
use super::handlers;
use super::resources::AppResources;
use super::scope::{RequestDb, ResponseEnd, ScopeError};
use super::server::ShutdownReport;
use crate::users::{ApiError, MAX_BODY_BYTES};

impl actix_web::ResponseError for ScopeError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.status())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self.body())
    }
}

// ANCHOR: extractor
/// `RequestDb` as an actix-web extractor: the same pooled connection,
/// acquired from the pool found in `app_data` before the handler runs.
impl FromRequest for RequestDb {
    type Error = ScopeError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ScopeError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let app = req.app_data::<web::Data<AppResources>>().cloned();
        let log = req.extensions().get::<RequestLog>().cloned();
        let (method, path) = (req.method().to_string(), req.path().to_string());
        Box::pin(async move {
            let app = app.ok_or_else(|| ScopeError::Unavailable("app not started".into()))?;
            let log = log.unwrap_or_else(|| app.recorder.begin_request(&method, &path));
            RequestDb::acquire(&app.pool, app.config.acquire_timeout, log).await
        })
    }
}
// ANCHOR_END: extractor

/// Unknown paths (404) and known paths with the wrong method (405) answer
/// JSON like every other error, FastAPI's words (actix-web's default is an
/// empty 404).
async fn no_route(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError as _;
    let path = req.path();
    let error: ScopeError = if ["/users", "/users/batch", "/users/export", "/model"].contains(&path)
    {
        ApiError::MethodNotAllowed.into()
    } else {
        ApiError::NotFound("Not Found".into()).into()
    };
    error.error_response()
}

/// The routes, with the app-wide resources as `app_data`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::post().to(post_user))
        .route("/users/batch", web::post().to(post_batch))
        .route("/users/export", web::get().to(export))
        .route("/model", web::get().to(model))
        .default_service(web::to(no_route));
}

async fn read_body(payload: web::Payload) -> Result<Bytes, ScopeError> {
    match payload.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(ApiError::BadBody(format!("reading the body: {e}")).into()),
        Err(_) => Err(ApiError::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        }
        .into()),
    }
}

async fn post_user(
    app: web::Data<AppResources>,
    mut db: RequestDb,
    body: web::Payload,
) -> Result<HttpResponse, ScopeError> {
    let body = read_body(body).await?;
    let user = match app.ack_first.as_deref() {
        // The crash drill's broken-on-purpose variant; never set otherwise.
        Some(ack) => {
            handlers::create_user_ack_first(&app.pool, ack, &body, app.config.work).await?
        }
        None => handlers::create_user(&mut db, &body, app.config.work).await?,
    };
    Ok(HttpResponse::Created().json(user))
}

async fn post_batch(mut db: RequestDb, body: web::Payload) -> Result<HttpResponse, ScopeError> {
    let body = read_body(body).await?;
    let users = handlers::create_batch(&mut db, &body).await?;
    Ok(HttpResponse::Created().json(users))
}

async fn export(
    app: web::Data<AppResources>,
    query: web::Query<std::collections::HashMap<String, String>>,
    db: RequestDb,
) -> Result<HttpResponse, ScopeError> {
    let (page, delay) = (app.config.page_size, app.config.chunk_delay);
    let mut res = HttpResponse::Ok();
    res.insert_header((CONTENT_TYPE, "application/x-ndjson"));
    Ok(if super::axum_app::parse_hold(&query)? {
        res.streaming(handlers::export_held(db, page, delay))
    } else {
        res.streaming(handlers::export_release_first(db, page, delay).await?)
    })
}

async fn model(
    app: web::Data<AppResources>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let text = query.get("text").map(String::as_str);
    HttpResponse::Ok().json(handlers::model_info(&app.model, text))
}

/// True for a request that actix-http reads as the start of a raw stream:
/// `Upgrade: websocket` without a chunked body. actix-http 3.19.0 and
/// 3.20.0 (the newest on crates.io as of this writing) then write a streamed
/// response's body unframed, to the connection's end (`h1::Codec` passes its
/// `STREAM` flag to `TransferEncoding`), while the headers still say
/// `transfer-encoding: chunked`: the client reads a corrupted body (the
/// fuzzer found it; `tests/fuzz_servers.rs` replays it). Such a response
/// goes out without chunking, so its headers say what its body is. Not ours
/// to fix inside; remove this once actix-http frames the body it announces.
fn reads_as_raw_stream(headers: &actix_web::http::header::HeaderMap) -> bool {
    use actix_web::http::header::{TRANSFER_ENCODING, UPGRADE};
    let websocket = headers.get_all(UPGRADE).any(|v| {
        v.to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
    });
    websocket && !headers.contains_key(TRANSFER_ENCODING)
}

/// Middleware: opens the request's log and wraps the response body so the
/// log learns when its last byte was taken (or the body dropped).
async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let app = req.app_data::<web::Data<AppResources>>().cloned();
    let app = app.ok_or_else(|| actix_web::error::ErrorServiceUnavailable("app not started"))?;
    let log = app
        .recorder
        .begin_request(req.method().as_str(), req.path());
    req.extensions_mut().insert(log.clone());
    let raw_stream = reads_as_raw_stream(req.headers());
    let mut res = next.call(req).await?;
    // actix-http's codec decides a streamed body's framing from a flag that
    // the *latest decoded* request sets, and pipelined requests are decoded
    // ahead: an `Upgrade: websocket` (or body-less CONNECT) request queued
    // behind this one made this answer's body go out unframed under a
    // `transfer-encoding: chunked` header (the full fuzz run, class
    // "pipelined"; `tests/fuzz_servers.rs` replays it). So a streamed answer,
    // and any answer to such a request, is sent unchunked and ends its
    // connection: its body is what the headers say, whatever comes next.
    let streamed = matches!(res.response().body().size(), BodySize::Stream);
    if raw_stream || streamed {
        let head = res.response_mut().head_mut();
        head.no_chunking(true);
        head.set_connection_type(actix_web::http::ConnectionType::Close);
    }
    log.record(Step::ResponseStarted {
        status: res.status().as_u16(),
    });
    res.headers_mut().insert(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from(log.id()),
    );
    Ok(res.map_body(move |_, inner| Tracked {
        empty: matches!(inner.size(), BodySize::None | BodySize::Sized(0)),
        inner: Box::pin(inner),
        end: ResponseEnd::new(log),
        left: None,
    }))
}

/// A response body that reports its own end to the request's log.
struct Tracked<B> {
    inner: Pin<Box<B>>,
    end: ResponseEnd,
    /// Bytes still to send, when the size is known up front.
    left: Option<u64>,
    /// A body that is empty from the start is never polled at all.
    empty: bool,
}

impl<B: MessageBody> MessageBody for Tracked<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = &mut *self;
        if this.left.is_none()
            && let BodySize::Sized(n) = this.inner.size()
        {
            this.left = Some(n);
        }
        let polled = this.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(None) => this.end.sent(),
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(left) = this.left.as_mut() {
                    *left = left.saturating_sub(chunk.len() as u64);
                    if *left == 0 {
                        this.end.sent();
                    }
                }
            }
            _ => {}
        }
        polled
    }
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        if !self.end.is_done() && self.empty {
            self.end.sent();
        }
    }
}

// ANCHOR: serve
/// Serves until `stop` fires, then `ServerHandle::stop(true)`: stop
/// accepting, let workers finish in-flight requests for at most
/// `shutdown_timeout`, then close the pool and drop the model.
pub async fn serve(
    listener: std::net::TcpListener,
    app: AppResources,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<ShutdownReport> {
    let (recorder, deadline) = (app.recorder.clone(), app.config.shutdown_deadline);
    let data = web::Data::new(app.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(track))
            .configure(configure)
    })
    .workers(app.config.workers)
    .disable_signals() // SIGTERM is ours to handle, as in the axum app
    .shutdown_timeout(deadline.as_secs().max(1))
    .listen(listener)?
    .run();
    let handle = server.handle();
    let server = tokio::spawn(server);

    let _ = stop.await;
    let began = Instant::now();
    let in_flight = recorder.in_flight();
    recorder.app(Step::ShutdownBegan { in_flight });
    handle.stop(true).await; // graceful: waits for workers, up to the timeout
    server.await??;
    // actix cuts off what is left at `shutdown_timeout`; say whether it had to.
    let drained = began.elapsed() < deadline.max(Duration::from_secs(1));
    super::server::finish(app, began, in_flight, drained).await
}
// ANCHOR_END: serve
