// The visualizer as a reader meets it: the chapter-1 embed draws, reacts to a
// control, clamps bad input with a message; print.html mounts every embed; the
// standalone page offers each model by a labelled control, keeps its state in
// the URL, steps back to the previous frame, exports valid JSON, draws two
// models side by side, obeys the keyboard, fits 390 px and passes axe-core.
// Leaves out: the simulation's numbers (cargo test -p waiting-well-sim).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { BOOK_URL, openPage, t, useBrowser } from "./browser.mjs";

useBrowser();

/** The visualizer's words in the edition's language (playground/web/src/text.rs). */
const L = t({
  en: {
    workers: "Workers / threads / loops",
    perSecond: /requests per second/,
    clamped: /workers clamped to 1024/,
    forward: "Step forward",
    back: "Step back",
    pause: /Pause/,
    play: /Play/,
    speed: "Speed",
    trace: /Chrome trace/,
    compare: "Compare with",
    model: "Model",
    clients: "Clients",
    requests: "Requests",
    eventCap: /event cap/,
    exportCap: /Export holds at most 2500000 events and this run has \d+/,
    simulating: /Simulating 300000 requests through 2 model/,
    cpuSlice: "cpu",
  },
  ko: {
    workers: "워커 / 스레드 / 루프 수",
    perSecond: /초당 요청/,
    clamped: /범위를 벗어난 워커 수 값을 1024로 조정했습니다/,
    forward: "한 단계 앞으로",
    back: "한 단계 뒤로",
    pause: /일시 정지/,
    play: /재생/,
    speed: "속도",
    trace: /Chrome 트레이스/,
    compare: "비교 대상",
    model: "모델",
    clients: "클라이언트 수",
    requests: "요청 수",
    eventCap: /이벤트 상한/,
    exportCap: /이벤트를 최대 2500000개까지 담는데 이 실행에는 \d+개/,
    simulating: /요청 300000개를 모델 2개로 시뮬레이션하는 중/,
    cpuSlice: "CPU",
  },
});
const require = createRequire(import.meta.url);

/** Waits until the visualizer in `root` is mounted and every visible canvas has pixels. */
// Mounted and drawn, with its runs in (a run of many requests is simulated on
// worker threads, the visualizer `aria-busy` meanwhile).
async function waitDrawn(page, root) {
  await page.waitForSelector(`${root}[data-ww-mounted="yes"]:not([aria-busy])`, { timeout: 15000 });
  await page.waitForFunction(
    (root) => {
      const canvases = [...document.querySelectorAll(`${root} .ww-viz-panel:not([hidden]) canvas`)];
      return canvases.length > 0 && canvases.every((c) => c.width > 0 && c.height > 0);
    },
    root,
  );
}

/** Count of non-transparent pixels per visible canvas in `root`. */
function drawnPixels(page, root) {
  return page.$$eval(`${root} .ww-viz-panel:not([hidden]) canvas`, (canvases) =>
    canvases.map((c) => {
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n += 1;
      return n;
    }),
  );
}

const throughput = (page, root) => page.locator(`${root} .ww-viz-throughput`).first().innerText();

async function setField(page, root, label, value) {
  const input = page.locator(root).getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.dispatchEvent("change");
}

describe("chapter 1's embed", () => {
  const root = "#viz-ch01";
  let p;
  before(async () => {
    p = await openPage("ch01-waiting.html");
    await waitDrawn(p.page, root);
  });
  after(() => p.close());

  test("draws, reacts to a control and stays on its origin", async () => {
    const { page, consoleErrors, offOrigin } = p;
    const pixels = await drawnPixels(page, root);
    assert.equal(pixels.length, 2, "ch01 shows the pool and the loop side by side");
    assert.ok(pixels.every((n) => n > 100), `blank canvas: ${pixels}`);
    const before = await throughput(page, root);
    await setField(page, root, L.workers, 8);
    await page.waitForFunction(
      ([root, before]) => document.querySelector(`${root} .ww-viz-throughput`).textContent !== before,
      [root, before],
    );
    assert.match(await page.locator(`${root} .ww-viz-summary`).innerText(), L.perSecond);
    await page.waitForLoadState("networkidle");
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(offOrigin, []);
  });

  test("clamps out-of-range input with a visible message", async () => {
    const { page, consoleErrors } = p;
    await setField(page, root, L.workers, 5000);
    const clamp = page.locator(`${root} .ww-viz-clamp`);
    await clamp.waitFor({ state: "visible" });
    assert.match(await clamp.innerText(), L.clamped);
    const input = page.locator(root).getByLabel(L.workers, { exact: true });
    assert.equal(await input.inputValue(), "1024");
    assert.deepEqual(consoleErrors, []);
  });
});

