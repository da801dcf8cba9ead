//! Question 9: shutdown hangs, or loses requests. A server gets SIGTERM
//! while keep-alive connections sit idle and requests are in flight; it is
//! then started again on the same port while a steady client keeps sending.
//! Counted: in-flight requests answered or failed, how long the stop took,
//! and the steady client's failures across the restart. uvicorn with and
//! without `--timeout-graceful-shutdown`, gunicorn's sync workers with
//! `--graceful-timeout` long (its default, 30 s) and short, each with two
//! worker processes; and the Rust twin (chapter 5's graceful shutdown under
//! a deadline, `lab::lifespan`). SIGTERM goes to the server's first process
//! only, as `docker stop` and Kubernetes send it: the gunicorn master or
//! uvicorn supervisor passes it on to its workers.
//!
//! Leaves out: socket hand-over between old and new process (systemd
//! socket activation, gunicorn's USR2 re-exec), which removes the gap.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::Ctx;
use super::common::{figure, wait_until_serving};
use super::shared::at_once;
use crate::lifespan::{Config, Framework, Recorder};
use crate::process::{ChildServer, Ready};
use crate::python::{Stack, StackOptions, Venv};
use crate::report::{Cell, Table, duration};
use crate::stacks;

/// Requests in flight when SIGTERM arrives, and idle keep-alive connections.
pub const IN_FLIGHT: usize = 4;
pub const IDLE: usize = 4;

