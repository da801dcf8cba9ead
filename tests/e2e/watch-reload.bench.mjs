// Benchmark (not a test): how long from saving a chapter to the open page
// showing the change, with `cargo xtask serve --watch`. Goal: <= 3 s.
//
//   node tests/e2e/watch-reload.bench.mjs            (from the repository root)
//   ROUNDS=10 CHAPTER=ch01-waiting node tests/e2e/watch-reload.bench.mjs
//
// Starts `cargo xtask serve --watch` on a free loopback port (its own first
// build is not timed), opens the chapter in headless Debian Chromium, then
// ROUNDS times: appends a marker paragraph to src/CHAPTER.md, and times from
// the write to the `load` event of the reloaded page, checking the page now
// shows the marker; then restores the file (that rebuild is timed too). The
// chapter is restored however the run ends, and the server is stopped.
// Prints each time, the median and the maximum, and the machine.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const CHAPTER = process.env.CHAPTER ?? "introduction";
const ROUNDS = Math.min(Number(process.env.ROUNDS ?? 5), 50);
const GOAL_MS = 3000;
const SOURCE = join(ROOT, "src", `${CHAPTER}.md`);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitForServer(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms / 1000} s`);
}

const port = await freePort();
const url = `http://127.0.0.1:${port}/${CHAPTER}.html`;
const server = spawn("cargo", ["xtask", "serve", "--watch", "--port", String(port)], {
  cwd: ROOT,
  stdio: ["ignore", "pipe", "inherit"],
  detached: true, // its own process group, so we can stop cargo and xtask together
});
const log = [];
server.stdout.on("data", (d) => log.push(String(d)));
const original = readFileSync(SOURCE, "utf8");
let browser;
const times = [];
try {
  await waitForServer(url, 15 * 60 * 1000);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: "load" });
  await page.waitForTimeout(500); // the page's reload listener connects

  async function timedEdit(text, expectMarker) {
    const loaded = page.waitForEvent("load", { timeout: 30000 });
    const t0 = performance.now();
    writeFileSync(SOURCE, text);
    await loaded;
    const ms = performance.now() - t0;
    const body = await page.locator("main").innerText();
    if (expectMarker && !body.includes(expectMarker)) throw new Error("reloaded without the edit");
    if (!expectMarker && body.includes("ww-reload-marker")) throw new Error("reloaded without the revert");
    await page.waitForTimeout(300);
    return ms;
  }

  for (let i = 0; i < ROUNDS; i += 1) {
    const marker = `ww-reload-marker-${i}-${Date.now()}`;
    times.push(["edit", await timedEdit(`${original}\n\n${marker}\n`, marker)]);
    times.push(["revert", await timedEdit(original, null)]);
  }
} finally {
  writeFileSync(SOURCE, original);
  await browser?.close();
  try {
    process.kill(-server.pid, "SIGINT");
  } catch {
    // already gone
  }
}

const ms = times.map(([, t]) => t).sort((a, b) => a - b);
const median = ms[Math.floor(ms.length / 2)];
console.log(`node tests/e2e/watch-reload.bench.mjs (CHAPTER=${CHAPTER} ROUNDS=${ROUNDS})`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (const [what, t] of times) console.log(`  ${what.padEnd(6)} save -> page reloaded: ${(t / 1000).toFixed(2)} s`);
console.log(`median ${(median / 1000).toFixed(2)} s, max ${(ms.at(-1) / 1000).toFixed(2)} s (goal <= ${GOAL_MS / 1000} s)`);
const rebuilds = log.join("").match(/rebuilt in [^(]+/g) ?? [];
console.log(`server's own rebuild times: ${rebuilds.map((r) => r.replace("rebuilt in ", "").trim()).join(", ")}`);
process.exitCode = ms.at(-1) <= GOAL_MS ? 0 : 1;
