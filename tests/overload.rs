//! The recorded overload figure (chapter 4, `ch04_asgi --overload`, as
//! `cargo xtask figures` wrote it to `src/figures/ch04_overload.json`) obeys
//! Little's law and its limit: no phase serves more than the model's
//! capacity k / wait; only the overload sheds, and it sheds while still
//! serving about its capacity; the requests let in wait at most what the
//! limit allows (limit / k waits, with a wide margin for a busy machine);
//! the server's peak memory stays bounded; and the run says when latency
//! was back to normal. The models run without a limit (the sync pool, the
//! blocked loop) also serve no more than their capacity, and shed nothing.
//! A figure regenerated from a shedding server that queues without its
//! limit, or from a broken count, fails here.

use serde_json::Value;

fn figure() -> (Value, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/figures");
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
    let json = serde_json::from_str(&read("ch04_overload.json")).unwrap();
    (json, read("ch04_overload.txt"))
}

/// The number after `prefix` in `text`, up to the first space.
fn number_after(text: &str, prefix: &str) -> f64 {
    let at = text.find(prefix).unwrap_or_else(|| panic!("no {prefix:?}")) + prefix.len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().unwrap()
}

#[test]
fn the_recorded_overload_sheds_within_littles_law_and_recovers() {
    let (json, text) = figure();
    // One header line per model run, in the order of the tables.
    let headers: Vec<&str> = text.lines().filter(|l| l.contains(": capacity ")).collect();
    let tables = json["tables"].as_array().unwrap();
    assert_eq!(headers.len(), tables.len(), "one header per table:\n{text}");
    assert!(
        headers[0].contains("--limit-concurrency"),
        "the first run is the one that sheds: {}",
        headers[0]
    );
    for (table, header) in tables.iter().zip(&headers) {
        let capacity = number_after(header, "capacity ");
        let wait_ms = number_after(header, "req/s (k / wait, ");
        let k = if header.contains("k=") {
            number_after(header, "k=")
        } else {
            1.0 // blocked-loop: one request at a time
        };
        assert_eq!(
            capacity,
            k / (wait_ms / 1e3),
            "capacity is k / wait: {header}"
        );
        match header.contains("--limit-concurrency") {
            true => {
                let limit = number_after(header, "--limit-concurrency ");
                sheds_within_its_limit(table, capacity, limit / k * wait_ms)
            }
            false => cannot_shed(table, capacity, header),
        }
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("p99 "))
        .unwrap_or_else(|| panic!("the run says when latency recovered:\n{text}"));
    assert!(line.starts_with("p99 back within"), "{line}");
    let after = line.split("starting ").nth(1).unwrap();
    let seconds = if after.contains(" ms ") {
        number_after(after, "") / 1e3
    } else {
        number_after(after, "")
    };
    assert!(seconds <= 3.0, "recovered only {seconds} s after: {line}");
}

/// A table's rows, and a reader of one row's column.
fn rows(table: &Value) -> (&Vec<Value>, impl Fn(&Value, &str) -> f64 + '_) {
    let columns = table["columns"].as_array().unwrap();
    let value = move |row: &Value, name: &str| {
        let column = columns.iter().position(|c| c == name).unwrap();
        row[column]["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} in {row}"))
    };
    (table["rows"].as_array().unwrap(), value)
}

fn phase(row: &Value) -> String {
    row[0]["text"].as_str().unwrap().to_string()
}

/// Every row: no more served than capacity (Little's law) and a bounded
/// peak memory.
fn within_littles_law(table: &Value, capacity: f64) {
    let (rows, value) = rows(table);
    assert!(rows.len() >= 4, "before, overload and after windows");
    for row in rows {
        let (name, served) = (phase(row), value(row, "served 2xx/s"));
        assert!(
            served <= capacity * 1.1,
            "{name}: {served} req/s served, over the bound {capacity}"
        );
        let peak_mib = value(row, "peak RSS");
        assert!(peak_mib <= 256.0, "{name}: peak RSS {peak_mib} MiB");
    }
}

/// The limited run: only the overload sheds, it still serves about its
/// capacity, and the requests let in wait at most what the limit allows
/// (`allowed_ms`, plus a margin for a busy machine).
fn sheds_within_its_limit(table: &Value, capacity: f64, allowed_ms: f64) {
    within_littles_law(table, capacity);
    let (rows, value) = rows(table);
    for row in rows {
        let (name, served) = (phase(row), value(row, "served 2xx/s"));
        let shed = value(row, "shed 503/s");
        let offered = value(row, "offered req/s");
        if name == "overload" {
            assert!(
                offered >= 1.9 * capacity,
                "the overload offers twice capacity"
            );
            assert!(
                shed >= 0.25 * capacity,
                "{name}: only {shed} shed per second"
            );
            assert!(served >= 0.5 * capacity, "{name}: only {served} served");
            let p99_ms = value(row, "p99 (2xx)") * 1e3;
            let allowed = allowed_ms + 100.0;
            assert!(
                p99_ms <= allowed,
                "{name}: p99 {p99_ms} ms, limit allows {allowed}"
            );
        } else {
            assert!(
                shed <= 0.01 * capacity,
                "{name}: {shed} shed at half capacity"
            );
        }
    }
}

/// A run without a limit: twice capacity offered, no more than capacity
/// served, and nothing shed — there is nothing to shed with.
fn cannot_shed(table: &Value, capacity: f64, header: &str) {
    within_littles_law(table, capacity);
    let (rows, value) = rows(table);
    for row in rows {
        let name = phase(row);
        assert_eq!(value(row, "shed 503/s"), 0.0, "{header} {name}: shed");
        if name == "overload" {
            let offered = value(row, "offered req/s");
            assert!(
                offered >= 1.9 * capacity,
                "{header}: overload offered {offered}"
            );
        }
    }
}
