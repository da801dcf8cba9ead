// Benchmark (not a test) of the visualizer in headless Chromium, against the
// goals of issue 17 (each line says its goal):
//  1. everything the page computes (simulation, metrics, the timeline of the
//     window it draws) for N requests (default 1,000,000, the page's limit) of
//     the ch01 workload through all six models, the way the page computes a run
//     that big: on its worker threads, one model per job, then a replay of each
//     first window on the page (`benchInWorkers`; goal < 500 ms), median of 5
//     after three warm-up rounds (every worker has run every model; the first,
//     cold round is printed too); also the same on the page's thread alone, one model after
//     the other, the engine with nothing observing it (the floor under any
//     view), the simulation with its log kept, and with metrics and the whole
//     timeline too;
//  2. a page opened from a URL asking for a million requests: time from
//     navigation to the first drawn frame, and that no clamp message shows;
//  3. a 1,000-worker pool playing: the time each animation frame spends in the
//     visualizer (measured in the page with performance.now(); goal median
//     <= 16 ms, p95 <= 33 ms), and the intervals between frames;
//  4. first draw of a chapter's visualizer after the page's `load` event
//     (goal <= 500 ms), median of 5 loads;
//  5. gzipped size of the shipped wasm + JS glue (goal <= 300 KiB).
// Usage (after `cargo xtask book`, with the book served, e.g. `cargo xtask serve`):
//   BOOK_URL=http://127.0.0.1:3000/ node playground/web/bench/bench.mjs [requests]
// Leaves out: the GPU (Chromium runs with --disable-gpu, so canvas raster is in
// software: the frame times are an upper bound for a reader's browser).
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

const requests = Number(process.argv[2] ?? 1_000_000);
const bookUrl = process.env.BOOK_URL ?? "http://127.0.0.1:3000/";
const ROOT = "#viz-standalone";
const MILLION_URL = "visualizer.html?ww=requests:1000000";
const POOL_URL = "visualizer.html?ww=model:sync-pool,compare:work-stealing,workers:1000,clients:1000,"
  + "cpu:1,wait:50,requests:200000";
const CHAPTER = "ch01-waiting.html";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log("# The visualizer in headless Chromium");
console.log(`# command: BOOK_URL=${bookUrl} node playground/web/bench/bench.mjs${process.argv[2] ? ` ${process.argv[2]}` : ""}`);
console.log(`# machine: ${os.platform()} ${os.arch()}, ${os.cpus().length} logical cores, `
  + `${os.cpus()[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; `
  + `Chromium ${browser.version()}; load average at start ${load()}\n`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const ms = (v) => `${v.toFixed(1)} ms`;

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  return { page, context, errors };
}

// Mounted, and its runs in (a big run is simulated on worker threads meanwhile).
async function waitDrawn(page) {
  await page.waitForSelector(`${ROOT}[data-ww-mounted="yes"]:not([aria-busy])`, { timeout: 120_000 });
}

// 1. Compute, all six models.
{
  const { page, context } = await newPage();
  await page.goto(new URL("visualizer.html", bookUrl).href);
  const runs = await page.evaluate(async (n) => {
    const viz = await import(new URL("pkg/waiting_well_viz.js", document.baseURI).href);
    await viz.default({ module_or_path: new URL("pkg/waiting_well_viz_bg.wasm", document.baseURI) });
    viz.benchAllModels(n); // warm-up
    // The workers' first run starts them (and runs in baseline code); each
    // takes the next job as it is free, so two more let every worker run every
    // model before the measured rounds.
    const cold = await viz.benchInWorkers(n);
    await viz.benchInWorkers(n);
    await viz.benchInWorkers(n);
    const out = [];
    for (let i = 0; i < 5; i += 1) {
      const here = Array.from(viz.benchAllModels(n));
      out.push([...here, await viz.benchInWorkers(n)]);
    }
    return { out, cold, cores: navigator.hardwareConcurrency };
  }, requests).then(({ out, cold, cores }) => {
    console.log(`   (${cores} cores, so ${Math.min(cores, 6)} worker threads; their first run, starting cold: ${ms(cold)})`);
    return out;
  });
  await context.close();
  const models = ["sync-pool", "event-loop", "blocked-loop", "gil-threads", "loop-per-worker", "work-stealing"];
  const col = (i) => runs.map((r) => r[i]);
  const workers = col(16);
  console.log(`1. everything the page computes for ${requests} requests, all six models, on its worker threads `
    + `(median of 5): ${ms(median(workers))} (goal < 500 ms); all 5 runs, sorted: `
    + `${[...workers].sort((a, b) => a - b).map((v) => v.toFixed(1)).join(", ")} ms`);
  const byPage = [...runs].sort((a, b) => a[9] - b[9]);
  const mid = byPage[2];
  console.log(`   the same on the page's thread, one model after the other (median of 5): ${ms(mid[9])}; `
    + "per model: " + models.map((m, i) => `${m} ${ms(mid[i + 10])}`).join(", "));
  console.log(`   for comparison: the engine alone, nothing observing it (the floor under any view) `
    + `${ms(median(col(7)))}; with its log kept ${ms(median(col(0)))}, and with metrics and the whole timeline too `
    + `${ms(median(col(8)))}`);
}

