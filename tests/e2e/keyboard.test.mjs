// One chapter walked with the keyboard alone (no mouse, no element.focus()
// from the test): the skip link, the sidebar and its toggle, the visualizer
// played, stepped and scrubbed, a quiz answered; and every code block that
// scrolls sideways is a Tab stop. Keys only: Tab, Shift+Tab, Enter, Space,
// arrows, End.
// Leaves out: axe-core (a11y.test.mjs), the visualizer's other keys
// (visualizer.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, t, useBrowser } from "./browser.mjs";

useBrowser();

const CHAPTER = "ch01-waiting.html";
const MAX_TABS = 600;

/** A short description of the focused element, evaluated in the page. */
const focused = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return {
      tag: el.tagName,
      id: el.id,
      cls: typeof el.className === "string" ? el.className : "",
      text: (el.textContent || "").trim().slice(0, 60),
      inSidebar: !!el.closest("#mdbook-sidebar"),
      inViz: el.closest(".ww-viz")?.id ?? null,
      inQuiz: !!el.closest(".ww-quiz"),
      type: el.getAttribute("type"),
      href: el.getAttribute("href"),
    };
  });

/** Presses Tab until `want(focused)` holds; fails after MAX_TABS. */
async function tabUntil(page, want, what) {
  for (let i = 0; i < MAX_TABS; i += 1) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    if (want(f)) return f;
  }
  assert.fail(`Tab never reached ${what}`);
}

test("a chapter walked with the keyboard alone", async () => {
  const { page, consoleErrors, close } = await openPage(CHAPTER);
  await page.waitForSelector('.ww-viz[data-ww-mounted="yes"]', { timeout: 15000 });

  // 1. The first Tab stop is the skip link; it is visible then, and Enter
  //    moves focus to the chapter's text.
  await page.keyboard.press("Tab");
  let f = await focused(page);
  assert.equal(f.text, t({ en: "Skip to content", ko: "본문으로 건너뛰기" }), "the first Tab stop is the skip link");
  const box = await page.locator("a.ww-skip-link").boundingBox();
  assert.ok(box && box.x >= 0 && box.y >= 0 && box.width > 0, `skip link off screen when focused: ${JSON.stringify(box)}`);
  await page.keyboard.press("Enter");
  f = await focused(page);
  assert.equal(f.id, "ww-main", "Enter on the skip link focuses <main>");

  // 2. Back to the top: the sidebar's chapters are Tab stops, and its toggle
  //    closes and opens it from the keyboard.
  await page.reload({ waitUntil: "load" });
  await page.waitForSelector('.ww-viz[data-ww-mounted="yes"]', { timeout: 15000 });
  f = await tabUntil(page, (f) => f.inSidebar && /ch02-gil\.html$/.test(f.href ?? ""), "chapter 2 in the sidebar");
  assert.match(f.text, /GIL/);
  f = await tabUntil(page, (f) => f.id === "mdbook-sidebar-toggle", "the sidebar toggle");
  const html = page.locator("html");
  assert.match(await html.getAttribute("class"), /sidebar-visible/);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => !document.documentElement.classList.contains("sidebar-visible"));
  assert.equal(await page.locator("#mdbook-sidebar-toggle").getAttribute("aria-expanded"), "false");
  await page.keyboard.press("Space");
  await page.waitForFunction(() => document.documentElement.classList.contains("sidebar-visible"));
  assert.equal(await page.locator("#mdbook-sidebar-toggle").getAttribute("aria-expanded"), "true");
  assert.match(page.url(), new RegExp(`${CHAPTER}$`), "no key turned the page");

  // 3. The visualizer: Tab reaches it; Space plays and pauses, an arrow steps,
  //    and its Time slider scrubs to the end with End.
  f = await tabUntil(page, (f) => f.id === "viz-ch01", "the visualizer");
  const viz = page.locator("#viz-ch01");
  const time = viz.locator(".ww-viz-time");
  const t0 = await time.innerText();
  await page.keyboard.press("Space");
  assert.match(await viz.locator(".ww-viz-play").innerText(), t({ en: /Pause/, ko: /일시 정지/ }));
  await page.waitForFunction((t0) => document.querySelector("#viz-ch01 .ww-viz-time").textContent !== t0, t0);
  await page.keyboard.press("Space");
  assert.match(await viz.locator(".ww-viz-play").innerText(), t({ en: /Play/, ko: /재생/ }));
  const t1 = await time.innerText();
  await page.keyboard.press("ArrowRight");
  const t2 = await time.innerText();
  assert.notEqual(t2, t1, "ArrowRight steps the run");
  f = await tabUntil(page, (f) => f.cls.includes("ww-viz-scrub"), "the visualizer's Time slider");
  await page.keyboard.press("End");
  const scrub = viz.locator(".ww-viz-scrub");
  assert.equal(await scrub.inputValue(), await scrub.getAttribute("max"), "End scrubs to the end");
  const t3 = await time.innerText();
  assert.notEqual(t3, t2, "scrubbing moves the time shown");
  await page.keyboard.press("Home");
  assert.equal(await scrub.inputValue(), "0");

  // 4. A quiz: Tab enters the first question's choices, Space picks one, the
  //    arrows move to the others until the verdict says right.
  f = await tabUntil(page, (f) => f.inQuiz && f.type === "radio", "a quiz answer");
  await page.keyboard.press("Space");
  const question = page.locator(".ww-quiz-question").first();
  const verdict = question.locator(".ww-quiz-verdict");
  assert.match((await verdict.getAttribute("data-verdict")) ?? "", /^(right|wrong)$/);
  const choices = await question.locator(".ww-quiz-choice").count();
  for (let i = 0; i < choices && (await verdict.getAttribute("data-verdict")) !== "right"; i += 1) {
    await page.keyboard.press("ArrowDown");
  }
  assert.equal(await verdict.getAttribute("data-verdict"), "right", "the arrows reach the right answer");
  assert.ok(await question.locator(".ww-quiz-right .ww-quiz-why").isVisible(), "the explanation shows");

  assert.match(page.url(), new RegExp(`${CHAPTER}$`), "no key turned the page");
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("every code block that scrolls sideways is a named Tab stop", async () => {
  for (const [path, width] of [[CHAPTER, 1280], ["ch03-wsgi.html", 390]]) {
    const { page, close } = await openPage(path, { width, height: 844 });
    await page.evaluate(() => document.fonts.ready);
    await page.waitForTimeout(100); // the resize/load pass of theme/a11y.js
    const blocks = await page.$$eval("main pre > code, main .table-wrapper", (els) =>
      els.map((el) => ({
        overflows: el.scrollWidth > el.clientWidth + 1,
        tabindex: el.getAttribute("tabindex"),
        name: el.getAttribute("aria-label") ?? "",
      })),
    );
    const wide = blocks.filter((b) => b.overflows);
    assert.ok(wide.length > 0, `${path} at ${width}px: expected a wide block to test`);
    for (const b of wide) {
      assert.equal(b.tabindex, "0", `${path}: a wide block is not a Tab stop`);
      assert.match(b.name, t({ en: /scrolls sideways/, ko: /가로로 스크롤/ }), `${path}: a wide block has no name`);
    }
    assert.ok(
      blocks.filter((b) => !b.overflows).every((b) => b.tabindex === null),
      `${path}: a block that fits is a needless Tab stop`,
    );
    await close();
  }
});
