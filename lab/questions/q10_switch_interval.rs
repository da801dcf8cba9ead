//! Question 10: should I tune `sys.setswitchinterval`? The convoy effect on
//! real CPython (`python/questions/q10_switch_interval.py`) beside chapter
//! 2's Rust [`Gil`](crate::gil::Gil) running the same shape: one thread of
//! short blocking calls, alone, then beside two CPU-bound threads, as the
//! switch interval grows.
//!
//! Leaves out: more CPU threads than cores (the shape is already there with
//! two), and free-threaded builds (question 11).

use std::time::Duration;

use super::Ctx;
use super::common::figure;
use super::script::{f64_at, run_script};
use crate::gil::experiments::convoy;
use crate::python::Venv;
use crate::report::{Cell, Table, duration, num};

/// The blocking call of the I/O thread (a fast query's round trip).
pub const WAIT: Duration = Duration::from_micros(200);
/// The switch intervals tried, CPython's default (5 ms) in the middle.
pub const INTERVALS_MS: [f64; 3] = [0.5, 5.0, 50.0];
/// CPU-bound threads beside the I/O thread.
pub const CPU_THREADS: usize = 2;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let window = ctx.pick(Duration::from_millis(300), Duration::from_secs(2));
    let note = format!(
        "an I/O thread: {} blocking call + 100 bytecodes, for {}; alone, then beside {CPU_THREADS} CPU-bound threads",
        crate::report::human(WAIT),
        crate::report::human(window)
    );
    let columns = [
        "stack",
        "switch interval",
        "CPU threads",
        "I/O ops/s",
        "I/O op p99",
    ];
    let python = |venv: &Venv, table: &mut Table| {
        let intervals = INTERVALS_MS.map(|ms| ms.to_string()).join(",");
        let out = run_script(
            venv,
            "q10_switch_interval.py",
            &[
                "--window",
                &window.as_secs_f64().to_string(),
                "--wait-us",
                &WAIT.as_micros().to_string(),
                "--cpu-threads",
                &CPU_THREADS.to_string(),
                "--intervals-ms",
                &intervals,
            ],
            window * 8 + Duration::from_secs(20),
        )?;
        let version = out["python"].as_str().unwrap_or("?");
        for row in out["rows"].as_array().into_iter().flatten() {
            table.row([
                Cell::from(format!("CPython {version}")),
                Cell::from(interval_label(f64_at(row, "interval_ms")?)),
                Cell::from(f64_at(row, "cpu_threads")? as usize),
                num(f64_at(row, "ops_per_sec")?, 0),
                duration(Duration::from_secs_f64(f64_at(row, "p99_ms")? / 1000.0)),
            ]);
        }
        Ok(())
    };
    let rust = |table: &mut Table| {
        let mut cells = vec![(5.0, 0)];
        cells.extend(INTERVALS_MS.map(|ms| (ms, CPU_THREADS)));
        for (ms, cpu) in cells {
            let interval = Duration::from_secs_f64(ms / 1000.0);
            let run = convoy(interval, cpu, WAIT, window);
            table.row([
                Cell::from("Rust Gil (ch. 2)"),
                Cell::from(interval_label(ms)),
                Cell::from(cpu),
                num(run.ops_per_sec(), 0),
                Cell::from("—"),
            ]);
        }
        Ok(())
    };
    figure(
        ctx,
        Some(&note),
        (columns, "I/O ops/s"),
        ("CPython", python),
        rust,
    )
}

fn interval_label(ms: f64) -> String {
    if ms == 5.0 {
        "5 ms (default)".to_string()
    } else {
        format!("{ms} ms")
    }
}
