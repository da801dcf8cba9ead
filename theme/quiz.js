// Waiting Well quizzes: makes the forms rendered by the quiz preprocessor
// (xtask/src/quiz.rs) interactive. Choosing an answer reveals why it is right
// or wrong; a wrong answer can be changed. Works on chapter pages and in
// print.html (every quiz has its own id and radio-group names).
(function () {
  "use strict";
  // Texts in the page's language (theme/i18n.js); English if that script is absent.
  var t = function (texts) {
    return window.WaitingWell && window.WaitingWell.t ? window.WaitingWell.t(texts) : texts.en;
  };
  function onChange(event) {
    var input = event.target;
    if (!input.matches || !input.matches(".ww-quiz input[type=radio]")) return;
    var form = input.closest(".ww-quiz-question");
    var chosen = input.closest(".ww-quiz-choice");
    form.querySelectorAll(".ww-quiz-choice").forEach(function (choice) {
      choice.classList.remove("ww-quiz-right", "ww-quiz-wrong");
      var why = choice.querySelector(".ww-quiz-why");
      if (why) why.hidden = true;
    });
    var right = chosen.dataset.correct === "true";
    chosen.classList.add(right ? "ww-quiz-right" : "ww-quiz-wrong");
    var why = chosen.querySelector(".ww-quiz-why");
    if (why) why.hidden = false;
    var verdict = form.querySelector(".ww-quiz-verdict");
    if (verdict) {
      verdict.textContent = right
        ? t({ en: "Correct.", ko: "정답입니다." })
        : t({ en: "Not quite: read why, then try another answer.", ko: "아쉽습니다. 이유를 읽고 다른 답을 골라 보세요." });
      verdict.dataset.verdict = right ? "right" : "wrong";
    }
  }
  document.addEventListener("change", onChange);
})();
