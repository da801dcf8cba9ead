//! Benchmark (not a test): simulate N requests (default 1,000,000, the page's
//! limit) of the ch01 workload (16 clients, 50 ms wait, 1 ms CPU) through all six
//! models, natively: the simulation
//! alone (its log kept), then with its metrics computed alongside, then with
//! metrics and timeline, then what the page computes from a run before it draws
//! (`simulate_shown`: the metrics; no log, no timeline: a `Replay` computes the
//! window it draws), and the engine with nothing observing it
//! (`simulate_bare`), the floor under all.
//! The browser number (the goal) comes from playground/web/bench/bench.mjs.
//! Run: `cargo bench -p waiting-well-sim --bench all_models [-- REQUESTS]`
//! Leaves out: statistics beyond a median of 5 (use the browser bench for the goal).

use std::time::Instant;

use waiting_well_sim::{
    Arrivals, Dist, Limits, ModelKind, ModelSpec, Workload, simulate, simulate_bare,
    simulate_observed, simulate_shown, simulate_with_metrics,
};

/// Milliseconds to run `f` once per model, and the per-model times.
fn all_models(mut f: impl FnMut(ModelSpec)) -> (f64, Vec<f64>) {
    let per_model: Vec<f64> = ModelKind::ALL
        .into_iter()
        .map(|kind| {
            let t0 = Instant::now();
            f(ModelSpec::new(kind, 4));
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    (per_model.iter().sum(), per_model)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    // cargo passes `--bench`; the first number is the request count.
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let requests: u32 = match arg.as_deref().map(str::parse) {
        None => 1_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: cargo bench -p waiting-well-sim --bench all_models [-- REQUESTS]");
            std::process::exit(2);
        }
    };
    println!("# The visualizer's simulation core, natively");
    println!(
        "# command: cargo bench -p waiting-well-sim --bench all_models{}",
        arg.map_or(String::new(), |a| format!(" -- {a}"))
    );
    println!("# machine: {}", lab::report::machine());
    println!();
    let workload = Workload {
        arrivals: Arrivals::Closed {
            clients: 16,
            think_us: 0,
        },
        cpu_before_us: 500,
        wait_us: 50_000,
        cpu_after_us: 500,
        dist: Dist::Fixed,
        requests,
        seed: 1,
    };
    let limits = Limits {
        max_requests: requests.max(Limits::default().max_requests),
        ..Limits::default()
    };
    let (mut sim, mut with_metrics, mut observed, mut page, mut bare) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        sim.push(all_models(|spec| {
            assert!(!simulate(spec, workload, &limits).truncated);
        }));
        with_metrics.push(all_models(|spec| {
            assert_eq!(
                simulate_with_metrics(spec, workload, &limits).1.completed,
                requests
            );
        }));
        observed.push(all_models(|spec| {
            assert!(simulate_observed(spec, workload, &limits).timeline.end > 0);
        }));
        page.push(all_models(|spec| {
            let shown = simulate_shown(spec, workload, &limits);
            assert!(!shown.truncated && shown.metrics.completed == requests);
        }));
        bare.push(all_models(|spec| {
            assert!(!simulate_bare(spec, workload, &limits).1);
        }));
    }
    sim.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ms, per_model) = &sim[2];
    println!("{requests} requests through all six models (median of 5): {ms:.1} ms");
    let detail: Vec<String> = ModelKind::ALL
        .iter()
        .zip(per_model)
        .map(|(kind, ms)| format!("{} {ms:.1} ms", kind.id()))
        .collect();
    println!("  per model: {}", detail.join(", "));
    println!(
        "  with the metrics computed alongside: {:.1} ms; metrics and timeline with the log kept: {:.1} ms",
        median(with_metrics.iter().map(|r| r.0).collect()),
        median(observed.iter().map(|r| r.0).collect())
    );
    page.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ms, per_model) = &page[2];
    let detail: Vec<String> = ModelKind::ALL
        .iter()
        .zip(per_model)
        .map(|(kind, ms)| format!("{} {ms:.1} ms", kind.id()))
        .collect();
    println!(
        "what the page computes before it draws (simulate_shown: metrics; no log, no timeline), median of 5: {ms:.1} ms"
    );
    println!("  per model: {}", detail.join(", "));
    println!(
        "the engine alone, nothing observing it (simulate_bare; the floor under any view), median of 5: {:.1} ms",
        median(bare.iter().map(|r| r.0).collect())
    );
}
