//! Calling the chapter 5 app from outside, as its tests and the chapter's
//! example both do: one request with its status, its `x-request-id` (the id
//! the app's [`Recorder`](super::Recorder) filed its events under) and its
//! whole body read; seeding users; counting rows.
//!
//! Left out: retries and timeouts of its own (a caller that needs them
//! builds its `reqwest::Client` with them); the shutdown drill's burst,
//! which counts refused and dropped requests (see [`super::drill`]).

use std::net::SocketAddr;

use reqwest::Method;

use super::server::Running;

/// One answer, body read to its end (streamed or not).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The app's id for the request (`x-request-id`), 0 if none was sent.
    pub request_id: u64,
    pub body: bytes::Bytes,
}

impl Answer {
    /// The body as JSON (`null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// The app's id for a request, from the `x-request-id` header.
pub fn request_id(res: &reqwest::Response) -> Option<u64> {
    res.headers()
        .get("x-request-id")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Sends `method path` to the app at `addr` with `json` (raw text, so a
/// test can send malformed JSON) as the body, and reads the whole answer.
/// (An address, not a [`Running`]: a request may still be in flight while
/// its caller shuts the app down.)
pub async fn call(
    client: &reqwest::Client,
    addr: SocketAddr,
    method: Method,
    path: &str,
    json: Option<&str>,
) -> anyhow::Result<Answer> {
    let mut req = client.request(method, format!("http://{addr}{path}"));
    if let Some(json) = json {
        req = req
            .header("content-type", "application/json")
            .body(json.to_string());
    }
    let res = req.send().await?;
    let (status, request_id) = (res.status().as_u16(), request_id(&res).unwrap_or(0));
    let body = res.bytes().await?;
    Ok(Answer {
        status,
        request_id,
        body,
    })
}

/// `POST path` with a JSON body given as text.
pub async fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    json: &str,
) -> anyhow::Result<Answer> {
    call(client, addr, Method::POST, path, Some(json)).await
}

/// Stores one user per email through `POST /users`, failing on any non-2xx.
pub async fn seed_users(
    client: &reqwest::Client,
    addr: SocketAddr,
    emails: impl IntoIterator<Item = String>,
) -> anyhow::Result<()> {
    for email in emails {
        let json = serde_json::json!({ "email": email }).to_string();
        let answer = post(client, addr, "/users", &json).await?;
        anyhow::ensure!(
            answer.status == 201,
            "seeding {email}: {} {}",
            answer.status,
            answer.json()
        );
    }
    Ok(())
}

/// Rows in the `users` table, read through the app's own pool.
pub async fn user_count(server: &Running) -> anyhow::Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&server.pool)
        .await?;
    Ok(n)
}
