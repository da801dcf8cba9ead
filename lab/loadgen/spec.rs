//! What a load run asks for: [`LoadSpec`] (target, request shape, pace,
//! bounds), the limits every run must respect and the check that enforces
//! them, and durations written the way `wrk` writes them (`500ms`, `5s`).
//!
//! Left out: parsing the target URL (`target.rs`, which also refuses
//! anything that is not loopback) and running the spec (`engine.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use super::http::RequestTemplate;
use super::target::{check_resolved, parse_loopback_url};

/// The longest measured phase (and warmup) a run accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The most connections a run accepts.
pub const MAX_CONNECTIONS: usize = 20_000;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Each connection sends again as soon as it has its answer.
    Closed,
    /// A constant total rate (requests per second) across all connections.
    Open { rate_per_sec: f64 },
}

/// What to measure: one request shape, sent over and over.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Loopback only: anything else is refused with an error.
    pub addr: SocketAddr,
    /// Path and query, e.g. `/wait?ms=50`.
    pub path: String,
    /// `GET` unless a body is given, then `POST` with `content-type: application/json`.
    pub body: Option<String>,
    pub connections: usize,
    pub pace: Pace,
    /// Hard bound on the measured phase.
    pub duration: Duration,
    /// Optional bound on the number of measured requests, answered or failed
    /// (the run stops at whichever comes first; requests still in flight
    /// then are `unfinished`).
    pub max_requests: Option<u64>,
    /// Time spent sending before measurement starts: answers that arrive
    /// in it are not counted.
    pub warmup: Duration,
    /// A request taking longer than this counts as an error.
    pub request_timeout: Duration,
}

impl LoadSpec {
    /// A closed-loop spec for `GET url`, e.g. `http://127.0.0.1:3000/hello`.
    pub fn closed(url: &str, connections: usize, duration: Duration) -> anyhow::Result<Self> {
        let (addr, path) = parse_loopback_url(url)?;
        Ok(Self {
            addr,
            path,
            body: None,
            connections,
            pace: Pace::Closed,
            duration,
            max_requests: None,
            warmup: Duration::ZERO,
            request_timeout: Duration::from_secs(10),
        })
    }

    /// An open-loop spec for `GET url` at `rate_per_sec` requests per second
    /// in total, spread over up to `connections` connections.
    pub fn open(
        url: &str,
        connections: usize,
        rate_per_sec: f64,
        duration: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            pace: Pace::Open { rate_per_sec },
            ..Self::closed(url, connections, duration)?
        })
    }

    /// Sends `POST` with this JSON body instead of `GET`.
    pub fn with_body(mut self, json: impl Into<String>) -> Self {
        self.body = Some(json.into());
        self
    }

    /// Stops after this many measured requests (answered or failed).
    pub fn with_max_requests(mut self, n: u64) -> Self {
        self.max_requests = Some(n);
        self
    }

    /// Sends (without measuring) for this long first.
    pub fn with_warmup(mut self, warmup: Duration) -> Self {
        self.warmup = warmup;
        self
    }

    /// Counts a request as failed after this long.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Checks the bounds every run must respect; every run calls this first.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.request()?;
        Ok(())
    }

    /// Checks the spec and serializes its one request.
    pub(super) fn request(&self) -> anyhow::Result<RequestTemplate> {
        check_resolved(&self.addr.to_string(), &[self.addr])?;
        anyhow::ensure!(
            (1..=MAX_CONNECTIONS).contains(&self.connections),
            "connections must be from 1 to {MAX_CONNECTIONS}, got {}",
            self.connections
        );
        anyhow::ensure!(
            !self.duration.is_zero() && self.duration <= MAX_DURATION,
            "duration must be above zero and at most {MAX_DURATION:?}, got {:?}",
            self.duration
        );
        anyhow::ensure!(
            self.warmup <= MAX_DURATION,
            "warmup must be at most {MAX_DURATION:?}, got {:?}",
            self.warmup
        );
        anyhow::ensure!(
            !self.request_timeout.is_zero() && self.request_timeout <= MAX_DURATION,
            "the request timeout must be above zero and at most {MAX_DURATION:?}, got {:?}",
            self.request_timeout
        );
        anyhow::ensure!(
            self.max_requests != Some(0),
            "max_requests must be at least 1 (or None for no bound)"
        );
        if let Pace::Open { rate_per_sec } = self.pace {
            anyhow::ensure!(
                rate_per_sec.is_finite() && rate_per_sec > 0.0,
                "the open-loop rate must be a positive number of requests per second, got {rate_per_sec}"
            );
        }
        RequestTemplate::new(self.addr, &self.path, self.body.as_deref())
    }
}

/// Parses a duration the way `wrk` writes them: `500ms`, `5s`, `2m`, or a
/// bare number of seconds (`1.5`). Meant as a clap `value_parser`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration such as 500ms, 5s or 2m, got {text:?}"))?;
    let seconds = match unit.trim() {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use us, ms, s or m)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("bad duration {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_wrk() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("1e999").is_err());
    }

    #[test]
    fn specs_out_of_bounds_are_refused() {
        let ok = LoadSpec::closed("http://127.0.0.1:9/x", 1, Duration::from_secs(1)).unwrap();
        assert!(ok.validate().is_ok());
        let mut s = ok.clone();
        s.connections = 0;
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.connections = MAX_CONNECTIONS + 1;
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.duration = Duration::from_secs(601);
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.request_timeout = Duration::MAX;
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.pace = Pace::Open { rate_per_sec: 0.0 };
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.pace = Pace::Open {
            rate_per_sec: f64::NAN,
        };
        assert!(s.validate().is_err());
        let mut s = ok.clone();
        s.path = "/a b".to_string();
        assert!(s.validate().is_err());
        let mut s = ok;
        s.addr = "10.0.0.1:80".parse().unwrap();
        assert!(s.validate().is_err());
    }
}
