// Accessibility of the built book, nothing excluded: axe-core finds no
// serious or critical violation on any page (every chapter, the index,
// print.html, 404.html and the sidebar's no-JavaScript toc.html) in any of
// mdBook 0.5's themes, with mdBook's own chrome included. Also: what print.html
// and the 404 page promise, and that search finds the Python terms readers type.
// Leaves out: the keyboard walk (keyboard.test.mjs), the visualizer's own
// checks (visualizer.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { BOOK_URL, LANG, chapterPages, openPage, openVisitor, t, useBrowser } from "./browser.mjs";

useBrowser();
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

/** Every theme mdBook 0.5 offers in its theme menu. */
export const THEMES = ["light", "rust", "coal", "navy", "ayu"];

async function allPages() {
  return ["index.html", "print.html", "404.html", "toc.html", ...(await chapterPages())];
}

/**
 * A visitor (see `openVisitor`) whose every load has `theme` chosen the way
 * mdBook remembers a reader's choice.
 */
async function openInTheme(theme) {
  const p = await openVisitor();
  await p.context.addInitScript((t) => localStorage.setItem("mdbook-theme", t), theme);
  return p;
}

/** Serious and critical axe violations on the whole page, one line each. */
async function seriousViolations(page) {
  // Every visualizer mounted (its controls are part of the page), fonts and layout settled.
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".ww-viz")].every((el) => el.dataset.wwMounted === "yes"),
  );
  await page.evaluate(() => document.fonts.ready);
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}) ×${v.nodes.length}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
}

test("axe-core: no serious or critical violation on any page, in any theme", async () => {
  const pages = await allPages();
  assert.ok(pages.length >= 10, `expected every chapter, got ${pages}`);
  const failures = [];
  for (const theme of THEMES) {
    const { page, consoleErrors, visit, close } = await openInTheme(theme);
    for (const path of pages) {
      await visit(path);
      if (path !== "toc.html") {
        const applied = await page.evaluate(() => document.documentElement.className);
        assert.match(applied, new RegExp(`\\b${theme}\\b`), `${path}: theme ${theme} not applied`);
      }
      for (const v of await seriousViolations(page)) failures.push(`${theme} ${path}: ${v}`);
      assert.deepEqual(consoleErrors, [], `${theme} ${path}: console errors`);
    }
    await close();
  }
  assert.deepEqual(failures, [], `\n${failures.join("\n")}`);
});

test("axe-core at 390 px wide, where the sidebar starts closed", async () => {
  const failures = [];
  for (const theme of ["light", "navy"]) {
    for (const path of ["ch01-waiting.html", "visualizer.html"]) {
      const p = await openPage("about:blank", { width: 390, height: 844 });
      await p.context.addInitScript((t) => localStorage.setItem("mdbook-theme", t), theme);
      await p.page.goto(new URL(path, BOOK_URL).href, { waitUntil: "load" });
      assert.equal(await p.page.locator("#mdbook-sidebar-toggle").getAttribute("aria-expanded"), "false");
      for (const v of await seriousViolations(p.page)) failures.push(`${theme} ${path} 390px: ${v}`);
      await p.close();
    }
  }
  assert.deepEqual(failures, [], `\n${failures.join("\n")}`);
});

