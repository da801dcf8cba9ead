//! Checks over the book's Markdown sources, run before anything is built
//! (`cargo xtask check`, and first thing in `cargo xtask book` and
//! `cargo xtask test`). Each problem is reported as `file:line: what`.
//!
//! - Every page's heading (its first `# ` line) equals its title in
//!   `SUMMARY.md`, so the sidebar and the page agree.
//! - Every Rust listing is included from compiled code: a fenced block whose
//!   language is `rust` holds only `{{#include …}}` / `{{#rustdoc_include …}}`
//!   lines, never pasted code.
//! - No path into a home directory or the cargo registry (`/root/`,
//!   `/home/`, `~/.cargo`, `.cargo/registry`): a reader's machine has other
//!   paths, and a third-party crate is cited by name and version.
//! - Every ```quiz block parses whole, and no quiz TOML lies outside one
//!   ([`crate::quiz::problems`]).
//! - Every chart (`{{#include figures/NAME.svg}}`) is inlined inside a
//!   `<figure class="ww-chart">` with a `<figcaption>` right after it: inline,
//!   so it follows the theme; captioned, so the table is one glance away.
//!   (`cargo xtask test` then checks the SVG itself against its run.)
//!
//! - Every `<figcaption>` and `<summary>` holds its text as a Markdown
//!   paragraph, not on the tag's line, so it is extracted for translation
//!   ([`crate::captions`]).
//!
//! Left out: prose style, and listings in other languages (Python and shell
//! examples are written for the page, not compiled here).

use std::path::{Path, PathBuf};

use anyhow::Context;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::step;

/// Home directories and the cargo registry, as they appear in paths.
const PRIVATE_PATHS: &[&str] = &["/root/", "/home/", "~/.cargo", ".cargo/registry"];

/// Runs every check on the book sources in `src` and fails listing them all.
pub fn check(src: &Path) -> anyhow::Result<()> {
    step(&format!("checking the book sources in {}", src.display()));
    let mut found = Vec::new();
    let pages = markdown_files(src)?;
    for page in &pages {
        let text =
            std::fs::read_to_string(page).with_context(|| format!("reading {}", page.display()))?;
        let mut problems = rust_listings_not_included(&text);
        problems.extend(private_paths(&text));
        problems.extend(crate::quiz::problems(&text));
        problems.extend(charts_not_in_figures(&text));
        problems.extend(crate::captions::inline_caption_lines(&text));
        problems.sort();
        found.extend(
            problems
                .into_iter()
                .map(|(line, what)| format!("{}:{line}: {what}", page.display())),
        );
    }
    let summary = src.join("SUMMARY.md");
    let summary_text = std::fs::read_to_string(&summary)
        .with_context(|| format!("reading {}", summary.display()))?;
    for (file, title) in summary_titles(&summary_text) {
        let page = src.join(&file);
        let Ok(text) = std::fs::read_to_string(&page) else {
            found.push(format!(
                "{}: lists {file}, which does not exist",
                summary.display()
            ));
            continue;
        };
        if let Some(problem) = heading_problem(&text, &title) {
            found.push(format!("{}:{problem}", page.display()));
        }
    }
    anyhow::ensure!(
        found.is_empty(),
        "the book sources have {} problem(s):\n  {}",
        found.len(),
        found.join("\n  ")
    );
    println!(
        "{} pages: headings match SUMMARY.md, Rust listings are includes, no private paths, quizzes whole",
        pages.len()
    );
    Ok(())
}

/// The Markdown pages under `src`, without generated folders.
fn markdown_files(src: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut pages = Vec::new();
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let path = entry?.into_path();
        let generated = path
            .strip_prefix(src)
            .is_ok_and(|p| p.starts_with("pkg") || p.starts_with("figures"));
        if !generated && path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    Ok(pages)
}

/// `(file, title)` for every `[Title](file.md)` entry of SUMMARY.md.
fn summary_titles(summary: &str) -> Vec<(String, String)> {
    let entry = regex::Regex::new(r"\[([^\]]+)\]\(([^)\s]+\.md)\)").expect("a valid pattern");
    entry
        .captures_iter(summary)
        .map(|c| (c[2].to_string(), c[1].to_string()))
        .collect()
}

/// `line: what` when the page's first `# ` heading is not `# {title}`.
fn heading_problem(page: &str, title: &str) -> Option<String> {
    match page.lines().enumerate().find(|(_, l)| l.starts_with("# ")) {
        Some((_, line)) if line[2..].trim() == title => None,
        Some((n, line)) => Some(format!(
            "{}: heading {:?} differs from its SUMMARY.md title {title:?}",
            n + 1,
            line[2..].trim()
        )),
        None => Some(format!("1: no `# ` heading; SUMMARY.md calls it {title:?}")),
    }
}

