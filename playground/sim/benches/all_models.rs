//! Benchmark (not a test): simulate 100,000 requests of the ch01 workload (16
//! clients, 50 ms wait, 1 ms CPU) through all six models, natively: the simulation
//! alone, then with its metrics computed alongside, then with everything the page
//! computes from a run (metrics and timeline).
//! The browser number (the goal) comes from playground/web/bench/bench.mjs.
//! Run: `cargo bench -p waiting-well-sim --bench all_models`
//! Leaves out: statistics beyond a median of 5 (use the browser bench for the goal).

use std::time::Instant;

use waiting_well_sim::{
    Arrivals, Dist, Limits, ModelKind, ModelSpec, Workload, simulate, simulate_observed,
    simulate_with_metrics,
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
    println!("# The visualizer's simulation core, natively");
    println!("# command: cargo bench -p waiting-well-sim --bench all_models");
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
        requests: 100_000,
        seed: 1,
    };
    let limits = Limits::default();
    let (mut sim, mut with_metrics, mut page) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        sim.push(all_models(|spec| {
            assert!(!simulate(spec, workload, &limits).truncated);
        }));
        with_metrics.push(all_models(|spec| {
            assert_eq!(
                simulate_with_metrics(spec, workload, &limits).1.completed,
                100_000
            );
        }));
        page.push(all_models(|spec| {
            assert!(simulate_observed(spec, workload, &limits).timeline.end > 0);
        }));
    }
    sim.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ms, per_model) = &sim[2];
    println!("100,000 requests through all six models (median of 5): {ms:.1} ms");
    let detail: Vec<String> = ModelKind::ALL
        .iter()
        .zip(per_model)
        .map(|(kind, ms)| format!("{} {ms:.1} ms", kind.id()))
        .collect();
    println!("  per model: {}", detail.join(", "));
    println!(
        "  with the metrics computed alongside: {:.1} ms; everything the page computes: {:.1} ms",
        median(with_metrics.iter().map(|r| r.0).collect()),
        median(page.iter().map(|r| r.0).collect())
    );
}
