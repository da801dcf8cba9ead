//! Benchmark (not a test): simulate 100,000 requests of the ch01 workload (16
//! clients, 50 ms wait, 1 ms CPU) through all six models, natively, with metrics.
//! The browser number (the goal) comes from playground/web/bench/bench.mjs.
//! Run: `cargo bench -p waiting-well-sim --bench all_models`
//! Leaves out: statistics beyond a median of 5 (use the browser bench for the goal).

use std::time::Instant;

use waiting_well_sim::{Arrivals, Dist, Limits, Metrics, ModelKind, ModelSpec, Workload, simulate};

fn main() {
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
    let mut totals = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut per_model = Vec::new();
        for kind in ModelKind::ALL {
            let t0 = Instant::now();
            let run = simulate(ModelSpec::new(kind, 4), workload, &Limits::default());
            let sim = t0.elapsed();
            let m = Metrics::from_run(&run);
            assert_eq!(m.completed, 100_000);
            per_model.push(format!(
                "{} {:.1}+{:.1} ms",
                kind.id(),
                sim.as_secs_f64() * 1e3,
                (t0.elapsed() - sim).as_secs_f64() * 1e3
            ));
        }
        totals.push((start.elapsed().as_secs_f64() * 1e3, per_model.join(", ")));
    }
    totals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ms, detail) = &totals[2];
    println!("100,000 requests through all six models (median of 5): {ms:.1} ms");
    println!("  per model (simulate+metrics): {detail}");
}
