// Waiting Well: keyboard access to mdBook's chrome and to wide blocks
// (mdBook additional-js, a classic script, on every page and print.html).
// - The sidebar toggle is a <label role="button" tabindex="0"> in
//   theme/index.hbs; a label does not answer Enter or Space, so we click it.
// - The skip link moves focus to <main id="ww-main" tabindex="-1">.
// - A code block (pre > code, which scrolls sideways) or a table wrapper that
//   is wider than the page becomes a named, focusable region, so a keyboard
//   can reach and scroll it (axe scrollable-region-focusable). Only blocks
//   that overflow get a Tab stop; the check reruns on resize.
// Leaves out: the quizzes (theme/quiz.js), the visualizer (its own keys),
// print-only behaviour (theme/print.js).
(function () {
  "use strict";
  // Texts in the page's language (theme/i18n.js); English if that script is absent.
  const t = (texts) => (window.WaitingWell && window.WaitingWell.t ? window.WaitingWell.t(texts) : texts.en);

  const toggle = document.getElementById("mdbook-sidebar-toggle");
  if (toggle) {
    toggle.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        e.stopPropagation();
        toggle.click();
      }
    });
  }

  // The browser scrolls to the target but only moves focus there if the
  // target is focusable and we say so: do it explicitly.
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("a.ww-skip-link");
    const main = document.getElementById("ww-main");
    if (!link || !main) return;
    e.preventDefault();
    main.focus();
    main.scrollIntoView();
  });

  function firstLine(el, max) {
    const text = (el.textContent || "").trim().split("\n")[0].trim();
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  function nameOf(el) {
    if (el.matches(".table-wrapper")) {
      const head = el.querySelector("th");
      const name = head ? " “" + firstLine(head, 40) + "”" : "";
      return t({ en: `Table${name}, scrolls sideways`, ko: `표${name}, 가로로 스크롤됩니다` });
    }
    const first = firstLine(el, 60);
    return t({ en: `Code block “${first}”, scrolls sideways`, ko: `코드 블록 “${first}”, 가로로 스크롤됩니다` });
  }

  function markScrollable() {
    for (const el of document.querySelectorAll("main pre > code, main .table-wrapper")) {
      const overflows = el.scrollWidth > el.clientWidth + 1;
      if (overflows && !el.hasAttribute("data-ww-scroll")) {
        el.setAttribute("data-ww-scroll", "");
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", nameOf(el));
      } else if (!overflows && el.hasAttribute("data-ww-scroll")) {
        for (const a of ["data-ww-scroll", "tabindex", "role", "aria-label"]) el.removeAttribute(a);
      }
    }
  }

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      markScrollable();
    });
  }
  markScrollable();
  window.addEventListener("load", schedule);
  window.addEventListener("resize", schedule);
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(schedule);
})();