test("print.html mounts every embed once, with unique ids and no errors", async () => {
  const { page, consoleErrors, offOrigin, close } = await openPage("print.html");
  const ids = await page.$$eval(".ww-viz", (els) => els.map((e) => e.id));
  assert.ok(ids.length >= 2, `expected the chapter and standalone embeds, got ${ids}`);
  assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids}`);
  for (const id of ids) {
    await waitDrawn(page, `#${id}`);
    assert.ok((await drawnPixels(page, `#${id}`)).every((n) => n > 100), id);
  }
  await page.waitForLoadState("networkidle");
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(offOrigin, []);
  await close();
});

const ROOT = "#viz-standalone";
const MODELS = t({
  en: {
    "sync-pool": /^sync-pool: k sync workers/,
    "event-loop": /^event-loop: one event loop/,
    "blocked-loop": /^blocked-loop: an event loop with blocking handlers/,
    "gil-threads": /^gil-threads: threads sharing a GIL/,
    "loop-per-worker": /^loop-per-worker: k event loops/,
    "work-stealing": /^work-stealing: k runtime workers/,
  },
  ko: {
    "sync-pool": /^sync-pool: 동기 워커 k개/,
    "event-loop": /^event-loop: 이벤트 루프 하나/,
    "blocked-loop": /^blocked-loop: 블로킹 핸들러가 있는 이벤트 루프/,
    "gil-threads": /^gil-threads: GIL 하나를 나눠 쓰는 스레드/,
    "loop-per-worker": /^loop-per-worker: 이벤트 루프 k개/,
    "work-stealing": /^work-stealing: 모든 태스크를 나눠 맡는 런타임 워커 k개/,
  },
});

describe("the standalone page", () => {
  let p;
  before(async () => {
    p = await openPage("visualizer.html");
    await waitDrawn(p.page, ROOT);
  });
  after(async () => {
    assert.deepEqual(p.consoleErrors, []);
    assert.deepEqual(p.offOrigin, []);
    await p.close();
  });

  test("step forward then back returns to the previous frame", async () => {
    const { page } = p;
    const time = page.locator(`${ROOT} .ww-viz-time`);
    const start = await time.innerText();
    const frame0 = await drawnPixels(page, ROOT);
    const forward = page.locator(ROOT).getByRole("button", { name: L.forward });
    for (let i = 0; i < 5; i += 1) await forward.click();
    assert.notEqual(await time.innerText(), start);
    const back = page.locator(ROOT).getByRole("button", { name: L.back });
    for (let i = 0; i < 5; i += 1) await back.click();
    assert.equal(await time.innerText(), start);
    assert.deepEqual(await drawnPixels(page, ROOT), frame0, "same frame, same pixels");
  });

  test("keyboard: space plays and pauses, arrows step, +/- change speed", async () => {
    const { page } = p;
    await page.locator(ROOT).focus();
    const play = page.locator(`${ROOT} .ww-viz-play`);
    const time = page.locator(`${ROOT} .ww-viz-time`);
    const t0 = await time.innerText();
    await page.keyboard.press("Space");
    assert.match(await play.innerText(), L.pause);
    await page.waitForFunction(
      ([root, t0]) => document.querySelector(`${root} .ww-viz-time`).textContent !== t0,
      [ROOT, t0],
    );
    await page.keyboard.press("Space");
    assert.match(await play.innerText(), L.play);
    const t1 = await time.innerText();
    await page.keyboard.press("ArrowRight");
    assert.notEqual(await time.innerText(), t1);
    await page.keyboard.press("ArrowLeft");
    assert.equal(await time.innerText(), t1);
    assert.match(page.url(), /visualizer\.html/, "arrows must not turn the page");
    const speed = page.locator(ROOT).getByLabel(L.speed, { exact: true });
    await page.keyboard.press("+");
    assert.equal(await speed.inputValue(), "2");
    await page.keyboard.press("-");
    await page.keyboard.press("-");
    assert.equal(await speed.inputValue(), "0.5");
  });

  test("export produces valid Chrome-trace JSON and CSV", async () => {
    const { page } = p;
    const read = (kind) =>
      page.$eval(`${ROOT} a.ww-viz-download[data-kind="${kind}"]`, async (a) => (await fetch(a.href)).text());
    await page.locator(ROOT).getByRole("button", { name: L.trace }).click();
    const trace = JSON.parse(await read("json"));
    assert.ok(Array.isArray(trace.traceEvents) && trace.traceEvents.length > 100);
    assert.equal(new Set(trace.traceEvents.map((e) => e.pid)).size, 2, "one process per model");
    assert.ok(trace.traceEvents.some((e) => e.ph === "X" && e.name === L.cpuSlice && e.dur > 0));
    await page.locator(ROOT).getByRole("button", { name: /CSV/ }).click();
    const csv = (await read("csv")).trim().split("\n");
    assert.equal(csv[0], "model,t_us,event,req,lane,detail");
    assert.ok(csv.length > 100);
  });

  test("two models side by side share one cursor and both draw", async () => {
    const { page } = p;
    const compare = page.locator(ROOT).getByLabel(L.compare, { exact: true });
    await compare.selectOption("loop-per-worker");
    await page.waitForFunction(
      (root) => document.querySelectorAll(`${root} .ww-viz-title`)[1].textContent.includes("loop-per-worker"),
      ROOT,
    );
    const pixels = await drawnPixels(page, ROOT);
    assert.equal(pixels.length, 2);
    assert.ok(pixels.every((n) => n > 100), `${pixels}`);
    await compare.selectOption("none");
    assert.equal((await drawnPixels(page, ROOT)).length, 1, "one panel when nothing is compared");
  });

  test("switching the mdBook theme redraws the canvas in the new text colour", async () => {
    const { page } = p;
    const sum = () =>
      page.$eval(`${ROOT} canvas`, (c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let s = 0;
        for (let i = 0; i < d.length; i += 1) s = (s + d[i] * (i % 251)) % 1e9;
        return s;
      });
    const before = await sum();
    await page.evaluate(() => document.documentElement.classList.replace("light", "navy"));
    await page.waitForFunction(() => document.documentElement.classList.contains("navy"));
    await page.waitForTimeout(100);
    assert.notEqual(await sum(), before);
    await page.evaluate(() => document.documentElement.classList.replace("navy", "light"));
  });

  test("each model is chosen by its labelled control and drawn", async () => {
    const { page } = p;
    const select = page.locator(ROOT).getByLabel(L.model, { exact: true });
    for (const [id, name] of Object.entries(MODELS)) {
      await select.selectOption(id);
      await page.waitForFunction(
        ([root, src]) => new RegExp(src).test(document.querySelector(`${root} .ww-viz-title`).textContent),
        [ROOT, name.source],
      );
      assert.ok((await drawnPixels(page, ROOT))[0] > 100, `${id}: blank canvas`);
      assert.match(await throughput(page, ROOT), /^\d+(\.\d)?$/, id);
    }
  });
});

