//! A small `wrk`-like command line for the book's load generator
//! (`lab::loadgen`): closed loop by default, open loop with `--rate`.
//!
//! ```text
//! cargo run --release --example loadgen -- -c 100 -d 5s http://127.0.0.1:3000/hello
//! cargo run --release --example loadgen -- -c 100 -d 5s --rate 2000 http://127.0.0.1:3000/hello
//! cargo run --release --example loadgen -- -c 10 -n 10000 --threads 2 --json http://127.0.0.1:3000/hello
//! ```
//!
//! It prints the banner and one table (req/s, p50, p90, p99, max, errors), or
//! with `--json` a single JSON object for scripts (no banner). Only loopback
//! targets are accepted. Left out: TLS, HTTP/2, scripts, custom headers.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use lab::loadgen::{self, LoadReport, LoadSpec, Pace};
use lab::report::{Table, human, print_banner};

#[derive(Parser, Debug)]
#[command(
    about = "Send HTTP/1.1 keep-alive load to a loopback URL (closed loop, or open loop with --rate)"
)]
struct Args {
    /// Target URL on loopback, e.g. http://127.0.0.1:3000/hello
    url: String,
    /// Open connections (each keeps one request in flight)
    #[arg(short = 'c', long, default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=loadgen::MAX_CONNECTIONS as u64))]
    connections: u64,
    /// Measured duration, e.g. 500ms, 5s, 2m (at most 10m)
    #[arg(short = 'd', long, default_value = "5s", value_parser = loadgen::parse_duration)]
    duration: Duration,
    /// Open loop: total requests per second, latency measured from the intended send time
    #[arg(short = 'R', long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Stop after this many measured requests
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// OS threads, each with its own single-threaded runtime (like wrk -t)
    #[arg(short = 't', long, default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
    /// Unmeasured warm-up before the measured duration
    #[arg(long, default_value = "0s", value_parser = loadgen::parse_duration)]
    warmup: Duration,
    /// A request slower than this counts as an error
    #[arg(long, default_value = "10s", value_parser = loadgen::parse_duration)]
    timeout: Duration,
    /// Send POST with this JSON body instead of GET
    #[arg(long)]
    body: Option<String>,
    /// Print one JSON object instead of the banner and table
    #[arg(long)]
    json: bool,
    /// Show a progress bar on stderr while the run lasts
    #[arg(long)]
    progress: bool,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "expected a positive number of requests per second, got {text:?}"
        )),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let mut spec = LoadSpec::closed(&args.url, args.connections as usize, args.duration)?
        .with_warmup(args.warmup)
        .with_request_timeout(args.timeout);
    if let Some(rate) = args.rate {
        spec.pace = Pace::Open { rate_per_sec: rate };
    }
    if let Some(n) = args.requests {
        spec = spec.with_max_requests(n);
    }
    if let Some(body) = &args.body {
        spec = spec.with_body(body.clone());
    }
    spec.validate()?;
    let threads = (args.threads as usize).min(spec.connections);
    if !args.json {
        print_banner("loadgen: HTTP/1.1 keep-alive load on loopback");
    }
    let report = if args.progress {
        with_progress(spec.warmup + spec.duration, || {
            loadgen::run_blocking(&spec, threads)
        })?
    } else {
        loadgen::run_blocking(&spec, threads)?
    };
    if args.json {
        println!("{}", to_json(args, &spec, threads, &report));
    } else {
        print_table(args, &spec, threads, &report);
    }
    Ok(())
}

fn pace_name(spec: &LoadSpec) -> String {
    match spec.pace {
        Pace::Closed => "closed".to_string(),
        Pace::Open { rate_per_sec } => format!("open ({rate_per_sec} req/s)"),
    }
}

fn print_table(args: &Args, spec: &LoadSpec, threads: usize, r: &LoadReport) {
    println!(
        "{} for {}: {} connection(s) on {threads} thread(s), {} loop",
        args.url,
        human(r.elapsed),
        spec.connections,
        pace_name(spec),
    );
    println!();
    let mut t = Table::new(["requests", "req/s", "p50", "p90", "p99", "max", "errors"]);
    // No answers, no latency: print a dash rather than a made-up 0.
    let latency = |d: Duration| {
        if r.requests == 0 {
            "-".to_string()
        } else {
            human(d)
        }
    };
    t.row([
        r.requests.to_string(),
        format!("{:.1}", r.requests_per_sec()),
        latency(r.latency(0.50)),
        latency(r.latency(0.90)),
        latency(r.latency(0.99)),
        latency(r.max_latency()),
        r.errors.to_string(),
    ]);
    print!("{t}");
    if r.unfinished > 0 {
        println!(
            "\nunanswered: {} request(s) got no answer by the end of the run \
             (still in flight, or, open loop, never sent because every connection was busy)",
            r.unfinished
        );
    }
    if r.errors > 0 {
        let f = r.failures;
        println!(
            "\nerrors: {} connect, {} timeout, {} broken, {} server 5xx",
            f.connect, f.timeout, f.broken, f.server_error
        );
    }
}

fn to_json(args: &Args, spec: &LoadSpec, threads: usize, r: &LoadReport) -> serde_json::Value {
    let us = |d: Duration| d.as_micros() as u64;
    let rate = match spec.pace {
        Pace::Closed => None,
        Pace::Open { rate_per_sec } => Some(rate_per_sec),
    };
    let status: serde_json::Map<String, serde_json::Value> = r
        .status
        .iter()
        .map(|(code, n)| (code.to_string(), (*n).into()))
        .collect();
    serde_json::json!({
        "url": args.url,
        "pace": if rate.is_some() { "open" } else { "closed" },
        "rate_per_sec": rate,
        "connections": spec.connections,
        "threads": threads,
        "requests": r.requests,
        "errors": r.errors,
        "elapsed_s": r.elapsed.as_secs_f64(),
        "requests_per_sec": r.requests_per_sec(),
        "latency_us": {
            "p50": us(r.latency(0.50)),
            "p90": us(r.latency(0.90)),
            "p99": us(r.latency(0.99)),
            "max": us(r.max_latency()),
        },
        "failures": {
            "connect": r.failures.connect,
            "timeout": r.failures.timeout,
            "broken": r.failures.broken,
            "server_error": r.failures.server_error,
        },
        "status": status,
        "connects": r.connects,
        "unfinished": r.unfinished,
    })
}

/// Runs `work` while a time-based progress bar fills on stderr.
fn with_progress<T>(total: Duration, work: impl FnOnce() -> T) -> T {
    let bar = indicatif::ProgressBar::new(total.as_millis() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {percent}%")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let started = std::time::Instant::now();
            // Bounded by `done`, which is set as soon as the run returns.
            while !done.load(Ordering::Relaxed) {
                bar.set_position(started.elapsed().as_millis() as u64);
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        let result = work();
        done.store(true, Ordering::Relaxed);
        result
    })
}
