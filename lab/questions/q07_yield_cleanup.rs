//! Question 7: when does my `yield` dependency's cleanup run? The event
//! order and how long a database connection is held, on the installed
//! FastAPI (`python/questions/q07_yield_cleanup.py`: a plain route, a
//! `StreamingResponse` route, and the same with `Depends(scope="function")`
//! where FastAPI has it), beside chapter 5's Rust twin: the connection is an
//! extractor (`RequestDb`) given back by `Drop`, either before the stream
//! (`hold=false`) or when the stream ends (`hold=true`).
//!
//! Leaves out: sync (`def`) dependencies, whose cleanup runs in the
//! threadpool but at the same point; background tasks.

use std::time::Duration;

use super::Ctx;
use super::common::figure;
use super::script::{f64_at, run_script, str_at};
use crate::lifespan::{Config, Framework, Recorder, StepKind};
use crate::python::Venv;
use crate::report::{Cell, Table, duration};

/// Chunks of the streamed response and the pause before each.
pub const CHUNKS: u32 = 5;
pub const CHUNK_DELAY: Duration = Duration::from_millis(20);

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let note = format!(
        "a {CHUNKS}-chunk response, {} before each chunk; the connection is held from `acquired` to `released`",
        crate::report::human(CHUNK_DELAY)
    );
    let columns = [
        "stack",
        "route",
        "cleanup scope",
        "order of events",
        "connection held",
        "response took",
    ];
    // One after the other even with `--quick`: the servers of later
    // questions start in the background meanwhile, and the twin times a
    // connection held for microseconds.
    figure(
        ctx,
        Some(&note),
        (columns, "connection held"),
        ("FastAPI", python_rows),
        |table| {
            for twin in rust_twin()? {
                table.row([
                    Cell::from("Rust (ch. 5, axum)"),
                    Cell::from(twin.route),
                    Cell::from("Drop of RequestDb"),
                    Cell::from(twin.order.join(" → ")),
                    duration(twin.held),
                    duration(twin.took),
                ]);
            }
            Ok(())
        },
    )
}

fn python_rows(venv: &Venv, table: &mut Table) -> anyhow::Result<()> {
    let out = run_script(
        venv,
        "q07_yield_cleanup.py",
        &[
            "--chunks",
            &CHUNKS.to_string(),
            "--delay-ms",
            &CHUNK_DELAY.as_millis().to_string(),
        ],
        Duration::from_secs(60),
    )?;
    let stack = format!("FastAPI {}", str_at(&out, "fastapi")?);
    if out["has_scope"].as_bool() != Some(true) {
        println!("(this FastAPI has no Depends(scope=...): that row is left out)\n");
    }
    for row in out["rows"].as_array().into_iter().flatten() {
        let order: Vec<&str> = row["order"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        table.row([
            Cell::from(&stack),
            Cell::from(str_at(row, "route")?),
            Cell::from(str_at(row, "scope")?),
            Cell::from(order.join(" → ")),
            ms(f64_at(row, "held_ms")?),
            ms(f64_at(row, "response_ms")?),
        ]);
    }
    Ok(())
}

fn ms(ms: f64) -> Cell {
    duration(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
}

struct Twin {
    route: &'static str,
    /// The request's id in the recorder (the `x-request-id` header).
    id: u64,
    order: Vec<&'static str>,
    held: Duration,
    took: Duration,
}

/// Chapter 5's export, both ways, on a fresh database of `2 × CHUNKS` rows
/// (the export pages two rows per chunk).
fn rust_twin() -> anyhow::Result<Vec<Twin>> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::new(dir.path().join("q07.sqlite"));
    config.model_entries = 1_000;
    config.page_size = 2;
    config.chunk_delay = CHUNK_DELAY;
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let addr = "127.0.0.1:0".parse()?;
        let server =
            crate::lifespan::start(Framework::Axum, config, recorder.clone(), addr).await?;
        let base = server.url("");
        let twins = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Twin>> {
            let client = reqwest::blocking::Client::new();
            for i in 0..2 * CHUNKS {
                client
                    .post(format!("{base}/users"))
                    .body(format!(r#"{{"email": "q07-{i}@example.com"}}"#))
                    .header("content-type", "application/json")
                    .send()?
                    .error_for_status()?;
            }
            let mut twins = Vec::new();
            for (route, hold) in [
                ("/users/export?hold=false", false),
                ("/users/export?hold=true", true),
            ] {
                let started = std::time::Instant::now();
                let response = client
                    .get(format!("{base}/users/export?hold={hold}"))
                    .send()?;
                let id: u64 = response
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                response.error_for_status()?.bytes()?;
                let took = started.elapsed();
                std::thread::sleep(Duration::from_millis(20));
                twins.push((route, id, took));
            }
            Ok(twins
                .into_iter()
                .map(|(route, id, took)| Twin {
                    route,
                    id,
                    order: Vec::new(),
                    held: Duration::ZERO,
                    took,
                })
                .collect())
        })
        .await??;
        server.shutdown().await?;
        // Read the events now that every request has finished.
        let events = recorder.events();
        let twins = twins
            .into_iter()
            .map(|mut twin| {
                let id = twin.id;
                let at = |kind: StepKind| {
                    events
                        .iter()
                        .find(|e| e.request == Some(id) && e.step.kind() == kind)
                        .map(|e| e.at)
                };
                twin.held = match (at(StepKind::Acquired), at(StepKind::Released)) {
                    (Some(a), Some(r)) => r.saturating_sub(a),
                    _ => Duration::ZERO,
                };
                twin.order = recorder
                    .request_names(id)
                    .into_iter()
                    .filter(|n| *n != "received")
                    .collect();
                twin
            })
            .collect();
        anyhow::Ok(twins)
    })
}
