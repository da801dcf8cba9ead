//! A server running as a child process: start any program (one of our
//! examples in `serve` mode, uvicorn, gunicorn, PostgreSQL), wait until it is
//! ready, read its log, and stop it — together with its own workers.
//!
//! Three promises, because "no server process outlives the command that
//! started it" is one of the book's rules:
//!
//! - **The whole process group.** The child starts a process group of its
//!   own (`process_group(0)`) and every signal goes to that group, so a
//!   gunicorn master's workers or PostgreSQL's backends go with their parent.
//! - **Bounded.** Ready within a deadline or an error (with the log in it);
//!   [`ChildServer::stop`] is SIGTERM, a wait with a deadline, then SIGKILL.
//! - **Not even when this process dies.** Dropping a [`ChildServer`] kills
//!   its group; and if this process is killed outright (SIGKILL, Ctrl-C: the
//!   child's group no longer gets the terminal's SIGINT), a small watchdog
//!   process (`ww-watchdog`, [`watch`]) notices that the pipe from this
//!   process closed and stops the group.
//!
//! Why a watchdog and not the kernel's parent-death signal
//! (`prctl(PR_SET_PDEATHSIG)`): that signal reaches only the direct child,
//! not its workers; it fires when the *thread* that spawned the child ends
//! (a test thread, a tokio blocking thread), not the process; and setting it
//! for a program we do not write needs `pre_exec`, which is `unsafe`. A pipe
//! that closes when its owner dies works for any program and any cause.
//!
//! Left out: Windows (process groups and signals are Unix), restarts, and
//! feeding the child's standard input (it reads nothing; the watchdog uses
//! its own).

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};

/// How long [`ChildServer::stop`] waits after SIGTERM before SIGKILL.
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// When a started program counts as ready to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// It prints (on stdout or stderr) a line with this text followed by its
    /// address, `http://127.0.0.1:8000` or `127.0.0.1:8000`: our examples'
    /// `listening on http://…`, uvicorn's `running on http://…`, gunicorn's
    /// `Listening at: http://…`.
    Announces(&'static str),
    /// A TCP connection to this address succeeds (a program that prints no
    /// address we can read, such as PostgreSQL).
    Accepts(SocketAddr),
}

/// How a child server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    /// It was still running at the deadline and got SIGKILL.
    pub killed: bool,
    /// From SIGTERM (or from the start of the wait, without one) to the exit.
    pub took: Duration,
}

/// A server running as a child process, in a process group of its own.
/// Dropping it kills the group.
pub struct ChildServer {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    terminated_at: Option<Instant>,
    exit: Option<Exit>,
    watchdog: Option<(Child, ChildStdin)>,
}

