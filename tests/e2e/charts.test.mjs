// The book's charts as a reader sees them: every charted chapter shows its
// SVG charts inline (so they follow the theme), each with a title and a
// description, and each is legible in every theme mdBook offers (light,
// rust, coal, navy, ayu): its text and axes (currentColor) reach 4.5:1
// against the page, and, judged by pixels: a screenshot of the chart must have enough pixels whose
// contrast against the page background is at least 3:1 (WCAG's level for
// graphics), and every series colour the chart uses must reach 3:1 too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LANG, openPage, t, useBrowser } from "./browser.mjs";

useBrowser();

/** Pages with charts (`cargo xtask figures` draws them). Add chapter 6 with its chart. */
const CHARTED = ["ch01-waiting.html", "ch02-gil.html", "ch03-wsgi.html", "ch04-asgi.html", "ch05-lifespan.html", "ch06-table.html"];

/** The charts screenshotted per theme: a line chart and two timelines. */
const SHOTS = [
  ["ch01-waiting.html", 0],
  ["ch05-lifespan.html", 1],
  ["ch05-lifespan.html", 2],
];

/** Every theme mdBook offers; `light` is the one the others are compared with. */
const THEMES = ["light", "rust", "coal", "navy", "ayu"];

/** Opens `path` in mdBook's `theme` (stored as the reader's choice before load). */
async function openThemed(path, theme) {
  const opened = await openPage(path);
  await opened.context.addInitScript((t) => localStorage.setItem("mdbook-theme", t), theme);
  await opened.page.reload({ waitUntil: "load" });
  const applied = await opened.page.evaluate(() => document.documentElement.className);
  assert.ok(applied.split(/\s+/).includes(theme), `${path}: theme ${theme} not applied (${applied})`);
  return opened;
}

test("every charted chapter inlines its charts with a title and a description", async () => {
  for (const path of CHARTED) {
    const { page, close } = await openPage(path);
    const charts = await page.$$eval("figure.ww-chart", (figures) =>
      figures.map((f) => {
        const svg = f.querySelector("svg");
        const ids = (svg?.getAttribute("aria-labelledby") ?? "").split(/\s+/);
        return {
          svg: Boolean(svg),
          role: svg?.getAttribute("role"),
          title: svg?.querySelector("title")?.textContent ?? "",
          desc: svg?.querySelector("desc")?.textContent ?? "",
          labelled: ids.every((id) => id && svg.querySelector(`[id="${id}"]`)),
          caption: f.querySelector("figcaption")?.textContent ?? "",
          marks: svg?.querySelectorAll("[class^='ww-series-'], .ww-bound").length ?? 0,
        };
      }),
    );
    assert.ok(charts.length >= 1, `${path}: no chart`);
    for (const [i, c] of charts.entries()) {
      const where = `${path} chart ${i + 1}`;
      assert.ok(c.svg, `${where}: not an inline <svg> (an <img> cannot follow the theme)`);
      assert.equal(c.role, "img", `${where}: role`);
      assert.ok(c.title.length > 10 && c.desc.length > 40, `${where}: title/desc missing or short`);
      assert.ok(c.labelled, `${where}: aria-labelledby does not point at its title and desc`);
      // (In Korean: names the table, 표, or the figure, 그림, that has them.)
      assert.match(c.caption, t({ en: /exact/, ko: /표|그림/ }), `${where}: the caption must point at the table with the exact numbers`);
      assert.ok(c.marks > 0, `${where}: no plotted marks`);
      // The Korean edition's charts are drawn again with Korean words (xtask/src/charts_ko.rs).
      const words = t({ en: /^[^\uac00-\ud7a3]*$/, ko: /[\uac00-\ud7a3]/ });
      assert.match(c.title, words, `${where}: title in the edition's language`);
      assert.match(c.desc, words, `${where}: description in the edition's language`);
    }
    await close();
  }
});

