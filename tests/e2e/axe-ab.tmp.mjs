import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { readdirSync } from "node:fs";
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const base = "http://127.0.0.1:8771/";
const origin = "http://127.0.0.1:8771";
const pages = readdirSync("../../book").filter((f) => f.endsWith(".html"));
const FLAGS = ["--headless","--no-sandbox","--disable-gpu","--disable-background-networking","--disable-component-update","--disable-sync","--no-first-run","--disable-quic"];
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS, headless: true });
async function check(page, path) {
  await page.goto(base + path, { waitUntil: "load" });
  await page.waitForFunction(() => [...document.querySelectorAll(".ww-viz")].every((el) => el.dataset.wwMounted === "yes"));
  await page.evaluate(() => document.fonts.ready);
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations.length);
}
async function run(theme, routed) {
  for (const p of pages) {
    const ctx = await browser.newContext();
    const off = [];
    if (routed) await ctx.route("**/*", (route) => { const url = route.request().url(); if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue(); off.push(url); return route.abort(); });
    else ctx.on("request", (r) => { const url = r.url(); if (!(url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:"))) off.push(url); });
    await ctx.addInitScript((t) => localStorage.setItem("mdbook-theme", t), theme);
    const page = await ctx.newPage();
    await check(page, p);
    await ctx.close();
  }
}
for (let r = 0; r < 2; r++) {
  for (const routed of [true, false]) {
    const t0 = performance.now();
    await run("coal", routed);
    console.log(routed ? "routed" : "listener", Math.round(performance.now() - t0));
  }
}
await browser.close();