impl ChildServer {
    /// Starts `command` (with whatever arguments, environment and working
    /// directory it was given) in a new process group, its output collected
    /// as the log, and waits at most `within` until it is `ready`.
    pub fn start(mut command: Command, ready: Ready, within: Duration) -> anyhow::Result<Self> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, lines) = mpsc::channel();
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for stream in [stdout, stderr].into_iter().flatten() {
            collect_lines(stream, log.clone(), lines_tx.clone());
        }
        drop(lines_tx);
        let watchdog = start_watchdog(child.id());
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            terminated_at: None,
            exit: None,
            watchdog,
        };
        match server.wait_until_ready(ready, &lines, within) {
            Ok(addr) => {
                server.addr = addr;
                Ok(server)
            }
            Err(why) => {
                server.kill();
                // Let the readers take in the last lines: they end when the
                // pipes close, which the kill has just made happen.
                let until = Instant::now() + Duration::from_millis(500);
                while lines
                    .recv_timeout(until.saturating_duration_since(Instant::now()))
                    .is_ok()
                {}
                Err(why.context(format!(
                    "{program} did not get ready; its log:\n{}",
                    server.log()
                )))
            }
        }
    }

    /// The process id of the program started (the group's leader).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every line it wrote so far, stdout and stderr, in arrival order.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    /// Sends SIGTERM to its process group, as `kill`, Docker and Kubernetes
    /// do, and returns at once (see [`ChildServer::wait`]).
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        self.terminated_at.get_or_insert_with(Instant::now);
        self.signal_group(Signal::TERM)
            .context("sending SIGTERM to the server's process group")
    }

    /// Sends SIGTERM to the program alone, not to its group, and returns at
    /// once: what `docker stop` and Kubernetes do to a container's first
    /// process. A gunicorn master or a uvicorn supervisor then stops its own
    /// workers its own way (gunicorn: SIGTERM to each, then up to
    /// `--graceful-timeout` before SIGKILL).
    pub fn terminate_program(&mut self) -> anyhow::Result<()> {
        self.terminated_at.get_or_insert_with(Instant::now);
        match rustix::process::kill_process(group_of(self.child.id())?, Signal::TERM) {
            Err(rustix::io::Errno::SRCH) | Ok(()) => Ok(()), // gone already: nothing to stop
            Err(e) => Err(std::io::Error::from(e)).context("sending SIGTERM to the server"),
        }
    }

    /// Waits at most `within` for the program to exit; after that SIGKILLs
    /// its group. Either way, whatever is left of the group (workers that
    /// outlived their parent) is killed too.
    pub fn wait(&mut self, within: Duration) -> anyhow::Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let since = self.terminated_at.unwrap_or_else(Instant::now);
        let (status, killed) = match wait_until(&mut self.child, Instant::now() + within)? {
            Some(status) => (status, false),
            None => {
                let _ = self.signal_group(Signal::KILL);
                (self.child.wait()?, true)
            }
        };
        let _ = self.signal_group(Signal::KILL); // leftovers; usually none
        let exit = Exit {
            code: status.code(),
            killed,
            took: since.elapsed(),
        };
        self.exit = Some(exit);
        self.end_watchdog();
        Ok(exit)
    }

    /// Graceful stop: SIGTERM, then [`STOP_DEADLINE`] to exit, then SIGKILL.
    pub fn stop(&mut self) -> anyhow::Result<Exit> {
        if self.exit.is_none() {
            self.terminate()?;
        }
        self.wait(STOP_DEADLINE)
    }

    /// A crash, on purpose: SIGKILL to the group at once — no handler runs,
    /// nothing is flushed or closed — then reap the program (the crash
    /// drill's kill).
    pub fn crash(&mut self) -> anyhow::Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let since = Instant::now();
        self.signal_group(Signal::KILL)
            .context("sending SIGKILL to the server's process group")?;
        let status = self.child.wait()?;
        let exit = Exit {
            code: status.code(),
            killed: true,
            took: since.elapsed(),
        };
        self.exit = Some(exit);
        self.end_watchdog();
        Ok(exit)
    }

    /// SIGKILL to the group at once (the program and any worker it left),
    /// then reap the program.
    fn kill(&mut self) {
        let _ = self.signal_group(Signal::KILL);
        if self.exit.is_none() {
            let _ = self.child.wait();
        }
        self.end_watchdog();
    }

    fn signal_group(&self, signal: Signal) -> std::io::Result<()> {
        // The group's id is its leader's pid. It stays reserved while any
        // member lives, so after the leader is reaped it names leftovers or
        // nothing (ESRCH) — until pids wrap around, long after we are done.
        match kill_process_group(group_of(self.child.id())?, signal) {
            Err(rustix::io::Errno::SRCH) => Ok(()), // the group is gone already
            other => other.map_err(Into::into),
        }
    }

    /// Tells the watchdog that the group is taken care of (one byte, then
    /// the pipe closes: it exits without a signal) and reaps it.
    fn end_watchdog(&mut self) {
        if let Some((mut watchdog, mut pipe)) = self.watchdog.take() {
            let _ = pipe.write_all(b"done");
            drop(pipe);
            if wait_until(&mut watchdog, Instant::now() + Duration::from_secs(2))
                .ok()
                .flatten()
                .is_none()
            {
                let _ = watchdog.kill();
                let _ = watchdog.wait();
            }
        }
    }

    /// Reads lines until one says the program is ready; fails if it exits
    /// first or `within` passes.
    fn wait_until_ready(
        &mut self,
        ready: Ready,
        lines: &mpsc::Receiver<String>,
        within: Duration,
    ) -> anyhow::Result<SocketAddr> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.exit = Some(Exit {
                    code: status.code(),
                    killed: false,
                    took: Duration::ZERO,
                });
                bail!("it exited ({status}) before it was ready");
            }
            if Instant::now() >= deadline {
                bail!("not ready within {within:?}");
            }
            let slice = Duration::from_millis(50).min(deadline - Instant::now());
            match ready {
                Ready::Announces(marker) => match lines.recv_timeout(slice) {
                    Ok(line) => {
                        if let Some(addr) = announced_addr(&line, marker) {
                            return Ok(addr);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // Both streams closed: the exit check above will see it.
                    Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(slice),
                },
                Ready::Accepts(addr) => {
                    if TcpStream::connect_timeout(&addr, slice).is_ok() {
                        return Ok(addr);
                    }
                    std::thread::sleep(Duration::from_millis(20).min(slice));
                }
            }
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // Never leave a server behind, even when a test fails halfway.
        self.kill();
    }
}

