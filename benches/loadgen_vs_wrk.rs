//! Is the book's load generator fast enough to trust? This benchmark drives
//! the same hello-world server (`lab::upstream`, route `/hello`) with `wrk`
//! and with our `loadgen` example, both as separate processes with the same
//! thread and connection counts, in alternating rounds (who goes first
//! alternates too), and prints each round's req/s, p50 latency and the
//! client's own CPU per request, then judges two goals on the median of the
//! rounds' ratios:
//! - **throughput**: ours / wrk ≥ 0.95, so that a server that tops out in the
//!   book's figures is the server's limit, not the client's;
//! - **p50 latency**: ours within 15 % of wrk's (both measure a closed loop
//!   from the actual send, so on the same server they should agree).
//!
//! ```text
//! cargo build --release --example loadgen
//! cargo bench --bench loadgen_vs_wrk
//! ```
//!
//! It prints PASS or FAIL per goal and exits with an error if a goal failed.
//! The machine's load average is printed before and after: on a shared box
//! the ratios are only as good as that quiet. Needs `wrk` (Debian/Ubuntu:
//! `sudo apt-get install wrk`); without it the benchmark says so and exits
//! successfully. Left out: the tail (on a shared box p99 is noise), open
//! loop (wrk has none; wrk2 is not packaged).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use lab::report::{Table, human, print_banner};
use lab::upstream::SlowUpstream;
use procfs::Current as _;

/// Alternating rounds; the goals are judged on the median round.
const ROUNDS: usize = 10;
const THREADS: usize = 2;
const CONNECTIONS: usize = 50;
const SECONDS: u64 = 2;
/// Worker threads of the server under load (the box is shared by all three).
const SERVER_THREADS: usize = 2;
/// Goal: our req/s at least this share of wrk's.
const THROUGHPUT_GOAL: f64 = 0.95;
/// Goal: our p50 latency within this fraction of wrk's.
const P50_TOLERANCE: f64 = 0.15;

