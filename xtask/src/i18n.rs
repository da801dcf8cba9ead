//! The translations' gettext workflow: `cargo xtask i18n extract` writes the
//! English messages of the book's Markdown to `po/messages.pot`, with
//! mdbook-i18n-helpers as a library (the extraction `mdbook-xgettext` does).
//! Messages are taken from the sources as written, before any preprocessor:
//! an `{{#include}}` of a recorded figure or a listing stays a directive, so
//! regenerating a figure never changes the catalog.

use std::path::Path;

use anyhow::Context;

use crate::step;

pub const POT: &str = "po/messages.pot";

/// Writes `po/messages.pot` from the book's sources.
pub fn extract() -> anyhow::Result<()> {
    step("extracting the book's messages");
    let md = mdbook_driver::MDBook::load(Path::new(".")).context("loading book.toml")?;
    let ctx = mdbook_renderer::RenderContext::new(
        md.root.clone(),
        md.book.clone(),
        md.config.clone(),
        md.root.join("book/xgettext"),
    );
    let catalogs = mdbook_i18n_helpers::xgettext::create_catalogs(&ctx, std::fs::read_to_string)?;
    let (_, mut catalog) = catalogs
        .into_iter()
        .next()
        .context("no catalog extracted")?;
    // The charts' labels (msgctxt "chart"): see crate::charts_ko.
    let charts = crate::charts_ko::add_chart_messages(&mut catalog)?;
    println!(
        "{charts} chart labels (msgctxt \"{}\")",
        crate::charts_ko::CONTEXT
    );
    std::fs::create_dir_all("po")?;
    polib::po_file::write(&catalog, Path::new(POT)).context("writing po/messages.pot")?;
    println!("{} messages in {POT}", catalog.count());
    Ok(())
}
