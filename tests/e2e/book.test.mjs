// The book as a reader meets it: every page loads with no console error and
// no request off its own origin; every quiz answers a click with its verdict
// and explanation, on chapter pages and in print.html.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { chapterPages, openPage, openVisitor, useBrowser } from "./browser.mjs";

useBrowser();

/** The book's Markdown source of a page (`ch03-wsgi.html` → src/ch03-wsgi.md). */
async function sourceOf(path) {
  const name = path.split(/[?#]/)[0].replace(/\.html$/, ".md");
  return readFile(new URL(`../../src/${name}`, import.meta.url), "utf8");
}

/**
 * Text that only quiz TOML has, as it would read if printed on a page (mdBook
 * turns straight quotes into curly ones).
 */
const QUIZ_TOML = [/\[\[question/, /\bprompt = ["“]/, /\bwhy = ["“]/, /\bcorrect = true\b/];

test("each chapter renders exactly as many quiz questions as its source has", async () => {
  let checked = 0;
  const { page, visit, close } = await openVisitor();
  for (const path of await chapterPages()) {
    const source = await sourceOf(path);
    const expected = source.split("\n").filter((line) => line.trim() === "[[question]]").length;
    await visit(path);
    const rendered = await page.$$eval(".ww-quiz-question", (qs) => qs.length);
    assert.equal(rendered, expected, `${path}: ${expected} questions in the source, ${rendered} rendered`);
    checked += expected;
  }
  await close();
  assert.ok(checked >= 15, `expected quizzes in the chapters, found ${checked} questions`);
});

test("no page shows quiz TOML as text", async () => {
  const pages = ["index.html", "print.html", ...(await chapterPages())];
  const { page, visit, close } = await openVisitor();
  for (const path of pages) {
    await visit(path);
    const text = await page.innerText("main");
    for (const pattern of QUIZ_TOML) {
      const hit = text.match(pattern);
      assert.equal(hit, null, `${path}: quiz TOML visible on the page: ${hit && text.slice(hit.index, hit.index + 80)}`);
    }
  }
  await close();
});

test("every page loads cleanly and stays on its own origin", async () => {
  const pages = ["index.html", "print.html", ...(await chapterPages())];
  assert.ok(pages.length >= 7, `expected the chapters in the table of contents, got ${pages}`);
  for (const path of pages) {
    const { page, consoleErrors, offOrigin, close } = await openPage(path);
    await page.waitForLoadState("networkidle");
    assert.deepEqual(consoleErrors, [], `${path}: console errors`);
    assert.deepEqual(offOrigin, [], `${path}: requests off origin`);
    await close();
  }
});

test("every chapter quiz explains a wrong answer and confirms a right one", async () => {
  let quizzes = 0;
  const { page, consoleErrors, visit, close } = await openVisitor();
  for (const path of await chapterPages()) {
    await visit(path);
    const questions = await page.$$(".ww-quiz-question");
    for (const question of questions) {
      quizzes += 1;
      const wrong = await question.$(".ww-quiz-choice[data-correct='false'] input");
      const right = await question.$(".ww-quiz-choice[data-correct='true'] input");
      assert.ok(wrong && right, `${path}: a question lacks a right or a wrong choice`);
      await wrong.check();
      const verdict = await question.$(".ww-quiz-verdict");
      assert.equal(await verdict.getAttribute("data-verdict"), "wrong", path);
      const whyWrong = await question.$(".ww-quiz-wrong .ww-quiz-why");
      assert.ok(await whyWrong.isVisible(), `${path}: the wrong answer's explanation is hidden`);
      assert.ok((await whyWrong.innerText()).trim().length > 0, `${path}: empty explanation`);
      await right.check();
      assert.equal(await verdict.getAttribute("data-verdict"), "right", path);
      assert.ok(await (await question.$(".ww-quiz-right .ww-quiz-why")).isVisible());
    }
    assert.deepEqual(consoleErrors, [], `${path}: console errors`);
  }
  await close();
  assert.ok(quizzes >= 3, `expected quizzes in the chapters, found ${quizzes} questions`);
});

test("quizzes work in print.html, where every chapter is repeated", async () => {
  const { page, close } = await openPage("print.html");
  const ids = await page.$$eval(".ww-quiz", (qs) => qs.map((q) => q.id));
  assert.equal(new Set(ids).size, ids.length, "quiz ids must be unique in print.html");
  const first = await page.$(".ww-quiz-question");
  if (first) {
    await (await first.$(".ww-quiz-choice[data-correct='true'] input")).check();
    assert.equal(await (await first.$(".ww-quiz-verdict")).getAttribute("data-verdict"), "right");
  }
  await close();
});

test("exercises keep their solutions folded until asked", async () => {
  const { page, visit, close } = await openVisitor();
  for (const path of await chapterPages()) {
    await visit(path);
    for (const details of await page.$$("details.ww-solution")) {
      assert.equal(await details.getAttribute("open"), null, `${path}: solution shown unasked`);
      await (await details.$("summary")).click();
      assert.ok(await (await details.$("code")).isVisible(), `${path}: solution has no listing`);
    }
  }
  await close();
});
