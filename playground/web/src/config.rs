//! The visualizer's whole state as plain values: the presets chapters embed, the
//! clamping of what a reader types (with a message per clamped value), and the
//! `?ww=` query-string form that lets a reload restore the state.
//!
//! Leaves out: the DOM (ui.rs) and drawing (draw.rs).

use waiting_well_sim::{Arrivals, Dist, Limits, ModelKind, ModelSpec, Workload};

/// Everything a reader can set. Times are milliseconds (what the UI shows).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub model: ModelKind,
    /// The model drawn side by side, sharing the time cursor.
    pub compare: Option<ModelKind>,
    pub workers: u32,
    pub clients: u32,
    pub think_ms: f64,
    pub open: bool,
    pub rate_per_s: f64,
    /// CPU per request, split evenly before and after the wait.
    pub cpu_ms: f64,
    pub wait_ms: f64,
    pub exponential: bool,
    pub requests: u32,
    pub seed: u64,
    pub switch_ms: f64,
    pub blocking_pct: f64,
    pub offload: bool,
    pub speed: f64,
    pub cursor_us: Option<u64>,
}

/// Preset names chapters may use in `data-preset`.
pub const PRESETS: [&str; 5] = [
    "ch01",
    "ch02-gil",
    "ch03-wsgi",
    "ch04-asgi",
    "ch04-blocked-loop",
];

pub const SPEEDS: [f64; 6] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0];

impl Default for Config {
    fn default() -> Config {
        Config {
            model: ModelKind::SyncPool,
            compare: Some(ModelKind::EventLoop),
            workers: 4,
            clients: 16,
            think_ms: 0.0,
            open: false,
            rate_per_s: 200.0,
            cpu_ms: 1.0,
            wait_ms: 50.0,
            exponential: false,
            requests: 800,
            seed: 1,
            switch_ms: 5.0,
            blocking_pct: 50.0,
            offload: false,
            speed: 1.0,
            cursor_us: None,
        }
    }
}

impl Config {
    /// The named preset, or `None` for an unknown name.
    pub fn preset(name: &str) -> Option<Config> {
        let base = Config::default();
        Some(match name {
            // Chapter 1: four sync workers vs one loop, I/O-bound requests.
            "ch01" => base,
            // Chapter 2: CPU-heavy requests on threads sharing a GIL vs a GIL-free pool.
            "ch02-gil" => Config {
                model: ModelKind::GilThreads,
                compare: Some(ModelKind::SyncPool),
                clients: 8,
                cpu_ms: 20.0,
                wait_ms: 10.0,
                exponential: true,
                requests: 400,
                ..base
            },
            // Chapter 3: a WSGI pool meets more clients than workers; requests queue.
            "ch03-wsgi" => Config {
                compare: Some(ModelKind::GilThreads),
                clients: 32,
                cpu_ms: 2.0,
                wait_ms: 100.0,
                requests: 640,
                ..base
            },
            // Chapter 4: one loop vs a work-stealing runtime with 4 workers.
            "ch04-asgi" => Config {
                model: ModelKind::EventLoop,
                compare: Some(ModelKind::WorkStealing),
                clients: 64,
                cpu_ms: 2.0,
                exponential: true,
                requests: 2_000,
                ..base
            },
            // Chapter 4: half the handlers call time.sleep inside async def.
            "ch04-blocked-loop" => Config {
                model: ModelKind::BlockedLoop,
                compare: Some(ModelKind::EventLoop),
                requests: 400,
                ..base
            },
            _ => return None,
        })
    }

    pub fn models(&self) -> Vec<ModelKind> {
        std::iter::once(self.model).chain(self.compare).collect()
    }

    pub fn uses(&self, pred: impl Fn(ModelKind) -> bool) -> bool {
        self.models().into_iter().any(pred)
    }

    pub fn spec(&self, kind: ModelKind) -> ModelSpec {
        ModelSpec {
            kind,
            workers: self.workers,
            switch_interval_us: ms_to_us(self.switch_ms),
            blocking_share: self.blocking_pct / 100.0,
            offload: self.offload,
            ..ModelSpec::new(kind, self.workers)
        }
    }