/// The address after `marker` in `line`, with or without `http://`.
fn announced_addr(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = line.split_once(marker)?.1.trim_start();
    let token = rest.split_whitespace().next()?;
    let token = token.strip_prefix("http://").unwrap_or(token);
    token.trim_end_matches('/').parse().ok()
}

/// A reader thread: each line goes to the log and to whoever waits for
/// readiness (until they stop listening).
fn collect_lines(
    stream: Box<dyn Read + Send>,
    log: Arc<Mutex<Vec<String>>>,
    lines: mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line.clone());
            let _ = lines.send(line);
        }
    });
}

/// Polls `child` until it exits or `deadline` passes (`None`).
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn group_of(pid: u32) -> std::io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("{pid} is not a process id")))
}

/// The watchdog's program name, built from `lab/bin/watchdog.rs`.
pub const WATCHDOG: &str = "ww-watchdog";

/// Where the watchdog program is: `$WW_WATCHDOG`, or beside this program or
/// up to two folders above it (cargo puts tests in `target/debug/deps/`,
/// examples in `target/debug/examples/`, binaries in `target/debug/`).
fn watchdog_program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WW_WATCHDOG") {
        return Some(path.into());
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join(WATCHDOG))
        .find(|path| path.is_file())
}

/// Starts the watchdog for process group `group`, holding the write end of
/// its standard input. Without one, says so once: the server is still
/// stopped on drop, only not if this process is killed.
fn start_watchdog(group: u32) -> Option<(Child, ChildStdin)> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let command = match watchdog_program() {
        Some(program) => {
            let mut command = Command::new(program);
            command.arg(group.to_string());
            Some(command)
        }
        // `cargo run --example` builds no binaries: the example is its own.
        None if SELF_WATCHDOG.load(std::sync::atomic::Ordering::Relaxed) => {
            std::env::current_exe().ok().map(|exe| {
                let mut command = Command::new(exe);
                command.env(BE_WATCHDOG, group.to_string());
                command
            })
        }
        None => None,
    };
    let started = command.and_then(|mut command| {
        command
            .process_group(0) // not in ours: a Ctrl-C on the terminal must not reach it
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .ok()
    });
    match started {
        Some(mut watchdog) => {
            let pipe = watchdog.stdin.take()?;
            Some((watchdog, pipe))
        }
        None => {
            WARNED.call_once(|| {
                eprintln!(
                    "note: no {WATCHDOG} program found (cargo build --bin {WATCHDOG}); \
                     a child server will not be stopped if this process is killed"
                )
            });
            None
        }
    }
}

/// Set by [`be_own_watchdog`]: this program can be started as a watchdog.
static SELF_WATCHDOG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The variable that starts a program as a watchdog for the group it names.
const BE_WATCHDOG: &str = "WW_BE_WATCHDOG";

