// Waiting Well visualizer loader (mdBook additional-js, a classic script).
// Finds every `.ww-viz` element, loads the wasm visualizer once from ../pkg/
// (relative to this script, so it works on chapter pages and on print.html, at
// any depth and under any site prefix) and mounts each element with its
// data-preset; says so in the page's language if it cannot. Leaves out:
// everything the visualizer does (playground/web).
(function () {
  "use strict";
  // Captured synchronously: document.currentScript is null once this returns.
  const script = document.currentScript;
  const base = script && script.src ? script.src : document.baseURI;

  function fail(elements, message) {
    for (const el of elements) {
      el.textContent = message;
      el.classList.add("ww-viz-failed");
    }
  }

  // The one message shown before the wasm runs, in the page's language (the
  // visualizer picks its own words from <html lang> the same way).
  const FAILED = {
    en: "The visualizer could not load (build it with `cargo xtask book`).",
    ko: "시각화 도구를 불러오지 못했습니다 (`cargo xtask book`으로 빌드하면 됩니다).",
  };

  function failedMessage() {
    const lang = (document.documentElement.lang || "en").split(/[-_]/)[0].toLowerCase();
    return FAILED[lang] || FAILED.en;
  }

  function start() {
    const elements = Array.from(document.querySelectorAll(".ww-viz:not([data-ww-mounted])"));
    if (elements.length === 0) return;
    for (const el of elements) el.setAttribute("data-ww-mounted", "pending");
    const moduleUrl = new URL("../pkg/waiting_well_viz.js", base);
    const wasmUrl = new URL("../pkg/waiting_well_viz_bg.wasm", base);
    import(moduleUrl.href)
      .then(async (viz) => {
        await viz.default({ module_or_path: wasmUrl });
        for (const el of elements) {
          try {
            viz.mount(el, el.dataset.preset || "ch01");
            el.setAttribute("data-ww-mounted", "yes");
            // theme/print.js keeps this first frame as the picture for paper.
            el.dispatchEvent(new CustomEvent("ww-viz-mounted", { bubbles: true }));
          } catch (err) {
            el.setAttribute("data-ww-mounted", "failed");
            console.error("Waiting Well visualizer:", err);
          }
        }
      })
      .catch((err) => {
        fail(elements, failedMessage());
        console.error("Waiting Well visualizer failed to load:", err);
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
