//! The visualizer's whole state as plain values: the presets chapters embed, and
//! [`FIELDS`], the one table of the controls a reader sets. Each row says how its
//! control is built (label, range or options), how its value is read and written
//! (the control and the `?ww=` URL share one text form), how it is clamped (with
//! a message per clamped value) and when it is shown; the UI and the URL code
//! loop over the table instead of naming the fields.
//!
//! Leaves out: the DOM (ui.rs) and drawing (draw.rs).

use waiting_well_sim::{Arrivals, Dist, Limits, ModelKind, ModelSpec, Workload};

use crate::text::{Msg, Text};

/// Everything a reader can set. Times are milliseconds (what the UI shows), except
/// the simulation's own [`Arrivals`] (think time in µs).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub model: ModelKind,
    /// The model drawn side by side, sharing the time cursor.
    pub compare: Option<ModelKind>,
    pub workers: u32,
    /// The arrivals that run.
    pub arrivals: Arrivals,
    /// The other kind of arrivals, as last set: switching back restores it, and
    /// the URL keeps it (always the other variant of `arrivals`).
    pub parked_arrivals: Arrivals,
    /// CPU per request, split evenly before and after the wait.
    pub cpu_ms: f64,
    pub wait_ms: f64,
    pub dist: Dist,
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

/// The page's limits: the engine's own for requests and workers (a million
/// requests, 1,024 workers), more clients than the engine's default.
pub const MAX_REQUESTS: u64 = 1_000_000;
pub const MAX_WORKERS: u64 = 1_024;
pub const MAX_CLIENTS: u64 = 10_000;