fn main() -> ExitCode {
    // `--serve N`: only run the hello-world server for N seconds (at most 120),
    // to try both clients by hand or profile one.
    let args: Vec<String> = std::env::args().collect();
    let result = match args.iter().position(|a| a == "--serve") {
        Some(i) => serve(args.get(i + 1).map(String::as_str)).map(|()| true),
        None => run(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
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

/// Runs the rounds and judges the goals: `Ok(false)` when one failed.
fn run() -> anyhow::Result<bool> {
    print_banner("loadgen vs wrk: req/s and p50 on the same hello-world server");
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("wrk is not installed, so there is nothing to compare against.");
        println!("Install it (Debian/Ubuntu: `sudo apt-get install wrk`) and rerun.");
        return Ok(true);
    }
    let loadgen = loadgen_binary()?;
    let server = SlowUpstream::start(Duration::ZERO, SERVER_THREADS)?;
    let url = server.url("/hello");
    println!(
        "server: lab::upstream /hello on {SERVER_THREADS} threads; both clients: \
         {THREADS} threads, {CONNECTIONS} connections, {SECONDS} s per run, {ROUNDS} rounds"
    );
    println!("load average before: {}", load_average());
    println!();

    // One short unmeasured run each, so neither side pays for a cold start.
    wrk(&url, 1)?;
    ours(&loadgen, &url, 1)?;

    let mut table = Table::new([
        "round",
        "wrk req/s",
        "loadgen req/s",
        "ours / wrk",
        "wrk p50",
        "loadgen p50",
        "p50 ours / wrk",
        "wrk CPU µs/req",
        "loadgen CPU µs/req",
    ]);
    let mut runs = Vec::new();
    for round in 1..=ROUNDS {
        eprintln!("round {round}/{ROUNDS}");
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
    // someone else's compile, and a median shrugs that off. The ratios are
    // per round (both clients saw the same minute), then their median.
    let of = |f: fn(&(Run, Run)) -> f64| median(runs.iter().map(f).collect());
    let throughput = of(|r| r.1.per_sec / r.0.per_sec);
    let p50 = of(|r| r.1.p50.as_secs_f64() / r.0.p50.as_secs_f64());
    table.row([
        "median".to_string(),
        format!("{:.0}", of(|r| r.0.per_sec)),
        format!("{:.0}", of(|r| r.1.per_sec)),
        format!("{throughput:.2}"),
        human(Duration::from_secs_f64(of(|r| r.0.p50.as_secs_f64()))),
        human(Duration::from_secs_f64(of(|r| r.1.p50.as_secs_f64()))),
        format!("{p50:.2}"),
        format!("{:.1}", of(|r| r.0.cpu_us_per_request)),
        format!("{:.1}", of(|r| r.1.cpu_us_per_request)),
    ]);
    print!("{table}");
    println!();
    println!(
        "CPU µs/req is the client's own user+system time per request: the server \
         shares the cores, so a client that needs less CPU leaves more to the server."
    );
    println!("load average after: {}", load_average());
    println!();
    let throughput_met = throughput >= THROUGHPUT_GOAL;
    let p50_met = (p50 - 1.0).abs() <= P50_TOLERANCE;
    let verdict = |met: bool| if met { "PASS" } else { "FAIL" };
    println!(
        "{}: throughput, median of ours / wrk = {throughput:.2} (goal >= {THROUGHPUT_GOAL:.2})",
        verdict(throughput_met)
    );
    println!(
        "{}: p50 latency, median of ours / wrk = {p50:.2} (goal within {:.0} % of 1)",
        verdict(p50_met),
        100.0 * P50_TOLERANCE
    );
    Ok(throughput_met && p50_met)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The 1, 5 and 15-minute load averages, or why they could not be read.
fn load_average() -> String {
    match procfs::LoadAverage::current() {
        Ok(l) => format!(
            "{:.2} {:.2} {:.2} (1, 5, 15 min; {} cores)",
            l.one,
            l.five,
            l.fifteen,
            std::thread::available_parallelism().map_or(1, usize::from)
        ),
        Err(e) => format!("unknown ({e})"),
    }
}

/// One client run: throughput, median latency and the client's own CPU cost.
struct Run {
    per_sec: f64,
    p50: Duration,
    cpu_us_per_request: f64,
}

fn row(label: &str, w: &Run, o: &Run) -> Vec<String> {
    vec![
        label.to_string(),
        format!("{:.0}", w.per_sec),
        format!("{:.0}", o.per_sec),
        format!("{:.2}", o.per_sec / w.per_sec),
        human(w.p50),
        human(o.p50),
        format!("{:.2}", o.p50.as_secs_f64() / w.p50.as_secs_f64()),
        format!("{:.1}", w.cpu_us_per_request),
        format!("{:.1}", o.cpu_us_per_request),
    ]
}

/// User + system CPU time of all reaped child processes so far.
fn children_cpu() -> anyhow::Result<Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::new(t.tv_sec().max(0) as u64, t.tv_usec().max(0) as u32 * 1000)
    };
    Ok(tv(usage.user_time()) + tv(usage.system_time()))
}

/// Runs `command` to completion and returns its stdout and CPU time.
fn measured(command: &mut Command) -> anyhow::Result<(String, Duration)> {
    let before = children_cpu()?;
    let out = command.output()?;
    let cpu = children_cpu()?.saturating_sub(before);
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
        "--latency".to_string(),
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
    // With --latency: "  Latency Distribution" then "     50%  635.00us".
    let p50 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("50%"))
        .and_then(|v| lab::loadgen::parse_duration(v).ok())
        .ok_or_else(|| anyhow::anyhow!("no 50% latency line in wrk's output:\n{text}"))?;
    Ok(Run {
        per_sec,
        p50,
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
    let p50_us = json["latency_us"]["p50"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("no latency_us.p50 in loadgen's output: {text}"))?;
    Ok(Run {
        per_sec: field("requests_per_sec")?,
        p50: Duration::from_secs_f64(p50_us / 1e6),
        cpu_us_per_request: cpu.as_secs_f64() * 1e6 / field("requests")?.max(1.0),
    })
}
