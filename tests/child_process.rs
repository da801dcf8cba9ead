//! `lab::process::ChildServer` leaves nothing behind: a server's own worker
//! (a grandchild of this test) dies when the helper stops the server, when
//! the helper is dropped, and when the process that started the server is
//! killed with SIGKILL and cannot clean up at all. The "server" is `sh`
//! starting a `sleep` worker, as gunicorn starts its workers.
//!
//! Left out: the servers themselves (tests/api_serve.rs and
//! tests/shutdown_drill.rs stop real ones through the same helper).
#![cfg(target_os = "linux")]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::process::{ChildServer, Ready};

/// A shell that starts a worker, says where the worker is and that it is
/// listening, then waits, as a server's master process does.
fn server_with_a_worker() -> Command {
    let mut sh = Command::new("sh");
    sh.args([
        "-c",
        "sleep 300 & echo \"worker $!\"; echo 'listening on 127.0.0.1:1'; wait",
    ]);
    sh
}

fn start() -> ChildServer {
    ChildServer::start(
        server_with_a_worker(),
        Ready::Announces("listening on"),
        Duration::from_secs(10),
    )
    .expect("the shell starts")
}

/// The pid after `worker ` in a log.
fn worker_pid(log: &str) -> u32 {
    log.split("worker ")
        .nth(1)
        .and_then(|rest| {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..digits].parse().ok()
        })
        .unwrap_or_else(|| panic!("no worker pid in {log:?}"))
}

/// Gone, or a zombie nobody reaped yet (dead all the same).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits up to `within` for `pid` to die.
fn dies_within(pid: u32, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if is_dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Kills a worker this test could not get rid of otherwise, so a failing
/// test still leaves nothing running.
struct Reap(u32);

impl Drop for Reap {
    fn drop(&mut self) {
        if !is_dead(self.0) {
            let pid = rustix::process::Pid::from_raw(self.0 as i32).expect("a pid");
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[test]
fn stopping_the_server_stops_its_worker() {
    let mut server = start();
    let worker = worker_pid(&server.log());
    let _reap = Reap(worker);
    assert!(!is_dead(worker), "the worker runs while the server does");
    let exit = server.stop().unwrap();
    assert!(!exit.killed, "sh exits on SIGTERM: {exit:?}");
    assert!(
        dies_within(worker, Duration::from_secs(2)),
        "worker {worker} outlived its server"
    );
}

#[test]
fn dropping_the_helper_stops_the_worker() {
    let server = start();
    let worker = worker_pid(&server.log());
    let _reap = Reap(worker);
    drop(server);
    assert!(
        dies_within(worker, Duration::from_secs(2)),
        "worker {worker} outlived the dropped helper"
    );
}

/// Run by the test below in a copy of this test binary: start the server,
/// print the worker's pid, then wait to be killed.
#[test]
#[ignore = "the parent process of killing_the_parent_stops_the_worker"]
fn parent_that_gets_killed() {
    if std::env::var_os("WW_PARENT_ROLE").is_none() {
        return;
    }
    let server = start();
    println!("worker {}", worker_pid(&server.log()));
    std::thread::sleep(Duration::from_secs(60)); // SIGKILL comes long before
    drop(server);
}

#[test]
fn killing_the_parent_stops_the_worker() {
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args([
            "parent_that_gets_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("WW_PARENT_ROLE", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the parent starts");
    let stdout = BufReader::new(parent.stdout.take().unwrap());
    let worker = stdout
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("worker "))
        .map(|line| worker_pid(&line));
    let Some(worker) = worker else {
        let _ = parent.kill();
        let _ = parent.wait();
        panic!("the parent printed no worker pid");
    };
    let _reap = Reap(worker);
    parent.kill().unwrap(); // SIGKILL: no destructor, no cleanup in the parent
    parent.wait().unwrap();
    assert!(
        dies_within(worker, Duration::from_secs(10)),
        "worker {worker} outlived the killed parent"
    );
}

#[test]
fn a_server_that_never_gets_ready_is_an_error_and_is_stopped() {
    let mut sh = Command::new("sh");
    sh.args(["-c", "echo \"worker $$\"; exec sleep 300"]);
    let started = Instant::now();
    let err = ChildServer::start(
        sh,
        Ready::Announces("listening on"),
        Duration::from_millis(500),
    )
    .err()
    .expect("it never says it is listening");
    assert!(started.elapsed() < Duration::from_secs(3));
    let message = format!("{err:#}");
    assert!(message.contains("not ready within"), "{message}");
    let worker = worker_pid(&message); // the log is in the error
    let _reap = Reap(worker);
    assert!(dies_within(worker, Duration::from_secs(2)), "{message}");
}

#[test]
fn a_server_that_exits_early_is_an_error_with_its_log() {
    let mut sh = Command::new("sh");
    sh.args(["-c", "echo 'address already in use' >&2; exit 3"]);
    let err = ChildServer::start(
        sh,
        Ready::Announces("listening on"),
        Duration::from_secs(10),
    )
    .err()
    .expect("it exits");
    let message = format!("{err:#}");
    assert!(message.contains("exited"), "{message}");
    assert!(message.contains("address already in use"), "{message}");
}

#[test]
fn ready_can_mean_a_port_that_accepts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut sh = Command::new("sh");
    sh.args(["-c", "exec sleep 300"]).env("UNUSED", "1");
    let mut server = ChildServer::start(sh, Ready::Accepts(addr), Duration::from_secs(5)).unwrap();
    assert_eq!(server.addr(), addr);
    let exit = server.stop().unwrap();
    assert_eq!(exit.code, None, "sleep ends by the signal");
}
