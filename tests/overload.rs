//! The recorded overload figure (chapter 4, `ch04_asgi --overload`, as
//! `cargo xtask figures` wrote it to `src/figures/ch04_overload.json`) obeys
//! Little's law and its limit: no phase serves more than the model's
//! capacity k / wait; only the overload sheds, and it sheds while still
//! serving about its capacity; the requests let in wait at most what the
//! limit allows (limit / k waits, with a wide margin for a busy machine);
//! the server's peak memory stays bounded; and the run says when latency
//! was back to normal. A figure regenerated from a server that queues
//! without a limit, or from a broken count, fails here.

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
    let capacity = number_after(&text, "capacity ");
    let limit = number_after(&text, "--limit-concurrency ");
    let k = number_after(&text, "k=");
    let wait_ms = number_after(&text, "req/s (k / wait, ");
    assert_eq!(capacity, k / (wait_ms / 1e3), "capacity is k / wait");

    let table = &json["tables"].as_array().unwrap()[0];
    let columns = table["columns"].as_array().unwrap();
    let column = |name: &str| columns.iter().position(|c| c == name).unwrap();
    let rows = table["rows"].as_array().unwrap();
    let value = |row: &Value, name: &str| {
        row[column(name)]["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} in {row}"))
    };
    let phase = |row: &Value| row[column("phase")]["text"].as_str().unwrap().to_string();
    assert!(rows.len() >= 4, "before, overload and after windows");
    for row in rows {
        let (name, served) = (phase(row), value(row, "served 2xx/s"));
        assert!(
            served <= capacity * 1.1,
            "{name}: {served} req/s served, over the bound {capacity}"
        );
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
            let allowed = (limit / k) * wait_ms + 100.0;
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
        let peak_mib = value(row, "peak RSS");
        assert!(peak_mib <= 256.0, "{name}: peak RSS {peak_mib} MiB");
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("p99 back within"))
        .unwrap_or_else(|| panic!("the run says when latency recovered:\n{text}"));
    let after = line.split("starting ").nth(1).unwrap();
    let seconds = if after.contains(" ms ") {
        number_after(after, "") / 1e3
    } else {
        number_after(after, "")
    };
    assert!(seconds <= 3.0, "recovered only {seconds} s after: {line}");
}
