//! The same fuzz against chapter 6's Python stacks (uvicorn + FastAPI,
//! gunicorn + Django REST framework), for the book's comparison: each stack
//! is started as a child process group by [`crate::stacks`], on the venv
//! [`crate::python`] makes, and sent the API's endpoint families.
//!
//! What they do with bad input is **reported, not fixed**: these are other
//! people's servers, shown as they are. So a run never fails on their
//! answers — a 5xx, a hang, a bare 4xx or a traceback in the log is a number
//! in [`python_table`]'s row. It fails only when the harness itself breaks:
//! the stack does not start, a good request before fuzzing is not answered
//! (nothing after it could be trusted), or fewer inputs than planned were
//! sent.
//!
//! Left out: the Python servers' own process model under crashes (gunicorn
//! restarts a dead worker; the log's tracebacks and worker restarts are
//! counted, not explained), PostgreSQL (SQLite only).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::{Plan, Report, probe};
use crate::python::Stack;
use crate::stacks::{self, Launch, StackName};

/// Every Python stack of chapter 6, in the table's order.
pub fn python_stacks() -> impl Iterator<Item = StackName> {
    use clap::ValueEnum as _;
    Stack::value_variants()
        .iter()
        .map(|&s| StackName::Python(s))
}

/// The Python side's launch, or why it is skipped (no python3 ≥ 3.10).
/// Makes the venv under the target folder if it is missing (a one-off
/// minute; `progress` hears about it).
pub fn python_launch(
    scratch: &Path,
    progress: impl FnMut(&str),
) -> anyhow::Result<Result<Launch, String>> {
    let python = match crate::python::find_python() {
        Ok(python) => python,
        Err(why) => return Ok(Err(format!("{why:#}"))),
    };
    let venv = crate::python::Venv::ensure(&python, progress)?;
    Ok(Ok(Launch {
        // gunicorn: four processes (each sync worker serves one connection
        // at a time), so that an input the server waits on does not stall
        // every other client; uvicorn gets one (see `run_stack`). Sizes for
        // a short smoke, not a benchmark.
        workers: 4,
        threads: 4,
        database: scratch.join("fuzz.sqlite").display().to_string(),
        db_latency: Duration::ZERO,
        venv: Some(venv),
        exe: std::path::PathBuf::new(),
    }))
}

/// One Python stack's fuzz run: its report and what its log shows.
#[derive(Debug)]
pub struct StackRun {
    pub stack: StackName,
    pub report: Report,
    /// `Traceback (most recent call last)` lines in the stack's log.
    pub tracebacks: usize,
    /// Workers the master replaced (gunicorn: "Booting worker" after the
    /// first ones).
    pub worker_restarts: usize,
}

