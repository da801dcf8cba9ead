//! Captions written as Markdown, shown as one line of HTML: a chart's
//! `<figcaption>` and a `<details>` block's `<summary>` hold their text as a
//! Markdown paragraph (a blank line after the opening tag and before the
//! closing one), so the translation workflow sees the text as a message of
//! its own (gettext extraction skips text inside HTML blocks). This
//! preprocessor, run in every edition after translation, puts the paragraph
//! back inside the tag as inline HTML: `<summary>` may only hold phrasing
//! content (no `<p>`), and the English pages render as they did when the
//! caption was written inline.
//!
//! ```text
//! <summary>                    <summary>Why <code>BEGIN IMMEDIATE</code></summary>
//!                          →
//! Why `BEGIN IMMEDIATE`
//!
//! </summary>
//! ```
//!
//! Leaves out: captions spanning several paragraphs (a caption is one).

use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use pulldown_cmark::{Options, Parser};

/// The tags whose content is written as a Markdown paragraph.
pub const TAGS: &[&str] = &["figcaption", "summary"];

pub struct CaptionsPreprocessor;

impl Preprocessor for CaptionsPreprocessor {
    fn name(&self) -> &str {
        "waiting-well-captions"
    }

    fn run(
        &self,
        _ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        book.for_each_mut(|item| {
            if let BookItem::Chapter(chapter) = item {
                chapter.content = inline_captions(&chapter.content);
            }
        });
        Ok(book)
    }
}

/// The tag a line opens with nothing after it (`<summary>`), if it is one of [`TAGS`].
fn opening_tag(line: &str) -> Option<&'static str> {
    let t = line.trim();
    TAGS.iter()
        .copied()
        .find(|tag| t.strip_prefix('<').and_then(|r| r.strip_prefix(tag)) == Some(">"))
}

/// Rewrites every `<tag>` + blank line + paragraph + blank line + `</tag>`
/// into `<tag>inline HTML</tag>` on one line. Anything else is left as it is.
pub fn inline_captions(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.split_inclusive('\n').collect();
    let mut out = String::with_capacity(markdown.len());
    let mut i = 0;
    while i < lines.len() {
        if let Some(tag) = opening_tag(lines[i])
            && let Some((text, next)) = paragraph_then_close(&lines, i + 1, tag)
        {
            let indent = &lines[i][..lines[i].len() - lines[i].trim_start().len()];
            out.push_str(&format!("{indent}<{tag}>{}</{tag}>\n", inline_html(&text)));
            i = next;
            continue;
        }
        out.push_str(lines[i]);
        i += 1;
    }
    out
}

/// From `start`: blank line(s), one paragraph, blank line(s), `</tag>`.
/// Returns the paragraph and the index of the line after `</tag>`.
fn paragraph_then_close(lines: &[&str], start: usize, tag: &str) -> Option<(String, usize)> {
    let blank = |l: &&str| l.trim().is_empty();
    let mut i = start;
    let first_blank = i;
    while lines.get(i).is_some_and(blank) {
        i += 1;
    }
    if i == first_blank {
        return None;
    }
    let mut paragraph = Vec::new();
    while let Some(l) = lines.get(i).filter(|l| !blank(l)) {
        if l.trim() == format!("</{tag}>") {
            return None; // no blank line before the closing tag
        }
        paragraph.push(l.trim());
        i += 1;
    }
    while lines.get(i).is_some_and(blank) {
        i += 1;
    }
    let close = lines.get(i)?;
    (close.trim() == format!("</{tag}>") && !paragraph.is_empty())
        .then(|| (paragraph.join("\n"), i + 1))
}

/// A Markdown paragraph as inline HTML (without the `<p>` around it).
fn inline_html(text: &str) -> String {
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(text, Options::empty()));
    let html = html.trim_end();
    html.strip_prefix("<p>")
        .and_then(|h| h.strip_suffix("</p>"))
        .unwrap_or(html)
        .replace('\n', " ")
}

/// Source lines (1-based) where a `<figcaption>`/`<summary>` holds its text on
/// the tag's own line: such text is inside an HTML block, which the
/// translation workflow cannot extract (`cargo xtask check` names them).
pub fn inline_caption_lines(markdown: &str) -> Vec<(usize, String)> {
    markdown
        .lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let t = line.trim_start();
            let tag = TAGS.iter().find(|tag| t.starts_with(&format!("<{tag}>")))?;
            (opening_tag(line).is_none()).then(|| {
                (
                    n + 1,
                    format!(
                        "write the <{tag}> text as a Markdown paragraph (a blank line after \
                         <{tag}> and before </{tag}>), so it can be translated"
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paragraph_caption_becomes_one_line_of_inline_html() {
        let md =
            "<details>\n<summary>\n\nWhy `BEGIN IMMEDIATE`\n\n</summary>\n\nBody.\n</details>\n";
        assert_eq!(
            inline_captions(md),
            "<details>\n<summary>Why <code>BEGIN IMMEDIATE</code></summary>\n\nBody.\n</details>\n"
        );
        let fig = "<figure class=\"ww-chart\">\n<svg/>\n<figcaption>\n\nChart 1.1: a *b*\nc.\n\n</figcaption>\n</figure>\n";
        assert_eq!(
            inline_captions(fig),
            "<figure class=\"ww-chart\">\n<svg/>\n<figcaption>Chart 1.1: a <em>b</em> c.</figcaption>\n</figure>\n"
        );
    }

    #[test]
    fn other_shapes_are_left_alone() {
        for md in [
            "<summary>Solution</summary>\n",
            "<summary>\nSolution\n</summary>\n",
            "<summary>\n\nSolution\n\nMore\n\n</summary>\n",
            "<summary>\n\nSolution\n",
        ] {
            assert_eq!(inline_captions(md), md);
        }
    }

    #[test]
    fn captions_on_the_tag_line_are_named() {
        let md = "<summary>Solution</summary>\n<figcaption>\n\nok\n\n</figcaption>\n  <figcaption>x</figcaption>\n";
        let found = inline_caption_lines(md);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [1, 7]);
    }
}
