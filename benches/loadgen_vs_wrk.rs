//! Is the book's load generator fast enough to trust? This benchmark drives
//! the same hello-world server (`lab::upstream`, route `/hello`) with `wrk`
//! and with our `loadgen` example, both as separate processes with the same
//! thread and connection counts, in alternating rounds, and prints each
//! round's req/s and the ratio ours / wrk. The goal is a ratio of at least 0.9:
//! then a server that tops out in the book's figures is the server's limit,
//! not the client's.
//!
//! ```text
//! cargo build --release --example loadgen
//! cargo bench --bench loadgen_vs_wrk
//! ```
//!
//! Needs `wrk` (Debian/Ubuntu: `sudo apt-get install wrk`); without it the
//! benchmark says so and exits successfully. Left out: latency comparison
//! (wrk measures closed-loop latency the same way we do, and on a shared box
//! the tail is noise), open loop (wrk has none; wrk2 is not packaged).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use lab::report::{Table, print_banner};
use lab::upstream::SlowUpstream;

const ROUNDS: usize = 6;
const THREADS: usize = 2;
const CONNECTIONS: usize = 50;
const SECONDS: u64 = 2;
/// Worker threads of the server under load (the box is shared by all three).
const SERVER_THREADS: usize = 2;

fn main() -> ExitCode {
    // `--serve N`: only run the hello-world server for N seconds (at most 120),
    // to try both clients by hand or profile one.
    let args: Vec<String> = std::env::args().collect();
    let result = match args.iter().position(|a| a == "--serve") {
        Some(i) => serve(args.get(i + 1).map(String::as_str)),
        None => run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(seconds: Option<&str>) -> anyhow::Result<()> {
    let seconds: u64 = seconds.unwrap_or("30").parse()?;
    anyhow::ensure!(
        (1..=120).contains(&seconds),
        "--serve takes 1 to 120 seconds"
    );
    let server = SlowUpstream::start(Duration::ZERO, SERVER_THREADS)?;
    println!("serving {} for {seconds} s", server.url("/hello"));
    std::thread::sleep(Duration::from_secs(seconds));
    Ok(())
}

fn run() -> anyhow::Result<()> {
    print_banner("loadgen vs wrk: req/s on the same hello-world server");
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("wrk is not installed, so there is nothing to compare against.");
        println!("Install it (Debian/Ubuntu: `sudo apt-get install wrk`) and rerun.");
        return Ok(());
    }
    let loadgen = loadgen_binary()?;
    let server = SlowUpstream::start(Duration::ZERO, SERVER_THREADS)?;
    let url = server.url("/hello");
    println!(
        "server: lab::upstream /hello on {SERVER_THREADS} threads; both clients: \
         {THREADS} threads, {CONNECTIONS} connections, {SECONDS} s per run"
    );
    println!();

    // One short unmeasured run each, so neither side pays for a cold start.
    wrk(&url, 1)?;
    ours(&loadgen, &url, 1)?;

    let mut table = Table::new([
        "round",
        "wrk req/s",
        "loadgen req/s",
        "ours / wrk",
        "wrk CPU µs/req",
        "loadgen CPU µs/req",
    ]);
    let mut runs = Vec::new();
    for round in 1..=ROUNDS {
        // Alternate who goes first, so drift on the box favours neither.
        let (w, o) = if round % 2 == 1 {
            let w = wrk(&url, SECONDS)?;
            (w, ours(&loadgen, &url, SECONDS)?)
        } else {
            let o = ours(&loadgen, &url, SECONDS)?;
            (wrk(&url, SECONDS)?, o)
        };
        table.row(row(&round.to_string(), &w, &o));
        runs.push((w, o));
    }
    // Medians, not means: on a shared machine one round can be hit by
    // someone else's compile, and a median shrugs that off.
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let of = |f: fn(&(Run, Run)) -> f64| median(runs.iter().map(f).collect());
    table.row([
        "median".to_string(),
        format!("{:.0}", of(|r| r.0.per_sec)),
        format!("{:.0}", of(|r| r.1.per_sec)),
        format!("{:.2}", of(|r| r.1.per_sec / r.0.per_sec)),
        format!("{:.1}", of(|r| r.0.cpu_us_per_request)),
        format!("{:.1}", of(|r| r.1.cpu_us_per_request)),
    ]);
    print!("{table}");
    println!();
    println!(
        "CPU µs/req is the client's own user+system time per request: the server \
         shares the cores, so a client that needs less CPU leaves more to the server."
    );
    Ok(())
}

/// One client run: throughput and the client's own CPU cost.
struct Run {
    per_sec: f64,
    cpu_us_per_request: f64,
}

fn row(label: &str, w: &Run, o: &Run) -> Vec<String> {
    vec![
        label.to_string(),
        format!("{:.0}", w.per_sec),
        format!("{:.0}", o.per_sec),
        format!("{:.2}", o.per_sec / w.per_sec),
        format!("{:.1}", w.cpu_us_per_request),
        format!("{:.1}", o.cpu_us_per_request),
    ]
}

/// User + system CPU time of all reaped child processes so far.
fn children_cpu() -> Duration {
    // SAFETY: `getrusage` only writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs `command` to completion and returns its stdout and CPU time.
fn measured(command: &mut Command) -> anyhow::Result<(String, Duration)> {
    let before = children_cpu();
    let out = command.output()?;
    let cpu = children_cpu().saturating_sub(before);
    anyhow::ensure!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), cpu))
}

/// The release build of `examples/loadgen.rs`, next to this benchmark's own
/// binary (`target/release/deps/..` -> `target/release/examples/loadgen`).
fn loadgen_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let release = me
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("cannot locate the target directory from {me:?}"))?;
    let binary = release.join("examples").join("loadgen");
    anyhow::ensure!(
        binary.exists(),
        "{binary:?} is missing: build it first with `cargo build --release --example loadgen`"
    );
    Ok(binary)
}

fn wrk(url: &str, seconds: u64) -> anyhow::Result<Run> {
    let (text, cpu) = measured(Command::new("wrk").args([
        format!("-t{THREADS}"),
        format!("-c{CONNECTIONS}"),
        format!("-d{seconds}s"),
        url.to_string(),
    ]))?;
    // wrk prints "  123456 requests in 4.00s, ..." and "Requests/sec: 30864.00".
    let requests: f64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no request count in wrk's output:\n{text}"))?;
    let per_sec = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no Requests/sec line in wrk's output:\n{text}"))?;
    Ok(Run {
        per_sec,
        cpu_us_per_request: cpu.as_secs_f64() * 1e6 / requests.max(1.0),
    })
}

fn ours(binary: &PathBuf, url: &str, seconds: u64) -> anyhow::Result<Run> {
    let (text, cpu) = measured(Command::new(binary).args([
        "-t".to_string(),
        THREADS.to_string(),
        "-c".to_string(),
        CONNECTIONS.to_string(),
        "-d".to_string(),
        format!("{seconds}s"),
        "--json".to_string(),
        url.to_string(),
    ]))?;
    let json: serde_json::Value = serde_json::from_str(text.trim())?;
    let field = |name: &str| {
        json[name]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("no {name} in loadgen's output: {text}"))
    };
    Ok(Run {
        per_sec: field("requests_per_sec")?,
        cpu_us_per_request: cpu.as_secs_f64() * 1e6 / field("requests")?.max(1.0),
    })
}