/// For a program that may run without `ww-watchdog` built beside it (an
/// example: `cargo run --example` builds no binaries). Call it first in
/// `main`. Started as a watchdog (by [`ChildServer::start`] in another copy
/// of this program, with `WW_BE_WATCHDOG=GROUP`), it does only that job and
/// exits; otherwise it lets this program be its own watchdog when no
/// `ww-watchdog` is found.
pub fn be_own_watchdog() {
    let asked = std::env::var(BE_WATCHDOG).ok();
    if let Some(group) = asked.and_then(|g| g.parse().ok()) {
        let code = match watch(group) {
            Ok(()) => 0,
            Err(why) => {
                eprintln!("watchdog: {why:#}");
                1
            }
        };
        std::process::exit(code);
    }
    SELF_WATCHDOG.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The watchdog's work (`ww-watchdog GROUP`): wait until standard input
/// closes. If its parent wrote to it first, the parent stopped the group
/// itself; if not, the parent died (however: SIGKILL, a crash, Ctrl-C), so
/// stop process group `group`: SIGTERM, up to [`STOP_DEADLINE`] for it to
/// empty, SIGKILL.
pub fn watch(group: u32) -> anyhow::Result<()> {
    let group = group_of(group)?;
    let said_done = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())
        .is_ok_and(|bytes| bytes > 0);
    if said_done || kill_process_group(group, Signal::TERM).is_err() {
        return Ok(()); // stopped by its parent, or gone already
    }
    let deadline = Instant::now() + STOP_DEADLINE;
    while Instant::now() < deadline {
        if test_kill_process_group(group).is_err() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill_process_group(group, Signal::KILL);
    Ok(())
}

/// Builds example `name` of this repository with the same cargo and profile
/// as the calling test (`release`: a `--release` test build) and returns
/// its path as cargo reports it (`--message-format=json`), so
/// `$CARGO_TARGET_DIR` is respected. For tests that run an example as a
/// child server.
pub fn build_example(name: &str, release: bool) -> anyhow::Result<PathBuf> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--example",
        name,
        "--message-format=json",
    ]);
    if release {
        cmd.arg("--release");
    }
    let out = cmd.output().context("running cargo build")?;
    if !out.status.success() {
        bail!(
            "cargo build --example {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == name)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo reported no {name} executable"))
}

/// `Some(how it ended)` once the child `pid` has exited (it is a zombie
/// until [`ChildServer`] reaps it): read from /proc without reaping it.
pub fn exit_status(pid: u32) -> Option<String> {
    let stat = procfs::process::Process::new(pid as i32)
        .ok()?
        .stat()
        .ok()?;
    if stat.state != 'Z' {
        return None;
    }
    // proc(5)'s `exit_code` is the wait(2) status.
    let code = stat.exit_code?;
    let signal = code & 0x7f;
    Some(if signal != 0 {
        let name = match signal {
            6 => " (SIGABRT)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV)",
            _ => "",
        };
        format!("the server process was killed by signal {signal}{name}")
    } else {
        format!(
            "the server process exited with status {}",
            (code >> 8) & 0xff
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_addresses_are_read_with_or_without_a_scheme() {
        let at = |line, marker| announced_addr(line, marker);
        let addr: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(
            at(
                "event-loop listening on http://127.0.0.1:8000 — Ctrl-C",
                "listening on"
            ),
            Some(addr)
        );
        assert_eq!(
            at("listening on 127.0.0.1:8000", "listening on"),
            Some(addr)
        );
        assert_eq!(
            at(
                "INFO: Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)",
                "running on"
            ),
            Some(addr)
        );
        assert_eq!(
            at(
                "[INFO] Listening at: http://127.0.0.1:8000 (4242)",
                "Listening at:"
            ),
            Some(addr)
        );
        assert_eq!(at("listening on a socket", "listening on"), None);
        assert_eq!(at("starting", "listening on"), None);
    }
}
