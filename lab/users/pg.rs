//! The users resource on PostgreSQL: the same reads and writes as the
//! SQLite functions in [`super`], with the same answers — once with sqlx's
//! Postgres driver (async, for the event-loop models) and once with the
//! `postgres` crate (blocking, one connection per worker thread, for the
//! sync models).
//!
//! Chapter 6 runs the Rust twins here so that the database row compares
//! like with like: FastAPI on asyncpg and DRF on psycopg talk to the same
//! server over the same loopback. The table is [`crate::postgres::SCHEMA`].
//!
//! One difference from the plain `INSERT` the Python apps send: a
//! duplicate e-mail must not use up an id, because SQLite's AUTOINCREMENT
//! does not, and the contract (tests/api_contract.rs) reads the next user
//! back by its id. PostgreSQL takes the id from its sequence *before* the
//! UNIQUE check, so the insert below only produces a row (and only then
//! draws an id) when no user has that e-mail yet. Two clients racing with
//! the same new e-mail still meet the UNIQUE constraint, answered 409 too.
//! Left out: transactions (chapter 5 runs on SQLite).

use super::{ApiError, NewUser, User, not_found};

/// Inserts only when the e-mail is new: no row back means a duplicate.
const INSERT: &str = "INSERT INTO users (email) \
    SELECT $1::text WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = $1::text) \
    RETURNING id, email";
const SELECT: &str = "SELECT id, email FROM users WHERE id = $1";

/// Inserts a user (async, sqlx); 409 when the e-mail is taken.
pub async fn insert_user(pool: &sqlx::PgPool, new: &NewUser) -> Result<User, ApiError> {
    let row: Result<Option<(i64, String)>, sqlx::Error> = sqlx::query_as(INSERT)
        .bind(&new.email)
        .fetch_optional(pool)
        .await;
    match row {
        Ok(Some((id, email))) => Ok(User { id, email }),
        Ok(None) => Err(ApiError::Conflict(new.email.clone())),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            Err(ApiError::Conflict(new.email.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads one user (async, sqlx); 404 if there is none.
pub async fn get_user(pool: &sqlx::PgPool, id: i64) -> Result<User, ApiError> {
    let row: Option<(i64, String)> = sqlx::query_as(SELECT).bind(id).fetch_optional(pool).await?;
    row.map(|(id, email)| User { id, email })
        .ok_or_else(|| not_found(id))
}

/// Creates the table if it is not there (async, sqlx).
pub async fn create_schema(pool: &sqlx::PgPool) -> Result<(), ApiError> {
    sqlx::query(crate::postgres::SCHEMA).execute(pool).await?;
    Ok(())
}

/// Inserts a user (blocking, `postgres`): the same SQL, the same errors.
pub fn insert_user_sync(client: &mut ::postgres::Client, new: &NewUser) -> Result<User, ApiError> {
    match client.query_opt(INSERT, &[&new.email]) {
        Ok(Some(row)) => Ok(User {
            id: row.try_get(0)?,
            email: row.try_get(1)?,
        }),
        Ok(None) => Err(ApiError::Conflict(new.email.clone())),
        Err(e) if e.code() == Some(&::postgres::error::SqlState::UNIQUE_VIOLATION) => {
            Err(ApiError::Conflict(new.email.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads one user (blocking, `postgres`); 404 if there is none.
pub fn get_user_sync(client: &mut ::postgres::Client, id: i64) -> Result<User, ApiError> {
    let row = client.query_opt(SELECT, &[&id])?;
    match row {
        Some(row) => Ok(User {
            id: row.try_get(0)?,
            email: row.try_get(1)?,
        }),
        None => Err(not_found(id)),
    }
}

/// Creates the table if it is not there (blocking, `postgres`).
pub fn create_schema_sync(client: &mut ::postgres::Client) -> Result<(), ApiError> {
    client.batch_execute(crate::postgres::SCHEMA)?;
    Ok(())
}

impl From<::postgres::Error> for ApiError {
    fn from(e: ::postgres::Error) -> Self {
        ApiError::Internal(format!("postgres: {e}"))
    }
}
