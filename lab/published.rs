//! The FastAPI-vs-DRF table that blog posts publish — **quoted, not
//! measured here** — and what Little's law reads out of it (chapter 6).
//!
//! The numbers below are a quote of a blog table (wrk, one FastAPI service
//! against one DRF service), kept as data so the chapter's reading of them is
//! a tested function rather than arithmetic in prose. Nothing in this file
//! is a measurement of ours: `examples/ch06_table.rs` measures, and prints
//! these quoted numbers only in a column labelled as published.
//!
//! The reading: Little's law, L = λW, turns each throughput and its latency
//! into the number of requests in flight. Every throughput row gives about
//! 1,000, so the runs were closed loops of about 1,000 connections; the
//! latency row is then the throughput row again (W = 1,000 / λ); and DRF's
//! 8,230 req/s with a database, on a handful of busy workers, leaves about
//! half a millisecond of work per request — CPU, not waiting. Left out:
//! anything the table does not state (its machine, its wrk flags).

use std::time::Duration;

/// One side of a published row, in the unit the post gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quoted {
    /// Requests per second.
    PerSecond(f64),
    /// A latency or a time per operation.
    Millis(f64),
    /// Memory, in megabytes as the post writes them.
    Megabytes(f64),
    /// Concurrent connections; `or_more` for "10,000+".
    Connections { count: u32, or_more: bool },
}

impl Quoted {
    /// The value as the post writes it, e.g. `47,832 req/s`, `20.9 ms`.
    pub fn text(&self) -> String {
        match *self {
            Quoted::PerSecond(n) => format!("{} req/s", thousands(n)),
            Quoted::Millis(ms) => format!("{ms} ms"),
            Quoted::Megabytes(mb) => format!("{mb} MB"),
            Quoted::Connections { count, or_more } => {
                format!(
                    "{}{}",
                    thousands(f64::from(count)),
                    if or_more { "+" } else { "" }
                )
            }
        }
    }
}

/// The rows of the published table, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    SimpleJson,
    DbQuery,
    Serialization,
    Memory,
    Connections,
    Latency,
}

/// One row as published: FastAPI, DRF and the ratio the post prints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedRow {
    pub row: Row,
    pub label: &'static str,
    pub fastapi: Quoted,
    pub drf: Quoted,
    /// The post's own ratio column, as printed.
    pub ratio: &'static str,
}

// ANCHOR: published
/// QUOTED from a FastAPI-vs-DRF blog table (wrk; `GET /api/simple`, and
/// `GET /users/{id}` reading one row: FastAPI with asyncpg and a pool of 20,
/// DRF with the ORM). Not a measurement of this book.
pub const PUBLISHED: [PublishedRow; 6] = [
    PublishedRow {
        row: Row::SimpleJson,
        label: "simple JSON response",
        fastapi: Quoted::PerSecond(47_832.0),
        drf: Quoted::PerSecond(12_456.0),
        ratio: "3.8×",
    },
    PublishedRow {
        row: Row::DbQuery,
        label: "with a DB query",
        fastapi: Quoted::PerSecond(28_450.0),
        drf: Quoted::PerSecond(8_230.0),
        ratio: "3.5×",
    },
    PublishedRow {
        row: Row::Serialization,
        label: "complex serialization (10,000 objects)",
        fastapi: Quoted::Millis(12.0),
        drf: Quoted::Millis(95.0),
        ratio: "8×",
    },
    PublishedRow {
        row: Row::Memory,
        label: "memory",
        fastapi: Quoted::Megabytes(120.0),
        drf: Quoted::Megabytes(450.0),
        ratio: "3.7×",
    },
    PublishedRow {
        row: Row::Connections,
        label: "concurrent connections",
        fastapi: Quoted::Connections {
            count: 10_000,
            or_more: true,
        },
        drf: Quoted::Connections {
            count: 1_000,
            or_more: false,
        },
        ratio: "10×+",
    },
    PublishedRow {
        row: Row::Latency,
        label: "response latency",
        fastapi: Quoted::Millis(20.9),
        drf: Quoted::Millis(80.3),
        ratio: "3.8×",
    },
];