/// `(line, what)` for every fenced ```rust block (any attributes) that holds
/// anything but include directives.
fn rust_listings_not_included(markdown: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (event, range) in Parser::new_ext(markdown, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                if info.split([',', ' ']).next() == Some("rust") =>
            {
                open = Some((line_of(markdown, range.start), String::new()));
            }
            Event::Text(text) => {
                if let Some((_, body)) = open.as_mut() {
                    body.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((line, body)) = open.take() {
                    let pasted = body.lines().map(str::trim).find(|l| {
                        !l.is_empty()
                            && !l.starts_with("{{#include ")
                            && !l.starts_with("{{#rustdoc_include ")
                    });
                    if let Some(pasted) = pasted {
                        found.push((
                            line,
                            format!(
                                "a Rust listing pasted into the page ({pasted:?}): include it from compiled code with {{{{#include file.rs:anchor}}}}"
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// `(line, what)` for every line that names a home directory or the cargo registry.
fn private_paths(markdown: &str) -> Vec<(usize, String)> {
    markdown
        .lines()
        .enumerate()
        .filter_map(|(n, line)| {
            PRIVATE_PATHS
                .iter()
                .find(|p| line.contains(*p))
                .map(|p| {
                    (
                        n + 1,
                        format!(
                            "a path into a home directory or the cargo registry ({p:?}): cite the crate, version and file by name instead"
                        ),
                    )
                })
        })
        .collect()
}

/// `(line, what)` for every chart include not wrapped as
/// `<figure class="ww-chart">` / include / `<figcaption>…`.
fn charts_not_in_figures(markdown: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = markdown.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            // `figures/X.svg` from src/, `../figures/X.svg` from src/ch07/.
            (l.contains("{{#include figures/") || l.contains("{{#include ../figures/"))
                && l.contains(".svg")
        })
        .filter(|(n, _)| {
            let before = n.checked_sub(1).map(|i| lines[i].trim());
            let after = lines.get(n + 1).map(|l| l.trim());
            before != Some("<figure class=\"ww-chart\">")
                || !after.is_some_and(|l| l.starts_with("<figcaption>"))
        })
        .map(|(n, l)| {
            (
                n + 1,
                format!(
                    "a chart ({}) must sit alone between `<figure class=\"ww-chart\">` and its `<figcaption>`",
                    l.trim()
                ),
            )
        })
        .collect()
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn included_listings_pass_and_pasted_ones_are_named() {
        let ok = "# T\n\n```rust,ignore\n{{#include ../lab/gil.rs:take}}\n```\n\n```python\nx = 1\n```\n";
        assert!(rust_listings_not_included(ok).is_empty());
        // Chapter 3's old pasted tiny_http listing sat in an indented list item.
        let pasted =
            "# T\n\n- item:\n\n  ```rust,ignore\n  let mut queue = self.todo.lock();\n  ```\n";
        let found = rust_listings_not_included(pasted);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 5);
        assert!(found[0].1.contains("let mut queue"), "{found:?}");
        assert_eq!(
            rust_listings_not_included("```rust\nfn main() {}\n```\n").len(),
            1
        );
    }

    #[test]
    fn private_paths_are_named_with_their_line() {
        let text = "ok\nunder `~/.cargo/registry/src/*/tiny_http-0.12.0/`\n/home/me/x\n";
        let found = private_paths(text);
        assert_eq!(
            found.iter().map(|f| f.0).collect::<Vec<_>>(),
            [2, 3],
            "{found:?}"
        );
        assert!(private_paths("tiny_http 0.12's `src/util/task_pool.rs`").is_empty());
    }

    #[test]
    fn charts_sit_in_a_captioned_figure() {
        let good = "<figure class=\"ww-chart\">\n{{#include figures/a.svg}}\n<figcaption>Chart 1</figcaption>\n</figure>\n";
        assert!(charts_not_in_figures(good).is_empty());
        let bare = "text\n\n{{#include figures/a.svg}}\n";
        assert_eq!(charts_not_in_figures(bare)[0].0, 3);
        let uncaptioned = "<figure class=\"ww-chart\">\n{{#include figures/a.svg}}\n</figure>\n";
        assert_eq!(charts_not_in_figures(uncaptioned).len(), 1);
        assert!(charts_not_in_figures("{{#include figures/a.txt}}\n").is_empty());
    }

    #[test]
    fn headings_must_equal_summary_titles() {
        let summary = "# Summary\n\n[Introduction](introduction.md)\n\n- [WSGI: a thread per request](ch03-wsgi.md)\n";
        assert_eq!(
            summary_titles(summary),
            [
                ("introduction.md".to_string(), "Introduction".to_string()),
                (
                    "ch03-wsgi.md".to_string(),
                    "WSGI: a thread per request".to_string()
                )
            ]
        );
        assert_eq!(heading_problem("# Introduction\n", "Introduction"), None);
        let problem = heading_problem(
            "\n# WSGI: one request per thread\n",
            "WSGI: a thread per request",
        )
        .unwrap();
        assert!(problem.starts_with("2: heading"), "{problem}");
        assert!(heading_problem("no heading\n", "X").is_some());
    }
}
