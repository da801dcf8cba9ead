//! Question 15: gunicorn `--timeout`, `--preload`, `--max-requests`, each
//! measured on a small WSGI app (`python/questions/q15_app.py`): what a
//! request slower than `--timeout` gets, what `--preload` does to memory
//! summed over the workers (RSS counts shared pages once per process, PSS
//! splits them), and what `--max-requests` does to a leaking worker.
//!
//! Leaves out: gthread and uvicorn workers (`--timeout` means "no heartbeat
//! for this long" for them too, but an async worker heartbeats while a
//! request waits), `--max-requests-jitter`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Ctx;
use super::common::side_by_side;
use super::shared::at_once;
use crate::process::{ChildServer, Ready};
use crate::python::{Venv, WorkerClass, gunicorn};
use crate::report::{Cell, Table};
use crate::stacks;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let venv = match ctx.venv() {
        Ok(venv) => venv,
        Err(why) => {
            println!("(skipped: every row is gunicorn's: {why})");
            return Ok(());
        }
    };
    let rows = ctx.pick("100000", "1000000");
    let mut table = Table::new([
        "gunicorn flags",
        "what we did",
        "what happened",
        "memory (MiB)",
    ]);
    table.chart("memory (MiB)");

    // Every server at once (their imports share the cores instead of
    // waiting in turn; with `--quick`, beside questions 12 and 13's), then
    // each asked in turn.
    let leaks = ctx.pick(40, 200);
    let configs = configs(ctx);
    let [timeout, preloads @ .., recycle, recycled] = configs;
    let mut servers =
        at_once(configs.map(|(rows, flags)| move || server(ctx, venv, rows, flags))).into_iter();
    let mut next = || servers.next().expect("one server per configuration");
    debug_assert_eq!(timeout.0, rows);
    let recycles = [recycle.1, recycled.1];
    let preloads = preloads.map(|(_, flags)| flags);

    // --timeout: a 3 s request on a worker with a 1 s timeout. With
    // `--quick` it runs while the other servers are measured (it mostly
    // waits for gunicorn's arbiter; they read memory and count workers,
    // not time), its row still first.
    let server = next()?;
    let mut others = |table: &mut Table| -> anyhow::Result<()> {
        // --preload: four workers, the table loaded in each or once in the master.
        for flags in preloads {
            let server = next()?;
            wait_for_workers(&server, 4)?;
            let (rss, pss) = group_memory(server.pid());
            let label = flags_label(flags);
            table.row([
                Cell::from(format!("{label}: RSS summed")),
                Cell::from(format!("{rows} rows loaded at import")),
                Cell::from("what `ps` adds up"),
                mib(rss),
            ]);
            table.row([
                Cell::from(format!("{label}: PSS summed")),
                Cell::from(format!("{rows} rows loaded at import")),
                Cell::from("shared pages counted once"),
                mib(pss),
            ]);
            ctx.shared.release(server);
        }

        // --max-requests: a worker that leaks 1 MiB per request.
        for flags in recycles {
            let server = next()?;
            let mut pids = HashSet::new();
            for _ in 0..leaks {
                pids.insert(pid(&server, "/leak")?);
            }
            std::thread::sleep(Duration::from_millis(300));
            let (rss, _) = group_memory(server.pid());
            table.row([
                Cell::from(flags_label(flags)),
                Cell::from(format!("{leaks} × GET /leak (1 MiB kept each)")),
                Cell::from(format!("{} worker process(es) served them", pids.len())),
                mib(rss),
            ]);
            ctx.shared.release(server);
        }
        Ok(())
    };
    if ctx.quick {
        side_by_side(
            std::slice::from_mut(&mut table),
            |t| {
                t[0].row(timeout_row(&server)?);
                Ok(())
            },
            |t| others(&mut t[0]),
        )?;
        ctx.shared.release(server);
    } else {
        table.row(timeout_row(&server)?);
        ctx.shared.release(server);
        others(&mut table)?;
    }
    print!("{table}");
    Ok(())
}

