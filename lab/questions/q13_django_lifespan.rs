//! Question 13: where is Django's lifespan? Django's ASGI handler does not
//! speak ASGI's lifespan protocol (uvicorn says so in its log); what Django
//! readers have instead is `AppConfig.ready()` for startup and, for the
//! database, `CONN_MAX_AGE` or (Django 5.1+, PostgreSQL) a connection pool.
//! Measured on a throwaway PostgreSQL ([`crate::postgres`]): how many
//! connections N requests open (distinct `pg_backend_pid()`s seen by the
//! view, `python/questions/djasync/views.py`) and what each request costs,
//! with `CONN_MAX_AGE=0`, persistent, and the pool; beside FastAPI's
//! lifespan and the Rust twin (the pool built before `serve`, chapter 5).
//!
//! Leaves out: a shutdown hook (Django has none; `atexit` is not one).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Ctx;
use super::common::figure;
use super::shared::{at_once, both};
use crate::lifespan::{Config, Framework, Recorder, Step};
use crate::postgres::Postgres;
use crate::process::{ChildServer, Ready};
use crate::python::{Venv, WorkerClass, gunicorn};
use crate::report::{Cell, Table, duration};
use crate::stacks;

/// What uvicorn logs when an app does not answer the lifespan messages.
pub const UNSUPPORTED: &str = "ASGI 'lifespan' protocol appears unsupported";

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let requests = ctx.pick(20, 200);
    let note = format!(
        "{requests} sequential requests from one client to one gunicorn sync worker \
         (which closes the HTTP connection after each answer)"
    );
    let columns = [
        "stack",
        "startup code lives in",
        "lifespan ran",
        "DB setting",
        "connections opened",
        "mean latency",
    ];
    figure(
        ctx,
        Some(&note),
        (columns, "connections opened"),
        ("Python", |venv, table| {
            python_rows(ctx, venv, requests, table)
        }),
        |table| {
            let opened = rust_twin()?;
            table.row([
                Cell::from("Rust (ch. 5, axum)"),
                Cell::from("AppResources::start before serve"),
                Cell::from("yes"),
                Cell::from("sqlx pool"),
                Cell::from(opened as usize),
                Cell::from("—"),
            ]);
            Ok(())
        },
    )
}

fn python_rows(ctx: &Ctx, venv: &Venv, requests: usize, table: &mut Table) -> anyhow::Result<()> {
    // Does uvicorn run a lifespan for each app? Its log says. The two
    // servers and the cluster start at once; all three are the run's shared
    // ones (questions 12 and 4 use them too).
    let ((django, fastapi), pg) = both(
        || {
            both(
                || ctx.shared.django_asgi(venv),
                || ctx.shared.fastapi(venv, 1),
            )
        },
        || ctx.shared.postgres(),
    );
    let django_said = django?.log().contains(UNSUPPORTED);
    let fastapi = fastapi?;
    let fastapi_ran = fastapi.log().contains("Application startup complete")
        && !fastapi.log().contains(UNSUPPORTED);
    table.row([
        Cell::from("FastAPI (uvicorn)"),
        Cell::from("lifespan(app): before yield"),
        Cell::from(if fastapi_ran { "yes" } else { "no" }),
        Cell::from("asyncpg pool in lifespan"),
        Cell::from("—"),
        Cell::from("—"),
    ]);
    table.row([
        Cell::from("Django ASGI (uvicorn)"),
        Cell::from("AppConfig.ready()"),
        Cell::from(if django_said {
            "no: \"lifespan unsupported\""
        } else {
            "?"
        }),
        Cell::from("—"),
        Cell::from("—"),
        Cell::from("—"),
    ]);

    let pg = match pg {
        Ok(pg) => pg,
        Err(why) => {
            println!("(PostgreSQL rows skipped: {why})\n");
            return Ok(());
        }
    };
    let settings = settings(ctx);
    // One server per setting, all starting at once, then asked in turn.
    let servers = at_once(
        settings
            .iter()
            .map(|(setting, envs)| || django_wsgi(ctx, venv, pg, setting, envs)),
    );
    for ((setting, _), server) in settings.iter().zip(servers) {
        eprintln!("question 13: Django, {setting} …");
        let server = server?;
        let (opened, mean) = count_backends(&server, requests)?;
        ctx.shared.release(server);
        table.row([
            Cell::from("Django WSGI (gunicorn sync)"),
            Cell::from("AppConfig.ready()"),
            Cell::from("no lifespan in WSGI"),
            Cell::from(*setting),
            Cell::from(opened),
            duration(mean),
        ]);
    }
    Ok(())
}

