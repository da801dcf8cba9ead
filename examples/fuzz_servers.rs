//! The server fuzzer as a command: generated bad requests (malformed request
//! lines, headers, Content-Length, chunking, JSON, non-UTF-8 bytes, query
//! strings, pipelined garbage, early disconnects) against every server model
//! of chapters 3–4 and both lifespan apps of chapter 5, over loopback. Every
//! answer must be a 4xx with a JSON message, a bare 400-class answer from the
//! HTTP layer, or a clean close; never a 5xx, a hang or a panic; and good
//! requests must be answered correctly during and after (see `lab::fuzz`).
//!
//! Smoke (1,000 inputs per endpoint family, what `tests/fuzz_servers.rs` runs):
//!           cargo run --release --example fuzz_servers
//! Full run (100,000 per endpoint family per server; sized for < 30 min on 2 cores):
//!           cargo run --release --example fuzz_servers -- --full
//! One API model in a child process, so a crash that kills the process is
//! reported instead of killing the fuzzer:
//!           cargo build --release --example ch03_wsgi
//!           cargo run --release --example fuzz_servers -- --server rouille --child target/release/examples/ch03_wsgi
//!
//! Chapter 6's Python stacks too (uvicorn + FastAPI, gunicorn + DRF; their answers
//! are a table, not a verdict; skipped with a line without python3 >= 3.10):
//!           cargo run --release --example fuzz_servers -- --python [--server fastapi-async]
//!
//! Exits 1 if any of our servers failed (or the harness broke). Leaves out: slow
//! clients and overload (other drills).

use std::path::PathBuf;

use clap::Parser;
use lab::api::experiment::serve_in_child;
use lab::fuzz::stacks::{python_launch, python_stacks, python_table, run_stack};
use lab::fuzz::{self, Plan, Report, Server};
use lab::report::{Table, print_banner};
use lab::stacks::StackName;

