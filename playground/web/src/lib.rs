//! The in-browser visualizer of Waiting Well: `mount(element, preset)` builds the
//! controls and canvases for one `.ww-viz` element (theme/viz-loader.js calls it for
//! every embed) and draws the event logs of `waiting-well-sim`.
//!
//! Leaves out: the simulation itself (playground/sim) and page wiring (the loader).

mod config;
mod draw;
mod export;
mod ui;

use waiting_well_sim::{Limits, Metrics, ModelKind, Timeline, simulate};
use wasm_bindgen::prelude::*;

pub use config::{Config, PRESETS};

/// Build the visualizer inside `element` from a preset name (`data-preset`).
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, preset: &str) -> Result<(), JsValue> {
    ui::mount(element, preset)
}

/// Benchmark hook (not a test): simulate `requests` requests of the `ch01`
/// workload through all six models and compute their metrics (the goal's
/// measure), then the timeline the page also builds from each log. Returns
/// `[total_ms, ms per model ×6, simulate_ms, metrics_ms, timeline_ms]`, measured
/// with `performance.now()`; `total_ms` and the per-model times are simulate +
/// metrics, the timeline is reported apart.
#[wasm_bindgen(js_name = benchAllModels)]
pub fn bench_all_models(requests: u32) -> Vec<f64> {
    let perf = web_sys::window().and_then(|w| w.performance());
    let now = || perf.as_ref().map_or(0.0, |p| p.now());
    let cfg = Config {
        requests,
        ..Config::default()
    };
    let limits = Limits {
        max_requests: requests.max(1),
        ..Limits::default()
    };
    let mut per_model = Vec::new();
    let (mut sim_ms, mut metrics_ms, mut timeline_ms) = (0.0, 0.0, 0.0);
    for kind in ModelKind::ALL {
        let t0 = now();
        let run = simulate(cfg.spec(kind), cfg.workload(), &limits);
        let t1 = now();
        let m = Metrics::from_run(&run);
        let t2 = now();
        assert!(m.completed > 0);
        let timeline = Timeline::from_run(&run);
        let t3 = now();
        assert!(timeline.end > 0);
        per_model.push(t2 - t0);
        sim_ms += t1 - t0;
        metrics_ms += t2 - t1;
        timeline_ms += t3 - t2;
    }
    let mut out = vec![per_model.iter().sum()];
    out.extend(per_model);
    out.extend([sim_ms, metrics_ms, timeline_ms]);
    out
}