/// The `--timeout 1` row: `GET /slow?s=3` on its one worker, what the
/// client got and whether the worker was killed and replaced.
fn timeout_row(server: &ChildServer) -> anyhow::Result<[Cell; 4]> {
    let first = pid(server, "/")?;
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let seen = match client.get(server.url("/slow?s=3")).send() {
        Ok(answer) => format!("HTTP {}", answer.status().as_u16()),
        Err(e) if e.is_timeout() => "no answer in 10 s".to_string(),
        Err(_) => "connection closed, no response".to_string(),
    };
    let took = started.elapsed();
    let after = pid(server, "/")?;
    let killed = server.log().contains("WORKER TIMEOUT");
    Ok([
        Cell::from("--timeout 1 (1 worker)"),
        Cell::from("GET /slow?s=3"),
        Cell::from(format!(
            "{seen} after {}; worker {}",
            crate::report::human(took),
            if killed && after != first {
                "killed and replaced"
            } else {
                "kept"
            }
        )),
        Cell::from("—"),
    ])
}

/// The servers, in the order [`run`] asks them: `--timeout`, the two
/// `--preload` cases, the two `--max-requests` cases (rows loaded at
/// import, flags).
fn configs(ctx: &Ctx) -> [(&'static str, Flags); 5] {
    let rows = ctx.pick("100000", "1000000");
    [
        (rows, (1, &["--timeout", "1"])),
        (rows, (4, &[])),
        (rows, (4, &["--preload"])),
        ("1000", (1, &[])),
        ("1000", (1, &["--max-requests", "25"])),
    ]
}

/// One configuration's server, kept by the run so that with `--quick` it
/// can start with its group's.
fn server(ctx: &Ctx, venv: &Venv, rows: &str, flags: Flags) -> anyhow::Result<Arc<ChildServer>> {
    let key = format!("q15 gunicorn {rows} {flags:?}");
    ctx.shared.server(&key, || start(venv, rows, flags))
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        at_once(configs(ctx).map(|(rows, flags)| move || server(ctx, venv, rows, flags).map(drop)));
    }
}

fn mib(bytes: u64) -> Cell {
    let m = bytes as f64 / (1024.0 * 1024.0);
    Cell::measured(format!("{m:.0}"), m)
}

fn start(venv: &Venv, rows: &str, (workers, flags): Flags) -> anyhow::Result<ChildServer> {
    let port = stacks::free_port()?;
    let mut command = gunicorn(
        venv,
        "questions.q15_app:app",
        port,
        workers,
        WorkerClass::Sync,
    );
    command.args(flags).env("WW_Q15_ROWS", rows);
    let server = ChildServer::start(
        command,
        Ready::Accepts(([127, 0, 0, 1], port).into()),
        stacks::READY_WITHIN,
    )?;
    Ok(server)
}

/// The pid of the worker that answered `GET path`.
fn pid(server: &ChildServer, path: &str) -> anyhow::Result<u64> {
    let answer: serde_json::Value = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .get(server.url(path))
        .send()?
        .error_for_status()?
        .json()?;
    answer["pid"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no pid in {answer}"))
}

/// The processes of process group `group`.
fn group_pids(group: u32) -> Vec<i32> {
    procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|p| p.stat().ok())
        .filter(|s| s.pgrp == group as i32)
        .map(|s| s.pid)
        .collect()
}

/// Waits until the master has `workers` workers and each has imported the
/// app (a worker's RSS stops growing).
fn wait_for_workers(server: &ChildServer, workers: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = 0;
    loop {
        let n = group_pids(server.pid()).len();
        let (rss, _) = group_memory(server.pid());
        if n > workers && rss == last {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "workers not up: {}",
            server.log()
        );
        last = rss;
        std::thread::sleep(Duration::from_millis(400));
    }
}

// ANCHOR: group_memory
/// RSS and PSS summed over a process group, from `/proc/PID/smaps_rollup`.
/// RSS counts a page shared by four workers four times; PSS counts a
/// quarter in each, so PSS summed is what the group really uses.
fn group_memory(group: u32) -> (u64, u64) {
    let (mut rss, mut pss) = (0, 0);
    for pid in group_pids(group) {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        for line in text.lines() {
            let kib = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
                    * 1024
            };
            if line.starts_with("Rss:") {
                rss += kib(line);
            } else if line.starts_with("Pss:") {
                pss += kib(line);
            }
        }
    }
    (rss, pss)
}
// ANCHOR_END: group_memory

/// A server's gunicorn workers and its other flags.
type Flags = (usize, &'static [&'static str]);

/// `--workers N` and the other flags, as the table names a server.
fn flags_label((workers, flags): Flags) -> String {
    std::iter::once(format!("--workers {workers}"))
        .chain(flags.iter().map(|f| f.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}
