//! The users resource shared by chapters 3, 4 and 5: one table, one input
//! type, one output type, one error type, and the SQL to read and write it —
//! once with `sqlx` (async) and once with `rusqlite` (blocking), on SQLite;
//! [`pg`] has the same on PostgreSQL (chapter 6's database row).
//!
//! This is the part a FastAPI app gets from Pydantic and its exception
//! handlers, and it answers the way FastAPI does: every failure becomes an
//! [`ApiError`] with FastAPI's status and a JSON body `{"detail": ...}` —
//! a message for 404, 405, 409 and 413, and for 422 a list of
//! `{"type", "loc", "msg"}` entries as Pydantic writes them (malformed JSON
//! included: FastAPI answers it with 422 `json_invalid`, not 400).
//! `python/fastapi_app` gives the same answers; `tests/python_contract.rs`
//! checks it. Every server in [`crate::api`] and the chapter 5 app call
//! these functions, so the answers are identical whichever server runs them.
//!
//! Left out on purpose: authentication, pagination, updates and deletes,
//! the `input` and `ctx` fields Pydantic adds to a 422 entry, and a full
//! RFC 5322 e-mail check (see [`validate_email`] for the simple rule).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub mod pg;

/// The table. `IF NOT EXISTS` so every server can run it at start-up.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (\
    id INTEGER PRIMARY KEY AUTOINCREMENT, \
    email TEXT NOT NULL UNIQUE)";

/// Request bodies larger than this are refused with 413 before parsing.
/// This limit is ours: FastAPI reads a body of any size.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Longest e-mail address accepted (the practical limit from RFC 5321).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The body of `POST /users`.
///
/// Unknown fields are ignored, as Pydantic does by default (`extra="ignore"`),
/// so a client sending `{"email": "a@b.io", "name": "Ann"}` still succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewUser {
    pub email: String,
}

/// A stored user, as every `GET /users/{id}` and `POST /users` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub email: String,
}

/// One entry of a 422's `detail` list, as Pydantic writes it:
/// `{"type": "missing", "loc": ["body", "email"], "msg": "Field required"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Pydantic's error type: `missing`, `int_parsing`, `value_error`, ...
    pub kind: &'static str,
    /// Where: `["query", "ms"]`, `["path", "user_id"]`, `["body", "email"]`.
    pub loc: Value,
    /// The message, in Pydantic's words where Pydantic has them.
    pub msg: String,
}

impl Invalid {
    pub fn new(kind: &'static str, loc: Value, msg: impl Into<String>) -> Self {
        Self {
            kind,
            loc,
            msg: msg.into(),
        }
    }

    /// A required field or parameter is absent.
    pub fn missing(loc: Value) -> Self {
        Self::new("missing", loc, "Field required")
    }

    /// Text where an integer belongs.
    pub fn not_an_integer(loc: Value) -> Self {
        Self::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
        )
    }

    /// A check of our own failed (Pydantic's `ValueError` in a validator).
    pub fn value_error(loc: Value, why: &str) -> Self {
        Self::new("value_error", loc, format!("Value error, {why}"))
    }

    fn to_json(&self) -> Value {
        json!({ "type": self.kind, "loc": self.loc, "msg": self.msg })
    }
}

/// Everything that can go wrong serving the users resource, each with the
/// HTTP status a client sees — FastAPI's status for the same mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 422 `json_invalid`: the body is not JSON at all (syntax error,
    /// truncated). `pos` is the byte where serde_json gave up.
    #[error("malformed JSON: {why}")]
    BadJson { pos: usize, why: String },
    /// 400: the body could not even be read (the connection broke).
    #[error("There was an error parsing the body")]
    BadBody(String),
    /// 413: the body is larger than [`MAX_BODY_BYTES`] — our limit.
    #[error(
        "request body too large: the limit is {limit} bytes \
         (this book's limit, not a FastAPI or Django default)"
    )]
    BodyTooLarge { limit: usize },
    /// 422: JSON, but not what the endpoint needs (missing field, wrong type,
    /// bad e-mail, query parameter out of range).
    #[error("{}", .0.msg)]
    Validation(Invalid),
    /// 404: nothing at that id or path.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// 409: the e-mail address is already taken (the UNIQUE constraint).
    #[error("a user with email {0:?} already exists")]
    Conflict(String),
    /// 500: a bug or a broken database. The detail goes to stderr, not to
    /// the client.
    #[error("internal server error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status code for this error: FastAPI's.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadBody(_) => 400,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict(_) => 409,
            ApiError::BodyTooLarge { .. } => 413,
            ApiError::BadJson { .. } | ApiError::Validation(_) => 422,
            ApiError::Internal(_) => 500,
        }
    }

    /// The JSON body, FastAPI's shape: `{"detail": "<message>"}`, or for a
    /// 422 `{"detail": [{"type": ..., "loc": [...], "msg": ...}]}`.
    pub fn body(&self) -> Value {
        match self {
            ApiError::BadJson { pos, why } => json!({ "detail": [{
                "type": "json_invalid",
                "loc": ["body", pos],
                "msg": "JSON decode error",
                "ctx": { "error": why },
            }] }),
            ApiError::Validation(invalid) => json!({ "detail": [invalid.to_json()] }),
            ApiError::Internal(detail) => {
                eprintln!("internal error: {detail}");
                json!({ "detail": self.to_string() })
            }
            _ => json!({ "detail": self.to_string() }),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::Validation(invalid)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(format!("sqlx: {e}"))
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("rusqlite: {e}"))
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.body())).into_response()
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.status())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        actix_web::HttpResponse::build(self.status_code()).json(self.body())
    }
}

