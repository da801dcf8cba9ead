// Benchmark (not a test) of the visualizer in headless Chromium:
//  1. time to simulate N requests (default 100,000) of the ch01 workload through
//     all six models (goal < 150 ms), median of 5 runs after a warm-up; then the
//     same with the metrics computed alongside, and with everything the page
//     computes from a run (metrics and timeline), each a median of 5;
//  2. gzipped size of the shipped wasm + JS glue (goal <= 300 KiB).
// Usage (after `cargo xtask book`, with the book served, e.g. `cargo xtask serve`):
//   BOOK_URL=http://127.0.0.1:3000/ node playground/web/bench/bench.mjs [requests]
// Leaves out: drawing time (the canvas only paints the visible window).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import path from "node:path";
import os from "node:os";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
// playwright-core is installed for the e2e tests; reuse it rather than a second copy.
const require = createRequire(path.join(root, "tests/e2e/package.json"));
const { chromium } = require("playwright-core");

const requests = Number(process.argv[2] ?? 100_000);
const bookUrl = process.env.BOOK_URL ?? "http://127.0.0.1:3000/";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
console.log("# The visualizer in headless Chromium");
console.log(`# command: BOOK_URL=${bookUrl} node playground/web/bench/bench.mjs${process.argv[2] ? ` ${process.argv[2]}` : ""}`);
console.log(`# machine: ${os.platform()} ${os.arch()}, ${os.cpus().length} logical cores, `
  + `${os.cpus()[0]?.model ?? "unknown CPU"}; Chromium ${browser.version()}\n`);
const page = await browser.newPage();
await page.goto(new URL("visualizer.html", bookUrl).href);
const runs = await page.evaluate(async (n) => {
  const viz = await import(new URL("pkg/waiting_well_viz.js", document.baseURI).href);
  await viz.default({ module_or_path: new URL("pkg/waiting_well_viz_bg.wasm", document.baseURI) });
  viz.benchAllModels(n); // warm-up
  const out = [];
  for (let i = 0; i < 5; i += 1) out.push(Array.from(viz.benchAllModels(n)));
  return out;
}, requests);
await browser.close();

const models = ["sync-pool", "event-loop", "blocked-loop", "gil-threads", "loop-per-worker", "work-stealing"];
const medianOf = (i) => runs.map((r) => r[i]).sort((a, b) => a - b)[2];
runs.sort((a, b) => a[0] - b[0]);
const median = runs[2];
console.log(`simulate ${requests} requests through all six models (median of 5): ${median[0].toFixed(1)} ms (goal < 150 ms)`);
console.log("  per model: " + models.map((m, i) => `${m} ${median[i + 1].toFixed(1)} ms`).join(", "));
console.log(`  all 5 runs, sorted (ms): ${runs.map((r) => r[0].toFixed(1)).join(", ")}`);
console.log(`  with the metrics computed alongside: ${medianOf(7).toFixed(1)} ms; `
  + `everything the page computes (metrics and timeline too): ${medianOf(8).toFixed(1)} ms`);
let gz = 0;
for (const f of ["waiting_well_viz_bg.wasm", "waiting_well_viz.js"]) {
  const bytes = readFileSync(path.join(root, "book/pkg", f));
  const g = gzipSync(bytes, { level: 9 }).length;
  gz += g;
  console.log(`  ${f}: ${(bytes.length / 1024).toFixed(1)} KiB, gzipped ${(g / 1024).toFixed(1)} KiB`);
}
console.log(`gzipped wasm + JS: ${(gz / 1024).toFixed(1)} KiB (goal <= 300 KiB)`);
