//! The quiz preprocessor: turns a fenced block with the info string `quiz`
//! (TOML: questions, each with choices, one or more marked `correct`, every
//! choice with a `why`) into an accessible HTML form that `theme/quiz.js`
//! makes interactive. Without JavaScript the form still shows every question.
//!
//! ```quiz
//! [[question]]
//! prompt = "What does Little's law relate?"
//! [[question.choice]]
//! text = "Concurrency, throughput and time in the system"
//! correct = true
//! why = "L = λW."
//! ```

use anyhow::{Context, bail};
use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use serde::Deserialize;

pub struct QuizPreprocessor;

impl Preprocessor for QuizPreprocessor {
    fn name(&self) -> &str {
        "waiting-well-quiz"
    }

    fn run(
        &self,
        _ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let mut failure = None;
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else {
                return;
            };
            let slug = chapter
                .path
                .as_ref()
                .map(|p| {
                    p.with_extension("")
                        .to_string_lossy()
                        .replace(['/', '\\', '.'], "-")
                })
                .unwrap_or_else(|| "chapter".into());
            match render_quizzes(&chapter.content, &slug) {
                Ok(content) => chapter.content = content,
                Err(e) if failure.is_none() => {
                    failure = Some(e.context(format!("in chapter {:?}", chapter.name)))
                }
                Err(_) => {}
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(book),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Quiz {
    question: Vec<Question>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Question {
    prompt: String,
    choice: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Choice {
    text: String,
    #[serde(default)]
    correct: bool,
    why: String,
}

/// Replaces every ```quiz block in `markdown` with its HTML form.
pub fn render_quizzes(markdown: &str, slug: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(markdown.len());
    let mut lines = markdown.split_inclusive('\n');
    let mut quiz_number = 0;
    while let Some(line) = lines.next() {
        if line.trim_end() != "```quiz" {
            out.push_str(line);
            continue;
        }
        let mut toml_text = String::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            if inner.trim_end() == "```" {
                closed = true;
                break;
            }
            toml_text.push_str(inner);
        }
        if !closed {
            bail!("a ```quiz block is never closed");
        }
        quiz_number += 1;
        let quiz: Quiz = toml::from_str(&toml_text).context("the quiz is not valid TOML")?;
        out.push_str(&render_quiz(&quiz, &format!("quiz-{slug}-{quiz_number}"))?);
    }
    Ok(out)
}

fn render_quiz(quiz: &Quiz, id: &str) -> anyhow::Result<String> {
    let mut html = format!("\n<div class=\"ww-quiz\" id=\"{id}\">\n");
    for (q, question) in quiz.question.iter().enumerate() {
        if !question.choice.iter().any(|c| c.correct) {
            bail!("question {} has no correct choice", q + 1);
        }
        if question.choice.len() < 2 {
            bail!("question {} needs at least two choices", q + 1);
        }
        let name = format!("{id}-q{}", q + 1);
        html.push_str(&format!(
            "<form class=\"ww-quiz-question\" data-question=\"{}\">\n<fieldset>\n<legend><span class=\"ww-quiz-number\">Question {}.</span> {}</legend>\n",
            q + 1,
            q + 1,
            inline_markdown(&question.prompt)
        ));
        for (c, choice) in shuffled(&question.choice, &question.prompt)
            .into_iter()
            .enumerate()
        {
            html.push_str(&format!(
                "<div class=\"ww-quiz-choice\" data-correct=\"{}\">\n<label><input type=\"radio\" name=\"{name}\" value=\"{c}\"> {}</label>\n<p class=\"ww-quiz-why\" hidden>{}</p>\n</div>\n",
                choice.correct,
                inline_markdown(&choice.text),
                inline_markdown(&choice.why)
            ));
        }
        html.push_str("</fieldset>\n<p class=\"ww-quiz-verdict\" role=\"status\" aria-live=\"polite\"></p>\n</form>\n");
    }
    html.push_str("</div>\n\n");
    Ok(html)
}

/// The choices in an order fixed by the prompt's text (FNV-1a), so the right
/// answer is not always where the author happened to write it, yet every
/// build renders the same page.
fn shuffled<'a>(choices: &'a [Choice], prompt: &str) -> Vec<&'a Choice> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in prompt.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut order: Vec<&Choice> = choices.iter().collect();
    // Fisher-Yates driven by successive bits of the hash.
    for i in (1..order.len()).rev() {
        let j = (hash % (i as u64 + 1)) as usize;
        hash = hash.rotate_right(7).wrapping_mul(0x0100_0000_01b3);
        order.swap(i, j);
    }
    order
}

/// Renders a short piece of Markdown (code spans, emphasis, links) to HTML
/// without the surrounding paragraph, so it can sit inside a label.
fn inline_markdown(text: &str) -> String {
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new(text.trim()));
    let html = html.trim();
    html.strip_prefix("<p>")
        .and_then(|h| h.strip_suffix("</p>"))
        .filter(|inner| !inner.contains("<p>"))
        .unwrap_or(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Title\n\n```quiz\n[[question]]\nprompt = \"Is `x` **bold**?\"\n[[question.choice]]\ntext = \"yes\"\ncorrect = true\nwhy = \"it is\"\n[[question.choice]]\ntext = \"no\"\nwhy = \"it is not <b>\"\n```\n\nAfter.\n";

    #[test]
    fn renders_a_form_per_question_with_explanations() {
        let html = render_quizzes(SAMPLE, "ch01").unwrap();
        assert!(html.starts_with("# Title\n"));
        assert!(html.ends_with("After.\n"));
        assert!(html.contains("id=\"quiz-ch01-1\""));
        assert!(html.contains("<code>x</code> <strong>bold</strong>"));
        assert_eq!(html.matches("class=\"ww-quiz-choice\"").count(), 2);
        assert!(html.contains("data-correct=\"true\""));
        assert!(html.contains("it is not &lt;b&gt;") || html.contains("it is not <b>"));
    }

    #[test]
    fn choice_order_is_stable_and_keeps_every_choice() {
        let a = render_quizzes(SAMPLE, "ch01").unwrap();
        assert_eq!(a, render_quizzes(SAMPLE, "ch01").unwrap());
        assert!(a.contains("> yes</label>") && a.contains("> no</label>"));
    }

    #[test]
    fn a_question_without_a_correct_choice_is_an_error() {
        let bad = SAMPLE.replace("correct = true\n", "");
        let err = render_quizzes(&bad, "x").unwrap_err();
        assert!(err.to_string().contains("no correct choice"), "{err}");
    }

    #[test]
    fn an_unclosed_block_is_an_error() {
        let err = render_quizzes("```quiz\n[[question]]\n", "x").unwrap_err();
        assert!(err.to_string().contains("never closed"));
    }

    #[test]
    fn a_choice_without_why_is_an_error() {
        let bad = SAMPLE.replace("why = \"it is not <b>\"\n", "");
        assert!(render_quizzes(&bad, "x").is_err());
    }
}