// ANCHOR: parse_new_user
/// Parses and validates a `POST /users` body the way FastAPI and Pydantic
/// do: size first (413, ours), then JSON syntax (422 `json_invalid`), then
/// shape and content (422 `missing`, `string_type`, `value_error`).
pub fn parse_new_user(body: &[u8]) -> Result<NewUser, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if body.is_empty() {
        return Err(Invalid::missing(json!(["body"])).into()); // no body at all
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| json_invalid(body, &e))?;
    let Some(fields) = value.as_object() else {
        let msg = "Input should be a valid dictionary or object to extract fields from";
        return Err(Invalid::new("model_attributes_type", json!(["body"]), msg).into());
    };
    let email = match fields.get("email") {
        None => return Err(Invalid::missing(json!(["body", "email"])).into()),
        Some(Value::String(email)) => email.clone(),
        Some(_) => {
            let msg = "Input should be a valid string";
            return Err(Invalid::new("string_type", json!(["body", "email"]), msg).into());
        }
    };
    validate_email(&email)?;
    Ok(NewUser { email })
}
// ANCHOR_END: parse_new_user

/// A 422 `json_invalid` for a body serde_json could not parse, with the
/// byte offset where it stopped (Python's `json` may stop a byte or two
/// elsewhere: the offset is serde_json's).
fn json_invalid(body: &[u8], e: &serde_json::Error) -> ApiError {
    let line_start: usize = body
        .split(|&b| b == b'\n')
        .take(e.line().saturating_sub(1))
        .map(|line| line.len() + 1)
        .sum();
    ApiError::BadJson {
        pos: line_start + e.column().saturating_sub(1),
        why: e.to_string(),
    }
}

/// A deliberately simple e-mail rule: one `@`, a non-empty local part, a
/// domain with a dot that neither starts nor ends the domain, no whitespace,
/// at most [`MAX_EMAIL_CHARS`] characters. Real validation is sending a mail.
/// `None` when `email` passes, else why not.
pub fn email_problem(email: &str) -> Option<&'static str> {
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Some("longer than 254 characters");
    }
    if email.chars().any(char::is_whitespace) {
        return Some("contains whitespace");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Some("missing '@'");
    };
    if local.is_empty() || domain.contains('@') {
        return Some("expected exactly one '@' after a non-empty name");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Some("the domain needs a dot, as in example.com");
    }
    None
}

/// [`email_problem`] as the 422 of `POST /users`' `email` field.
pub fn validate_email(email: &str) -> Result<(), ApiError> {
    match email_problem(email) {
        None => Ok(()),
        Some(why) => Err(Invalid::value_error(json!(["body", "email"]), why).into()),
    }
}

/// Parses the `{id}` of `/users/{id}`: a positive integer, else 422 (as
/// FastAPI answers for a `user_id: int` path parameter with `gt=0`).
pub fn parse_user_id(text: &str) -> Result<i64, ApiError> {
    let loc = json!(["path", "user_id"]);
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        Ok(_) => Err(Invalid::new("greater_than", loc, "Input should be greater than 0").into()),
        Err(_) => Err(Invalid::not_an_integer(loc).into()),
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no user with id {id}"))
}

