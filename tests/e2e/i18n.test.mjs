// The two editions side by side (run once per edition, see browser.mjs):
// every page declares its language and has a switch to the same page in the
// other edition, at any depth, in print.html and on the 404 page; the switch
// keeps the section, is a real link named in its own language, and shows
// where keyboard focus is. Korean pages show mdBook's chrome in Korean.
// Leaves out: axe on the switch (a11y.test.mjs covers every page), search
// (a11y.test.mjs searches in the edition's language).
import { test } from "node:test";
import assert from "node:assert/strict";
import { BOOK_URL, LANG, chapterPages, openPage, openVisitor, t, useBrowser } from "./browser.mjs";

useBrowser();

const OTHER = t({ en: { lang: "ko", name: "한국어", dir: "ko/" }, ko: { lang: "en", name: "English", dir: "" } });
/** The site root, whichever edition is under test. */
const SITE = new URL(t({ en: "./", ko: "../" }), BOOK_URL);

/** The same page in the other edition. */
function counterpart(path) {
  return new URL(OTHER.dir + path, SITE).href;
}

test("every page declares its language and links to itself in the other edition", async () => {
  const pages = ["index.html", "print.html", ...(await chapterPages())];
  assert.ok(pages.some((p) => p.includes("/")), `expected pages in subfolders: ${pages}`);
  const { page, consoleErrors, visit, close } = await openVisitor();
  for (const path of pages) {
    await visit(path);
    assert.equal(await page.getAttribute("html", "lang"), LANG, `${path}: <html lang>`);
    const link = page.locator("a.ww-lang-switch");
    assert.equal(await link.count(), 1, `${path}: one language switch`);
    assert.equal(await link.getAttribute("lang"), OTHER.lang, path);
    assert.equal(await link.getAttribute("hreflang"), OTHER.lang, path);
    assert.equal((await link.innerText()).trim(), OTHER.name, path);
    const href = await link.evaluate((a) => a.href);
    assert.equal(href, counterpart(path), `${path}: switch target`);
    const response = await page.request.get(href);
    assert.equal(response.status(), 200, `${path}: ${href} is missing`);
    assert.deepEqual(consoleErrors, [], `${path}: console errors`);
  }
  await close();
});

test("the switch keeps the section and lands on the other edition's heading", async () => {
  const { page, consoleErrors, close } = await openPage("ch07/q03-threadpool-cap.html");
  const id = await page.$eval("main h2[id]", (h) => h.id);
  await page.goto(new URL(`ch07/q03-threadpool-cap.html#${id}`, BOOK_URL).href);
  await page.locator("a.ww-lang-switch").click();
  await page.waitForURL(counterpart(`ch07/q03-threadpool-cap.html#${id}`));
  assert.equal(await page.getAttribute("html", "lang"), OTHER.lang);
  assert.equal(await page.locator(`main h2[id="${id}"]`).count(), 1, `no #${id} in the other edition`);
  // ... and back again.
  await page.locator("a.ww-lang-switch").click();
  await page.waitForURL(new URL(`ch07/q03-threadpool-cap.html#${id}`, BOOK_URL).href);
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("the switch is a keyboard stop with a visible focus ring", async () => {
  const { page, close } = await openPage("ch01-waiting.html");
  const link = page.locator("a.ww-lang-switch");
  await link.focus();
  const outline = await link.evaluate((a) => {
    const s = getComputedStyle(a);
    return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
  });
  assert.ok(outline.style !== "none" && outline.width >= 2, `focus ring: ${JSON.stringify(outline)}`);
  await close();
});

test("the 404 page's switch leads to the other edition's start", async () => {
  const { page, close } = await openPage("about:blank");
  const response = await page.goto(new URL("no/such/page.html", BOOK_URL).href);
  assert.equal(response.status(), 404);
  assert.equal(await page.getAttribute("html", "lang"), LANG);
  const href = await page.locator("a.ww-lang-switch").evaluate((a) => a.href);
  assert.equal(href, counterpart(""));
  await close();
});

test("mdBook's chrome speaks the page's language", async () => {
  const { page, close } = await openPage("ch02-gil.html");
  const labels = await page.evaluate(() => ({
    search: document.getElementById("mdbook-searchbar").placeholder,
    next: document.querySelector("a.nav-chapters.next")?.getAttribute("aria-label"),
    toc: document.getElementById("mdbook-sidebar-toggle").getAttribute("aria-label"),
    skip: document.querySelector(".ww-skip-link").textContent.trim(),
  }));
  assert.deepEqual(
    labels,
    t({
      en: { search: "Search this book ...", next: "Next chapter", toc: "Toggle Table of Contents", skip: "Skip to content" },
      ko: { search: "이 책에서 검색 …", next: "다음 장", toc: "목차 열고 닫기", skip: "본문으로 건너뛰기" },
    }),
  );
  await close();
});