const fn closed(clients: u32, think_us: u64) -> Arrivals {
    Arrivals::Closed { clients, think_us }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            model: ModelKind::SyncPool,
            compare: Some(ModelKind::EventLoop),
            workers: 4,
            arrivals: closed(16, 0),
            parked_arrivals: Arrivals::Open { rate_per_s: 200.0 },
            cpu_ms: 1.0,
            wait_ms: 50.0,
            dist: Dist::Fixed,
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
                arrivals: closed(8, 0),
                cpu_ms: 20.0,
                wait_ms: 10.0,
                dist: Dist::Exponential,
                requests: 400,
                ..base
            },
            // Chapter 3: a WSGI pool meets more clients than workers; requests queue.
            "ch03-wsgi" => Config {
                compare: Some(ModelKind::GilThreads),
                arrivals: closed(32, 0),
                cpu_ms: 2.0,
                wait_ms: 100.0,
                requests: 640,
                ..base
            },
            // Chapter 4: one loop vs a work-stealing runtime with 4 workers.
            "ch04-asgi" => Config {
                model: ModelKind::EventLoop,
                compare: Some(ModelKind::WorkStealing),
                arrivals: closed(64, 0),
                cpu_ms: 2.0,
                dist: Dist::Exponential,
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

    pub fn is_open(&self) -> bool {
        matches!(self.arrivals, Arrivals::Open { .. })
    }

    /// The model's spec: what the controls set, the book's defaults for the rest
    /// (a knob the simulation gains is a default here until it gets a row in
    /// [`FIELDS`]).
    pub fn spec(&self, kind: ModelKind) -> ModelSpec {
        ModelSpec {
            switch_interval_us: ms_to_us(self.switch_ms),
            blocking_share: self.blocking_pct / 100.0,
            offload: self.offload,
            ..ModelSpec::new(kind, self.workers)
        }
    }

    pub fn workload(&self) -> Workload {
        let cpu_us = ms_to_us(self.cpu_ms);
        Workload {
            arrivals: self.arrivals,
            cpu_before_us: cpu_us / 2,
            wait_us: ms_to_us(self.wait_ms),
            cpu_after_us: cpu_us - cpu_us / 2,
            dist: self.dist,
            requests: self.requests,
            seed: self.seed,
        }
    }

    /// The engine's limits for runs started from the UI.
    pub fn limits() -> Limits {
        Limits {
            max_requests: MAX_REQUESTS as u32,
            max_workers: MAX_WORKERS as u32,
            max_clients: MAX_CLIENTS as u32,
            ..Limits::default()
        }
    }

    /// Clamp every field into range; one message per clamped value.
    pub fn clamp(&mut self) -> Vec<Msg> {
        FIELDS.iter().filter_map(|f| f.clamp(self)).collect()
    }

    /// `k:v,k:v` form for the `ww` query parameter: every field in table order,
    /// then the cursor.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> = FIELDS
            .iter()
            .map(|f| format!("{}:{}", f.key, f.text(self)))
            .collect();
        if let Some(t) = self.cursor_us {
            parts.push(format!("t:{t}"));
        }
        parts.join(",")
    }

    /// Parse [`Config::to_query`] output (in any order) on top of `self`, clamping
    /// each value. Unknown keys and bad values are ignored, so a hand-edited URL
    /// never breaks the page, and named in one note; each clamped field gets its
    /// own note (for the last value the URL gave it).
    pub fn apply_query(&mut self, query: &str) -> Vec<Msg> {
        let mut ignored = Vec::new();
        let mut clamped: Vec<(&str, Msg)> = Vec::new();
        for part in query.split(',').filter(|part| !part.is_empty()) {
            let applied = match part.split_once(':') {
                Some(("t", value)) => value.parse().ok().map(|t| {
                    self.cursor_us = Some(t);
                    Applied::AsGiven
                }),
                Some((key, value)) => FIELDS
                    .iter()
                    .find(|f| f.key == key)
                    .and_then(|f| f.apply(self, value, Parse::Strict)),
                None => None,
            };
            let key = part.split_once(':').map_or("", |(k, _)| k);
            match applied {
                // A later value of a field replaces the earlier one, and its note.
                Some(Applied::AsGiven) => clamped.retain(|(k, _)| *k != key),
                Some(Applied::Clamped(note)) => {
                    clamped.retain(|(k, _)| *k != key);
                    clamped.push((key, note));
                }
                None => ignored.push(part),
            }
        }
        clamped
            .into_iter()
            .map(|(_, note)| note)
            .chain(ignored_note(&ignored))
            .collect()
    }

    /// The closed-loop arrivals, running or parked.
    fn closed_mut(&mut self) -> (&mut u32, &mut u64) {
        match (&mut self.arrivals, &mut self.parked_arrivals) {
            (Arrivals::Closed { clients, think_us }, _)
            | (_, Arrivals::Closed { clients, think_us }) => (clients, think_us),
            // Unreachable while the two are different kinds; make them so.
            (_, parked) => {
                *parked = closed(16, 0);
                let Arrivals::Closed { clients, think_us } = parked else {
                    unreachable!()
                };
                (clients, think_us)
            }
        }
    }

    fn closed(&self) -> (u32, u64) {
        match (self.arrivals, self.parked_arrivals) {
            (Arrivals::Closed { clients, think_us }, _)
            | (_, Arrivals::Closed { clients, think_us }) => (clients, think_us),
            _ => (16, 0),
        }
    }

    /// The open-loop rate, running or parked.
    fn rate_mut(&mut self) -> &mut f64 {
        match (&mut self.arrivals, &mut self.parked_arrivals) {
            (Arrivals::Open { rate_per_s }, _) | (_, Arrivals::Open { rate_per_s }) => rate_per_s,
            (_, parked) => {
                *parked = Arrivals::Open { rate_per_s: 200.0 };
                let Arrivals::Open { rate_per_s } = parked else {
                    unreachable!()
                };
                rate_per_s
            }
        }
    }

    fn rate(&self) -> f64 {
        match (self.arrivals, self.parked_arrivals) {
            (Arrivals::Open { rate_per_s }, _) | (_, Arrivals::Open { rate_per_s }) => rate_per_s,
            _ => 200.0,
        }
    }

    /// Run open (or closed) arrivals: swap in the parked ones if they are that kind.
    fn set_open(&mut self, open: bool) {
        if open != self.is_open() {
            std::mem::swap(&mut self.arrivals, &mut self.parked_arrivals);
        }
    }
}

