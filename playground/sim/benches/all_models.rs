//! Benchmark (not a test): simulate 100,000 requests of the ch01 workload (16
//! clients, 50 ms wait, 1 ms CPU) through all six models, natively, with metrics
//! (the goal's measure), and the timeline the page also builds, reported apart.
//! The browser number (the goal) comes from playground/web/bench/bench.mjs.
//! Run: `cargo bench -p waiting-well-sim --bench all_models`
//! Leaves out: statistics beyond a median of 5 (use the browser bench for the goal).

use std::time::Instant;

use waiting_well_sim::{
    Arrivals, Dist, Limits, Metrics, ModelKind, ModelSpec, Timeline, Workload, simulate,
};

/// One pass over the six models: (simulate + metrics ms, per-model detail,
/// simulate ms, metrics ms, timeline ms).
fn one_pass(workload: Workload) -> (f64, String, f64, f64, f64) {
    let ms = |from: Instant, to: Instant| (to - from).as_secs_f64() * 1e3;
    let mut per_model = Vec::new();
    let (mut sim, mut metrics, mut timeline) = (0.0, 0.0, 0.0);
    for kind in ModelKind::ALL {
        let t0 = Instant::now();
        let run = simulate(ModelSpec::new(kind, 4), workload, &Limits::default());
        let t1 = Instant::now();
        let m = Metrics::from_run(&run);
        let t2 = Instant::now();
        assert_eq!(m.completed, 100_000);
        let tl = Timeline::from_run(&run);
        let t3 = Instant::now();
        assert!(tl.end > 0);
        per_model.push(format!(
            "{} {:.1}+{:.1} ms",
            kind.id(),
            ms(t0, t1),
            ms(t1, t2)
        ));
        sim += ms(t0, t1);
        metrics += ms(t1, t2);
        timeline += ms(t2, t3);
    }
    (sim + metrics, per_model.join(", "), sim, metrics, timeline)
}

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
    let mut passes: Vec<_> = (0..5).map(|_| one_pass(workload)).collect();
    passes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ms, detail, sim, metrics, timeline) = &passes[2];
    println!("100,000 requests through all six models (median of 5): {ms:.1} ms");
    println!(
        "  simulate {sim:.1} ms + metrics {metrics:.1} ms; timeline (page only) {timeline:.1} ms"
    );
    println!("  per model (simulate+metrics): {detail}");
}