/// QUOTED: the latencies the same post reports beside each endpoint's
/// throughput, (FastAPI, DRF) in ms. The simple-JSON pair is the table's
/// latency row.
pub const REPORTED_LATENCY_MS: [(Row, f64, f64); 2] =
    [(Row::SimpleJson, 20.9, 80.3), (Row::DbQuery, 35.2, 121.5)];
// ANCHOR_END: published

/// The published row `row`.
pub fn published(row: Row) -> &'static PublishedRow {
    PUBLISHED
        .iter()
        .find(|p| p.row == row)
        .expect("every Row is in PUBLISHED")
}

// ANCHOR: reading
/// Little's law, L = λW: requests in flight, on average, when `per_second`
/// requests finish per second and each spends `latency` in the system.
pub fn in_flight(per_second: f64, latency: Duration) -> f64 {
    per_second * latency.as_secs_f64()
}

/// The work each request costs when `busy_workers` workers (processes or
/// threads that each run one request at a time) are busy all the time and
/// together finish `per_second` requests per second: W = L / λ with L =
/// the workers. For a closed loop far larger than the pool this is the
/// service time: the rest of the latency is the queue in front of it.
pub fn service_time(per_second: f64, busy_workers: usize) -> Duration {
    Duration::from_secs_f64(busy_workers as f64 / per_second)
}
// ANCHOR_END: reading

/// The reading of one throughput row for one framework.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InFlight {
    pub row: Row,
    pub framework: &'static str,
    pub per_second: f64,
    pub latency: Duration,
    /// λ × W.
    pub in_flight: f64,
}

/// λ × W for both frameworks in both throughput rows.
pub fn in_flight_readings() -> Vec<InFlight> {
    let mut out = Vec::new();
    for (row, fastapi_ms, drf_ms) in REPORTED_LATENCY_MS {
        let p = published(row);
        for (framework, quoted, ms) in [("FastAPI", p.fastapi, fastapi_ms), ("DRF", p.drf, drf_ms)]
        {
            let Quoted::PerSecond(per_second) = quoted else {
                unreachable!("the rows with reported latencies are throughput rows")
            };
            let latency = Duration::from_secs_f64(ms / 1e3);
            out.push(InFlight {
                row,
                framework,
                per_second,
                latency,
                in_flight: in_flight(per_second, latency),
            });
        }
    }
    out
}

/// The latency a closed loop of `clients` gives at `per_second`: W = L / λ.
pub fn closed_loop_latency(clients: f64, per_second: f64) -> Duration {
    Duration::from_secs_f64(clients / per_second)
}

/// The whole reading as the chapter prints it: one line per published row.
/// `drf_workers` is the assumption behind the DRF service time (the post
/// does not say how many gunicorn workers ran).
pub fn reading_table(drf_workers: usize) -> crate::report::Table {
    use crate::report::{Table, human};
    let mut table = Table::new([
        "published row (QUOTED)",
        "FastAPI",
        "DRF",
        "Little's law reads",
    ]);
    let readings = in_flight_readings();
    let clients = readings.iter().map(|r| r.in_flight).sum::<f64>() / readings.len() as f64;
    for p in &PUBLISHED {
        let note = match p.row {
            Row::SimpleJson | Row::DbQuery => {
                let of = |framework| {
                    let r = readings
                        .iter()
                        .find(|r| r.row == p.row && r.framework == framework)
                        .expect("both frameworks read");
                    format!(
                        "{} × {} = {:.0}",
                        thousands(r.per_second),
                        human(r.latency),
                        r.in_flight
                    )
                };
                let mut note = format!("in flight: {} and {}", of("FastAPI"), of("DRF"));
                if p.row == Row::DbQuery
                    && let Quoted::PerSecond(drf) = p.drf
                {
                    note.push_str(&format!(
                        "; {drf_workers} busy DRF workers → {} of work per request",
                        human(service_time(drf, drf_workers))
                    ));
                }
                note
            }
            Row::Latency => {
                let (Quoted::PerSecond(fast), Quoted::PerSecond(drf)) = (
                    published(Row::SimpleJson).fastapi,
                    published(Row::SimpleJson).drf,
                ) else {
                    unreachable!("simple JSON is a throughput row")
                };
                format!(
                    "the throughput row again: {clients:.0} / λ = {} and {}",
                    human(closed_loop_latency(clients, fast)),
                    human(closed_loop_latency(clients, drf))
                )
            }
            Row::Serialization => "CPU time per request (no waiting to overlap)".into(),
            Row::Memory => "not a Little's-law quantity: processes × their size".into(),
            Row::Connections => "a configuration (workers × threads, backlog), not a law".into(),
        };
        table.row([p.label.to_string(), p.fastapi.text(), p.drf.text(), note]);
    }
    table
}

