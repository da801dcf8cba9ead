//! The handlers' bodies, written once and called by both the axum and the
//! actix-web app, so the two frameworks run the same SQL in the same order
//! and differ only in how they hand the request-scoped connection over.
//!
//! Transactions are explicit: each handler says where it commits and where
//! it rolls back. Nothing commits "because the request ended" (compare
//! Django's `ATOMIC_REQUESTS`, which wraps the whole view implicitly).
//!
//! Left out: pagination parameters, authentication, output formats other
//! than newline-delimited JSON for the export.

use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use serde::Deserialize;
use sqlx::SqlitePool;

use super::events::Step;
use super::scope::{RequestDb, ScopeError, chunk_pause};
use crate::users::{ApiError, Invalid, NewUser, User, email_problem, insert_user, parse_new_user};

// ANCHOR: create_user
/// `POST /users`: validate, (optionally) wait on "upstream", then write in
/// one explicit transaction: commit on success, roll back on any error.
pub async fn create_user(
    db: &mut RequestDb,
    body: &[u8],
    work: Duration,
) -> Result<User, ScopeError> {
    db.log().record(Step::HandlerStarted);
    let new = parse_new_user(body)?;
    if !work.is_zero() {
        tokio::time::sleep(work).await; // e.g. asking a fraud-check service
    }
    let mut tx = db.begin().await?;
    match insert_user(tx.conn(), &new).await {
        Ok(user) => {
            tx.commit().await?;
            Ok(user)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e.into())
        }
    }
}
// ANCHOR_END: create_user

/// What the broken-on-purpose `POST /users` needs: how long it waits
/// between its 201 and its write, and the next id to hand out (it answers
/// before SQLite could assign one, so it picks ids itself, as an app that
/// hands out UUIDs would).
#[derive(Debug)]
pub struct AckFirst {
    pub delay: Duration,
    next_id: AtomicI64,
}

impl AckFirst {
    /// Starts handing out ids after the largest one stored.
    pub async fn new(pool: &SqlitePool, delay: Duration) -> anyhow::Result<Self> {
        let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM users")
            .fetch_one(pool)
            .await?;
        Ok(Self {
            delay,
            next_id: AtomicI64::new(max + 1),
        })
    }
}

// ANCHOR: create_user_ack_first
/// **Broken on purpose** (only the crash drill starts it, with the hidden
/// `serve --broken-ack-before-commit-ms`): `POST /users` that answers 201
/// *before* the row is committed and writes it `ack.delay` later in a
/// background task — FastAPI's `BackgroundTasks`, a write-behind queue. A
/// crash in between loses a write the client was told is stored; the crash
/// drill must catch it, or the drill proves nothing.
pub async fn create_user_ack_first(
    pool: &SqlitePool,
    ack: &AckFirst,
    body: &[u8],
    work: Duration,
) -> Result<User, ScopeError> {
    let new = parse_new_user(body)?;
    if !work.is_zero() {
        tokio::time::sleep(work).await;
    }
    let user = User {
        id: ack.next_id.fetch_add(1, Ordering::SeqCst),
        email: new.email,
    };
    let (pool, row, delay) = (pool.clone(), user.clone(), ack.delay);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await; // the 201 is on its way already
        let _ = sqlx::query("INSERT INTO users (id, email) VALUES (?, ?)") // errors: lost too
            .bind(row.id)
            .bind(&row.email)
            .execute(&pool)
            .await;
    });
    Ok(user) // answered: the write has not happened yet
}
// ANCHOR_END: create_user_ack_first

/// The body of `POST /users/batch`.
#[derive(Debug, Deserialize)]
pub struct NewUsers {
    pub emails: Vec<String>,
}

/// Most users one batch may create.
pub const MAX_BATCH: usize = 100;

