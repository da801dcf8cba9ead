// The visualizer's worker threads: runs of many requests are simulated off the
// page's thread, one model per job, as many at once as the machine has cores
// (wasm-bindgen copies this file into pkg/snippets/; the worker script it
// starts, viz-worker.js, sits in pkg/ beside the glue, put there by
// `cargo xtask book`). Leaves out: the simulation (Rust, `simulateJob`) and
// what the page does with the results (playground/web/src/ui.rs).

let workers = null;
const queue = [];

// `module`: the page's compiled visualizer (a WebAssembly.Module), handed to
// each worker so that it neither compiles the wasm again nor starts in
// baseline code: the browser shares the module's compiled code, optimised
// functions included, between the threads.
function startWorkers(module) {
  // pkg/snippets/<crate>-<hash>/js/pool.js -> pkg/viz-worker.js
  const url = new URL("../../../viz-worker.js", import.meta.url);
  const cores = navigator.hardwareConcurrency || 1;
  return Array.from({ length: Math.max(1, Math.min(cores, 6)) }, () => {
    const worker = { thread: new Worker(url, { type: "module" }), job: null };
    worker.thread.postMessage({ module });
    worker.thread.onmessage = ({ data }) => {
      const job = worker.job;
      worker.job = null;
      if (data.error === undefined) job.resolve(data.result);
      else job.reject(new Error(data.error));
      next(worker);
    };
    worker.thread.onerror = (event) => {
      event.preventDefault();
      const job = worker.job;
      worker.job = null;
      job?.reject(new Error(event.message || "the worker failed to start"));
      next(worker);
    };
    return worker;
  });
}

// Give an idle worker the next job in line.
function next(worker) {
  const job = queue.shift();
  if (job === undefined) return;
  worker.job = job;
  worker.thread.postMessage({ job: job.input });
}

// Simulate each job (a JSON string, see `simulateJob`) in a worker; resolves to
// their results (JSON strings) in the same order, or rejects if any failed
// (the page then runs them itself). `module`: see `startWorkers`.
export function simulateInWorkers(jobs, module) {
  workers ??= startWorkers(module);
  const done = Array.from(jobs, (input) => new Promise((resolve, reject) => {
    queue.push({ input, resolve, reject });
  }));
  for (const worker of workers) if (worker.job === null) next(worker);
  return Promise.all(done);
}