/// `47832.0` → `47,832`.
pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_throughput_row_has_about_a_thousand_requests_in_flight() {
        let readings = in_flight_readings();
        assert_eq!(readings.len(), 4);
        for r in &readings {
            assert!(
                (950.0..=1_050.0).contains(&r.in_flight),
                "{:?} {}: {:.0} in flight",
                r.row,
                r.framework,
                r.in_flight
            );
        }
        // The published pairs, one by one (47,832 × 20.9 ms ≈ 1,000, …).
        let at = |i: usize| readings[i].in_flight.round();
        assert_eq!(
            [at(0), at(1), at(2), at(3)],
            [1000.0, 1000.0, 1001.0, 1000.0]
        );
    }

    #[test]
    fn the_latency_row_is_the_throughput_row_again() {
        let simple = published(Row::SimpleJson);
        let latency = published(Row::Latency);
        let (Quoted::PerSecond(fast), Quoted::PerSecond(drf)) = (simple.fastapi, simple.drf) else {
            panic!("simple JSON is a throughput row")
        };
        let (Quoted::Millis(fast_ms), Quoted::Millis(drf_ms)) = (latency.fastapi, latency.drf)
        else {
            panic!("latency is in ms")
        };
        // W = 1,000 / λ, to the printed precision.
        let w = |per_second| closed_loop_latency(1_000.0, per_second).as_secs_f64() * 1e3;
        assert!((w(fast) - fast_ms).abs() < 0.05, "{}", w(fast));
        assert!((w(drf) - drf_ms).abs() < 0.05, "{}", w(drf));
        // And so the two ratios are one ratio.
        assert!(((fast / drf) - (drf_ms / fast_ms)).abs() < 0.01);
    }

    #[test]
    fn drf_with_a_database_spends_about_half_a_millisecond_per_request() {
        let Quoted::PerSecond(drf) = published(Row::DbQuery).drf else {
            panic!("the DB row is a throughput row")
        };
        let per_request = service_time(drf, 4);
        assert!(
            (0.45..=0.5).contains(&(per_request.as_secs_f64() * 1e3)),
            "{per_request:?}"
        );
        // Waiting cannot explain it: four workers that each waited even
        // 5 ms per request would top out at 800 req/s.
        assert!(4.0 / 0.005 < drf / 10.0);
        // The assumption is a parameter: twice the workers, twice the time.
        let doubled =
            service_time(drf, 8).as_nanos() as i128 - (per_request * 2).as_nanos() as i128;
        assert!(doubled.abs() <= 2, "{doubled} ns apart");
    }

    #[test]
    fn the_quote_is_labelled_and_complete() {
        let text = reading_table(4).render();
        assert!(text.contains("QUOTED"), "{text}");
        for p in &PUBLISHED {
            assert!(text.contains(p.label), "{text}");
        }
        assert!(
            text.contains("47,832 req/s") && text.contains("10,000+"),
            "{text}"
        );
        assert!(text.contains("4 busy DRF workers"), "{text}");
    }

    // ANCHOR: exercise
    /// Chapter 6's exercise: 3,000 req/s at 330 ms on 4 sync workers.
    #[test]
    fn the_exercise_reads_another_post() {
        let connections = in_flight(3_000.0, Duration::from_millis(330));
        assert_eq!(connections.round(), 990.0); // a closed loop of ~1,000
        let per_request = service_time(3_000.0, 4);
        assert_eq!(per_request.as_micros(), 1_333); // CPU-sized, not a DB wait
    }
    // ANCHOR_END: exercise

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(47_832.0), "47,832");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
        assert_eq!(thousands(950.0), "950");
    }
}