/// A Python drill: server, label, extra flags.
type Case = (Stack, &'static str, &'static [&'static str]);

/// The Python cases.
const CASES: [Case; 4] = [
    (Stack::FastapiAsync, "uvicorn, no timeout (default)", &[]),
    (
        Stack::FastapiAsync,
        "uvicorn --timeout-graceful-shutdown 1",
        &["--timeout-graceful-shutdown", "1"],
    ),
    (
        Stack::DjangoSync,
        "gunicorn sync, --graceful-timeout 30 (default)",
        &[],
    ),
    (
        Stack::DjangoSync,
        "gunicorn sync, --graceful-timeout 1",
        &["--graceful-timeout", "1"],
    ),
];

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    // Long enough that a 1 s cut-off always comes first, even counted from
    // when the uvicorn supervisor gets round to passing SIGTERM on.
    let work = ctx.pick(Duration::from_millis(2400), Duration::from_secs(3));
    let note = format!(
        "{IN_FLIGHT} requests of {} in flight and {IDLE} idle keep-alive connections when SIGTERM arrives at the server's first process; then a restart on the same port. The Python servers run 2 worker processes.",
        crate::report::human(work)
    );
    let columns = [
        "server",
        "shutdown setting",
        "in flight answered",
        "in flight failed",
        "stop took",
        "steady client failed",
    ];
    // The twin's work is longer: after its deadline it still gives the pool
    // up to 1 s to close, and in-flight requests may finish meanwhile.
    let rust_work = work + Duration::from_secs(1);
    let rust_cases = [
        ("deadline 10 s", Duration::from_secs(10)),
        ("deadline 0.2 s", Duration::from_millis(200)),
    ];
    // --quick: every drill at once, each on its own port — seconds instead
    // of the sum of them. What is counted does not change (a request
    // answered or not, a setting's cut-off); the stop and the restart gap
    // may take a little longer on shared cores.
    std::thread::scope(|scope| {
        let rust_runs: Vec<_> = rust_cases
            .iter()
            .map(|&(_, deadline)| {
                ctx.quick
                    .then(|| scope.spawn(move || rust_twin(rust_work, deadline)))
            })
            .collect();
        let python = |venv: &Venv, table: &mut Table| {
            let wait = format!("/wait?ms={}", work.as_millis());
            let one = |&(stack, label, flags): &Case| {
                eprintln!("question 9: {label} …");
                // Started before with `--quick`, beside other questions'.
                let first = first_server(ctx, venv, (stack, label, flags))?;
                let port = first.addr().port();
                let start = || python_server(venv, stack, port, flags);
                anyhow::Ok(drill(first, start, &wait)?.row(&stack.name(), label))
            };
            let cases = cases(ctx);
            let rows: Vec<anyhow::Result<_>> = if ctx.quick {
                std::thread::scope(|inner| {
                    let runs: Vec<_> = cases.iter().map(|c| inner.spawn(|| one(c))).collect();
                    runs.into_iter()
                        .map(|r| {
                            r.join()
                                .unwrap_or_else(|_| Err(anyhow::anyhow!("a drill panicked")))
                        })
                        .collect()
                })
            } else {
                cases.iter().map(one).collect()
            };
            for row in rows {
                table.row(row?);
            }
            Ok(())
        };
        let rust = |table: &mut Table| {
            for (&(label, deadline), run) in rust_cases.iter().zip(rust_runs) {
                let (answered, failed, took) = match run {
                    Some(run) => run
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a drill panicked")))?,
                    None => rust_twin(rust_work, deadline)?,
                };
                table.row([
                    Cell::from("Rust (ch. 5, axum)"),
                    Cell::from(label),
                    Cell::from(answered),
                    Cell::from(failed),
                    duration(took),
                    Cell::from("—"),
                ]);
            }
            Ok(())
        };
        figure(
            ctx,
            Some(&note),
            (columns, "in flight failed"),
            ("Python", python),
            rust,
        )
    })
}

/// The Python drills: all four; with `--quick`, one per server, the
/// cut-off uvicorn and the default gunicorn.
fn cases(ctx: &Ctx) -> Vec<Case> {
    CASES
        .iter()
        .enumerate()
        .filter(|(i, _)| !ctx.quick || matches!(i, 1 | 2))
        .map(|(_, case)| *case)
        .collect()
}

/// A drill's server before its SIGTERM, on a free port: kept by the run
/// until the drill takes it, so that with `--quick` it can start with its
/// group's ([`crate::questions::start_together`]).
fn first_server(
    ctx: &Ctx,
    venv: &Venv,
    (stack, label, flags): Case,
) -> anyhow::Result<ChildServer> {
    ctx.shared.take(&format!("q09 {label}"), || {
        python_server(venv, stack, stacks::free_port()?, flags)
    })
}

/// Starts what [`run`] will ask for: see [`crate::questions::start_together`].
pub fn prepare(ctx: &Ctx) {
    if let Ok(venv) = ctx.venv() {
        at_once(cases(ctx).into_iter().map(|case| {
            move || {
                let key = format!("q09 {}", case.1);
                let start = || python_server(venv, case.0, stacks::free_port()?, case.2);
                ctx.shared.server(&key, start).map(drop)
            }
        }));
    }
}

fn python_server(
    venv: &Venv,
    stack: Stack,
    port: u16,
    flags: &[&str],
) -> anyhow::Result<ChildServer> {
    let dir = std::env::temp_dir().join("waiting-well-q09.sqlite");
    let options = StackOptions {
        workers: 2,
        database: dir.display().to_string(),
        ..StackOptions::default()
    };
    let mut command = stack.command(venv, port, &options);
    if stack.is_fastapi() {
        // uvicorn's supervisor kills a worker that has not answered its
        // health check within 5 s — on a busy machine, one still importing
        // FastAPI. This drill is about shutdown, not start-up.
        command.args(["--timeout-worker-healthcheck", "60"]);
    }
    command.args(flags);
    let server = ChildServer::start(
        command,
        Ready::Accepts(([127, 0, 0, 1], port).into()),
        stacks::READY_WITHIN,
    )?;
    // The port accepts before the workers have imported the app.
    let uvicorn_workers = stack.is_fastapi().then_some(options.workers);
    wait_until_serving(&server, "/hello", uvicorn_workers)?;
    Ok(server)
}

struct Drill {
    answered: usize,
    failed: usize,
    stop_took: Duration,
    steady_failed: u64,
    steady_sent: u64,
}

impl Drill {
    fn row(&self, stack: &str, label: &str) -> [Cell; 6] {
        [
            Cell::from(stack),
            Cell::from(label),
            Cell::from(self.answered),
            Cell::from(self.failed),
            duration(self.stop_took),
            Cell::from(format!("{} of {}", self.steady_failed, self.steady_sent)),
        ]
    }
}

// ANCHOR: drill
/// Load a started `server` (idle keep-alive + in-flight + a steady client),
/// SIGTERM, wait for the exit, `start` again on the same port, count.
fn drill(
    mut server: ChildServer,
    start: impl Fn() -> anyhow::Result<ChildServer>,
    wait_path: &str,
) -> anyhow::Result<Drill> {
    let addr = server.addr();
    // Idle keep-alive connections: one answered request each, then silence.
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| idle_client(addr))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let url = server.url(wait_path);
    let in_flight: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .build()
                    .ok()?;
                // The whole answer read and the connection closed here, as
                // soon as it comes (gunicorn's worker waits for that close).
                let answer = client.get(url).send().ok()?.error_for_status().ok()?;
                answer.bytes().ok().map(drop)
            })
        })
        .collect();
    // A steady client: one request every 20 ms until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let hello = server.url("/hello");
    let steady = {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a client");
            while !stop.load(Relaxed) {
                sent.fetch_add(1, Relaxed);
                let ok = client
                    .get(&hello)
                    .send()
                    .is_ok_and(|a| a.status().is_success());
                if !ok {
                    failed.fetch_add(1, Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300)); // the requests are in flight
    let began = Instant::now();
    server.terminate_program()?; // the master (or supervisor) only, as a deploy does
    server.wait(Duration::from_secs(40))?;
    let stop_took = began.elapsed();
    let answered = in_flight
        .into_iter()
        .map(|h| h.join().ok().flatten().is_some())
        .filter(|ok| *ok)
        .count();
    let again = start()?; // the restart, on the same port
    stacks::drain(&again, "/hello", Duration::from_secs(30))?;
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Relaxed);
    let _ = steady.join();
    drop(idle);
    drop(again);
    Ok(Drill {
        answered,
        failed: IN_FLIGHT - answered,
        stop_took,
        steady_failed: failed.load(Relaxed),
        steady_sent: sent.load(Relaxed),
    })
}
// ANCHOR_END: drill