    pub fn workload(&self) -> Workload {
        let cpu_us = ms_to_us(self.cpu_ms);
        Workload {
            arrivals: if self.open {
                Arrivals::Open {
                    rate_per_s: self.rate_per_s,
                }
            } else {
                Arrivals::Closed {
                    clients: self.clients,
                    think_us: ms_to_us(self.think_ms),
                }
            },
            cpu_before_us: cpu_us / 2,
            wait_us: ms_to_us(self.wait_ms),
            cpu_after_us: cpu_us - cpu_us / 2,
            dist: if self.exponential {
                Dist::Exponential
            } else {
                Dist::Fixed
            },
            requests: self.requests,
            seed: self.seed,
        }
    }

    /// The engine's limits for runs started from the UI.
    pub fn limits() -> Limits {
        Limits {
            max_requests: 100_000,
            ..Limits::default()
        }
    }

    /// Clamp every field into range; one message per clamped value.
    pub fn clamp(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let max_workers = Config::limits().max_workers;
        clamp_num(&mut self.workers, 1, max_workers, "workers", &mut notes);
        clamp_num(&mut self.clients, 1, 1_000, "clients", &mut notes);
        clamp_num(&mut self.requests, 1, 100_000, "requests", &mut notes);
        clamp_num(&mut self.seed, 0, 1 << 53, "seed", &mut notes);
        clamp_num(
            &mut self.think_ms,
            0.0,
            10_000.0,
            "think time (ms)",
            &mut notes,
        );
        clamp_num(
            &mut self.rate_per_s,
            0.1,
            100_000.0,
            "arrival rate (/s)",
            &mut notes,
        );
        clamp_num(&mut self.cpu_ms, 0.0, 1_000.0, "CPU (ms)", &mut notes);
        clamp_num(&mut self.wait_ms, 0.0, 10_000.0, "wait (ms)", &mut notes);
        clamp_num(
            &mut self.switch_ms,
            0.1,
            1_000.0,
            "switch interval (ms)",
            &mut notes,
        );
        clamp_num(
            &mut self.blocking_pct,
            0.0,
            100.0,
            "blocking share (%)",
            &mut notes,
        );
        if !SPEEDS.contains(&self.speed) {
            notes.push(format!("speed {} reset to 1×", self.speed));
            self.speed = 1.0;
        }
        notes
    }

    /// `k:v,k:v` form for the `ww` query parameter.
    pub fn to_query(&self) -> String {
        let mut parts = vec![
            format!("model:{}", self.model.id()),
            format!("compare:{}", self.compare.map_or("none", ModelKind::id)),
            format!("workers:{}", self.workers),
            format!("clients:{}", self.clients),
            format!("think:{}", self.think_ms),
            format!("arrivals:{}", if self.open { "open" } else { "closed" }),
            format!("rate:{}", self.rate_per_s),
            format!("cpu:{}", self.cpu_ms),
            format!("wait:{}", self.wait_ms),
            format!("dist:{}", if self.exponential { "exp" } else { "fixed" }),
            format!("requests:{}", self.requests),
            format!("seed:{}", self.seed),
            format!("switch:{}", self.switch_ms),
            format!("blocking:{}", self.blocking_pct),
            format!("offload:{}", self.offload as u8),
            format!("speed:{}", self.speed),
        ];
        if let Some(t) = self.cursor_us {
            parts.push(format!("t:{t}"));
        }
        parts.join(",")
    }

    /// Parse [`Config::to_query`] output on top of `self`. Unknown keys and bad
    /// values are ignored, so a hand-edited URL never breaks the page, and
    /// named in the returned note, so the reader sees what was dropped
    /// ([`Config::clamp`] then reports values that were out of range).
    pub fn apply_query(&mut self, query: &str) -> Vec<String> {
        let mut ignored = Vec::new();
        for part in query.split(',').filter(|part| !part.is_empty()) {
            let applied = match part.split_once(':') {
                Some((key, value)) => self.apply_pair(key, value),
                None => false,
            };
            if !applied {
                ignored.push(part);
            }
        }
        ignored_note(&ignored).into_iter().collect()
    }

