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
/// The wasm cargo builds, under the target folder.
const VIZ_WASM: &str = "wasm32-unknown-unknown/wasm/waiting_well_viz.wasm";

/// Builds the visualizer and the book; returns the site directory.
pub fn build_all() -> anyhow::Result<PathBuf> {
    build_visualizer()?;
    build_book()
}

pub fn build_visualizer() -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    step("building the visualizer to WebAssembly");
    run(cargo().args([
        "build",
        "--locked",
        "--profile",
        "wasm",
        "--package",
        VIZ_CRATE,
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    std::fs::create_dir_all(PKG_DIR)?;
    let wasm = crate::target_dir().join(VIZ_WASM);
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
    step("building the book");
    let root = Path::new(".");
    let mut book = mdbook_driver::MDBook::load(root).context("loading book.toml")?;
    book.with_preprocessor(crate::quiz::QuizPreprocessor);
    book.build().context("building the book")?;
    let dir = book.build_dir_for("html");
    println!("book built in {}", dir.display());
    Ok(dir)
}
