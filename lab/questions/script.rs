//! Running one of chapter 7's Python measurement scripts (`python/questions/`)
//! to completion and reading the JSON it prints as its last stdout line.
//!
//! A script may start servers of its own (uvicorn in-process, gunicorn as a
//! subprocess): it runs in a process group of its own, and that whole group
//! is killed when the script ends or overruns its deadline, so nothing it
//! started outlives the question. Left out: streaming the script's progress
//! (its stderr is kept and shown only when it fails).

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rustix::process::{Pid, Signal, kill_process_group};

use crate::python::{Venv, in_python_dir};

/// Runs `python/questions/NAME` with `args` in the venv (cwd `python/`, so
/// the chapter 6 apps import), at most `within`, and parses its last stdout
/// line as JSON.
pub fn run_script(
    venv: &Venv,
    name: &str,
    args: &[&str],
    within: Duration,
) -> anyhow::Result<serde_json::Value> {
    run_program(&venv.bin("python"), name, args, within)
}

/// [`run_script`] with another interpreter (a free-threaded one on `PATH`).
pub fn run_program(
    python: &Path,
    name: &str,
    args: &[&str],
    within: Duration,
) -> anyhow::Result<serde_json::Value> {
    let mut command = in_python_dir(python);
    command
        .arg(format!("questions/{name}"))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let group = Pid::from_raw(child.id() as i32).context("pid 0")?;
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > within {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Whatever the script left behind (a server it started) goes too.
    let _ = kill_process_group(group, Signal::KILL);
    let _ = child.wait();
    let (stdout, stderr) = (
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default(),
    );
    let Some(status) = status else {
        bail!("{name} did not finish within {within:?}; its stderr:\n{stderr}");
    };
    if !status.success() {
        bail!("{name} failed ({status}); its stderr:\n{stderr}");
    }
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(last).with_context(|| format!("{name} printed no JSON line: {stdout}"))
}

/// A number in a script's JSON, or an error naming the key.
pub fn f64_at(value: &serde_json::Value, key: &str) -> anyhow::Result<f64> {
    value[key]
        .as_f64()
        .with_context(|| format!("no number {key:?} in {value}"))
}

/// A string in a script's JSON, or an error naming the key.
pub fn str_at<'v>(value: &'v serde_json::Value, key: &str) -> anyhow::Result<&'v str> {
    value[key]
        .as_str()
        .with_context(|| format!("no string {key:?} in {value}"))
}
