//! The internal link check over the built site: every `href` and `src` that
//! points inside the book must name a file that exists (and, for `#fragment`
//! links, an element id in it); nothing may be *loaded* from another origin.
//! Links to other sites in prose are allowed (they are not fetched).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use regex::Regex;

pub fn check_site(site: &Path) -> anyhow::Result<()> {
    let attr = Regex::new(
        r#"(?i)<(a|link|script|img|iframe|source)\b[^>]*?\s(href|src)\s*=\s*"([^"]*)""#,
    )?;
    let id = Regex::new(r#"\sid\s*=\s*"([^"]+)""#)?;
    let pages: Vec<PathBuf> = walkdir::WalkDir::new(site)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    let mut ids: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    let mut problems = Vec::new();
    let mut checked = 0usize;
    for page in &pages {
        let html =
            std::fs::read_to_string(page).with_context(|| format!("reading {}", page.display()))?;
        for cap in attr.captures_iter(&html) {
            let (tag, target) = (cap[1].to_ascii_lowercase(), &cap[3]);
            checked += 1;
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("//")
            {
                if tag != "a" {
                    problems.push(format!(
                        "{}: <{tag}> loads from another origin: {target}",
                        page.display()
                    ));
                }
                continue;
            }
            if target.is_empty()
                || target.starts_with("mailto:")
                || target.starts_with("data:")
                || target.starts_with("javascript:")
            {
                continue;
            }
            let (path_part, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target, None),
            };
            let path_part = path_part.split('?').next().unwrap_or("");
            let file = if path_part.is_empty() {
                page.clone()
            } else {
                let base = page.parent().unwrap_or(site);
                let mut resolved = base.join(path_part);
                if resolved.is_dir() {
                    resolved = resolved.join("index.html");
                }
                resolved
            };
            let Ok(file) = file.canonicalize() else {
                problems.push(format!("{}: broken link {target}", page.display()));
                continue;
            };
            if let Some(fragment) = fragment.filter(|f| !f.is_empty())
                && file.extension().is_some_and(|e| e == "html")
            {
                let known = ids.entry(file.clone()).or_insert_with(|| {
                    std::fs::read_to_string(&file)
                        .map(|h| id.captures_iter(&h).map(|c| c[1].to_string()).collect())
                        .unwrap_or_default()
                });
                if !known.contains(fragment) {
                    problems.push(format!(
                        "{}: no id {fragment:?} in {}",
                        page.display(),
                        file.display()
                    ));
                }
            }
        }
    }
    println!("link check: {} pages, {checked} links", pages.len());
    anyhow::ensure!(
        problems.is_empty(),
        "broken links:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(files: &[(&str, &str)]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ww-links-{}-{}", std::process::id(), files.len()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, html) in files {
            std::fs::write(dir.join(name), html).unwrap();
        }
        dir
    }

    #[test]
    fn good_links_pass_and_bad_ones_are_named() {
        let ok = site(&[
            (
                "a.html",
                r#"<a href="b.html#x">b</a> <a href="https://example.org/">out</a>"#,
            ),
            ("b.html", r#"<h2 id="x">X</h2>"#),
        ]);
        check_site(&ok).unwrap();
        let bad = site(&[
            (
                "a.html",
                r#"<a href="b.html#y">b</a> <a href="c.html">c</a> <script src="https://cdn.example/x.js"></script>"#,
            ),
            ("b.html", r#"<h2 id="x">X</h2>"#),
            ("c2.html", ""),
        ]);
        let err = check_site(&bad).unwrap_err().to_string();
        assert!(err.contains("no id \"y\""), "{err}");
        assert!(err.contains("broken link c.html"), "{err}");
        assert!(err.contains("loads from another origin"), "{err}");
    }
}
