//! A figure's JSON record read back: `src/figures/NAME.json`, which `cargo
//! xtask figures` writes beside the text figure (`lab::report` records every
//! table an example prints: its section, its columns, each cell's text and
//! raw number). The tests that hold recorded numbers to their limits find
//! their tables, columns and numbers here.
//!
//! Left out: judging anything (each test says what its numbers must obey)
//! and the charts' reading of the same record (`xtask/src/charts.rs`).

use std::path::Path;

use serde_json::Value;

/// The record of figure `name` (e.g. `ch06_table`); panics, naming the
/// command that writes it, when it cannot be read.
pub fn record(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/figures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask figures {name}`)", path.display()));
    serde_json::from_str(&text).expect("a JSON record")
}

/// The first table of `run` printed under a `## ` section whose heading
/// contains `section`, if any.
pub fn table<'a>(run: &'a Value, section: &str) -> Option<&'a Value> {
    run["tables"]
        .as_array()?
        .iter()
        .find(|t| t["section"].as_str().is_some_and(|s| s.contains(section)))
}

/// The index of `table`'s column named `name`; panics, listing the columns
/// there are, when it has none.
pub fn column(table: &Value, name: &str) -> usize {
    let columns = table["columns"].as_array().expect("a table with columns");
    columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name:?} in {columns:?}"))
}

/// A cell's number: its recorded value, else its text without thousands
/// separators (`10,161`).
pub fn number(cell: &Value) -> Option<f64> {
    cell["value"].as_f64().or_else(|| {
        let text = cell["text"].as_str()?.replace(',', "");
        text.trim().parse().ok()
    })
}
