//! Building the site: the visualizer to WebAssembly (wasm-bindgen as a
//! library, pinned to the same version as the `wasm-bindgen` crate), then the
//! book with mdBook as a library, with the quiz preprocessor registered.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{cargo, run, step, tools};

/// Where the wasm-bindgen output goes: inside the book's source, so mdBook
/// copies it into the site as it is (git-ignored).
pub const PKG_DIR: &str = "src/pkg";
const VIZ_CRATE: &str = "waiting-well-viz";
/// The visualizer crate's folder.
const VIZ_DIR: &str = "playground/web";

/// The cargo profile the visualizer is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmProfile {
    /// `wasm`: fat LTO, one codegen unit; what the published book ships.
    Publish,
    /// `wasm-dev`: optimised but no LTO, parallel and incremental codegen;
    /// for `cargo xtask serve --watch`, where a rebuild should take seconds.
    Fast,
}

impl WasmProfile {
    fn name(self) -> &'static str {
        match self {
            WasmProfile::Publish => "wasm",
            WasmProfile::Fast => "wasm-dev",
        }
    }
}

/// Builds the visualizer and the book; returns the site directory.
pub fn build_all() -> anyhow::Result<PathBuf> {
    build_visualizer(WasmProfile::Publish)?;
    build_book()
}

