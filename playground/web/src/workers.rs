//! Runs of many requests, simulated on worker threads: js/pool.js starts as many
//! as the machine has cores (up to one per model), js/viz-worker.js runs
//! [`simulate_job`] in each. The page stays responsive while they run, and the
//! models' runs go on at once. What comes back is a [`Shown`] per model (its
//! metrics, no log, no timeline: a replay on the page draws the window).
//!
//! Leaves out: sharing memory with the workers (that needs a cross-origin
//! isolated page, which a static book host cannot promise), so a run's results
//! travel as JSON: a few kilobytes, whatever the number of requests.

use serde::{Deserialize, Serialize};
use waiting_well_sim::{ModelSpec, Shown, Workload, simulate_shown};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::config::Config;

/// Runs of at least this many requests go to the workers; a smaller one takes
/// the page a few milliseconds, about a worker's round trip.
pub const FROM_REQUESTS: u32 = 100_000;

/// One model's run, as the page asks a worker for it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub model: ModelSpec,
    pub workload: Workload,
}

#[wasm_bindgen(module = "/js/pool.js")]
extern "C" {
    /// `module`: this wasm's compiled module, for the workers to instantiate.
    #[wasm_bindgen(js_name = simulateInWorkers, catch)]
    fn simulate_in_workers(
        jobs: js_sys::Array,
        module: JsValue,
    ) -> Result<js_sys::Promise, JsValue>;
}

/// What a worker does with a job (JSON): the run as the page shows it (JSON),
/// within the page's limits.
pub fn simulate_job(job: &str) -> Result<String, String> {
    let job: Job = serde_json::from_str(job).map_err(|e| format!("bad job: {e}"))?;
    let shown = simulate_shown(job.model, job.workload, &Config::limits());
    serde_json::to_string(&shown).map_err(|e| e.to_string())
}

/// Simulate `jobs` on the workers: their runs in order, or why not (no
/// workers on this page, or one failed).
pub async fn simulate(jobs: &[Job]) -> Result<Vec<Shown>, String> {
    let inputs = jobs
        .iter()
        .map(|job| serde_json::to_string(job).map(JsValue::from))
        .collect::<Result<js_sys::Array, _>>()
        .map_err(|e| e.to_string())?;
    let promise = simulate_in_workers(inputs, wasm_bindgen::module()).map_err(describe)?;
    let outputs: js_sys::Array = JsFuture::from(promise).await.map_err(describe)?.into();
    outputs
        .iter()
        .map(|out| {
            let text = out.as_string().ok_or("a worker answered with no text")?;
            serde_json::from_str(&text).map_err(|e| format!("bad answer: {e}"))
        })
        .collect()
}

fn describe(err: JsValue) -> String {
    match err.dyn_ref::<js_sys::Error>() {
        Some(e) => e.message().into(),
        None => err.as_string().unwrap_or_else(|| format!("{err:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waiting_well_sim::ModelKind;

    /// A job's run comes back from JSON exactly as the page would compute it.
    #[test]
    fn a_job_round_trips_to_the_pages_own_run() {
        let presets = ["ch02-gil", "ch03-wsgi"].map(|p| Config::preset(p).expect("a preset"));
        for (cfg, kind) in presets.iter().flat_map(|c| ModelKind::ALL.map(|k| (c, k))) {
            let job = Job {
                model: cfg.spec(kind),
                workload: cfg.workload(),
            };
            let answer = simulate_job(&serde_json::to_string(&job).unwrap()).unwrap();
            let shown: Shown = serde_json::from_str(&answer).unwrap();
            let own = simulate_shown(job.model, job.workload, &Config::limits());
            assert_eq!(shown, own, "{kind:?}");
        }
        assert!(
            simulate_job("{\"model\": 1}")
                .unwrap_err()
                .starts_with("bad job")
        );
    }
}
