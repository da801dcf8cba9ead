// Waiting Well in two languages (mdBook additional-js, a classic script, on
// every page of both editions and in print.html; first of our scripts, so the
// others can use `WaitingWell.t`).
// - The language switch: a link in the menu bar to the same page in the other
//   edition (English at the site root, Korean under ko/), keeping the
//   section (#anchor): headings keep their English ids in every edition
//   (xtask/src/book.rs). Paths are worked out from mdBook's `path_to_root`,
//   so it works at any page depth, in print.html and under any site prefix.
//   On the 404 page it leads to the other edition's start.
// - mdBook's own chrome (search box, chapter arrows, theme names, help) in
//   the page's language: mdBook has one English template, so on Korean pages
//   its strings are replaced here, after the page is parsed.
// - Korean search: the search index of a translation is built with a
//   Unicode-aware pipeline (xtask/src/search.rs, "trimmer-ww" and
//   "stemmer-ww"); the same functions are registered here for elasticlunr.js
//   to run on the reader's query.
// Leaves out: the visualizer's labels (playground/web), a switch without
// JavaScript.
(function () {
  "use strict";

  /** The editions: language, folder under the site root, name in its own language. */
  const EDITIONS = [
    { lang: "en", dir: "", name: "English" },
    { lang: "ko", dir: "ko/", name: "한국어" },
  ];
  const lang = (document.documentElement.getAttribute("lang") || "en").split("-")[0];
  const here = EDITIONS.find((e) => e.lang === lang) || EDITIONS[0];

  /** `{en: "…", ko: "…"}` → the text for this page's language. */
  function t(texts) {
    return texts[lang] !== undefined ? texts[lang] : texts.en;
  }
  window.WaitingWell = Object.assign(window.WaitingWell || {}, { lang, t });

  // --- search: the translation's index pipeline, for the query too ---------
  if (window.elasticlunr) {
    const trimmer = (token) => token.replace(/^[^\p{L}\p{N}_]+/u, "").replace(/[^\p{L}\p{N}_]+$/u, "");
    // English words are stemmed as in the English index; other scripts are not.
    const stemmer = (token) => (/^[\x00-\x7f]*$/.test(token) ? elasticlunr.stemmer(token) : token);
    elasticlunr.Pipeline.registerFunction(trimmer, "trimmer-ww");
    elasticlunr.Pipeline.registerFunction(stemmer, "stemmer-ww");
  }

  // --- the language switch ---------------------------------------------------
  /** This edition's root URL (mdBook sets path_to_root on every page). */
  function editionRoot() {
    const toRoot = typeof path_to_root === "string" ? path_to_root : "";
    return new URL(toRoot || "./", document.baseURI);
  }

  function otherEditionUrl(other) {
    const root = editionRoot();
    const siteRoot = new URL(here.dir ? "../".repeat(here.dir.split("/").length - 1) : "./", root);
    const is404 = !!document.querySelector("main h1#page-not-found");
    let rel = location.pathname.startsWith(root.pathname) ? location.pathname.slice(root.pathname.length) : "";
    if (is404) rel = "";
    const target = new URL(other.dir + rel, siteRoot);
    if (!is404) target.hash = location.hash;
    return target.href;
  }

  function addSwitch() {
    const bar = document.querySelector("#mdbook-menu-bar .right-buttons");
    if (!bar || bar.querySelector(".ww-lang-switch")) return;
    for (const other of EDITIONS) {
      if (other === here) continue;
      const link = document.createElement("a");
      link.className = "ww-lang-switch";
      link.href = otherEditionUrl(other);
      link.lang = other.lang;
      link.hreflang = other.lang;
      link.textContent = other.name;
      link.title = t({ en: "Read this page in Korean", ko: "이 페이지를 영어로 읽기" });
      // Keep the section the reader has scrolled to since the page loaded.
      link.addEventListener("click", () => {
        link.href = otherEditionUrl(other);
      });
      bar.prepend(link);
    }
  }

  // --- mdBook's chrome in the page's language ----------------------------------
  const KO = {
    "Toggle Table of Contents": "목차 열고 닫기",
    "Table of contents": "목차",
    "Change theme": "테마 바꾸기",
    Themes: "테마",
    "Toggle Searchbar": "검색창 열고 닫기",
    "Search (`/`)": "검색 (`/`)",
    "Print this book": "이 책 인쇄",
    "Previous chapter": "이전 장",
    "Next chapter": "다음 장",
    "Page navigation": "페이지 이동",
    "Skip to content": "본문으로 건너뛰기",
    "Keyboard shortcuts": "단축키",
    Auto: "자동",
    Light: "라이트",
  };
  const KO_HELP = [
    "<kbd>←</kbd> 또는 <kbd>→</kbd>: 이전 장, 다음 장",
    "<kbd>S</kbd> 또는 <kbd>/</kbd>: 책에서 검색",
    "<kbd>?</kbd>: 이 도움말 보기",
    "<kbd>Esc</kbd>: 이 도움말 닫기",
  ];

  function translateChrome() {
    if (lang !== "ko") return;
    for (const el of document.querySelectorAll("[title], [aria-label]")) {
      if (el.closest("main")) continue;
      for (const attr of ["title", "aria-label"]) {
        const v = el.getAttribute(attr);
        if (v && KO[v]) el.setAttribute(attr, KO[v]);
      }
    }
    for (const el of document.querySelectorAll("#mdbook-theme-list button.theme, .ww-skip-link, .mdbook-help-title")) {
      const v = el.textContent.trim();
      if (KO[v]) el.textContent = KO[v];
    }
    const help = document.querySelectorAll("#mdbook-help-popup p");
    if (help.length === KO_HELP.length) help.forEach((p, i) => (p.innerHTML = KO_HELP[i]));
    const box = document.getElementById("mdbook-searchbar");
    if (box) box.placeholder = "이 책에서 검색 …";
    if (document.querySelector("main h1#page-not-found")) {
      document.title = document.title.replace("Page not found", "페이지를 찾을 수 없습니다");
    }
    // mdBook writes the result count in English after each search.
    const header = document.getElementById("mdbook-searchresults-header");
    if (header) {
      const koHeader = () => {
        const m = header.textContent.match(/^(?:(\d+) search results? for|No search results for) '(.*)'[.:]$/s);
        if (!m) return;
        header.textContent = m[1] ? `‘${m[2]}’ 검색 결과 ${m[1]}건:` : `‘${m[2]}’ 검색 결과가 없습니다.`;
      };
      new MutationObserver(koHeader).observe(header, { childList: true, characterData: true, subtree: true });
    }
  }

  addSwitch();
  translateChrome();
})();
