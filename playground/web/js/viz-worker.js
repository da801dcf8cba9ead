// One of the visualizer's worker threads (started by js/pool.js): loads the
// visualizer's wasm and answers each message, a job as JSON, with its run's
// results as JSON (`simulateJob` in playground/web/src/lib.rs), or an error.
// Copied into pkg/ beside the wasm-bindgen glue by `cargo xtask book`.
import init, { simulateJob } from "./waiting_well_viz.js";

const ready = init({ module_or_path: new URL("./waiting_well_viz_bg.wasm", import.meta.url) });

self.onmessage = async ({ data }) => {
  try {
    await ready;
    self.postMessage({ result: simulateJob(data) });
  } catch (err) {
    self.postMessage({ error: String(err) });
  }
};
