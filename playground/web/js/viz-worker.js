// One of the visualizer's worker threads (started by js/pool.js): instantiates
// the page's compiled visualizer and answers each job (JSON) with its run's
// results as JSON (`simulateJob` in playground/web/src/lib.rs), or an error.
// Copied into pkg/ beside the wasm-bindgen glue by `cargo xtask book`.
import init, { simulateJob } from "./waiting_well_viz.js";

// The first message brings the page's compiled module (see pool.js); each one
// after it, a job.
let ready;

self.onmessage = async ({ data }) => {
  if (data.job === undefined) {
    ready = init({ module_or_path: data.module });
    return;
  }
  try {
    await ready;
    self.postMessage({ result: simulateJob(data.job) });
  } catch (err) {
    self.postMessage({ error: String(err) });
  }
};