/// How a control looks and what its text means.
pub enum Kind {
    /// A whole number in `min..=max` (a number input with step 1).
    Int {
        min: u64,
        max: u64,
        get: fn(&Config) -> u64,
        put: fn(&mut Config, u64),
    },
    /// A decimal in `min..=max` (a number input with any step).
    Float {
        min: f64,
        max: f64,
        get: fn(&Config) -> f64,
        put: fn(&mut Config, f64),
    },
    /// One of `options` (value, label): a select.
    Choice {
        options: fn() -> Vec<(&'static str, Text)>,
        get: fn(&Config) -> &'static str,
        /// False if the text is not one of the options.
        put: fn(&mut Config, &str) -> bool,
    },
    /// On or off: a checkbox (`1` / `0` in the URL).
    Toggle {
        get: fn(&Config) -> bool,
        put: fn(&mut Config, bool),
    },
    /// The playback speed: one of [`SPEEDS`] (a select); any other number is reset to 1×.
    Speed,
}

/// Where a control sits: the form (a change reruns the simulation) or the
/// transport bar (a change only affects playback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Form,
    Transport,
}

/// One control: the row of [`FIELDS`].
pub struct Field {
    /// The URL key, and the end of the control's element id.
    pub key: &'static str,
    /// The control's visible label.
    pub label: Text,
    /// The field's name in clamp messages.
    pub name: Text,
    pub kind: Kind,
    pub place: Place,
    /// Whether the control matters for this state (it is hidden when not).
    pub shown: fn(&Config) -> bool,
}

/// How strictly to read a value: the URL takes whole numbers only for whole-number
/// fields (a link says what it means), a control rounds what the reader typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    Strict,
    Lenient,
}

/// What [`Field::apply`] did with a value it could read.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    AsGiven,
    /// Out of range: stored clamped, and the message says to what.
    Clamped(Msg),
}

impl Field {
    /// The value as the control and the URL show it.
    pub fn text(&self, cfg: &Config) -> String {
        match &self.kind {
            Kind::Int { get, .. } => get(cfg).to_string(),
            Kind::Float { get, .. } => get(cfg).to_string(),
            Kind::Choice { get, .. } => get(cfg).to_string(),
            Kind::Toggle { get, .. } => if get(cfg) { "1" } else { "0" }.to_string(),
            Kind::Speed => cfg.speed.to_string(),
        }
    }

    /// Read `text` into `cfg`, clamped; `None` (and `cfg` unchanged) if it is not a
    /// value of this field.
    pub fn apply(&self, cfg: &mut Config, text: &str, parse: Parse) -> Option<Applied> {
        let text = text.trim();
        let float = || text.parse::<f64>().ok().filter(|v| v.is_finite());
        match &self.kind {
            Kind::Int { min, max, put, .. } => {
                let v = match parse {
                    Parse::Strict => text.parse::<u64>().ok()?,
                    Parse::Lenient => {
                        let v = float()?;
                        if v <= 0.0 {
                            0
                        } else {
                            v.round().min(u64::MAX as f64) as u64
                        }
                    }
                };
                let (c, applied) = self.clamped(v, *min, *max);
                put(cfg, c);
                Some(applied)
            }
            Kind::Float { min, max, put, .. } => {
                let (c, applied) = self.clamped(float()?, *min, *max);
                put(cfg, c);
                Some(applied)
            }
            Kind::Choice { put, .. } => put(cfg, text).then_some(Applied::AsGiven),
            Kind::Toggle { put, .. } => {
                let on = match text {
                    "1" | "on" | "true" => true,
                    "0" | "off" | "false" => false,
                    _ => return None,
                };
                put(cfg, on);
                Some(Applied::AsGiven)
            }
            Kind::Speed => {
                let v = float()?;
                if SPEEDS.contains(&v) {
                    cfg.speed = v;
                    Some(Applied::AsGiven)
                } else {
                    cfg.speed = 1.0;
                    Some(Applied::Clamped(Msg::SpeedReset { given: v }))
                }
            }
        }
    }

