//! Chapter 6's "in flight" readings, as recorded: in the run `cargo xtask
//! figures` wrote (`src/figures/ch06_table.json`), no row has more requests
//! in flight than it had clients. A closed-loop client has at most one
//! request out at a time, so more would be a measurement bug — it was one:
//! req/s × mean latency counted in full the requests sent before the window
//! and answered in it (DRF's database row read 1,005 of 1,000 clients, the
//! event loop 10,161 of 10,000 connections). The runner now reports the
//! load generator's own count, `LoadReport::mean_in_flight`.
//!
//! Checked: every row of the detail table (`clients` against `in flight`),
//! of the connections table (`connections` against `in flight`) and the
//! reproduced table's Little's-law cells (`mean in flight: FastAPI 995, DRF
//! 1000 of 1000`). A figure recorded before the fix (its cells say
//! `in flight:`, the old product) is reported as such and not judged: it
//! must be regenerated.

use serde_json::Value;

mod common;
use common::record::{column, number, record, table};

/// Every `(what, in flight, clients)` of a table with an `in flight` column
/// and a clients column named `clients_column`.
fn column_rows(table: &Value, clients_column: &str) -> Vec<(String, f64, f64)> {
    let (flight, clients) = (column(table, "in flight"), column(table, clients_column));
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| {
            let what = format!(
                "{}, {}",
                row[0]["text"].as_str().unwrap_or(""),
                row[1]["text"].as_str().unwrap_or("")
            );
            Some((what, number(&row[flight])?, number(&row[clients])?))
        })
        .collect()
}

/// `mean in flight: FastAPI 995, DRF 1000 of 1000` → each stack's
/// `(what, in flight, clients)`; None for any other text.
fn little_cell(row: &str, text: &str) -> Option<Vec<(String, f64, f64)>> {
    let rest = text.strip_prefix("mean in flight: ")?;
    let (stacks, clients) = rest.rsplit_once(" of ")?;
    let clients: f64 = clients.replace(',', "").parse().ok()?;
    stacks
        .split(", ")
        .map(|part| {
            let (stack, n) = part.rsplit_once(' ')?;
            Some((format!("{row}, {stack}"), n.parse().ok()?, clients))
        })
        .collect()
}

/// Every in-flight reading of a recorded run, or why the run cannot be
/// judged (recorded before the fix).
fn readings(run: &Value) -> Result<Vec<(String, f64, f64)>, String> {
    let mut all = Vec::new();
    let reproduced = table(run, "The table, reproduced").ok_or("no reproduced table")?;
    let columns = reproduced["columns"].as_array().unwrap();
    let little = columns
        .iter()
        .position(|c| c == "Little's law here")
        .ok_or("no Little's law column")?;
    for row in reproduced["rows"].as_array().unwrap() {
        let (label, text) = (
            row[0]["text"].as_str().unwrap_or(""),
            row[little]["text"].as_str().unwrap_or(""),
        );
        if text.starts_with("in flight:") {
            return Err(format!(
                "{label}: {text:?} is req/s × mean latency, recorded before the \
                 load generator counted requests in flight"
            ));
        }
        if text.contains("in flight") {
            let parsed = little_cell(label, text).ok_or_else(|| format!("unreadable {text:?}"))?;
            all.extend(parsed);
        }
    }
    let detail = table(run, "Every measurement").ok_or("no detail table")?;
    all.extend(column_rows(detail, "clients"));
    if let Some(held) = table(run, "Holding") {
        all.extend(column_rows(held, "connections"));
    }
    Ok(all)
}

/// The readings above their clients.
fn over(readings: &[(String, f64, f64)]) -> Vec<&(String, f64, f64)> {
    readings
        .iter()
        .filter(|(_, in_flight, clients)| in_flight > clients)
        .collect()
}

#[test]
fn no_recorded_row_has_more_in_flight_than_clients() {
    let readings = match readings(&record("ch06_table")) {
        Ok(readings) => readings,
        Err(why) => {
            println!(
                "skipped: src/figures/ch06_table.json predates the in-flight count ({why}); \
                 regenerate it with `cargo xtask figures ch06_table`"
            );
            return;
        }
    };
    // The reproduced table (2 rows × 2 stacks) and the detail table at least.
    assert!(
        readings.len() >= 8,
        "only {} readings: {readings:?}",
        readings.len()
    );
    let over = over(&readings);
    assert!(
        over.is_empty(),
        "more requests in flight than clients (what, in flight, clients): {over:?}"
    );
}

#[test]
fn a_planted_reading_above_its_clients_is_found() {
    // The check itself can fail: DRF's old 1,005 of 1,000, planted.
    let run = serde_json::json!({ "tables": [
        { "section": "The table, reproduced",
          "columns": ["row", "Little's law here"],
          "rows": [
            [{"text": "simple JSON response"}, {"text": "mean in flight: FastAPI 999, DRF 1000 of 1000"}],
            [{"text": "with a DB query"}, {"text": "mean in flight: FastAPI 995, DRF 1005 of 1000"}],
            [{"text": "memory"}, {"text": "-"}],
          ] },
        { "section": "Every measurement",
          "columns": ["stack", "load", "clients", "in flight"],
          "rows": [
            [{"text": "event-loop"}, {"text": "connections"}, {"text": "10000"}, {"text": "10,161"}],
            [{"text": "sync-pool"}, {"text": "DB query"}, {"text": "1000"}, {"text": "1000"}],
          ] },
        { "section": "Holding 1,000 and 10,000 connections",
          "columns": ["stack", "workers", "connections", "in flight"],
          "rows": [
            [{"text": "event-loop"}, {"text": "1"}, {"text": "1000", "value": 1000.0},
             {"text": "1000", "value": 1000.4}],
          ] },
    ] });
    let readings = readings(&run).unwrap();
    assert_eq!(readings.len(), 7);
    let found: Vec<&str> = over(&readings).iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        found,
        [
            "with a DB query, DRF",
            "event-loop, connections",
            "event-loop, 1"
        ]
    );
}

#[test]
fn a_figure_recorded_before_the_fix_is_told_apart() {
    let run = serde_json::json!({ "tables": [
        { "section": "The table, reproduced",
          "columns": ["row", "Little's law here"],
          "rows": [[{"text": "with a DB query"}, {"text": "in flight: FastAPI 995, DRF 1005 of 1000"}]] },
    ] });
    assert!(readings(&run).unwrap_err().contains("recorded before"));
}