// ANCHOR: idle_client
/// A keep-alive client that asks once and then sits idle — unless the
/// answer says `Connection: close` (gunicorn's sync workers say it on every
/// answer): then it closes its end, as every HTTP client does. Keeping the
/// socket open anyway would hold the worker for up to 2 s in gunicorn's
/// lingering close (it waits for the client to close first) while requests
/// pile up unaccepted behind it: our first drill did that, and lost every
/// in-flight request to it, not to `--graceful-timeout`.
fn idle_client(addr: std::net::SocketAddr) -> anyhow::Result<Option<TcpStream>> {
    let mut s = TcpStream::connect(addr)?;
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (mut head, mut buf) = (Vec::new(), [0u8; 4096]);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf)?;
        anyhow::ensure!(n > 0, "the server closed before answering");
        head.extend_from_slice(&buf[..n]);
    }
    let closes = String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .contains("\r\nconnection: close");
    Ok((!closes).then_some(s))
}
// ANCHOR_END: idle_client

/// Chapter 5's server with `work` inside every `POST /users`, shut down
/// gracefully while `IN_FLIGHT` of them run; then the runtime is dropped,
/// as the process would exit, cutting off whatever the deadline left.
fn rust_twin(work: Duration, deadline: Duration) -> anyhow::Result<(usize, usize, Duration)> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::new(dir.path().join("q09.sqlite"));
    config.model_entries = 1_000;
    config.work = work;
    config.shutdown_deadline = deadline;
    let runtime = tokio::runtime::Runtime::new()?;
    let server = runtime.block_on(crate::lifespan::start(
        Framework::Axum,
        config,
        Recorder::default(),
        "127.0.0.1:0".parse()?,
    ))?;
    let url = server.url("/users");
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .post(url)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"email": "q09-{i}@example.com"}}"#))
                    .timeout(Duration::from_secs(15))
                    .send()
                    .is_ok_and(|a| a.status().is_success())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let began = Instant::now();
    runtime.block_on(server.shutdown())?;
    drop(runtime); // the process exits: every task still running ends here
    let took = began.elapsed();
    let answered = requests
        .into_iter()
        .map(|h| h.join().unwrap_or(false))
        .filter(|ok| *ok)
        .count();
    Ok((answered, IN_FLIGHT - answered, took))
}
