//! The requests every API server is sent — good ones and every kind of bad
//! one — with the status FastAPI answers (which the Rust servers match) and
//! the status Django REST framework answers. Shared by tests/api_contract.rs
//! (the Rust servers) and tests/python_contract.rs (FastAPI and DRF).

use lab::users::MAX_BODY_BYTES;
use serde_json::{Value, json};

/// One request and the statuses it must get.
pub struct Case {
    pub method: &'static str,
    pub path: &'static str,
    pub body: Option<String>,
    /// FastAPI's status, which every Rust server gives too.
    pub fastapi: u16,
    /// DRF's status (gunicorn + Django): 400 for every bad input, Django's
    /// 404 for a path its `<int:...>` converter does not match, and Django's
    /// e-mail validator accepts `localhost` as a domain.
    pub drf: u16,
}

/// The script, in order (the ids depend on it: a fresh database each run).
pub fn script() -> Vec<Case> {
    let user = |email: &str| Some(json!({ "email": email }).to_string());
    let raw = |text: &str| Some(text.to_string());
    let case = |method, path, body, fastapi, drf| Case {
        method,
        path,
        body,
        fastapi,
        drf,
    };
    vec![
        case("GET", "/hello", None, 200, 200),
        case("GET", "/wait?ms=5", None, 200, 200),
        case("GET", "/wait?ms=abc", None, 422, 400),
        case("GET", "/wait", None, 422, 400),
        case("GET", "/wait?ms=10001", None, 422, 400),
        case("GET", "/wait?ms=-1", None, 422, 400),
        case("GET", "/cpu?us=100", None, 200, 200),
        case("GET", "/cpu?us=100001", None, 422, 400),
        case("POST", "/users", user("ann@example.com"), 201, 201),
        case("GET", "/users/1", None, 200, 200),
        case("GET", "/users/999", None, 404, 404),
        case("GET", "/users/abc", None, 422, 404),
        case("GET", "/users/0", None, 422, 404),
        case("POST", "/users", user("ann@example.com"), 409, 400),
        case("POST", "/users", raw(r#"{"email": "#), 422, 400),
        case("POST", "/users", raw("not json"), 422, 400),
        case("POST", "/users", raw("{}"), 422, 400),
        case("POST", "/users", raw("[]"), 422, 400),
        case("POST", "/users", raw(r#"{"email": 42}"#), 422, 400),
        case("POST", "/users", user("no-at-sign"), 422, 400),
        case("POST", "/users", user("bob@localhost"), 422, 201),
        case(
            "POST",
            "/users",
            Some(" ".repeat(MAX_BODY_BYTES + 1)),
            413,
            413,
        ),
        case("POST", "/users", user("bob@example.com"), 201, 201),
        case("GET", "/users/2", None, 200, 200),
        case("GET", "/nope", None, 404, 404),
        case("POST", "/hello", None, 405, 405),
        case("DELETE", "/users/1", None, 405, 405),
    ]
}

/// One answer: `METHOD path`, the status, and the body if it is JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub what: String,
    pub status: u16,
    pub body: Option<Value>,
}

/// Sends the script to `base` (`http://127.0.0.1:PORT`), in order.
pub async fn run_script(base: &str) -> Vec<Answer> {
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for case in script() {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = client.request(method.clone(), format!("{base}{}", case.path));
        if let Some(body) = case.body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.ok();
        answers.push(Answer {
            what: format!("{method} {}", case.path),
            status,
            body,
        });
    }
    answers
}

/// The `detail` of an error body, made comparable across servers: the
/// `input` and `ctx` fields Pydantic adds are dropped, and the offset in a
/// `json_invalid` loc (Python's json and serde_json stop at different bytes).
pub fn comparable_detail(body: &Value) -> Value {
    let mut detail = body["detail"].clone();
    if let Some(entries) = detail.as_array_mut() {
        for entry in entries {
            if let Some(fields) = entry.as_object_mut() {
                fields.remove("input");
                fields.remove("ctx");
                if fields["type"] == "json_invalid" {
                    fields.insert("loc".into(), json!(["body"]));
                }
            }
        }
    }
    detail
}

/// Whether an error body carries a non-empty `detail` (a message or a list).
pub fn has_detail(body: &Value) -> bool {
    match &body["detail"] {
        Value::String(message) => !message.is_empty(),
        Value::Array(entries) => !entries.is_empty(),
        _ => false,
    }
}
