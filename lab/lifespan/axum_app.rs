//! The chapter 5 app in axum: app-wide resources in `State`, the
//! request-scoped connection as an extractor (`FromRequestParts`), a
//! middleware that logs each response's start and end, and graceful
//! shutdown with `axum::serve(..).with_graceful_shutdown(..)` under a
//! deadline.
//!
//! Left out: TLS, HTTP/2, request timeouts (a `tower_http` layer would add
//! them), CORS.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::body::{Frame, SizeHint};
use tokio::sync::oneshot;

use super::events::{RequestLog, Step};
use super::handlers;
use super::resources::AppResources;
use super::scope::{RequestDb, ResponseEnd, ScopeError};
use super::server::ShutdownReport;
use crate::users::{ApiError, Invalid, MAX_BODY_BYTES};

impl IntoResponse for ScopeError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.body())).into_response()
    }
}

// ANCHOR: extractor
/// `RequestDb` as an axum extractor: a handler that names it in its
/// arguments gets a pooled connection, acquired before the handler runs.
impl FromRequestParts<AppResources> for RequestDb {
    type Rejection = ScopeError;

    async fn from_request_parts(parts: &mut Parts, app: &AppResources) -> Result<Self, ScopeError> {
        let log = match parts.extensions.get::<RequestLog>() {
            Some(log) => log.clone(),
            None => app
                .recorder
                .begin_request(parts.method.as_str(), parts.uri.path()),
        };
        RequestDb::acquire(&app.pool, app.config.acquire_timeout, log).await
    }
}
// ANCHOR_END: extractor

/// The routes, with the app-wide resources as axum `State`.
pub fn router(app: AppResources) -> Router {
    // The crash drill's broken-on-purpose variant; never set otherwise.
    let create = match app.ack_first.clone() {
        Some(ack) => post(move |State(app): State<AppResources>, body: Body| {
            post_user_ack_first(app, ack, body)
        }),
        None => post(post_user),
    };
    Router::new()
        .route("/users", create)
        .route("/users/batch", post(post_batch))
        .route("/users/export", get(export))
        .route("/model", get(model))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .with_state(app)
}

/// Unknown paths and wrong methods answer JSON like every other error
/// in FastAPI's words (axum's defaults are empty 404 and 405 bodies).
async fn not_found() -> ScopeError {
    ApiError::NotFound("Not Found".into()).into()
}

async fn method_not_allowed() -> ScopeError {
    ApiError::MethodNotAllowed.into()
}

/// Reads the body with a limit, answering 413 as JSON (axum's own `Bytes`
/// extractor would answer its default limit in plain text).
async fn read_body(body: Body) -> Result<Bytes, ScopeError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            }
            .into()
        })
}

// ANCHOR: post_user
async fn post_user(
    State(app): State<AppResources>,
    mut db: RequestDb,
    body: Body,
) -> Result<(StatusCode, axum::Json<crate::users::User>), ScopeError> {
    let body = read_body(body).await?;
    let user = handlers::create_user(&mut db, &body, app.config.work).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
} // `db` is dropped here: `released` comes before the response is written
// ANCHOR_END: post_user

/// Broken on purpose: see [`handlers::create_user_ack_first`].
async fn post_user_ack_first(
    app: AppResources,
    ack: std::sync::Arc<handlers::AckFirst>,
    body: Body,
) -> Result<(StatusCode, axum::Json<crate::users::User>), ScopeError> {
    let body = read_body(body).await?;
    let user = handlers::create_user_ack_first(&app.pool, &ack, &body, app.config.work).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

async fn post_batch(mut db: RequestDb, body: Body) -> Result<impl IntoResponse, ScopeError> {
    let body = read_body(body).await?;
    let users = handlers::create_batch(&mut db, &body).await?;
    Ok((StatusCode::CREATED, axum::Json(users)))
}

/// Parses `?hold=true|false` (absent means false) with a JSON 422 on junk.
pub fn parse_hold(query: &HashMap<String, String>) -> Result<bool, ScopeError> {
    match query.get("hold").map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => {
            let why = format!("hold must be true or false, not {other:?}");
            let loc = serde_json::json!(["query", "hold"]);
            Err(ApiError::from(Invalid::value_error(loc, &why)).into())
        }
    }
}

async fn export(
    State(app): State<AppResources>,
    Query(query): Query<HashMap<String, String>>,
    db: RequestDb,
) -> Result<Response, ScopeError> {
    let (page, delay) = (app.config.page_size, app.config.chunk_delay);
    let body = if parse_hold(&query)? {
        Body::from_stream(handlers::export_held(db, page, delay))
    } else {
        Body::from_stream(handlers::export_release_first(db, page, delay).await?)
    };
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

async fn model(
    State(app): State<AppResources>,
    Query(query): Query<HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    let text = query.get("text").map(String::as_str);
    axum::Json(handlers::model_info(&app.model, text))
}

// ANCHOR: track
/// Middleware: opens the request's log, and wraps the response body so the
/// log learns when the server pulled its last byte (or dropped it).
async fn track(State(app): State<AppResources>, mut req: Request, next: Next) -> Response {
    let log = app
        .recorder
        .begin_request(req.method().as_str(), req.uri().path());
    req.extensions_mut().insert(log.clone());
    let mut res = next.run(req).await;
    log.record(Step::ResponseStarted {
        status: res.status().as_u16(),
    });
    res.headers_mut()
        .insert("x-request-id", HeaderValue::from(log.id()));
    res.map(|inner| {
        Body::new(Tracked {
            inner,
            end: ResponseEnd::new(log),
        })
    })
}
// ANCHOR_END: track

/// A response body that reports its own end to the request's log.
struct Tracked {
    inner: Body,
    end: ResponseEnd,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        // hyper stops polling once a body says it has ended, so check both.
        if matches!(polled, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.end.sent();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.end.is_done() && self.inner.is_end_stream() {
            self.end.sent();
        }
    }
}

// ANCHOR: serve
/// Serves until `stop` fires, then shuts down gracefully: stop accepting,
/// let in-flight requests finish (at most the configured deadline), and only
/// then close the pool and drop the model.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: AppResources,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<ShutdownReport> {
    let (recorder, deadline) = (app.recorder.clone(), app.config.shutdown_deadline);
    let (drain_tx, drain_rx) = oneshot::channel::<()>();
    let server = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(async move {
            let _ = drain_rx.await;
        })
        .into_future();
    let mut server = tokio::spawn(server);

    let _ = stop.await; // SIGTERM, Ctrl-C, or a test saying so
    let began = Instant::now();
    let in_flight = recorder.in_flight();
    recorder.app(Step::ShutdownBegan { in_flight });
    let _ = drain_tx.send(());
    let drained = match tokio::time::timeout(deadline, &mut server).await {
        Ok(joined) => {
            joined??;
            true
        }
        Err(_) => {
            // Stop waiting. axum runs each connection in its own task, so
            // the ones still open keep going until the process exits.
            server.abort();
            false
        }
    };
    super::server::finish(app, began, in_flight, drained).await
}
// ANCHOR_END: serve