    /// One `key:value` of the query; false if it was not used.
    fn apply_pair(&mut self, key: &str, value: &str) -> bool {
        let f = value.parse::<f64>().ok().filter(|v| v.is_finite());
        let n = value.parse::<u64>().ok();
        let n32 = n.map(|v| v.min(u32::MAX as u64) as u32);
        match key {
            "model" => set(&mut self.model, ModelKind::from_id(value)),
            "compare" => match value {
                "none" => set(&mut self.compare, Some(None)),
                id => set(&mut self.compare, ModelKind::from_id(id).map(Some)),
            },
            "workers" => set(&mut self.workers, n32),
            "clients" => set(&mut self.clients, n32),
            "requests" => set(&mut self.requests, n32),
            "seed" => set(&mut self.seed, n),
            "think" => set(&mut self.think_ms, f),
            "rate" => set(&mut self.rate_per_s, f),
            "cpu" => set(&mut self.cpu_ms, f),
            "wait" => set(&mut self.wait_ms, f),
            "switch" => set(&mut self.switch_ms, f),
            "blocking" => set(&mut self.blocking_pct, f),
            "speed" => set(&mut self.speed, f),
            "arrivals" => set(&mut self.open, one_of(value, "open", "closed")),
            "dist" => set(&mut self.exponential, one_of(value, "exp", "fixed")),
            "offload" => set(&mut self.offload, one_of(value, "1", "0")),
            "t" => set(&mut self.cursor_us, n.map(Some)),
            _ => false,
        }
    }
}

/// The keys [`Config::to_query`] writes and [`Config::apply_query`] reads.
pub const QUERY_KEYS: [&str; 17] = [
    "model", "compare", "workers", "clients", "think", "arrivals", "rate", "cpu", "wait", "dist",
    "requests", "seed", "switch", "blocking", "offload", "speed", "t",
];

/// `Some(true)` for `yes`, `Some(false)` for `no`, `None` for anything else.
fn one_of(value: &str, yes: &str, no: &str) -> Option<bool> {
    (value == yes || value == no).then_some(value == yes)
}

/// One message naming what the URL had that was not used (each part cut to
/// 40 characters, at most 5 shown), or `None` if everything was used.
fn ignored_note(ignored: &[&str]) -> Option<String> {
    const SHOWN: usize = 5;
    const CHARS: usize = 40;
    if ignored.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = ignored
        .iter()
        .take(SHOWN)
        .map(|part| {
            let mut cut: String = part.chars().take(CHARS).collect();
            if part.chars().nth(CHARS).is_some() {
                cut.push('…');
            }
            format!("“{cut}”")
        })
        .collect();
    if ignored.len() > SHOWN {
        shown.push(format!("and {} more", ignored.len() - SHOWN));
    }
    Some(format!("ignored in the URL: {}", shown.join(", ")))
}

/// Stores `value` if there is one; says whether it did.
fn set<T>(field: &mut T, value: Option<T>) -> bool {
    let applied = value.is_some();
    if let Some(v) = value {
        *field = v;
    }
    applied
}

fn ms_to_us(ms: f64) -> u64 {
    (ms * 1e3).round().max(0.0) as u64
}

fn clamp_num<T: PartialOrd + Copy + std::fmt::Display>(
    v: &mut T,
    lo: T,
    hi: T,
    name: &str,
    notes: &mut Vec<String>,
) {
    // NaN compares as neither below nor above: it becomes `lo` too.
    let c = match ((*v).partial_cmp(&lo), (*v).partial_cmp(&hi)) {
        (Some(std::cmp::Ordering::Less) | None, _) => lo,
        (_, Some(std::cmp::Ordering::Greater) | None) => hi,
        _ => *v,
    };
    if c != *v {
        notes.push(format!("{name} clamped to {c}"));
        *v = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_exists_and_round_trips_through_the_query() {
        for name in PRESETS {
            let mut cfg = Config::preset(name).expect(name);
            cfg.cursor_us = Some(1234);
            let mut back = Config::default();
            back.apply_query(&cfg.to_query());
            assert_eq!(back, cfg, "{name}");
        }
    }

    #[test]
    fn clamping_names_the_field() {
        let mut cfg = Config {
            workers: 500,
            ..Config::default()
        };
        assert_eq!(cfg.clamp(), ["workers clamped to 64"]);
        assert_eq!(cfg.workers, 64);
    }

    #[test]
    fn a_mangled_query_is_ignored() {
        let mut cfg = Config::default();
        let notes = cfg.apply_query("workers:abc,model:nope,,:,wait:NaN,zzz");
        assert_eq!(cfg, Config::default());
        assert_eq!(
            notes,
            ["ignored in the URL: “workers:abc”, “model:nope”, “:”, “wait:NaN”, “zzz”"]
        );
    }
}
