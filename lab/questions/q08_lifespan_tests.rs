//! Question 8: why doesn't lifespan run in my tests? A deterministic
//! demonstration, not a benchmark: one FastAPI app whose lifespan opens what
//! the route needs, called the four ways a test suite calls it
//! (`python/questions/q08_lifespan_tests.py`), beside the Rust twin, where
//! the router cannot be built without the resources startup makes.
//!
//! Leaves out: pytest fixtures (they only wrap these four ways), and
//! `TestClient`'s own event loop thread.

use std::time::Duration;

use super::Ctx;
use super::common::figure_at_once;
use super::script::{run_script, str_at};
use crate::lifespan::{Config, Framework, Recorder, StepKind};
use crate::python::Venv;
use crate::report::{Cell, Table};

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let columns = [
        "stack",
        "how the test calls the app",
        "startup ran",
        "GET /pool",
        "shutdown ran",
        "events",
    ];
    figure_at_once(
        ctx,
        None,
        (columns, "events"),
        ("FastAPI", python_rows),
        |table| {
            let (startup, status, shutdown) = rust_twin()?;
            table.row([
                Cell::from("Rust (ch. 5, axum)"),
                Cell::from("lifespan::start, then a request"),
                Cell::from(yes(startup)),
                Cell::from(status.to_string()),
                Cell::from(yes(shutdown)),
                Cell::from(usize::from(startup) + usize::from(shutdown)),
            ]);
            Ok(())
        },
    )
}

fn python_rows(venv: &Venv, table: &mut Table) -> anyhow::Result<()> {
    let out = run_script(venv, "q08_lifespan_tests.py", &[], Duration::from_secs(60))?;
    let fastapi = str_at(&out, "fastapi")?;
    let stack = format!("FastAPI {fastapi}");
    for row in out["rows"].as_array().into_iter().flatten() {
        let (startup, shutdown) = (
            row["startup"].as_bool() == Some(true),
            row["shutdown"].as_bool() == Some(true),
        );
        table.row([
            Cell::from(&stack),
            Cell::from(str_at(row, "way")?),
            Cell::from(yes(startup)),
            Cell::from(str_at(row, "request")?),
            Cell::from(yes(shutdown)),
            Cell::from(usize::from(startup) + usize::from(shutdown)),
        ]);
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

// ANCHOR: rust_twin
/// The Rust twin: `router(app)` takes the `AppResources` that startup
/// built, so a test has no way to reach a route without running startup
/// first; shutdown runs when the test shuts the server down.
fn rust_twin() -> anyhow::Result<(bool, u16, bool)> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::new(dir.path().join("q08.sqlite"));
    config.model_entries = 1_000;
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Runtime::new()?;
    let status = runtime.block_on(async {
        let addr = "127.0.0.1:0".parse()?;
        let server =
            crate::lifespan::start(Framework::Axum, config, recorder.clone(), addr).await?;
        let url = server.url("/model");
        let status = tokio::task::spawn_blocking(move || {
            reqwest::blocking::get(url).map(|r| r.status().as_u16())
        })
        .await??;
        server.shutdown().await?;
        anyhow::Ok(status)
    })?;
    Ok((
        recorder.has(StepKind::StartupBegan),
        status,
        recorder.has(StepKind::ModelDropped),
    ))
}
// ANCHOR_END: rust_twin