test("the URL holds the state and a reload restores it", async () => {
  const { page, consoleErrors, close } = await openPage("visualizer.html");
  await waitDrawn(page, ROOT);
  await page.locator(ROOT).getByLabel(L.model, { exact: true }).selectOption("gil-threads");
  await setField(page, ROOT, L.clients, 24);
  await page.waitForFunction(() => new URL(location.href).searchParams.get("ww")?.includes("clients:24"));
  assert.match(new URL(page.url()).searchParams.get("ww"), /model:gil-threads(,|$)/);
  const shown = await throughput(page, ROOT);
  await page.reload({ waitUntil: "load" });
  await waitDrawn(page, ROOT);
  assert.equal(await page.locator(ROOT).getByLabel(L.clients, { exact: true }).inputValue(), "24");
  assert.equal(await page.locator(ROOT).getByLabel(L.model, { exact: true }).inputValue(), "gil-threads");
  assert.equal(await throughput(page, ROOT), shown);
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("a link to a million requests and a thousand workers opens as asked, without a clamp message; its export is refused with a message", async () => {
  const { page, consoleErrors, close } = await openPage(
    "visualizer.html?ww=model:sync-pool,compare:event-loop,workers:1000,requests:1000000",
  );
  await waitDrawn(page, ROOT);
  const clamp = page.locator(`${ROOT} .ww-viz-clamp`);
  assert.equal(await clamp.isHidden(), true, `clamp message: ${await clamp.innerText()}`);
  assert.equal(await page.locator(ROOT).getByLabel(L.requests, { exact: true }).inputValue(), "1000000");
  assert.equal(await page.locator(ROOT).getByLabel(L.workers, { exact: true }).inputValue(), "1000");
  assert.doesNotMatch(await page.locator(ROOT).innerText(), L.eventCap, "every request finished");
  assert.ok((await drawnPixels(page, ROOT)).every((n) => n > 100));
  // Too big to export: said so, and the page still works.
  await page.locator(ROOT).getByRole("button", { name: /CSV/ }).click();
  await clamp.waitFor({ state: "visible" });
  assert.match(await clamp.innerText(), L.exportCap);
  assert.equal(await page.locator(`${ROOT} a.ww-viz-download[data-kind]`).count(), 0, "no download");
  const t0 = await page.locator(`${ROOT} .ww-viz-time`).innerText();
  await page.locator(ROOT).getByRole("button", { name: L.forward }).click();
  assert.notEqual(await page.locator(`${ROOT} .ww-viz-time`).innerText(), t0);
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("a run of many requests is simulated off the page, which says it is busy; a smaller run asked for meanwhile is the one shown", async () => {
  const { page, consoleErrors, close } = await openPage("visualizer.html");
  await waitDrawn(page, ROOT);
  const requests = page.locator(ROOT).getByLabel(L.requests, { exact: true });
  const small = await requests.inputValue();
  const shown = await throughput(page, ROOT);
  const time = page.locator(`${ROOT} .ww-viz-time`); // "t = … of <the run's end>"
  const smallTime = await time.innerText();
  // Both changes in one task, so the big run cannot be in before the second.
  const busy = await requests.evaluate((input, small) => {
    const set = (v) => {
      input.value = v;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    };
    set("300000");
    const root = input.closest(".ww-viz");
    const during = [root.getAttribute("aria-busy"), root.querySelector(".ww-viz-summary").textContent];
    set(small);
    return during;
  }, small);
  assert.equal(busy[0], "true");
  assert.match(busy[1], L.simulating);
  await waitDrawn(page, ROOT);
  assert.equal(await time.innerText(), smallTime, "the smaller run is shown");
  await page.waitForTimeout(2000); // the big run's answer comes, and is dropped
  assert.equal(await page.locator(ROOT).getAttribute("aria-busy"), null);
  assert.equal(await time.innerText(), smallTime);
  assert.equal(await throughput(page, ROOT), shown);
  assert.equal(await requests.inputValue(), small);
  // A big run on its own comes in and is drawn.
  await setField(page, ROOT, L.requests, 300000);
  await waitDrawn(page, ROOT);
  assert.doesNotMatch(await page.locator(`${ROOT} .ww-viz-summary`).innerText(), L.simulating);
  assert.notEqual(await time.innerText(), smallTime, "the big run is shown");
  assert.ok((await drawnPixels(page, ROOT)).every((n) => n > 100));
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("links shared with the old model ids still open the same models", async () => {
  const { page, consoleErrors, close } = await openPage("visualizer.html?ww=model:pinned,compare:blocked");
  await waitDrawn(page, ROOT);
  assert.equal(await page.locator(ROOT).getByLabel(L.model, { exact: true }).inputValue(), "loop-per-worker");
  assert.equal(await page.locator(ROOT).getByLabel(L.compare, { exact: true }).inputValue(), "blocked-loop");
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("with reduced motion, play still advances (in steps), with no errors", async () => {
  const { page, consoleErrors, close } = await openPage("visualizer.html", { reducedMotion: "reduce" });
  await waitDrawn(page, ROOT);
  const t0 = await page.locator(`${ROOT} .ww-viz-time`).innerText();
  await page.locator(`${ROOT} .ww-viz-play`).click();
  await page.waitForFunction(
    ([root, t0]) => document.querySelector(`${root} .ww-viz-time`).textContent !== t0,
    [ROOT, t0],
    { timeout: 5000 },
  );
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("usable at 390 px wide: nothing overflows sideways", async () => {
  const { page, consoleErrors, close } = await openPage("visualizer.html", { width: 390, height: 844 });
  await waitDrawn(page, ROOT);
  const overflow = await page.$eval(ROOT, (el) => el.scrollWidth - el.clientWidth);
  assert.ok(overflow <= 1, `the visualizer overflows by ${overflow}px`);
  assert.ok((await drawnPixels(page, ROOT)).every((n) => n > 100));
  assert.deepEqual(consoleErrors, []);
  await close();
});

test("axe-core finds no serious or critical violations, in a light and a dark theme", async () => {
  for (const theme of ["light", "navy"]) {
    const { page, context, consoleErrors, close } = await openPage("about:blank");
    await context.addInitScript((t) => localStorage.setItem("mdbook-theme", t), theme);
    await page.goto(new URL("visualizer.html", BOOK_URL).href, { waitUntil: "load" });
    await waitDrawn(page, ROOT);
    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
    // The whole page, mdBook's chrome included: nothing is excluded (every
    // page in every theme: a11y.test.mjs).
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
    assert.deepEqual(violations, [], theme);
    assert.deepEqual(consoleErrors, [], theme);
    await close();
  }
});
