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
        ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let src = ctx.root.join(&ctx.config.book.src);
        let language = ctx.config.book.language.as_deref();
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
            match render_quizzes_in(&chapter.content, &slug, language) {
                Ok(content) => chapter.content = content,
                Err(e) if failure.is_none() => {
                    // Name the source file, with lines counted in it rather
                    // than in the text after `{{#include}}`s were expanded.
                    let file = chapter.source_path.as_ref().map(|p| src.join(p));
                    let raw = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok());
                    let located = match (&file, raw.map(|r| problems(&r))) {
                        (Some(file), Some(found)) if !found.is_empty() => found
                            .iter()
                            .map(|(line, what)| format!("{}:{line}: {what}", file.display()))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        _ => format!("{e:#}"),
                    };
                    failure = Some(anyhow::anyhow!(
                        "quiz error in chapter {:?}:\n{located}",
                        chapter.name
                    ))
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

/// The right answers of every ```quiz block in `markdown`, by position: one
/// entry per block, one list per question, one flag per choice (in the order
/// written, before rendering shuffles them). Fails as [`problems`] would.
pub fn answer_keys(markdown: &str) -> anyhow::Result<Vec<Vec<Vec<bool>>>> {
    let mut keys = Vec::new();
    for segment in segments(markdown) {
        if let Segment::Quiz { toml, closed, .. } = segment {
            anyhow::ensure!(closed, "a ```quiz block is never closed");
            let quiz = parse_quiz(&toml)?;
            keys.push(
                quiz.question
                    .iter()
                    .map(|q| q.choice.iter().map(|c| c.correct).collect())
                    .collect(),
            );
        }
    }
    Ok(keys)
}

/// The word before a question's number, in the book's language (`book.language`).
fn question_word(language: Option<&str>) -> &'static str {
    match language {
        Some("ko") => "문제",
        _ => "Question",
    }
}

/// Replaces every ```quiz block in `markdown` with its HTML form. Fails,
/// naming the line, on anything [`problems`] finds.
#[cfg(test)]
pub fn render_quizzes(markdown: &str, slug: &str) -> anyhow::Result<String> {
    render_quizzes_in(markdown, slug, None)
}

/// [`render_quizzes`] for an edition in `language` (its labels).
pub fn render_quizzes_in(
    markdown: &str,
    slug: &str,
    language: Option<&str>,
) -> anyhow::Result<String> {
    let found = problems(markdown);
    if !found.is_empty() {
        let listed: Vec<String> = found
            .iter()
            .map(|(line, what)| format!("line {line}: {what}"))
            .collect();
        bail!("{}", listed.join("\n"));
    }
    let mut out = String::with_capacity(markdown.len());
    let mut quiz_number = 0;
    for segment in segments(markdown) {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Quiz { toml, .. } => {
                quiz_number += 1;
                let quiz = parse_quiz(&toml)?;
                out.push_str(&render_quiz(
                    &quiz,
                    &format!("quiz-{slug}-{quiz_number}"),
                    question_word(language),
                ));
            }
        }
    }
    Ok(out)
}

/// Everything wrong with the quizzes of one page, as (1-based line, what):
/// a block that is never closed, a block that does not parse whole (bad
/// TOML, an unknown key, fewer questions parsed than `[[question]]` lines, a
/// question without a right answer or with one choice), and quiz TOML lying
/// outside any block, which is what a fence closed too early leaves behind:
/// mdBook would print it on the page as text.
pub fn problems(markdown: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for segment in segments(markdown) {
        match segment {
            Segment::Quiz { line, toml, closed } => {
                if !closed {
                    found.push((line, "a ```quiz block is never closed".to_string()));
                } else if let Err(e) = parse_quiz(&toml) {
                    found.push((
                        line,
                        format!("this ```quiz block does not parse whole: {e:#}"),
                    ));
                }
            }
            Segment::Text(_) => {}
        }
    }
    // Runs of quiz TOML outside any fence: (first line, last line).
    let mut stray: Vec<(usize, usize)> = Vec::new();
    let mut fence: Option<String> = None;
    for (n, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        match &fence {
            Some(open) if trimmed == open.as_str() => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") || trimmed.starts_with("~~~") => {
                fence = Some(trimmed[..3].to_string());
            }
            None if is_quiz_toml(trimmed) => match stray.last_mut() {
                Some((_, last)) if *last == n => *last = n + 1,
                _ => stray.push((n + 1, n + 1)),
            },
            None => {}
        }
    }
    for (first, last) in stray {
        found.push((
            first,
            format!(
                "quiz TOML outside a ```quiz block (to line {last}), which the page would show as text: did the block above close early?"
            ),
        ));
    }
    found.sort();
    found
}

