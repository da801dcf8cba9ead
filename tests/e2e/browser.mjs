// Shared machinery for the end-to-end tests: one headless Debian Chromium
// (never a downloaded browser) and pages that record console errors, page
// errors and every request that leaves the book's own origin (such requests
// are also blocked, so a test never touches the network).
//
// Run by `cargo xtask test`, which builds the book, serves it on loopback and
// runs every test file once per edition: BOOK_URL is the edition's root
// (http://…/ for English, http://…/ko/ for Korean) and WW_LANG its language.
// By hand: BOOK_URL=http://127.0.0.1:3000/ko/ WW_LANG=ko node --test
import { chromium } from "playwright-core";
import { after, before } from "node:test";

export const BOOK_URL = process.env.BOOK_URL ?? "http://127.0.0.1:3000/";
/** The language of the edition under test ("en" or "ko"). */
export const LANG = process.env.WW_LANG ?? "en";
/** `{en: …, ko: …}` → the value for the edition under test. */
export function t(texts) {
  return texts[LANG] ?? texts.en;
}
const origin = new URL(BOOK_URL).origin;

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

let browser;

/** Starts the browser once per test file; call at the top level of a test file. */
export function useBrowser() {
  before(async () => {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: FLAGS,
      headless: true,
    });
  });
  after(async () => {
    await browser?.close();
  });
}

/**
 * Opens `path` (relative to the book's root) in a fresh context.
 * Returns { page, context, consoleErrors, offOrigin, close }.
 */
export async function openPage(path, { width = 1280, height = 900, reducedMotion } = {}) {
  const context = await browser.newContext({
    viewport: { width, height },
    reducedMotion: reducedMotion ?? "no-preference",
  });
  const consoleErrors = [];
  const offOrigin = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) {
      return route.continue();
    }
    offOrigin.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(msg.text());
  });
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  await page.goto(new URL(path, BOOK_URL).href, { waitUntil: "load" });
  return { page, context, consoleErrors, offOrigin, close: () => context.close() };
}

/**
 * One page that visits paths in turn: `visit(path)` loads `path` in it and
 * starts its console errors and off-origin requests afresh. For the tests
 * that read every page: the browser then compiles the visualizer's wasm and
 * parses the fonts once rather than once a page (the accessibility sweep
 * took about 150 s instead of 260). Loading itself is tested on fresh pages
 * ("every page loads cleanly", book.test.mjs).
 */
export async function openVisitor(options = {}) {
  const p = await openPage("about:blank", options);
  const visit = async (path) => {
    p.consoleErrors.length = 0;
    p.offOrigin.length = 0;
    await p.page.goto(new URL(path, BOOK_URL).href, { waitUntil: "load" });
  };
  return { ...p, visit };
}

/** The chapter pages of the book, from its table of contents (toc.html). */
export async function chapterPages() {
  const { page, close } = await openPage("toc.html");
  const hrefs = await page.$$eval("a[href$='.html']", (as) => as.map((a) => a.getAttribute("href")));
  await close();
  return [...new Set(hrefs)].filter((h) => !h.startsWith("http"));
}