/// How long a started stack may take to answer its first good request.
/// gunicorn's master accepts connections before its workers have imported
/// Django, so "the port accepts" is not "it answers": on a busy 2-core
/// machine booting four workers took longer than one probe's 10 s.
pub const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Runs `check` until it passes, the server exits (`alive` says why), or
/// `within` has passed (then the last failure is the error).
fn until_answered(
    within: Duration,
    alive: &dyn Fn() -> Result<(), String>,
    mut check: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    loop {
        let why = match check() {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        alive().map_err(|status| format!("{why}; the server exited: {status}"))?;
        if started.elapsed() >= within {
            return Err(why);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts `stack`, checks that one good request is answered (else the
/// harness, not the stack, is broken: an error), fuzzes it, stops it.
pub fn run_stack(stack: StackName, launch: &Launch, plan: &Plan) -> anyhow::Result<StackRun> {
    let database =
        Path::new(&launch.database).with_file_name(format!("fuzz-{}.sqlite", stack.name()));
    let workers = match stack {
        // uvicorn with one worker serves in its own process: no supervisor
        // to start, and one event loop (or thread pool) is plenty here.
        StackName::Python(python) if python.is_fastapi() => 1,
        _ => launch.workers,
    };
    let launch = Launch {
        database: database.display().to_string(),
        workers,
        ..launch.clone()
    };
    let mut server =
        stacks::start(stack, &launch).with_context(|| format!("fuzzing {}", stack.name()))?;
    let addr = server.addr();
    let pid = server.pid();
    let alive = move || match crate::process::exit_status(pid) {
        None => Ok(()),
        Some(status) => Err(status),
    };
    until_answered(FIRST_ANSWER_WITHIN, &alive, || {
        probe::check(addr, probe::Kind::Api, 0)
    })
    .map_err(|why| {
        anyhow::anyhow!(
            "{}: a good request before fuzzing failed: {why}",
            stack.name()
        )
    })?;
    let report = super::run(addr, probe::Kind::Api, &super::API_FAMILIES, plan, &alive);
    let log = server.log();
    let _ = server.stop();
    let planned = plan.per_family * super::API_FAMILIES.len() as u64;
    if report.server_gone.is_none() {
        anyhow::ensure!(
            report.inputs() >= planned,
            "{}: the fuzzer sent {} of {planned} inputs",
            stack.name(),
            report.inputs()
        );
    }
    let booted =
        log.matches("Booting worker").count() + log.matches("Started server process").count();
    Ok(StackRun {
        stack,
        report,
        tracebacks: log.matches("Traceback (most recent call last)").count(),
        worker_restarts: booted.saturating_sub(launch.workers),
    })
}

/// The table's header: what each Python stack did with the inputs.
pub const PYTHON_HEADER: [&str; 13] = [
    "stack",
    "inputs",
    "2xx",
    "4xx app JSON",
    "4xx HTTP",
    "closed",
    "5xx",
    "hangs",
    "slow",
    "other unclean",
    "tracebacks",
    "worker restarts",
    "good after",
];

/// One row of the Python table.
pub fn python_row(run: &StackRun) -> Vec<String> {
    let r = &run.report;
    let count = |c: &str| -> u64 {
        r.by_class
            .values()
            .map(|cols| cols.get(c).copied().unwrap_or(0))
            .sum()
    };
    let kind = |k: &str| r.failure_kinds.get(k).copied().unwrap_or(0);
    let (server_errors, hangs, slow) = (kind("5xx"), kind("hang"), kind("slow"));
    vec![
        run.stack.name(),
        r.inputs().to_string(),
        count("2xx").to_string(),
        count("4xx app JSON").to_string(),
        count("4xx HTTP layer").to_string(),
        (count("closed") + count("client left") + count("other version")).to_string(),
        server_errors.to_string(),
        hangs.to_string(),
        slow.to_string(),
        (r.failures - server_errors - hangs - slow).to_string(),
        run.tracebacks.to_string(),
        run.worker_restarts.to_string(),
        if r.after.is_ok() { "yes" } else { "NO" }.to_string(),
    ]
}

/// The whole table, one row per run.
pub fn python_table(runs: &[StackRun]) -> crate::report::Table {
    let mut table = crate::report::Table::new(PYTHON_HEADER);
    for run in runs {
        table.row(python_row(run));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_good_request_is_retried_until_it_is_answered() {
        let mut failures = 3;
        let check = || {
            if failures == 0 {
                return Ok(());
            }
            failures -= 1;
            Err("GET /hello: no answer".to_string())
        };
        let up = || Ok(());
        assert_eq!(until_answered(Duration::from_secs(10), &up, check), Ok(()));
    }

    #[test]
    fn a_stack_that_never_answers_or_exits_fails_the_harness() {
        let never = || Err("GET /hello: no answer".to_string());
        let up = || Ok(());
        let started = std::time::Instant::now();
        let within = Duration::from_millis(500);
        assert_eq!(
            until_answered(within, &up, never),
            Err("GET /hello: no answer".to_string())
        );
        assert!(started.elapsed() >= within);
        let exited = || Err("exit status: 3".to_string());
        let why = until_answered(Duration::from_secs(60), &exited, never).unwrap_err();
        assert!(why.contains("exited: exit status: 3"), "{why}");
    }
}
