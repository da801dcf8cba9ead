//! Reading wrk's summary, for the chapters that cross-check the book's own
//! load generator with an independent one (`ch06_table wrk-check`).
//!
//! wrk prints a human summary, not a machine format; this reads the three
//! lines the checks need: `Requests/sec:`, the `Latency` average, and the
//! error lines (`Socket errors: connect A, read B, write C, timeout D` and
//! `Non-2xx or 3xx responses: N`, both absent when zero). Left out: wrk's
//! Lua `done()` hook and its latency distribution (`--latency`).

use anyhow::Context as _;

/// What one wrk run reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// `Requests/sec:` — every answer, good or bad, per second.
    pub per_second: f64,
    /// The `Latency` row's average, as wrk wrote it (`50.63ms`).
    pub mean_latency: String,
    /// Socket errors (connect, read, write, timeout) plus non-2xx/3xx answers.
    pub errors: u64,
}

impl Summary {
    pub fn parse(text: &str) -> anyhow::Result<Summary> {
        let mut per_second = None;
        let mut mean_latency = None;
        let mut errors = 0;
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("Requests/sec:") {
                per_second = Some(rest.trim().parse::<f64>().context("Requests/sec")?);
            } else if let Some(rest) = line.strip_prefix("Latency") {
                mean_latency = rest.split_whitespace().next().map(str::to_string);
            } else if let Some(rest) = line.strip_prefix("Socket errors:") {
                for part in rest.split(',') {
                    let count = part.split_whitespace().last().context("socket errors")?;
                    errors += count.parse::<u64>().context("socket errors")?;
                }
            } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
                errors += rest.trim().parse::<u64>().context("non-2xx answers")?;
            }
        }
        Ok(Summary {
            per_second: per_second.context("no Requests/sec line")?,
            mean_latency: mean_latency.context("no Latency line")?,
            errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_summary_with_errors() {
        let text = "Running 10s test @ http://127.0.0.1:8000/wait?ms=50
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    50.63ms    1.23ms  62.00ms   89.00%
    Req/Sec     0.99k    45.00     1.08k    70.00%
  19760 requests in 10.01s, 2.75MB read
  Socket errors: connect 0, read 2, write 0, timeout 12
  Non-2xx or 3xx responses: 5
Requests/sec:   1974.53
Transfer/sec:    281.32KB
";
        let summary = Summary::parse(text).unwrap();
        assert_eq!(summary.per_second, 1974.53);
        assert_eq!(summary.mean_latency, "50.63ms");
        assert_eq!(summary.errors, 19);
    }

    #[test]
    fn a_truncated_summary_is_an_error() {
        assert!(Summary::parse("  Latency 1.00ms\n").is_err());
        assert!(Summary::parse("Requests/sec: lots\n").is_err());
    }
}
