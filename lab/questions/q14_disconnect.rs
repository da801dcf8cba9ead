//! Question 14: what happens to my handler when the client disconnects?
//! A handler that writes a row, awaits, then writes a second row; the
//! client hangs up during the await. On the installed FastAPI / Starlette /
//! uvicorn (`python/questions/q14_disconnect.py`, plain route and
//! `StreamingResponse`) and in axum, where hyper drops the handler's future
//! at its next `.await` when the connection goes away. With and without a
//! transaction: what the database holds afterwards.
//!
//! Leaves out: `request.is_disconnected()` polling and middleware that
//! cancels on disconnect (neither is the default).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::post;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::io::AsyncWriteExt as _;

use super::Ctx;
use super::common::figure_at_once;
use super::script::{run_script, str_at};
use crate::python::Venv;
use crate::report::{Cell, Table};

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let (pause, hangup) = ctx.pick(
        (Duration::from_millis(150), Duration::from_millis(40)),
        (Duration::from_millis(500), Duration::from_millis(100)),
    );
    let note = format!(
        "the handler writes 'first', awaits {}, writes 'second'; the client hangs up after {}",
        crate::report::human(pause),
        crate::report::human(hangup)
    );
    let columns = [
        "stack",
        "route",
        "transaction",
        "the handler",
        "rows left",
        "rows written",
    ];
    let python = |venv: &Venv, table: &mut Table| {
        let out = run_script(
            venv,
            "q14_disconnect.py",
            &[
                "--pause-ms",
                &pause.as_millis().to_string(),
                "--hangup-ms",
                &hangup.as_millis().to_string(),
            ],
            Duration::from_secs(60),
        )?;
        let stack = format!(
            "FastAPI {} (Starlette {}, uvicorn {})",
            str_at(&out, "fastapi")?,
            str_at(&out, "starlette")?,
            str_at(&out, "uvicorn")?
        );
        for row in out["rows"].as_array().into_iter().flatten() {
            let rows: Vec<&str> = row["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            let route = match str_at(row, "route")? {
                "/stream" => "StreamingResponse",
                _ => "plain async def",
            };
            table.row([
                Cell::from(&stack),
                Cell::from(route),
                Cell::from(yes(row["tx"].as_bool() == Some(true))),
                Cell::from(str_at(row, "handler")?),
                Cell::from(listed(&rows)),
                Cell::from(rows.len()),
            ]);
        }
        Ok(())
    };
    let rust = |table: &mut Table| {
        let runtime = tokio::runtime::Runtime::new()?;
        for tx in [false, true] {
            let (handler, rows) = runtime.block_on(rust_twin(tx, pause, hangup))?;
            let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
            table.row([
                Cell::from("Rust (axum)"),
                Cell::from("async fn handler"),
                Cell::from(yes(tx)),
                Cell::from(handler),
                Cell::from(listed(&rows)),
                Cell::from(rows.len()),
            ]);
        }
        Ok(())
    };
    figure_at_once(
        ctx,
        Some(&note),
        (columns, "rows written"),
        ("FastAPI", python),
        rust,
    )
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn listed(rows: &[&str]) -> String {
    if rows.is_empty() {
        "none".to_string()
    } else {
        rows.join(", ")
    }
}

#[derive(Clone)]
struct App {
    pool: SqlitePool,
    pause: Duration,
    seen: Arc<Mutex<Vec<&'static str>>>,
}

/// Marks how far the handler got, even when its future is dropped.
struct Progress(Arc<Mutex<Vec<&'static str>>>, bool);

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.1 {
            self.0.lock().unwrap().push("dropped at its .await");
        }
    }
}

// ANCHOR: handler
async fn write_twice(
    State(app): State<App>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<&'static str, String> {
    let mut progress = Progress(app.seen.clone(), false);
    let e = |e: sqlx::Error| e.to_string();
    if q.get("tx").map(String::as_str) == Some("true") {
        let mut tx = app.pool.begin().await.map_err(e)?;
        sqlx::query("INSERT INTO rows(step) VALUES ('first')")
            .execute(&mut *tx)
            .await
            .map_err(e)?;
        tokio::time::sleep(app.pause).await; // the client hangs up here
        sqlx::query("INSERT INTO rows(step) VALUES ('second')")
            .execute(&mut *tx)
            .await
            .map_err(e)?;
        tx.commit().await.map_err(e)?; // a dropped `tx` rolls back instead
    } else {
        sqlx::query("INSERT INTO rows(step) VALUES ('first')")
            .execute(&app.pool)
            .await
            .map_err(e)?;
        tokio::time::sleep(app.pause).await; // the client hangs up here
        sqlx::query("INSERT INTO rows(step) VALUES ('second')")
            .execute(&app.pool)
            .await
            .map_err(e)?;
    }
    progress.1 = true;
    app.seen.lock().unwrap().push("finished");
    Ok("ok")
}
// ANCHOR_END: handler

async fn rust_twin(
    tx: bool,
    pause: Duration,
    hangup: Duration,
) -> anyhow::Result<(String, Vec<String>)> {
    let dir = tempfile::tempdir()?;
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("q14.sqlite"))
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await?;
    sqlx::query("CREATE TABLE rows (step TEXT)")
        .execute(&pool)
        .await?;
    let app = App {
        pool: pool.clone(),
        pause,
        seen: Arc::default(),
    };
    let router = Router::new()
        .route("/write", post(write_twice))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let mut client = tokio::net::TcpStream::connect(addr).await?;
    let path = format!("/write?tx={tx}");
    client
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        )
        .await?;
    tokio::time::sleep(hangup).await;
    drop(client); // the client gives up
    tokio::time::sleep(pause + Duration::from_millis(200)).await;
    server.abort();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT step FROM rows ORDER BY rowid")
        .fetch_all(&pool)
        .await?;
    let handler = app
        .seen
        .lock()
        .unwrap()
        .last()
        .copied()
        .unwrap_or("still running");
    pool.close().await;
    Ok((handler.to_string(), rows.into_iter().map(|r| r.0).collect()))
}
