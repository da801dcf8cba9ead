//! The Python ↔ Rust appendix names real files: every `lab/...` path in
//! `src/appendix-python-rust.md` exists, and every row of its map names one
//! lab file and links to a section (whose anchor `cargo xtask links` checks
//! in the built book).

use std::path::Path;

const APPENDIX: &str = "src/appendix-python-rust.md";

/// Every `lab/…` path quoted in backticks in `text`.
fn lab_paths(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2) // the insides of backtick pairs
        .filter(|code| code.starts_with("lab/"))
        .collect()
}

/// The rows of the map: table lines after the header and its separator.
fn map_rows(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with('|'))
        .skip(2)
        .collect()
}

#[test]
fn every_lab_file_the_appendix_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(APPENDIX)).expect("the appendix exists");
    let paths = lab_paths(&text);
    assert!(paths.len() >= 15, "too few lab files named: {paths:?}");
    let missing: Vec<_> = paths.iter().filter(|p| !root.join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "{APPENDIX} names files that do not exist: {missing:?}"
    );
}

#[test]
fn every_row_names_a_lab_file_and_links_to_a_section() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(APPENDIX)).expect("the appendix exists");
    let rows = map_rows(&text);
    assert!(rows.len() >= 15, "the map has {} rows", rows.len());
    for row in rows {
        let files = lab_paths(row);
        assert_eq!(files.len(), 1, "a row names one lab file: {row}");
        assert!(
            root.join(files[0]).is_file(),
            "{} is not a file: {row}",
            files[0]
        );
        let link = row
            .split("](")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or_else(|| panic!("a row links to a section: {row}"));
        let (page, fragment) = link
            .split_once('#')
            .unwrap_or_else(|| panic!("the link names a section (#…): {row}"));
        assert!(!fragment.is_empty(), "empty fragment: {row}");
        assert!(
            root.join("src").join(page).is_file(),
            "the link's page {page} does not exist: {row}"
        );
    }
}