/** Relative luminance of an sRGB colour (WCAG 2). */
function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function rgb(css) {
  const m = css.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)/);
  assert.ok(m, `not an rgb() colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * Legibility of one chart in one theme, from a screenshot: the background is
 * the screenshot's most common colour; the share of pixels that stand out
 * from it by 3:1 or more (lines, dots, bars, text); and every series colour
 * (as the theme computes it) that falls under 3:1 against it.
 */
async function legibility(path, theme, index) {
  const { page, close } = await openThemed(path, theme);
  const chart = page.locator("figure.ww-chart svg").nth(index);
  await chart.scrollIntoViewIfNeeded();
  const series = await chart.evaluate((svg) =>
    [...svg.querySelectorAll("[class^='ww-series-']")].map((el) => {
      const s = getComputedStyle(el);
      return { cls: el.getAttribute("class"), color: el.tagName === "polyline" ? s.stroke : s.fill };
    }),
  );
  // Text and axes are drawn in currentColor: the chart's computed `color`.
  const ink = await chart.evaluate((svg) => getComputedStyle(svg).color);
  const png = (await chart.screenshot()).toString("base64");
  const { background, share } = await page.evaluate(
    async ({ data, luminanceSrc }) => {
      const luminance = new Function(`return ${luminanceSrc}`)();
      const img = new Image();
      img.src = `data:image/png;base64,${data}`;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(0, 0, img.width, img.height).data;
      const counts = new Map();
      for (let i = 0; i < px.length; i += 4) {
        const key = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
      const bg = [(top >> 16) & 255, (top >> 8) & 255, top & 255];
      const lb = luminance(bg);
      let strong = 0;
      for (const [key, n] of counts) {
        const l = luminance([(key >> 16) & 255, (key >> 8) & 255, key & 255]);
        const ratio = (Math.max(l, lb) + 0.05) / (Math.min(l, lb) + 0.05);
        if (ratio >= 3) strong += n;
      }
      return { background: bg, share: strong / (px.length / 4) };
    },
    { data: png, luminanceSrc: luminance.toString() },
  );
  await close();
  const weak = [...new Set(series.map((s) => `${s.cls} ${s.color}`))].filter((key) => {
    const color = key.slice(key.indexOf(" ") + 1);
    return color !== "none" && contrast(rgb(color), background) < 3;
  });
  return { share, weak, background, text: contrast(rgb(ink), background) };
}

// The charts are drawn alike in every edition (the same colours and marks;
// only their words differ, xtask/src/charts_ko.rs): their legibility is
// checked once, on the English pages.
for (const [path, index] of LANG === "en" ? SHOTS : []) {
  test(`${path} chart ${index + 1} is legible in every mdBook theme`, async (t) => {
    const shares = {};
    const problems = [];
    for (const theme of THEMES) {
      const { share, weak, background, text } = await legibility(path, theme, index);
      // Labels and tick numbers are text: WCAG's 4.5:1.
      if (text < 4.5) problems.push(`${theme} (background ${background}): text and axes at ${text.toFixed(2)}:1`);
      if (weak.length > 0) problems.push(`${theme} (background ${background}): series under 3:1: ${weak.join(", ")}`);
      // Lines, dots, bars and text are a few percent of a chart's area. On a
      // darker page fewer anti-aliased edge pixels reach 3:1 (chapter 1's line
      // chart, measured: 1.6% in light, 0.92% in rust, 0.97% in coal), so the
      // floor is 0.5%: a chart whose text or lines vanish falls far below it.
      if (share < 0.005) problems.push(`${theme}: only ${(share * 100).toFixed(2)}% of the chart's pixels reach 3:1 against the background`);
      shares[theme] = share;
    }
    t.diagnostic(`share of pixels at >= 3:1: ${JSON.stringify(shares)}`);
    assert.deepEqual(problems, [], `${path} chart ${index + 1}`);
    // Every other theme must show about as much as the light one, not lose its text or lines.
    for (const theme of THEMES.slice(1)) {
      assert.ok(shares[theme] >= shares.light * 0.5, `${path}: ${JSON.stringify(shares)} (${theme} shows much less than light)`);
    }
  });
}
