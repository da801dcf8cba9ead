//! Good requests sent while a server is fuzzed and after: the server must
//! keep answering them correctly, not just stay up.
//!
//! For the API: `GET /hello` gives the greeting, `POST /users` with a fresh
//! email gives 201 and an id, and `GET /users/{id}` gives the same email
//! back. For the lifespan app: `GET /model` answers JSON and `POST /users`
//! with a fresh email gives 201. Left out: the other routes (the contract
//! tests cover them).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::wire::{self, Ending};

/// Which app the probe talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Api,
    Lifespan,
}

const DEADLINE: Duration = Duration::from_secs(10);

/// Sends one request (`Connection: close`) and returns status and JSON body.
fn call(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let exchange = wire::exchange(
        addr,
        request.as_bytes(),
        Ending::HalfClose,
        DEADLINE,
        DEADLINE,
    );
    if let Some(took) = exchange.late {
        return Err(format!(
            "{method} {target}: answered only after {}, past the {} deadline",
            crate::report::human(took),
            crate::report::human(DEADLINE)
        ));
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(&exchange.bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => {
            return Err(format!(
                "{method} {target}: no answer ({:?}, {} bytes)",
                exchange.end,
                exchange.bytes.len()
            ));
        }
    };
    let status = response.code.unwrap_or(0);
    let json = serde_json::from_slice(&exchange.bytes[head..])
        .map_err(|e| format!("{method} {target}: {status} without JSON: {e}"))?;
    Ok((status, json))
}

/// The JSON body of an answer with the `status` expected, else why not.
fn expect(what: &str, got: (u16, Value), status: u16) -> Result<Value, String> {
    if got.0 == status {
        Ok(got.1)
    } else {
        Err(format!(
            "{what}: expected {status}, got {} {}",
            got.0, got.1
        ))
    }
}

/// `POST /users` with a fresh email: both apps must store it (201).
fn create_user(addr: SocketAddr, email: &str) -> Result<Value, String> {
    let body = serde_json::json!({ "email": email });
    let got = call(addr, "POST", "/users", Some(&body))?;
    expect("POST /users", got, 201)
}

/// One round of good requests; `n` makes the email fresh.
pub fn check(addr: SocketAddr, kind: Kind, n: u64) -> Result<(), String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let email = format!("probe-{}-{n}-{nanos}@example.com", std::process::id());
    match kind {
        Kind::Api => {
            let hello = expect("GET /hello", call(addr, "GET", "/hello", None)?, 200)?;
            if hello["message"] != "Hello, World!" {
                return Err(format!("GET /hello answered {hello}"));
            }
            let created = create_user(addr, &email)?;
            let id = created["id"]
                .as_i64()
                .ok_or_else(|| format!("POST /users answered {created} (no id)"))?;
            let target = format!("/users/{id}");
            let user = expect("GET /users/{id}", call(addr, "GET", &target, None)?, 200)?;
            if user["email"] != email.as_str() {
                return Err(format!("GET {target} answered {user}, not {email}"));
            }
        }
        Kind::Lifespan => {
            let model = expect(
                "GET /model",
                call(addr, "GET", "/model?text=probe", None)?,
                200,
            )?;
            if !model["entries"].is_u64() {
                return Err(format!("GET /model answered {model}"));
            }
            let created = create_user(addr, &email)?;
            if created["email"] != email.as_str() {
                return Err(format!("POST /users answered {created}"));
            }
        }
    }
    Ok(())
}