/// Django's database settings, as environment variables of the app.
type Setting = (&'static str, [(&'static str, &'static str); 2]);

/// The settings compared: a connection per request, Django 5.1's pool, a
/// connection kept for ever (`--quick`: the first two, the two ends).
fn settings(ctx: &Ctx) -> &'static [Setting] {
    const SETTINGS: [Setting; 3] = [
        (
            "CONN_MAX_AGE=0",
            [("WW_CONN_MAX_AGE", "0"), ("WW_DJANGO_POOL", "0")],
        ),
        (
            "OPTIONS pool (5.1+)",
            [("WW_CONN_MAX_AGE", "0"), ("WW_DJANGO_POOL", "1")],
        ),
        (
            "CONN_MAX_AGE=None",
            [("WW_CONN_MAX_AGE", "none"), ("WW_DJANGO_POOL", "0")],
        ),
    ];
    if ctx.quick {
        &SETTINGS[..2]
    } else {
        &SETTINGS[..]
    }
}

/// [`start_django_wsgi`] with `setting`, kept by the run so that it can
/// start with the group's (`--quick`).
fn django_wsgi(
    ctx: &Ctx,
    venv: &Venv,
    pg: &Postgres,
    setting: &str,
    envs: &[(&str, &str)],
) -> anyhow::Result<Arc<ChildServer>> {
    let key = format!("q13 django-wsgi {setting}");
    ctx.shared
        .server(&key, || start_django_wsgi(venv, &pg.dsn(), envs))
}

/// Starts what [`run`] will ask for (the shared servers and cluster, then
/// one Django per setting): see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    let Ok(venv) = ctx.venv() else { return };
    let (_, pg) = both(
        || {
            both(
                || ctx.shared.django_asgi(venv).map(drop),
                || ctx.shared.fastapi(venv, 1).map(drop),
            )
        },
        || ctx.shared.postgres(),
    );
    if let Ok(pg) = pg {
        at_once(
            settings(ctx)
                .iter()
                .map(|(setting, envs)| || django_wsgi(ctx, venv, pg, setting, envs).map(drop)),
        );
    }
}

/// Chapter 6's Django project (with the question's views) under one
/// gunicorn sync worker, on PostgreSQL.
fn start_django_wsgi(venv: &Venv, dsn: &str, envs: &[(&str, &str)]) -> anyhow::Result<ChildServer> {
    let port = stacks::free_port()?;
    let mut command = gunicorn(venv, "questions.djasync.wsgi", port, 1, WorkerClass::Sync);
    command.env("WW_DATABASE", dsn).envs(envs.iter().copied());
    let ready = Ready::Accepts(([127, 0, 0, 1], port).into());
    ChildServer::start(command, ready, stacks::READY_WITHIN)
}

// ANCHOR: count_backends
/// `requests` sequential `GET /async/backend-pid`: each answer names the
/// PostgreSQL backend that served it; a new pid is a new connection.
fn count_backends(server: &ChildServer, requests: usize) -> anyhow::Result<(usize, Duration)> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let url = server.url("/async/backend-pid");
    // Warm: the worker imports Django after the port accepts, then connects.
    stacks::drain(server, "/async/backend-pid", stacks::READY_WITHIN)?;
    let mut pids = HashSet::new();
    let started = Instant::now();
    for _ in 0..requests {
        let answer: serde_json::Value = client.get(&url).send()?.error_for_status()?.json()?;
        pids.insert(answer["pid"].as_i64().unwrap_or(-1));
    }
    Ok((pids.len(), started.elapsed() / requests as u32))
}
// ANCHOR_END: count_backends

/// The Rust twin: the pool opens in `AppResources::start`, before the port
/// does; the recorder says how many connections it opened.
fn rust_twin() -> anyhow::Result<u32> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::new(dir.path().join("q13.sqlite"));
    config.model_entries = 1_000;
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let server = crate::lifespan::start(
            Framework::Axum,
            config,
            recorder.clone(),
            "127.0.0.1:0".parse()?,
        )
        .await?;
        server.shutdown().await?;
        anyhow::Ok(())
    })?;
    Ok(recorder
        .events()
        .iter()
        .find_map(|e| match e.step {
            Step::PoolOpened { connections } => Some(connections),
            _ => None,
        })
        .unwrap_or(0))
}
