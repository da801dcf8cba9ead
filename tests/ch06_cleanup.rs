//! No server or database process outlives chapter 6's runner. The test
//! starts `ch06_table --quick`, waits until a server is up (uvicorn and
//! PostgreSQL when python3 ≥ 3.10 and the venv are there; else the Rust
//! twin, with a `skipped` line for the Python part), notes every process
//! descended from the runner, then sends the runner SIGINT (what Ctrl-C
//! does) or SIGKILL (nothing runs in it after that) and checks that every
//! one of those processes — and anything else in their process groups —
//! is gone within a few seconds.
//!
//! Processes are told apart by pid *and* start time, so a reused pid does
//! not count as a survivor.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// One runner at a time: each starts servers and a load of its own.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The example, built once with the same cargo and profile as this test.
fn runner_binary() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        lab::process::build_example("ch06_table", !cfg!(debug_assertions))
            .expect("building the example")
    })
    .clone()
}

/// A process as /proc shows it: pid, start time (to tell a reused pid
/// apart), process group, command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Seen {
    pid: i32,
    start: u64,
    group: i32,
    command: String,
}

/// Every process now running, with its parent.
fn processes() -> Vec<(Seen, i32)> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(|p| {
        let p = p.ok()?;
        let stat = p.stat().ok()?;
        let command = p.cmdline().ok().map(|c| c.join(" ")).unwrap_or_default();
        let seen = Seen {
            pid: stat.pid,
            start: stat.starttime,
            group: stat.pgrp,
            command,
        };
        Some((seen, stat.ppid))
    })
    .collect()
}

/// The processes descended from `root` (children, grandchildren, …), and
/// the runner's PostgreSQL, which `pg_ctl` starts as a daemon (its parent
/// is then init, not the runner): found by its data folder.
fn descendants(root: i32) -> Vec<Seen> {
    let all = processes();
    let database = lab::python::target_dir().join("ch06-postgres");
    let database = database.to_string_lossy();
    let mut children: HashMap<i32, Vec<&Seen>> = HashMap::new();
    for (seen, parent) in &all {
        children.entry(*parent).or_default().push(seen);
    }
    let (mut found, mut next) = (Vec::new(), vec![root]);
    while let Some(pid) = next.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            next.push(child.pid);
            found.push((*child).clone());
        }
    }
    found.extend(
        all.iter()
            .filter(|(s, _)| s.command.contains(&*database))
            .map(|(s, _)| s.clone()),
    );
    found
}

/// Which of `watched` (or anything now in their process groups) still runs.
fn survivors(watched: &HashSet<Seen>) -> Vec<Seen> {
    let groups: HashSet<i32> = watched.iter().map(|s| s.group).collect();
    processes()
        .into_iter()
        .map(|(seen, _)| seen)
        .filter(|s| watched.contains(s) || groups.contains(&s.group))
        .collect()
}

/// Is a process in `found` a server (or the database) rather than the
/// watchdog or a pip/venv step?
fn is_server(seen: &Seen, python: bool) -> bool {
    if python {
        seen.command.contains("uvicorn") || seen.command.contains("gunicorn")
    } else {
        seen.command.contains(" serve --stack ")
    }
}

fn python_is_there() -> bool {
    lab::python::find_python().is_ok()
}

/// Starts the runner, waits for a server, sends `signal`, checks cleanup.
fn signal_mid_run_leaves_nothing(signal: Signal) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let python = python_is_there();
    if !python {
        println!("skipped the Python part: no python3 ≥ 3.10 (the Rust twin is checked)");
    }
    let mut command = Command::new(runner_binary());
    // Its own process group, as a shell gives a command it runs.
    command
        .arg("--quick")
        .stdout(Stdio::null())
        .process_group(0);
    if !python {
        command.arg("--no-python");
    }
    let mut runner: Child = command.spawn().expect("the runner starts");
    let root = runner.id() as i32;
    // The first run may create the venv (about a minute of pip): be patient.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut watched = HashSet::new();
    loop {
        let now = descendants(root);
        let up = now.iter().any(|s| is_server(s, python));
        watched.extend(now);
        if up {
            // Let it settle into its load for a moment, and look again.
            std::thread::sleep(Duration::from_millis(500));
            watched.extend(descendants(root));
            break;
        }
        if let Some(status) = runner.try_wait().unwrap() {
            panic!("the runner exited ({status}) before a server was seen: {watched:#?}");
        }
        assert!(Instant::now() < deadline, "no server within 300 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let servers = watched.iter().filter(|s| is_server(s, python)).count();
    assert!(servers >= 1, "{watched:#?}");
    kill_process(Pid::from_raw(root).unwrap(), signal).expect("signal the runner");
    let _ = runner.wait();
    // The watchdog sends SIGTERM, waits up to 5 s, then SIGKILLs.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = survivors(&watched);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after {signal:?} to the runner:\n{left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "{signal:?}: all {} processes of the run are gone ({servers} server processes)",
        watched.len()
    );
}

#[test]
fn sigint_to_the_runner_leaves_no_server_or_database() {
    signal_mid_run_leaves_nothing(Signal::INT);
}

#[test]
fn sigkill_to_the_runner_leaves_no_server_or_database() {
    signal_mid_run_leaves_nothing(Signal::KILL);
}
