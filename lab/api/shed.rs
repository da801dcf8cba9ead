//! Load shedding for the axum models: at most `limit` requests inside the
//! server at once — running, or waiting for a thread of the blocking pool —
//! and the next one answered `503` at once, with `Retry-After` and a JSON
//! message, instead of joining a queue that only grows. This is uvicorn's
//! `--limit-concurrency N` (which also answers 503) and what tower's
//! `ConcurrencyLimit` + `LoadShed` layers do, written as one middleware so the
//! chapter can show it whole.
//!
//! Off unless asked for (`serve --limit-concurrency N`): the chapters'
//! closed-loop runs measure queues on purpose, and uvicorn's default is no
//! limit either. Left out: the sync pool, rouille and actix-web (their queues
//! are the kernel's listen backlog and their own; the chapter says so), and
//! the blocked loop, which runs this check only between two blocking calls,
//! with at most one request inside, so it never sheds: its queue is in the
//! sockets, where no middleware sees it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

/// How long the 503 asks a client to wait before it tries again.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The limit's permits, shared by every connection of one server.
#[derive(Clone)]
pub struct Limit {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl Limit {
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

// ANCHOR: shed
/// Lets a request in only if a permit is free; the permit is held until its
/// answer is ready, so `limit` bounds running plus queued requests.
async fn shed(State(limit): State<Limit>, request: Request, next: Next) -> Response {
    let Ok(_permit) = limit.permits.try_acquire() else {
        return overloaded(limit.limit); // at once: no queue, no wait
    };
    next.run(request).await
}
// ANCHOR_END: shed

/// The 503: FastAPI's error shape, and when to come back.
pub fn overloaded(limit: usize) -> Response {
    let body = serde_json::json!({
        "detail": format!(
            "overloaded: {limit} requests already in progress; retry after {RETRY_AFTER_SECS} s"
        )
    });
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(
            axum::http::header::RETRY_AFTER,
            RETRY_AFTER_SECS.to_string(),
        )],
        axum::Json(body),
    )
        .into_response()
}

/// `router` behind the limit, or unchanged when there is none.
pub fn limited(router: axum::Router, limit: Option<usize>) -> axum::Router {
    match limit {
        Some(limit) => router.layer(axum::middleware::from_fn_with_state(
            Limit::new(limit),
            shed,
        )),
        None => router,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use crate::api::{Model, Options, start};

    /// Sends `GET path` on a fresh connection and returns the whole answer.
    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn the_request_over_the_limit_gets_a_503_and_the_next_one_gets_in() {
        let options = Options {
            limit_concurrency: Some(1),
            ..Options::default()
        };
        let model = Model::SpawnBlocking { pool: 4 };
        let server = start(model, "127.0.0.1:0".parse().unwrap(), &options).unwrap();
        let addr = server.addr();
        let inside = tokio::spawn(async move { get(addr, "/wait?ms=400").await });
        tokio::time::sleep(Duration::from_millis(150)).await;
        let shed = get(addr, "/wait?ms=1").await;
        assert!(shed.starts_with("HTTP/1.1 503"), "{shed}");
        assert!(
            shed.to_ascii_lowercase().contains("retry-after: 1\r\n"),
            "{shed}"
        );
        assert!(
            shed.contains(r#"{"detail":"overloaded: 1 requests already in progress"#),
            "{shed}"
        );
        assert!(inside.await.unwrap().starts_with("HTTP/1.1 200"));
        let after = get(addr, "/wait?ms=1").await;
        assert!(after.starts_with("HTTP/1.1 200"), "{after}");
        tokio::task::spawn_blocking(move || server.stop())
            .await
            .unwrap();
    }

    #[test]
    fn no_limit_unless_asked_and_only_where_it_works() {
        // The chapters' closed-loop runs measure queues: they must not shed.
        assert_eq!(Options::default().limit_concurrency, None);
        let options = Options {
            limit_concurrency: Some(4),
            ..Options::default()
        };
        let any_port = "127.0.0.1:0".parse().unwrap();
        for model in [
            Model::SyncPool { threads: 2 },
            Model::LoopPerWorker { workers: 1 },
        ] {
            let Err(why) = start(model, any_port, &options) else {
                panic!("{model:?} took a limit it does not apply");
            };
            assert!(
                why.to_string()
                    .starts_with("--limit-concurrency is for the axum models")
            );
        }
    }
}