// 2. A million requests from the URL.
{
  const { page, context, errors } = await newPage();
  const t0 = Date.now();
  await page.goto(new URL(MILLION_URL, bookUrl).href, { waitUntil: "load" });
  await waitDrawn(page);
  const elapsed = Date.now() - t0;
  const clamp = await page.locator(`${ROOT} .ww-viz-clamp`).evaluate((el) => (el.hidden ? "" : el.textContent));
  const requestsShown = await page.locator(ROOT).getByLabel("Requests", { exact: true }).inputValue();
  console.log(`2. ${MILLION_URL}: drawn ${elapsed} ms after navigation (two models, 1,000,000 requests each); `
    + `requests control ${requestsShown}; clamp message ${clamp ? `“${clamp}”` : "none"}; page errors ${errors.length}`);
  await context.close();
}

// 3. A 1,000-worker pool playing.
{
  const { page, context, errors } = await newPage();
  await page.goto(new URL(POOL_URL, bookUrl).href, { waitUntil: "load" });
  await waitDrawn(page);
  await page.evaluate(async () => {
    const viz = await import(new URL("pkg/waiting_well_viz.js", document.baseURI).href);
    viz.frameTimes(); // drop anything recorded before play
  });
  await page.locator(`${ROOT} .ww-viz-play`).click();
  const intervals = await page.evaluate(() => new Promise((done) => {
    const seen = [];
    let last;
    const tick = (ts) => {
      if (last !== undefined) seen.push(ts - last);
      last = ts;
      if (seen.length < 300) requestAnimationFrame(tick);
      else done(seen);
    };
    requestAnimationFrame(tick);
  }));
  await page.locator(`${ROOT} .ww-viz-play`).click();
  const frames = await page.evaluate(async () => {
    const viz = await import(new URL("pkg/waiting_well_viz.js", document.baseURI).href);
    return Array.from(viz.frameTimes());
  });
  console.log(`3. 1,000 workers playing (${POOL_URL}), ${frames.length} frames: time in the visualizer per frame `
    + `median ${ms(median(frames))} (goal <= 16 ms), p95 ${ms(quantile(frames, 0.95))} (goal <= 33 ms), `
    + `max ${ms(Math.max(...frames))}; interval between frames median ${ms(median(intervals))}, `
    + `p95 ${ms(quantile(intervals, 0.95))}; page errors ${errors.length}`);
  await context.close();
}

// 4. First draw of a chapter's visualizer after `load`.
{
  const after = [];
  for (let i = 0; i < 5; i += 1) {
    const { page, context } = await newPage();
    await context.addInitScript(() => {
      document.addEventListener("ww-viz-mounted", () => {
        window.__wwFirstDraw ??= performance.now();
      }, true);
    });
    await page.goto(new URL(CHAPTER, bookUrl).href, { waitUntil: "load" });
    await page.waitForFunction(() => window.__wwFirstDraw !== undefined, null, { timeout: 30_000 });
    after.push(await page.evaluate(() =>
      window.__wwFirstDraw - performance.getEntriesByType("navigation")[0].loadEventStart));
    await context.close();
  }
  console.log(`4. ${CHAPTER}: first visualizer drawn ${ms(median(after))} after the load event (median of 5; `
    + `goal <= 500 ms; negative = before it); all: ${after.map((v) => v.toFixed(1)).join(", ")} ms`);
}
await browser.close();

// 5. Size.
let gz = 0;
const sizes = [];
for (const f of ["waiting_well_viz_bg.wasm", "waiting_well_viz.js"]) {
  const bytes = readFileSync(path.join(root, "book/pkg", f));
  const g = gzipSync(bytes, { level: 9 }).length;
  gz += g;
  sizes.push(`${f} ${(bytes.length / 1024).toFixed(1)} KiB (gzipped ${(g / 1024).toFixed(1)} KiB)`);
}
console.log(`5. gzipped wasm + JS: ${(gz / 1024).toFixed(1)} KiB (goal <= 300 KiB): ${sizes.join(", ")}`);
console.log(`# load average at end ${load()}`);
