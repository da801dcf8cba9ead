// Waiting Well on paper (mdBook additional-js, on every page and print.html).
// - Quizzes: after each quiz, an answer key folded in a <details> (built from
//   the quiz's own markup: the right choices and their "why"). It shows on
//   print.html, folded; when any page is printed it is opened, so the paper
//   has the questions first and the answers set apart below them.
// - Visualizer: paper cannot play it, so when an embed mounts (event
//   "ww-viz-mounted" from theme/viz-loader.js) we keep a picture of its first
//   frame (the canvas' own pixels, toDataURL) with the run's summary as the
//   caption; print CSS (theme/viz.css) hides the live widget and shows this.
// Leaves out: answering quizzes (theme/quiz.js), drawing (playground/web).
(function () {
  "use strict";
  // Texts in the page's language (theme/i18n.js); English if that script is absent.
  const t = (texts) => (window.WaitingWell && window.WaitingWell.t ? window.WaitingWell.t(texts) : texts.en);

  // mdBook marks only print.html with <meta name="robots" content="noindex">.
  const isPrintPage = !!document.querySelector('meta[name="robots"][content="noindex"]');
  if (isPrintPage) document.documentElement.classList.add("ww-print-page");

  function choiceText(choice) {
    const label = choice.querySelector("label").cloneNode(true);
    label.querySelectorAll("input").forEach((i) => i.remove());
    return label.innerHTML.trim();
  }

  function answerKey(quiz) {
    const details = document.createElement("details");
    details.className = "ww-quiz-answers";
    const summary = document.createElement("summary");
    summary.textContent = t({ en: "Answers", ko: "정답" });
    details.appendChild(summary);
    const list = document.createElement("ol");
    for (const question of quiz.querySelectorAll(".ww-quiz-question")) {
      const item = document.createElement("li");
      for (const choice of question.querySelectorAll(".ww-quiz-choice[data-correct='true']")) {
        const answer = document.createElement("p");
        const why = choice.querySelector(".ww-quiz-why");
        answer.innerHTML = `<strong>${choiceText(choice)}</strong>${why ? " — " + why.innerHTML : ""}`;
        item.appendChild(answer);
      }
      list.appendChild(item);
    }
    details.appendChild(list);
    return details;
  }

  for (const quiz of document.querySelectorAll(".ww-quiz")) {
    if (!quiz.nextElementSibling || !quiz.nextElementSibling.matches(".ww-quiz-answers")) {
      quiz.after(answerKey(quiz));
    }
  }

  // Open every answer key for paper; put them back as they were afterwards.
  let opened = [];
  window.addEventListener("beforeprint", () => {
    opened = [...document.querySelectorAll("details.ww-quiz-answers:not([open])")];
    opened.forEach((d) => (d.open = true));
  });
  window.addEventListener("afterprint", () => {
    opened.forEach((d) => (d.open = false));
    opened = [];
  });

  document.addEventListener("ww-viz-mounted", (event) => {
    const viz = event.target;
    if (viz.querySelector(":scope > .ww-viz-print")) return;
    const figure = document.createElement("figure");
    figure.className = "ww-viz-print";
    for (const canvas of viz.querySelectorAll(".ww-viz-panel:not([hidden]) canvas")) {
      const img = document.createElement("img");
      try {
        img.src = canvas.toDataURL("image/png");
      } catch (err) {
        continue; // a tainted canvas cannot be read; the caption still prints
      }
      img.alt = `${t({ en: "First frame.", ko: "첫 프레임." })} ${
        canvas.getAttribute("aria-label") || t({ en: "Visualizer timeline.", ko: "시각화 도구 타임라인." })
      }`;
      figure.appendChild(img);
    }
    const caption = document.createElement("figcaption");
    const summary = viz.querySelector(".ww-viz-summary");
    caption.textContent =
      t({
        en: "The visualizer's first frame (on the web page it plays, steps and takes your settings). ",
        ko: "시각화 도구의 첫 화면입니다(웹 페이지에서는 재생하고, 한 단계씩 넘기고, 설정을 바꿀 수 있습니다). ",
      }) + (summary ? summary.textContent : "");
    figure.appendChild(caption);
    viz.appendChild(figure);
  });
})();