test("print.html: every chapter, quizzes with folded answers, visualizers as first-frame pictures", async () => {
  const chapters = await chapterPages();
  // print.html opens the print dialog on load; a test cannot answer it, and
  // here it would print before the first look at the page.
  const { page, context, consoleErrors, close } = await openPage("about:blank");
  await context.addInitScript(() => {
    window.print = () => {};
  });
  await page.goto(new URL("print.html", BOOK_URL).href, { waitUntil: "load" });
  // Every chapter's first heading is in print.html.
  const headings = await page.$$eval("main h1", (hs) => hs.map((h) => h.textContent.trim()));
  for (const path of chapters) {
    const { page: chapter, close: closeChapter } = await openPage(path);
    const title = await chapter.$eval("main h1", (h) => h.textContent.trim());
    assert.ok(headings.includes(title), `print.html lacks chapter ${path} (“${title}”)`);
    await closeChapter();
  }
  // Each quiz is followed by its answer key, folded until asked.
  const quizzes = await page.$$(".ww-quiz");
  assert.ok(quizzes.length >= 3, `expected the chapters' quizzes, got ${quizzes.length}`);
  for (const quiz of quizzes) {
    const key = await quiz.evaluateHandle((q) => q.nextElementSibling);
    assert.equal(await key.evaluate((k) => k.matches("details.ww-quiz-answers")), true, "no answer key");
    assert.equal(await key.evaluate((k) => k.open), false, "answers shown unasked");
    const [questions, answered] = await quiz.evaluate((q) => [
      q.querySelectorAll(".ww-quiz-question").length,
      q.nextElementSibling.querySelectorAll("li").length,
    ]);
    assert.equal(answered, questions, "one answer per question");
  }
  // Mount every visualizer, then look at the page as a printer does.
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".ww-viz")].every((el) => el.dataset.wwMounted === "yes"),
  );
  await page.evaluate(() => window.dispatchEvent(new Event("beforeprint")));
  await page.emulateMedia({ media: "print" });
  const keys = await page.$$eval("details.ww-quiz-answers", (ds) => ds.map((d) => d.open));
  assert.ok(keys.every(Boolean), "on paper every answer key is open");
  const firstFrame = t({ en: "First frame", ko: "첫 프레임" });
  const vizzes = await page.$$eval(".ww-viz", (els, firstFrame) =>
    els.map((el) => {
      const shown = (e) => !!e && e.getClientRects().length > 0; // laid out, not display: none
      const imgs = [...el.querySelectorAll(".ww-viz-print img")];
      return {
        id: el.id,
        controls: shown(el.querySelector(".ww-viz-controls")),
        canvas: [...el.querySelectorAll("canvas")].some(shown),
        picture: shown(el.querySelector(".ww-viz-print")),
        images: imgs.filter((i) => i.naturalWidth > 0 && i.alt.startsWith(firstFrame)).length,
      };
    }),
    firstFrame,
  );
  assert.ok(vizzes.length >= 2);
  for (const v of vizzes) {
    assert.deepEqual(v, { ...v, controls: false, canvas: false, picture: true }, `${v.id} in print`);
    assert.ok(v.images >= 1, `${v.id}: no first-frame picture`);
  }
  await page.emulateMedia({ media: "screen" });
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("a missing page answers 404 with a page that links home", async () => {
  const { page, close } = await openPage("about:blank");
  const response = await page.goto(new URL("no/such/chapter.html", BOOK_URL).href);
  assert.equal(response.status(), 404);
  const heading = await page.locator("main h1").innerText();
  if (LANG === "en") {
    assert.match(heading, /not found/i);
    await page.locator("main").getByRole("link", { name: /start of the book/i }).click();
  } else {
    // The translation's wording is its own: translated, and its first link goes home.
    assert.notEqual(heading.trim(), "Page not found", "the 404 page is not translated");
    await page.locator("main a").first().click();
  }
  await page.waitForLoadState("load");
  // The start of the book, by its file name or its folder.
  const landed = new URL(page.url()).pathname;
  const starts = [new URL("index.html", BOOK_URL).pathname, new URL(".", BOOK_URL).pathname];
  assert.ok(starts.includes(landed), `${landed} is not one of ${starts}`);
  await close();
});

/** Words only the edition's own text has: the Korean index must hold Korean words. */
const OWN_WORDS = { en: [], ko: ["처리량", "이벤트", "스레드"] };

test("search finds the Python terms readers type, and words in the edition's language", async () => {
  const { page, consoleErrors, close } = await openPage("index.html");
  if (LANG === "ko") {
    assert.equal(await page.locator("#mdbook-searchbar").getAttribute("placeholder"), "이 책에서 검색 …");
  }
  for (const term of ["gunicorn", "Depends", "lifespan", "GIL", "uvicorn", ...OWN_WORDS[LANG]]) {
    await page.keyboard.press("Escape");
    await page.keyboard.press("s");
    const box = page.locator("#mdbook-searchbar");
    await box.waitFor({ state: "visible" });
    await box.fill("");
    await page.keyboard.type(term); // mdBook searches on keyup
    // Playwright types Korean without key events (a reader's IME ends its
    // composition with one): one more key for the keyup.
    await page.keyboard.press("End");
    const results = page.locator("#mdbook-searchresults li a");
    await results.first().waitFor({ timeout: 10000 });
    const hrefs = await results.evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    assert.ok(hrefs.some((h) => /ch0\d/.test(h)), `${term}: no chapter in results ${hrefs}`);
  }
  assert.deepEqual(consoleErrors, []);
  await close();
});
