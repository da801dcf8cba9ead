//! The API contract: the routes, their parameters and bounds, and the
//! framework-neutral request and response every server adapts to.
//!
//! This is the "one app" of chapters 3 and 4. In Python the same FastAPI or
//! Django app can be served by gunicorn, uvicorn or both; here the same
//! routing table and the same answers are served by hyper worker threads,
//! rouille, axum and actix-web, so a difference in throughput is a difference
//! in the server model, never in the app. Left out: headers, cookies, content negotiation.

use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::users::{ApiError, Invalid, MAX_BODY_BYTES, parse_user_id};

/// `GET /wait?ms=N` accepts 0..=10 000 ms; anything else is a 422.
pub const MAX_WAIT_MS: u64 = 10_000;
/// `GET /cpu?us=N` accepts 0..=100 000 µs of busy CPU work.
pub const MAX_CPU_US: u64 = 100_000;

/// A request as every server hands it to the app: the WSGI `environ` or ASGI
/// `scope`, cut down to what the routes read.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Vec<u8>,
}

impl ApiRequest {
    /// Splits a raw target such as `/wait?ms=50` into path and query.
    pub fn new(method: &str, target: &str, body: Vec<u8>) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.to_string(), None),
        };
        Self {
            method: method.to_ascii_uppercase(),
            path,
            query,
            body,
        }
    }
}

/// An answer: a status and a JSON body, nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Value,
}

impl ApiResponse {
    pub fn ok(body: Value) -> Self {
        Self { status: 200, body }
    }
    pub fn created(body: Value) -> Self {
        Self { status: 201, body }
    }
    /// The body serialized, for servers that write bytes.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).unwrap_or_else(|_| b"{}".to_vec())
    }
}

impl From<ApiError> for ApiResponse {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status(),
            body: e.body(),
        }
    }
}

impl From<Result<ApiResponse, ApiError>> for ApiResponse {
    fn from(r: Result<ApiResponse, ApiError>) -> Self {
        r.unwrap_or_else(ApiResponse::from)
    }
}

// ANCHOR: routes
/// The routes, each with its parameters already parsed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /hello`: a small JSON answer, no waiting.
    Hello,
    /// `GET /wait?ms=N`: simulated I/O (a database or upstream call).
    Wait(Duration),
    /// `GET /cpu?us=N`: busy CPU work, no waiting.
    Cpu(Duration),
    /// `GET /users/{id}`
    GetUser(i64),
    /// `POST /users` with `{"email": "..."}`
    CreateUser,
}

/// Maps method and path to a route: 404 for an unknown path, 405 for a known
/// path with the wrong method, 422 for a bad parameter — with FastAPI's
/// bodies (`{"detail": "Not Found"}`, `{"detail": "Method Not Allowed"}`).
pub fn route(method: &str, path: &str, query: Option<&str>) -> Result<Route, ApiError> {
    let (route, allowed) = match path {
        "/hello" => (Route::Hello, "GET"),
        "/wait" => (
            Route::Wait(Duration::from_millis(param(query, "ms", MAX_WAIT_MS)?)),
            "GET",
        ),
        "/cpu" => (
            Route::Cpu(Duration::from_micros(param(query, "us", MAX_CPU_US)?)),
            "GET",
        ),
        "/users" => (Route::CreateUser, "POST"),
        _ => match path.strip_prefix("/users/") {
            Some(id) => (Route::GetUser(parse_user_id(id)?), "GET"),
            None => return Err(ApiError::NotFound("Not Found".into())),
        },
    };
    if method != allowed {
        return Err(ApiError::MethodNotAllowed);
    }
    Ok(route)
}
// ANCHOR_END: routes

/// Reads integer query parameter `name` in `0..=max`; missing, not a number
/// or out of range is a 422 in Pydantic's words, as FastAPI answers for
/// `name: Annotated[int, Query(ge=0, le=max)]`.
pub fn param(query: Option<&str>, name: &str, max: u64) -> Result<u64, ApiError> {
    let loc = json!(["query", name]);
    let raw = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .ok_or_else(|| Invalid::missing(loc.clone()))?;
    let invalid = match raw.parse::<i128>() {
        Ok(v) if (0..=i128::from(max)).contains(&v) => return Ok(v as u64),
        Ok(v) if v < 0 => Invalid::new(
            "greater_than_equal",
            loc,
            "Input should be greater than or equal to 0",
        ),
        Ok(_) => Invalid::new(
            "less_than_equal",
            loc,
            format!("Input should be less than or equal to {max}"),
        ),
        Err(_) => Invalid::not_an_integer(loc),
    };
    Err(invalid.into())
}

/// Collects a request body, refusing it (413) as soon as it passes
/// [`MAX_BODY_BYTES`], so a huge upload costs at most that much memory.
pub async fn read_limited<S, B, E>(mut body: S) -> Result<Vec<u8>, ApiError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadBody(format!("could not read body: {e}")))?;
        if out.len() + chunk.as_ref().len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        out.extend_from_slice(chunk.as_ref());
    }
    Ok(out)
}

fn too_large() -> ApiError {
    ApiError::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    }
}

/// The answers that do not depend on the server model.
pub fn hello() -> ApiResponse {
    ApiResponse::ok(json!({ "message": "Hello, World!" }))
}
pub fn waited(d: Duration) -> ApiResponse {
    ApiResponse::ok(json!({ "waited_ms": d.as_millis() as u64 }))
}
pub fn burned(d: Duration) -> ApiResponse {
    ApiResponse::ok(json!({ "cpu_us": d.as_micros() as u64 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_their_errors() {
        assert_eq!(route("GET", "/hello", None), Ok(Route::Hello));
        assert_eq!(
            route("GET", "/wait", Some("ms=50")),
            Ok(Route::Wait(Duration::from_millis(50)))
        );
        assert_eq!(route("GET", "/users/3", None), Ok(Route::GetUser(3)));
        assert_eq!(route("POST", "/users", None), Ok(Route::CreateUser));
        let status = |m: &str, p: &str, q: Option<&str>| route(m, p, q).unwrap_err().status();
        assert_eq!(status("GET", "/nope", None), 404);
        assert_eq!(status("POST", "/hello", None), 405);
        assert_eq!(status("GET", "/wait", None), 422);
        assert_eq!(status("GET", "/wait", Some("ms=abc")), 422);
        assert_eq!(status("GET", "/wait", Some("ms=10001")), 422);
        assert_eq!(status("GET", "/wait", Some("ms=-1")), 422);
        assert_eq!(status("GET", "/cpu", Some("us=100001")), 422);
        assert_eq!(status("GET", "/users/x", None), 422);
    }
}