pub fn build_visualizer(profile: WasmProfile) -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    step(&format!(
        "building the visualizer to WebAssembly (profile {})",
        profile.name()
    ));
    run(cargo().args([
        "build",
        "--locked",
        "--profile",
        profile.name(),
        "--package",
        VIZ_CRATE,
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    std::fs::create_dir_all(PKG_DIR)?;
    // wasm-bindgen names the JS snippets' folder by a hash: drop the last build's.
    let snippets = Path::new(PKG_DIR).join("snippets");
    if snippets.exists() {
        std::fs::remove_dir_all(&snippets)?;
    }
    let wasm = crate::target_dir().join(format!(
        "wasm32-unknown-unknown/{}/waiting_well_viz.wasm",
        profile.name()
    ));
    let mut args = vec![
        "wasm-bindgen".as_ref(),
        wasm.as_os_str(),
        "--target".as_ref(),
        "web".as_ref(),
        "--no-typescript".as_ref(),
        "--out-dir".as_ref(),
        PKG_DIR.as_ref(),
    ];
    // What readers download: without the functions' names (a tenth of the
    // gzipped wasm; a stack trace then numbers them). The watch build keeps them.
    if profile == WasmProfile::Publish {
        args.push("--remove-name-section".as_ref());
    }
    wasm_bindgen_cli::wasm_bindgen::run_cli_with_args(args).context("wasm-bindgen failed")?;
    // The worker threads' script loads the glue from beside it (see js/pool.js).
    std::fs::copy(
        Path::new(VIZ_DIR).join("js/viz-worker.js"),
        Path::new(PKG_DIR).join("viz-worker.js"),
    )
    .context("copying the visualizer's worker script")?;
    Ok(())
}

/// Builds every edition: English at the site root (`book/`), then each
/// translation under `book/LANG/`; returns the site directory.
pub fn build_book() -> anyhow::Result<PathBuf> {
    crate::sources::check(Path::new("src"))?;
    step("building the book (English)");
    let root = Path::new(".");
    let mut book = mdbook_driver::MDBook::load(root).context("loading book.toml")?;
    with_our_preprocessors(&mut book);
    book.build().context("building the book")?;
    let dir = book.build_dir_for("html");
    for lang in crate::i18n::LANGUAGES {
        build_translation(lang, &dir)?;
    }
    println!("book built in {}", dir.display());
    Ok(dir)
}

/// The preprocessors every edition runs after mdBook's own (`links`, `index`).
fn with_our_preprocessors(book: &mut mdbook_driver::MDBook) {
    book.with_preprocessor(crate::quiz::QuizPreprocessor);
    book.with_preprocessor(crate::captions::CaptionsPreprocessor);
}

/// The edition in `lang` (from `po/LANG.po`) into `SITE/LANG/`: the raw
/// chapters and SUMMARY titles are translated before mdBook's preprocessors
/// run, so `{{#include}}` and the quiz preprocessor work on the translated
/// text; the 404 page is translated into a file outside src/ (mdBook copies
/// src/'s other files into the site). An untranslated message shows in
/// English (`cargo xtask test` fails on it, the build does not).
fn build_translation(lang: &str, site: &Path) -> anyhow::Result<()> {
    step(&format!("building the book ({lang})"));
    let root = Path::new(".");
    let catalog = crate::i18n::catalog_for_build(lang)?;
    let mut config = mdbook_driver::config::Config::from_disk(root.join("book.toml"))
        .context("reading book.toml")?;
    config.book.language = Some(lang.to_string());
    config.build.build_dir = site.join(lang);
    // The 404 page's links are absolute from this edition's root.
    config.set("output.html.site-url", format!("/{lang}/"))?;
    let page_404 = crate::i18n::page_404_path(&config);
    let english_404 = std::fs::read_to_string(&page_404)
        .with_context(|| format!("reading {}", page_404.display()))?;
    let translated_404 =
        std::path::absolute(crate::target_dir().join(format!("i18n/{lang}/404.md")))?;
    std::fs::create_dir_all(translated_404.parent().expect("a file in a folder"))?;
    // Its headings keep the English ids too (the language switch finds the
    // 404 page by `#page-not-found`).
    let english_404_html = std::fs::read_to_string(site.join("404.html"))
        .with_context(|| format!("reading {}", site.join("404.html").display()))?;
    let korean_404 = with_heading_ids(
        &translate_markdown(&english_404, &catalog)?,
        &heading_ids(&english_404_html),
    )
    .context("the translated 404 page")?;
    std::fs::write(&translated_404, korean_404)?;
    config.set(
        "output.html.input-404",
        translated_404.display().to_string(),
    )?;

    let mut book = mdbook_driver::MDBook::load_with_config(root, config)
        .with_context(|| format!("loading the book for {lang}"))?;
    mdbook_i18n_helpers::gettext::translate_book(&catalog, &mut book.book)
        .with_context(|| format!("translating the book into {lang} (po/{lang}.po)"))?;
    crate::charts_ko::inline_translated_charts(&mut book.book, &catalog, lang)?;
    keep_english_anchors(&mut book.book, site)?;
    with_our_preprocessors(&mut book);
    book.build()
        .with_context(|| format!("building the {lang} book"))?;
    // mdBook writes the 404 page beside its input's name (`X.md` → `X.html`
    // under the site; an absolute input path stays absolute): move it home.
    let rendered_404 = translated_404.with_extension("html");
    std::fs::rename(&rendered_404, site.join(lang).join("404.html"))
        .with_context(|| format!("moving {} into the site", rendered_404.display()))?;
    crate::search::reindex(&site.join(lang))?;
    Ok(())
}

/// Gives each translated heading the id its English heading has on the
/// English page (`## 처리량 {#throughput}`), so `chapter.md#anchor` links,
/// which translations keep as written, land in every edition, and the
/// language switch can keep the reader's section. The ids are read from the
/// English build, which is what mdBook made of the English headings.
fn keep_english_anchors(
    book: &mut mdbook_preprocessor::book::Book,
    site: &Path,
) -> anyhow::Result<()> {
    let mut failure = None;
    book.for_each_mut(|item| {
        let mdbook_preprocessor::book::BookItem::Chapter(chapter) = item else {
            return;
        };
        let Some(path) = chapter.path.clone() else {
            return;
        };
        let page = site.join(path.with_extension("html"));
        let Ok(html) = std::fs::read_to_string(&page) else {
            failure.get_or_insert(anyhow::anyhow!("{} is missing", page.display()));
            return;
        };
        match with_heading_ids(&chapter.content, &heading_ids(&html)) {
            Ok(content) => chapter.content = content,
            Err(e) => {
                failure.get_or_insert(e.context(format!("translated {}", path.display())));
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// The ids of an mdBook page's headings, in order.
fn heading_ids(html: &str) -> Vec<&str> {
    static HEADING_ID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r##"<h[1-6] id="([^"]+)"><a class="header" href="#"##)
            .expect("a valid pattern")
    });
    HEADING_ID
        .captures_iter(html)
        .map(|c| c.get(1).map_or("", |m| m.as_str()))
        .collect()
}

/// `markdown` with ` {#id}` added to its n-th heading for each n-th id; fails
/// when the numbers of headings differ (a translation added or lost one).
fn with_heading_ids(markdown: &str, ids: &[&str]) -> anyhow::Result<String> {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let mut options = Options::empty();
    options.insert(Options::ENABLE_HEADING_ATTRIBUTES);
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_FOOTNOTES);
    let headings: Vec<(std::ops::Range<usize>, bool)> = Parser::new_ext(markdown, options)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Heading { id, .. }) => Some((range, id.is_some())),
            _ => None,
        })
        .collect();
    anyhow::ensure!(
        headings.len() == ids.len(),
        "{} headings, but the English page has {}",
        headings.len(),
        ids.len()
    );
    let mut out = markdown.to_string();
    // From the end, so earlier offsets stay valid.
    for ((range, has_id), id) in headings.iter().zip(ids).rev() {
        if *has_id {
            continue;
        }
        let line_end = markdown[range.start..range.end]
            .find('\n')
            .map_or(range.end, |n| range.start + n);
        out.insert_str(line_end, &format!(" {{#{id}}}"));
    }
    Ok(out)
}

/// One Markdown page translated with `catalog`, as `translate_book` does a chapter.
fn translate_markdown(markdown: &str, catalog: &polib::catalog::Catalog) -> anyhow::Result<String> {
    let mut book = mdbook_preprocessor::book::Book::new();
    book.push_item(mdbook_preprocessor::book::Chapter::new(
        "page",
        markdown.to_string(),
        "page.md",
        Vec::new(),
    ));
    mdbook_i18n_helpers::gettext::translate_book(catalog, &mut book)?;
    let Some(mdbook_preprocessor::book::BookItem::Chapter(page)) = book.items.into_iter().next()
    else {
        anyhow::bail!("the translated page went missing");
    };
    Ok(page.content)
}

/// theme/index.hbs is mdBook's page template plus three marked edits
/// ("ww:" comments). This test undoes our edits and compares the result with
/// the template of the mdbook-html version in Cargo.lock: after an mdBook
/// upgrade it fails until theme/index.hbs is re-copied from the new template
/// and the edits re-applied (ARCHITECTURE.md, "mdBook's chrome").
#[cfg(test)]
mod anchors {
    #[test]
    fn translated_headings_get_the_english_ids() {
        let md = "# 처리량\n\n본문\n\n## 연결 {#kept}\n\nSetext 제목\n---\n";
        let out = super::with_heading_ids(md, &["throughput", "x", "setext"]).unwrap();
        assert_eq!(
            out,
            "# 처리량 {#throughput}\n\n본문\n\n## 연결 {#kept}\n\nSetext 제목 {#setext}\n---\n"
        );
        assert!(super::with_heading_ids(md, &["a"]).is_err());
    }
}

#[cfg(test)]
mod theme_template {
    use std::path::PathBuf;

    /// The mdbook-html crate's source folder, from `cargo metadata`.
    fn mdbook_html_dir() -> PathBuf {
        let out = crate::cargo()
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(crate::workspace_root())
            .output()
            .expect("cargo metadata runs");
        assert!(out.status.success(), "cargo metadata failed");
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let manifest = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "mdbook-html")
            .expect("mdbook-html is in the dependency graph")["manifest_path"]
            .as_str()
            .unwrap()
            .to_string();
        PathBuf::from(manifest).parent().unwrap().to_path_buf()
    }

    /// Our template with our edits taken out again.
    fn without_our_edits(ours: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let mut in_comment = false;
        for line in ours.lines() {
            let t = line.trim_start();
            if in_comment || t.starts_with("{{!--") {
                in_comment = !line.trim_end().ends_with("--}}");
                continue;
            }
            if t.starts_with("<a class=\"ww-skip-link\"") {
                continue;
            }
            lines.push(
                line.replace(" role=\"button\" tabindex=\"0\"", "")
                    .replace("<main id=\"ww-main\" tabindex=\"-1\">", "<main>"),
            );
        }
        lines
    }

    #[test]
    fn index_hbs_is_upstream_plus_our_marked_edits() {
        let upstream_path = mdbook_html_dir().join("front-end/templates/index.hbs");
        let upstream = std::fs::read_to_string(&upstream_path).unwrap();
        let ours_path = crate::workspace_root().join("theme/index.hbs");
        let ours = std::fs::read_to_string(&ours_path).unwrap();
        assert_eq!(ours.matches("{{!-- ww:").count(), 3, "three marked edits");
        let undone = without_our_edits(&ours);
        let upstream: Vec<&str> = upstream.lines().collect();
        for (i, (a, b)) in undone.iter().zip(&upstream).enumerate() {
            assert_eq!(
                a,
                b,
                "theme/index.hbs line {} differs from {} beyond our edits: \
                 re-copy mdBook's template and re-apply the ww: edits",
                i + 1,
                upstream_path.display()
            );
        }
        assert_eq!(
            undone.len(),
            upstream.len(),
            "line count differs from upstream"
        );
    }
}