/// Inserts a user (async, sqlx). Takes any executor — a pool, a connection
/// or a transaction (`&mut *tx`) — so chapter 5 can call it inside one.
pub async fn insert_user<'e, E>(executor: E, new: &NewUser) -> Result<User, ApiError>
where
    E: sqlx::SqliteExecutor<'e>,
{
    let row: Result<(i64, String), sqlx::Error> =
        sqlx::query_as("INSERT INTO users (email) VALUES (?) RETURNING id, email")
            .bind(&new.email)
            .fetch_one(executor)
            .await;
    match row {
        Ok((id, email)) => Ok(User { id, email }),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            Err(ApiError::Conflict(new.email.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads one user (async, sqlx); 404 if there is none.
pub async fn get_user<'e, E>(executor: E, id: i64) -> Result<User, ApiError>
where
    E: sqlx::SqliteExecutor<'e>,
{
    let row: Option<(i64, String)> = sqlx::query_as("SELECT id, email FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(executor)
        .await?;
    row.map(|(id, email)| User { id, email })
        .ok_or_else(|| not_found(id))
}

/// Creates the table (async, sqlx).
pub async fn create_schema<'e, E>(executor: E) -> Result<(), ApiError>
where
    E: sqlx::SqliteExecutor<'e>,
{
    sqlx::query(SCHEMA).execute(executor).await?;
    Ok(())
}

/// Inserts a user (blocking, rusqlite): the same SQL, the same errors.
pub fn insert_user_sync(conn: &rusqlite::Connection, new: &NewUser) -> Result<User, ApiError> {
    let row = conn.query_row(
        "INSERT INTO users (email) VALUES (?1) RETURNING id, email",
        [&new.email],
        |r| {
            Ok(User {
                id: r.get(0)?,
                email: r.get(1)?,
            })
        },
    );
    match row {
        Ok(user) => Ok(user),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            Err(ApiError::Conflict(new.email.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads one user (blocking, rusqlite); 404 if there is none.
pub fn get_user_sync(conn: &rusqlite::Connection, id: i64) -> Result<User, ApiError> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT id, email FROM users WHERE id = ?1", [id], |r| {
        Ok(User {
            id: r.get(0)?,
            email: r.get(1)?,
        })
    })
    .optional()?
    .ok_or_else(|| not_found(id))
}

/// Creates the table (blocking, rusqlite).
pub fn create_schema_sync(conn: &rusqlite::Connection) -> Result<(), ApiError> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_map_to_the_right_status() {
        let status = |b: &[u8]| {
            parse_new_user(b)
                .map(|_| 200)
                .unwrap_or_else(|e| e.status())
        };
        assert_eq!(status(br#"{"email":"ann@example.com"}"#), 200);
        assert_eq!(status(br#"{"email":"ann@example.com","name":"Ann"}"#), 200);
        assert_eq!(status(br#"{"email":"#), 422);
        assert_eq!(status(b""), 422);
        assert_eq!(status(b"[]"), 422);
        assert_eq!(status(br#"{}"#), 422);
        assert_eq!(status(br#"{"email":5}"#), 422);
        assert_eq!(status(br#"{"email":"not-an-email"}"#), 422);
        assert_eq!(status(br#"{"email":"a@b"}"#), 422);
        assert_eq!(status(&vec![b' '; MAX_BODY_BYTES + 1]), 413);
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(parse_user_id("7"), Ok(7));
        assert_eq!(parse_user_id("0").unwrap_err().status(), 422);
        assert_eq!(parse_user_id("abc").unwrap_err().status(), 422);
    }

    #[test]
    fn rusqlite_maps_duplicates_to_409_and_missing_to_404() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        create_schema_sync(&conn).unwrap();
        let ann = NewUser {
            email: "ann@example.com".into(),
        };
        let user = insert_user_sync(&conn, &ann).unwrap();
        assert_eq!(get_user_sync(&conn, user.id).unwrap(), user);
        assert_eq!(insert_user_sync(&conn, &ann).unwrap_err().status(), 409);
        assert_eq!(get_user_sync(&conn, 999).unwrap_err().status(), 404);
    }

    #[tokio::test]
    async fn sqlx_maps_duplicates_to_409_inside_a_transaction() {
        // One connection: each in-memory SQLite connection is its own database.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        create_schema(&pool).await.unwrap();
        let ann = NewUser {
            email: "ann@example.com".into(),
        };
        let mut tx = pool.begin().await.unwrap();
        let user = insert_user(&mut *tx, &ann).await.unwrap();
        assert_eq!(insert_user(&mut *tx, &ann).await.unwrap_err().status(), 409);
        tx.commit().await.unwrap();
        assert_eq!(get_user(&pool, user.id).await.unwrap(), user);
        assert_eq!(get_user(&pool, 999).await.unwrap_err().status(), 404);
    }
}
