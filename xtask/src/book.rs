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

/// The cargo profile the visualizer is built with.
#[derive(Clone, Copy, Debug)]
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
    let wasm = crate::target_dir().join(format!(
        "wasm32-unknown-unknown/{}/waiting_well_viz.wasm",
        profile.name()
    ));
    wasm_bindgen_cli::wasm_bindgen::run_cli_with_args([
        "wasm-bindgen".as_ref(),
        wasm.as_os_str(),
        "--target".as_ref(),
        "web".as_ref(),
        "--no-typescript".as_ref(),
        "--out-dir".as_ref(),
        PKG_DIR.as_ref(),
    ])
    .context("wasm-bindgen failed")?;
    Ok(())
}

pub fn build_book() -> anyhow::Result<PathBuf> {
    crate::sources::check(Path::new("src"))?;
    step("building the book");
    let root = Path::new(".");
    let mut book = mdbook_driver::MDBook::load(root).context("loading book.toml")?;
    book.with_preprocessor(crate::quiz::QuizPreprocessor);
    book.with_preprocessor(crate::captions::CaptionsPreprocessor);
    book.build().context("building the book")?;
    let dir = book.build_dir_for("html");
    println!("book built in {}", dir.display());
    Ok(dir)
}

/// theme/index.hbs is mdBook's page template plus three marked edits
/// ("ww:" comments). This test undoes our edits and compares the result with
/// the template of the mdbook-html version in Cargo.lock: after an mdBook
/// upgrade it fails until theme/index.hbs is re-copied from the new template
/// and the edits re-applied (ARCHITECTURE.md, "mdBook's chrome").
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