    /// Clamp the field's current value; the message if it changed.
    pub fn clamp(&self, cfg: &mut Config) -> Option<Msg> {
        match &self.kind {
            Kind::Int { min, max, get, put } => {
                let (c, applied) = self.clamped(get(cfg), *min, *max);
                put(cfg, c);
                note(applied)
            }
            Kind::Float { min, max, get, put } => {
                let (c, applied) = self.clamped(get(cfg), *min, *max);
                put(cfg, c);
                note(applied)
            }
            Kind::Speed if !SPEEDS.contains(&cfg.speed) => {
                let note = Msg::SpeedReset { given: cfg.speed };
                cfg.speed = 1.0;
                Some(note)
            }
            Kind::Choice { .. } | Kind::Toggle { .. } | Kind::Speed => None,
        }
    }

    /// `v` within `lo..=hi` (NaN becomes `lo`), and whether that changed it.
    fn clamped<T: PartialOrd + Copy + std::fmt::Display>(
        &self,
        v: T,
        lo: T,
        hi: T,
    ) -> (T, Applied) {
        let c = match (v.partial_cmp(&lo), v.partial_cmp(&hi)) {
            (Some(std::cmp::Ordering::Less) | None, _) => lo,
            (_, Some(std::cmp::Ordering::Greater) | None) => hi,
            _ => v,
        };
        if c == v {
            (c, Applied::AsGiven)
        } else {
            (
                c,
                Applied::Clamped(Msg::Clamped {
                    field: self.name,
                    to: c.to_string(),
                }),
            )
        }
    }
}

fn note(applied: Applied) -> Option<Msg> {
    match applied {
        Applied::AsGiven => None,
        Applied::Clamped(note) => Some(note),
    }
}

fn model_options() -> Vec<(&'static str, Text)> {
    ModelKind::ALL
        .iter()
        .map(|&m| (m.id(), Text::Model(m)))
        .collect()
}

fn compare_options() -> Vec<(&'static str, Text)> {
    std::iter::once(("none", Text::NoModel))
        .chain(model_options())
        .collect()
}

const fn always(_: &Config) -> bool {
    true
}