/// Lines that only quiz TOML has: its table headers and its keys.
fn is_quiz_toml(line: &str) -> bool {
    line.starts_with("[[question")
        || ["prompt", "text", "correct", "why"].iter().any(|key| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with("= "))
        })
}

enum Segment<'a> {
    Text(&'a str),
    /// A ```quiz block: the line of its opening fence, its TOML, and
    /// whether a closing fence was found.
    Quiz {
        line: usize,
        toml: String,
        closed: bool,
    },
}

/// Splits a page into plain text and ```quiz blocks, in order.
fn segments(markdown: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    let mut lines = markdown.split_inclusive('\n').enumerate();
    let mut offset = 0;
    while let Some((n, line)) = lines.next() {
        if line.trim_end() != "```quiz" {
            segments.push(Segment::Text(&markdown[offset..offset + line.len()]));
            offset += line.len();
            continue;
        }
        offset += line.len();
        let mut toml = String::new();
        let mut closed = false;
        for (_, inner) in lines.by_ref() {
            offset += inner.len();
            if inner.trim_end() == "```" {
                closed = true;
                break;
            }
            toml.push_str(inner);
        }
        segments.push(Segment::Quiz {
            line: n + 1,
            toml,
            closed,
        });
    }
    segments
}

/// Parses one block strictly: valid TOML with only the known keys, exactly
/// one parsed question per `[[question]]` line, each question with at least
/// two choices and a right one.
fn parse_quiz(toml_text: &str) -> anyhow::Result<Quiz> {
    let quiz: Quiz = toml::from_str(toml_text).context("the quiz is not valid TOML")?;
    let headers = toml_text
        .lines()
        .filter(|l| l.trim() == "[[question]]")
        .count();
    if headers != quiz.question.len() {
        bail!(
            "{headers} `[[question]]` lines but {} questions parsed",
            quiz.question.len()
        );
    }
    for (q, question) in quiz.question.iter().enumerate() {
        if !question.choice.iter().any(|c| c.correct) {
            bail!("question {} has no correct choice", q + 1);
        }
        if question.choice.len() < 2 {
            bail!("question {} needs at least two choices", q + 1);
        }
    }
    Ok(quiz)
}

fn render_quiz(quiz: &Quiz, id: &str, question_word: &str) -> String {
    let mut html = format!("\n<div class=\"ww-quiz\" id=\"{id}\">\n");
    for (q, question) in quiz.question.iter().enumerate() {
        let name = format!("{id}-q{}", q + 1);
        html.push_str(&format!(
            "<form class=\"ww-quiz-question\" data-question=\"{}\">\n<fieldset>\n<legend><span class=\"ww-quiz-number\">{question_word} {}.</span> {}</legend>\n",
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
    html
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
    fn a_fence_closed_early_leaves_toml_that_is_refused_with_its_line() {
        // Chapter 3's old quiz: the fence closed after the third question, so
        // the fourth was printed on the page as raw TOML.
        let early = format!("{SAMPLE}[[question]]\nprompt = \"Left out?\"\n");
        let err = render_quizzes(&early, "x").unwrap_err().to_string();
        assert!(
            err.contains("line 16: quiz TOML outside a ```quiz block (to line 17)"),
            "{err}"
        );
        // The same words in prose or in another code block are fine.
        let prose = format!("{SAMPLE}The `why = ` key explains.\n```toml\n[[question]]\n```\n");
        assert!(problems(&prose).is_empty(), "{:?}", problems(&prose));
    }

    #[test]
    fn unknown_keys_and_uncounted_questions_are_refused() {
        let unknown = SAMPLE.replace("correct = true\n", "correct = true\nhint = \"h\"\n");
        let found = problems(&unknown);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 3, "{found:?}");
        assert!(found[0].1.contains("does not parse whole"), "{found:?}");
        assert!(found[0].1.contains("hint"), "{found:?}");
        // A question whose header is spelled differently is parsed but not
        // counted: the block must say `[[question]]` once per question.
        let spelled = SAMPLE.replace("```quiz\n[[question]]", "```quiz\n[[ question ]]");
        let err = render_quizzes(&spelled, "x").unwrap_err().to_string();
        assert!(
            err.contains("0 `[[question]]` lines but 1 questions parsed"),
            "{err}"
        );
    }

    #[test]
    fn a_choice_without_why_is_an_error() {
        let bad = SAMPLE.replace("why = \"it is not <b>\"\n", "");
        assert!(render_quizzes(&bad, "x").is_err());
    }
}