#[derive(Parser)]
#[command(about = "Fuzz every server model and both lifespan apps over loopback")]
struct Cli {
    /// 100,000 inputs per endpoint family per server.
    #[arg(long)]
    full: bool,
    /// Inputs per endpoint family per server (overrides --full).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    per_family: Option<u64>,
    /// Only this server: a --model name (sync-pool, rouille, ...),
    /// lifespan-axum / lifespan-actix, or with --python a stack name
    /// (fastapi-async, django-sync, ...). Repeatable.
    #[arg(long)]
    server: Vec<String>,
    /// Also fuzz chapter 6's Python stacks (reported, not judged).
    #[arg(long)]
    python: bool,
    /// Run API models as `EXE serve --model NAME --workers K --port 0`.
    #[arg(long)]
    child: Option<PathBuf>,
    /// Client threads sending at once (default: 8, with --full 64).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    clients: Option<u16>,
    /// How long a server may stay silent before a client half-closes, in ms
    /// (default: 100, with --full 30).
    #[arg(long, value_parser = clap::value_parser!(u64).range(10..=5_000))]
    quiet_ms: Option<u64>,
    /// Generator seed (the same seed sends the same inputs).
    #[arg(long, default_value_t = 16)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let per_family = cli
        .per_family
        .unwrap_or(if cli.full { 100_000 } else { 1_000 });
    let servers: Vec<Server> = Server::all()
        .into_iter()
        .filter(|s| cli.server.is_empty() || cli.server.contains(&s.name()))
        .collect();
    let stacks: Vec<StackName> = python_stacks()
        .filter(|s| cli.python && (cli.server.is_empty() || cli.server.contains(&s.name())))
        .collect();
    anyhow::ensure!(
        !servers.is_empty() || !stacks.is_empty(),
        "no server matches {:?}; names: {}",
        cli.server,
        Server::all()
            .iter()
            .map(Server::name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    print_banner("Fuzzing every server model over loopback");
    let (clients, quiet_ms) = if cli.full { (64, 30) } else { (8, 100) };
    let plan = Plan {
        clients: usize::from(cli.clients.unwrap_or(clients)),
        quiet: std::time::Duration::from_millis(cli.quiet_ms.unwrap_or(quiet_ms)),
        seed: cli.seed,
        ..Plan::new(per_family)
    };
    println!(
        "{per_family} inputs per endpoint family per server, {} client threads, \
         half-close after {} ms of silence, seed {}\n",
        plan.clients,
        plan.quiet.as_millis(),
        plan.seed
    );
    let mut summary = Table::new(fuzz::SUMMARY_HEADER);
    let mut all_clean = true;
    for &server in &servers {
        eprintln!("fuzzing {} ...", server.label());
        let report = match (&cli.child, server) {
            (Some(exe), Server::Api(model)) => fuzz_child(exe, model, &plan)?,
            _ => fuzz_in_process(server, &plan, cli.full)?,
        };
        all_clean &= report.clean();
        summary.row(fuzz::summary_row(&server.label(), &report));
        print_details(server, &report); // as each server ends: a long run shows progress
    }
    if !stacks.is_empty() {
        fuzz_python(&stacks, &plan)?;
    }
    if servers.is_empty() {
        return Ok(());
    }
    println!("## Summary\n");
    println!("{}", summary.render());
    println!(
        "4xx HTTP = a bare {:?} from the HTTP layer; closed = no answer, the server hung up \
         (or the client left first)\n",
        fuzz::HTTP_LAYER_STATUSES
    );
    if !all_clean {
        println!("some servers FAILED");
        std::process::exit(1);
    }
    println!("every server answered every input cleanly");
    Ok(())
}

/// The Python stacks' table: what they answered, reported as it is.
fn fuzz_python(stacks: &[StackName], plan: &Plan) -> anyhow::Result<()> {
    println!("## Python stacks (chapter 6): reported, not judged\n");
    let scratch = lab::db::TempDbs::new()?;
    let launch = match python_launch(scratch.dir(), |step| eprintln!("{step}"))? {
        Ok(launch) => launch,
        Err(why) => {
            println!("skipped: the Python stacks need python3 >= 3.10: {why}\n");
            return Ok(());
        }
    };
    let mut runs = Vec::new();
    for &stack in stacks {
        eprintln!("fuzzing {} ...", stack.name());
        let run = run_stack(stack, &launch, plan)?;
        for example in &run.report.examples {
            println!(
                "{} ({}, {}): {}\n    input: {}",
                stack.name(),
                example.family,
                example.class.name(),
                example.why,
                example.input
            );
        }
        runs.push(run);
    }
    println!("\n{}", python_table(&runs).render());
    println!(
        "5xx = a 5xx answer; hangs = no answer and no close within three deadlines; slow = \
         answered (or closed) after the deadline, within three; other unclean = \
         a 4xx without JSON, another status, or bytes that are not HTTP; tracebacks are \
         counted in the stack's own log\n"
    );
    Ok(())
}

/// One server's tables: per input class, per family, and what went wrong.
fn print_details(server: Server, report: &Report) {
    println!("## {}\n", server.label());
    let mut totals = Table::new(fuzz::SUMMARY_HEADER);
    totals.row(fuzz::summary_row(&server.label(), report));
    println!("{}", totals.render());
    println!("{}", report.class_table().render());
    let families: Vec<String> = report
        .by_family
        .iter()
        .map(|(f, n)| format!("{f}: {n}"))
        .collect();
    println!("per endpoint family: {}", families.join(", "));
    if !report.http_statuses.is_empty() {
        println!("HTTP-layer answers by status: {:?}", report.http_statuses);
    }
    if let Some(gone) = &report.server_gone {
        println!("SERVER GONE: {gone}");
    }
    for example in &report.examples {
        println!(
            "FAILED ({}, {}): {}\n    input: {}",
            example.family,
            example.class.name(),
            example.why,
            example.input
        );
    }
    for why in &report.probes_failed {
        println!("PROBE FAILED: {why}");
    }
    if let Err(why) = &report.after {
        println!("GOOD REQUEST AFTER THE RUN FAILED: {why}");
    }
    if report.panics > 0 {
        println!(
            "PANICS: {} (first: {})",
            report.panics,
            fuzz::first_panic().unwrap_or_default()
        );
    }
    println!();
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

/// In this process; in a full run, one fresh server per endpoint family, so
/// no run's database or in-memory log grows past one family's inputs.
fn fuzz_in_process(server: Server, plan: &Plan, fresh_per_family: bool) -> anyhow::Result<Report> {
    if !fresh_per_family {
        return fuzz::run_in_process(server, plan);
    }
    let mut total = Report::default();
    for family in server.families() {
        let started = fuzz::Started::start(server)?;
        let families = std::slice::from_ref(family);
        total.absorb(fuzz::run(
            started.addr,
            server.probe_kind(),
            families,
            plan,
            &|| Ok(()),
        ));
    }
    Ok(total)
}

/// In a child process: a crash (an abort, a segfault) ends the run with the
/// signal that killed the server and the input that did it.
fn fuzz_child(
    exe: &std::path::Path,
    model: lab::api::Model,
    plan: &Plan,
) -> anyhow::Result<Report> {
    let mut child = serve_in_child(exe, model)?;
    let pid = child.pid();
    let alive = move || match lab::process::exit_status(pid) {
        None => Ok(()),
        Some(status) => Err(status),
    };
    let mut report = fuzz::run(
        child.addr(),
        fuzz::probe::Kind::Api,
        &fuzz::API_FAMILIES,
        plan,
        &alive,
    );
    let _ = child.stop();
    if report.server_gone.is_some() {
        // Which input was it? Replay each last-sent input on a fresh server.
        for (family, class, input) in std::mem::take(&mut report.suspects) {
            let mut fresh = serve_in_child(exe, model)?;
            let pid = fresh.pid();
            let _ = fuzz::wire::exchange(
                fresh.addr(),
                &input.bytes,
                input.ending,
                plan.quiet,
                plan.deadline,
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
            if let Some(death) = lab::process::exit_status(pid) {
                println!(
                    "CULPRIT ({family}, {}): {death} after\n    {}",
                    class.name(),
                    fuzz::escape(&input.bytes, 300)
                );
            }
            let _ = fresh.stop();
        }
    }
    Ok(report)
}