/// Every control, in the order the form shows them and the URL writes them.
pub static FIELDS: [Field; 16] = [
    Field {
        key: "model",
        label: Text::ModelLabel,
        name: Text::ModelName,
        kind: Kind::Choice {
            options: model_options,
            get: |c| c.model.id(),
            put: |c, v| ModelKind::from_id(v).map(|m| c.model = m).is_some(),
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "compare",
        label: Text::CompareLabel,
        name: Text::CompareName,
        kind: Kind::Choice {
            options: compare_options,
            get: |c| c.compare.map_or("none", ModelKind::id),
            put: |c, v| match v {
                "none" => {
                    c.compare = None;
                    true
                }
                id => ModelKind::from_id(id)
                    .map(|m| c.compare = Some(m))
                    .is_some(),
            },
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "workers",
        label: Text::WorkersLabel,
        name: Text::WorkersName,
        kind: Kind::Int {
            min: 1,
            max: MAX_WORKERS,
            get: |c| c.workers.into(),
            put: |c, v| c.workers = v as u32,
        },
        place: Place::Form,
        shown: |c| c.uses(|m| m.lanes(2) > 1),
    },
    Field {
        key: "arrivals",
        label: Text::ArrivalsLabel,
        name: Text::ArrivalsName,
        kind: Kind::Choice {
            options: || vec![("closed", Text::ClosedLoop), ("open", Text::OpenLoop)],
            get: |c| if c.is_open() { "open" } else { "closed" },
            put: |c, v| match v {
                "open" | "closed" => {
                    c.set_open(v == "open");
                    true
                }
                _ => false,
            },
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "clients",
        label: Text::ClientsLabel,
        name: Text::ClientsName,
        kind: Kind::Int {
            min: 1,
            max: MAX_CLIENTS,
            get: |c| c.closed().0.into(),
            put: |c, v| *c.closed_mut().0 = v as u32,
        },
        place: Place::Form,
        shown: |c| !c.is_open(),
    },
    Field {
        key: "think",
        label: Text::ThinkLabel,
        name: Text::ThinkName,
        kind: Kind::Float {
            min: 0.0,
            max: 10_000.0,
            get: |c| c.closed().1 as f64 / 1e3,
            put: |c, ms| *c.closed_mut().1 = ms_to_us(ms),
        },
        place: Place::Form,
        shown: |c| !c.is_open(),
    },
    Field {
        key: "rate",
        label: Text::RateLabel,
        name: Text::RateName,
        kind: Kind::Float {
            min: 0.1,
            max: 100_000.0,
            get: Config::rate,
            put: |c, v| *c.rate_mut() = v,
        },
        place: Place::Form,
        shown: Config::is_open,
    },
    Field {
        key: "cpu",
        label: Text::CpuLabel,
        name: Text::CpuName,
        kind: Kind::Float {
            min: 0.0,
            max: 1_000.0,
            get: |c| c.cpu_ms,
            put: |c, v| c.cpu_ms = v,
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "wait",
        label: Text::WaitLabel,
        name: Text::WaitName,
        kind: Kind::Float {
            min: 0.0,
            max: 10_000.0,
            get: |c| c.wait_ms,
            put: |c, v| c.wait_ms = v,
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "dist",
        label: Text::DistLabel,
        name: Text::DistName,
        kind: Kind::Choice {
            options: || vec![("fixed", Text::Fixed), ("exp", Text::Exponential)],
            get: |c| match c.dist {
                Dist::Fixed => "fixed",
                Dist::Exponential => "exp",
            },
            put: |c, v| {
                let dist = match v {
                    "fixed" => Dist::Fixed,
                    "exp" => Dist::Exponential,
                    _ => return false,
                };
                c.dist = dist;
                true
            },
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "requests",
        label: Text::RequestsLabel,
        name: Text::RequestsName,
        kind: Kind::Int {
            min: 1,
            max: MAX_REQUESTS,
            get: |c| c.requests.into(),
            put: |c, v| c.requests = v as u32,
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "seed",
        label: Text::SeedLabel,
        name: Text::SeedName,
        kind: Kind::Int {
            min: 0,
            // Exactly representable in a JavaScript number (the input's value).
            max: 1 << 53,
            get: |c| c.seed,
            put: |c, v| c.seed = v,
        },
        place: Place::Form,
        shown: always,
    },
    Field {
        key: "switch",
        label: Text::SwitchLabel,
        name: Text::SwitchName,
        kind: Kind::Float {
            min: 0.1,
            max: 1_000.0,
            get: |c| c.switch_ms,
            put: |c, v| c.switch_ms = v,
        },
        place: Place::Form,
        shown: |c| c.uses(|m| m == ModelKind::GilThreads),
    },
    Field {
        key: "blocking",
        label: Text::BlockingLabel,
        name: Text::BlockingName,
        kind: Kind::Float {
            min: 0.0,
            max: 100.0,
            get: |c| c.blocking_pct,
            put: |c, v| c.blocking_pct = v,
        },
        place: Place::Form,
        shown: |c| c.uses(|m| m == ModelKind::BlockedLoop),
    },
    Field {
        key: "offload",
        label: Text::OffloadLabel,
        name: Text::OffloadName,
        kind: Kind::Toggle {
            get: |c| c.offload,
            put: |c, v| c.offload = v,
        },
        place: Place::Form,
        shown: |c| c.uses(|m| m == ModelKind::BlockedLoop),
    },
    Field {
        key: "speed",
        label: Text::SpeedLabel,
        name: Text::SpeedName,
        kind: Kind::Speed,
        place: Place::Transport,
        shown: always,
    },
];

/// The keys [`Config::to_query`] writes and [`Config::apply_query`] reads.
pub const QUERY_KEYS: [&str; 17] = [
    "model", "compare", "workers", "arrivals", "clients", "think", "rate", "cpu", "wait", "dist",
    "requests", "seed", "switch", "blocking", "offload", "speed", "t",
];

/// One message naming what the URL had that was not used (each part cut to
/// 40 characters, at most 5 shown), or `None` if everything was used.
fn ignored_note(ignored: &[&str]) -> Option<Msg> {
    const SHOWN: usize = 5;
    const CHARS: usize = 40;
    if ignored.is_empty() {
        return None;
    }
    let shown: Vec<String> = ignored
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
    Some(Msg::IgnoredInUrl {
        shown,
        more: ignored.len().saturating_sub(SHOWN),
    })
}

fn ms_to_us(ms: f64) -> u64 {
    (ms * 1e3).round().max(0.0) as u64
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
            workers: 5_000,
            ..Config::default()
        };
        let notes: Vec<String> = cfg.clamp().iter().map(Msg::en).collect();
        assert_eq!(notes, ["workers clamped to 1024"]);
        assert_eq!(cfg.workers, 1_024);
    }

    #[test]
    fn a_mangled_query_is_ignored() {
        let mut cfg = Config::default();
        let notes = cfg.apply_query("workers:abc,model:nope,,:,wait:NaN,zzz");
        assert_eq!(cfg, Config::default());
        let notes: Vec<String> = notes.iter().map(Msg::en).collect();
        assert_eq!(
            notes,
            ["ignored in the URL: “workers:abc”, “model:nope”, “:”, “wait:NaN”, “zzz”"]
        );
    }

    /// A link written before the table (old model ids, the old key order, every
    /// key) opens the same state.
    #[test]
    fn links_in_the_old_form_open_the_same_state() {
        let old = "model:pool,compare:loop,workers:8,clients:24,think:2.5,arrivals:open,\
                   rate:300,cpu:1.5,wait:40,dist:exp,requests:900,seed:7,switch:4,\
                   blocking:25,offload:1,speed:2,t:5000";
        let mut cfg = Config::default();
        assert_eq!(cfg.apply_query(old), Vec::<Msg>::new());
        let want = Config {
            model: ModelKind::SyncPool,
            compare: Some(ModelKind::EventLoop),
            workers: 8,
            arrivals: Arrivals::Open { rate_per_s: 300.0 },
            parked_arrivals: closed(24, 2_500),
            cpu_ms: 1.5,
            wait_ms: 40.0,
            dist: Dist::Exponential,
            requests: 900,
            seed: 7,
            switch_ms: 4.0,
            blocking_pct: 25.0,
            offload: true,
            speed: 2.0,
            cursor_us: Some(5_000),
        };
        assert_eq!(cfg, want);
        // Switching back to closed arrivals brings back the link's clients.
        assert!(FIELDS[3].apply(&mut cfg, "closed", Parse::Strict).is_some());
        assert_eq!(cfg.arrivals, closed(24, 2_500));
    }

    #[test]
    fn a_million_requests_and_a_thousand_workers_open_without_a_clamp() {
        let mut cfg = Config::default();
        let notes = cfg.apply_query("requests:1000000,workers:1000,clients:10000");
        assert_eq!(notes, Vec::<Msg>::new());
        assert_eq!((cfg.requests, cfg.workers), (1_000_000, 1_000));
        let limits = Config::limits();
        assert_eq!(cfg.workload().clamp(&limits), Vec::<String>::new());
        assert_eq!(
            cfg.spec(ModelKind::SyncPool).clamp(&limits),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_table_and_the_url_keys_agree() {
        let keys: Vec<&str> = FIELDS.iter().map(|f| f.key).chain(["t"]).collect();
        assert_eq!(keys, QUERY_KEYS);
    }

    #[test]
    fn a_control_rounds_what_a_link_refuses() {
        let workers = &FIELDS[2];
        let mut cfg = Config::default();
        assert_eq!(workers.apply(&mut cfg, "3.6", Parse::Strict), None);
        assert_eq!(
            workers.apply(&mut cfg, "3.6", Parse::Lenient),
            Some(Applied::AsGiven)
        );
        assert_eq!(cfg.workers, 4);
    }
}