// ANCHOR: create_batch
/// `POST /users/batch` (the chapter's exercise): all or nothing. Every
/// address is validated before the transaction opens; then one insert per
/// address, and the first failure (a duplicate: 409) rolls back them all.
pub async fn create_batch(db: &mut RequestDb, body: &[u8]) -> Result<Vec<User>, ScopeError> {
    db.log().record(Step::HandlerStarted);
    let invalid = |loc, why: &str| ApiError::from(Invalid::value_error(loc, why));
    let batch: NewUsers = serde_json::from_slice(body).map_err(|e| {
        let why = format!("expected {{\"emails\": [...]}}: {e}");
        invalid(serde_json::json!(["body"]), &why)
    })?;
    if batch.emails.is_empty() || batch.emails.len() > MAX_BATCH {
        let why = format!("a batch holds 1 to {MAX_BATCH} emails");
        return Err(invalid(serde_json::json!(["body", "emails"]), &why).into());
    }
    for (i, email) in batch.emails.iter().enumerate() {
        if let Some(why) = email_problem(email) {
            return Err(invalid(serde_json::json!(["body", "emails", i]), why).into());
        }
    }
    let mut tx = db.begin().await?;
    let mut created = Vec::with_capacity(batch.emails.len());
    for email in batch.emails {
        match insert_user(tx.conn(), &NewUser { email }).await {
            Ok(user) => created.push(user),
            Err(e) => {
                tx.rollback().await?; // undo the inserts before this one
                return Err(e.into());
            }
        }
    }
    tx.commit().await?;
    Ok(created)
}
// ANCHOR_END: create_batch

/// One chunk of the export: the users as newline-delimited JSON.
fn ndjson(users: &[User]) -> Bytes {
    let mut out = Vec::new();
    for user in users {
        // Serializing two plain fields cannot fail.
        serde_json::to_writer(&mut out, user).expect("User serializes");
        out.push(b'\n');
    }
    Bytes::from(out)
}

async fn all_users(db: &mut RequestDb) -> Result<Vec<User>, ScopeError> {
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, email FROM users ORDER BY id")
        .fetch_all(db.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, email)| User { id, email })
        .collect())
}

/// The item type of both export streams.
pub type Chunk = Result<Bytes, io::Error>;

// ANCHOR: export_release_first
/// `GET /users/export?hold=false`: read everything, give the connection
/// back, *then* stream. The pool is free while a slow client reads.
pub async fn export_release_first(
    mut db: RequestDb,
    page_size: u32,
    delay: Duration,
) -> Result<impl Stream<Item = Chunk> + Send + 'static, ScopeError> {
    db.log().record(Step::HandlerStarted);
    let users = all_users(&mut db).await?;
    let log = db.log().clone();
    drop(db); // `released` is recorded here, before the first chunk
    let pages: Vec<Vec<User>> = users
        .chunks(page_size.max(1) as usize)
        .map(<[User]>::to_vec)
        .collect();
    Ok(
        stream::iter(pages.into_iter().zip(0u32..)).then(move |(page, n)| {
            let log = log.clone();
            async move {
                tokio::time::sleep(chunk_pause(n, delay)).await;
                log.record(Step::Chunk(n + 1));
                Ok(ndjson(&page))
            }
        }),
    )
}
// ANCHOR_END: export_release_first

// ANCHOR: export_held
/// `GET /users/export?hold=true`: the stream owns the connection and reads
/// one page per chunk (keyset pagination), so the connection goes back to
/// the pool only when the stream ends — or is dropped because the client
/// disconnected. Memory stays flat; a pool connection is held meanwhile.
pub fn export_held(
    db: RequestDb,
    page_size: u32,
    delay: Duration,
) -> impl Stream<Item = Chunk> + Send + 'static {
    db.log().record(Step::HandlerStarted);
    let limit = i64::from(page_size.max(1));
    stream::unfold(Some((db, 0_i64, 0_u32)), move |state| async move {
        let (mut db, after, n) = state?;
        tokio::time::sleep(chunk_pause(n, delay)).await;
        let rows: Result<Vec<(i64, String)>, sqlx::Error> =
            sqlx::query_as("SELECT id, email FROM users WHERE id > ? ORDER BY id LIMIT ?")
                .bind(after)
                .bind(limit)
                .fetch_all(db.conn())
                .await;
        let rows = match rows {
            Ok(rows) if rows.is_empty() => return None, // drops `db`: released
            Ok(rows) => rows,
            Err(e) => return Some((Err(io::Error::other(e)), None)),
        };
        let last_page = (rows.len() as i64) < limit;
        let last_id = rows.last().map_or(after, |r| r.0);
        let users: Vec<User> = rows
            .into_iter()
            .map(|(id, email)| User { id, email })
            .collect();
        db.log().record(Step::Chunk(n + 1));
        // On the last page, let go of the connection with the last chunk.
        let next = (!last_page).then_some((db, last_id, n + 1));
        Some((Ok(ndjson(&users)), next))
    })
}
// ANCHOR_END: export_held

/// `GET /model`: proof the expensive resource is loaded and shared.
pub fn model_info(model: &super::resources::Model, text: Option<&str>) -> serde_json::Value {
    let text = text.unwrap_or("ann@example.com");
    serde_json::json!({ "entries": model.entries(), "text": text, "score": model.score(text) })
}
