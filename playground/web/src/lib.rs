//! The in-browser visualizer of Waiting Well: `mount(element, preset)` builds the
//! controls and canvases for one `.ww-viz` element (theme/viz-loader.js calls it for
//! every embed) and draws the event logs of `waiting-well-sim`.
//!
//! Leaves out: the simulation itself (playground/sim) and page wiring (the loader).

mod config;
mod draw;
mod export;
mod text;
mod ui;
mod workers;

use waiting_well_sim::{
    Limits, ModelKind, ModelSpec, Replay, Workload, simulate, simulate_bare, simulate_observed,
    simulate_shown,
};
use wasm_bindgen::prelude::*;

pub use config::{Config, PRESETS, QUERY_KEYS, SPEEDS};
pub use text::{Lang, Msg, Text};

/// Build the visualizer inside `element` from a preset name (`data-preset`).
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, preset: &str) -> Result<(), JsValue> {
    ui::mount(element, preset)
}

/// Benchmark hook (not a test): simulate `requests` requests of the `ch01`
/// workload through all six models, four ways. Returns `[simulate_ms, that per
/// model ×6, bare_ms, observed_ms, page_ms, page per model ×6]`, measured with
/// `performance.now()`: the simulation alone (its log kept), the engine with
/// nothing observing it (`simulate_bare`, the floor under any view), the
/// simulation with metrics and timeline (and the log), then everything the
/// page computes from a run as the page does it (`simulate_shown`: the metrics,
/// no log; then a replay of the first window it draws) — the goal's measure.
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
    let (spec, workload) = (|kind| cfg.spec(kind), cfg.workload());
    let mut out = vec![0.0];
    for kind in ModelKind::ALL {
        let t0 = now();
        let run = simulate(spec(kind), workload, &limits);
        out.push(now() - t0);
        assert!(!run.truncated);
    }
    out[0] = out.iter().sum();
    let t0 = now();
    for kind in ModelKind::ALL {
        assert!(!simulate_bare(spec(kind), workload, &limits).1);
    }
    out.push(now() - t0);
    let t0 = now();
    for kind in ModelKind::ALL {
        let page = simulate_observed(spec(kind), workload, &limits);
        assert!(page.timeline.end > 0);
    }
    out.push(now() - t0);
    let page_at = out.len();
    out.push(0.0);
    for kind in ModelKind::ALL {
        let t0 = now();
        let page = simulate_shown(spec(kind), workload, &limits);
        replay_first_window(&cfg, spec(kind), workload, &limits, page.end_us);
        out.push(now() - t0);
        assert!(!page.truncated && page.metrics.completed == requests);
    }
    out[page_at] = out[page_at + 1..].iter().sum();
    out
}

/// Benchmark hook (not a test): everything the page computes for `requests`
/// requests of the `ch01` workload through all six models, the way the page
/// computes a run of many requests: the six runs on the worker threads (as
/// many at once as there are cores), then, on the page, a replay of the first
/// window each draws. Resolves to the milliseconds from asking to done
/// (`performance.now()`), or rejects if the workers cannot run here.
#[wasm_bindgen(js_name = benchInWorkers)]
pub async fn bench_in_workers(requests: u32) -> Result<f64, JsValue> {
    let perf = web_sys::window().and_then(|w| w.performance());
    let now = || perf.as_ref().map_or(0.0, |p| p.now());
    let cfg = Config {
        requests,
        ..Config::default()
    };
    let t0 = now();
    let jobs = ModelKind::ALL.map(|kind| workers::Job {
        model: cfg.spec(kind),
        workload: cfg.workload(),
    });
    let runs = workers::simulate(&jobs)
        .await
        .map_err(|e| JsValue::from_str(&e))?;
    let limits = Config::limits();
    for shown in &runs {
        replay_first_window(&cfg, shown.model, shown.workload, &limits, shown.end_us);
        assert!(!shown.truncated && shown.metrics.completed == cfg.workload().requests);
    }
    Ok(now() - t0)
}

/// The benches' share of drawing a run: the timeline of the first window the
/// page draws of it (see `ui::first_frame`), replayed.
fn replay_first_window(
    cfg: &Config,
    model: ModelSpec,
    workload: Workload,
    limits: &Limits,
    end: u64,
) {
    let (window, cursor) = ui::first_frame(cfg, end);
    let mut replay = Replay::new(model, workload, limits);
    assert!(replay.window(cursor.saturating_sub(window), cursor).end > 0);
}

/// Worker-thread entry (js/viz-worker.js): one model's run for the page, a
/// job as JSON in, the run as the page shows it (`Shown`) as JSON out.
#[wasm_bindgen(js_name = simulateJob)]
pub fn simulate_job(job: &str) -> Result<String, JsValue> {
    workers::simulate_job(job).map_err(|e| JsValue::from_str(&e))
}

/// Benchmark hook: the time each animation frame spent in the visualizers
/// (advance the cursor and draw), ms, since the last call.
#[wasm_bindgen(js_name = frameTimes)]
pub fn frame_times() -> Vec<f64> {
    ui::take_frame_times()
}
