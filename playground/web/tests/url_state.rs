//! The visualizer's URL state under fuzzing, natively (a wasm panic is a dead
//! page, so the parser must never panic): 100,000 generated `ww=` values in
//! input classes — in-range pairs, out-of-range numbers, bad values, unknown
//! keys — and 50,000 arbitrary strings. Every one must leave a valid state
//! (within the UI's ranges and the engine's limits) and a visible message
//! whenever something was ignored or clamped.
//!
//! Run: `cargo test -p waiting-well-viz --test url_state` (part of `cargo
//! test --workspace`). Leaves out: the browser's percent-decoding of the URL
//! (`URLSearchParams` does it before the parser sees the value).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;

use proptest::prelude::*;
use waiting_well_sim::ModelKind;
use waiting_well_viz::{Config, Msg, PRESETS, QUERY_KEYS, SPEEDS};

/// One `key:value` part of a generated query, by input class.
#[derive(Clone, Debug)]
enum Part {
    /// A known key with a value inside the UI's range: applied silently.
    Good(String, String),
    /// A known numeric key with a number outside the range: clamped, said so.
    OutOfRange(String, String),
    /// A known key whose value does not parse: ignored, said so.
    BadValue(String, String),
    /// A key the visualizer does not know: ignored, said so.
    UnknownKey(String, String),
}

impl Part {
    fn text(&self) -> String {
        let (Part::Good(k, v)
        | Part::OutOfRange(k, v)
        | Part::BadValue(k, v)
        | Part::UnknownKey(k, v)) = self;
        format!("{k}:{v}")
    }
}

fn model_id() -> impl Strategy<Value = String> {
    prop::sample::select(ModelKind::ALL.map(|m| m.id().to_string()).to_vec())
}

/// A float in `lo..=hi` written the way `to_query` writes it.
fn float_in(lo: f64, hi: f64) -> BoxedStrategy<String> {
    (lo..=hi).prop_map(|v| v.to_string()).boxed()
}

/// Milliseconds at the microsecond the simulation keeps (think time), in `0..=hi_ms`.
fn ms_at_us(hi_ms: u64) -> BoxedStrategy<String> {
    (0..=hi_ms * 1_000)
        .prop_map(|us| (us as f64 / 1e3).to_string())
        .boxed()
}

fn good() -> impl Strategy<Value = Part> {
    let int = |lo: u64, hi: u64| (lo..=hi).prop_map(|v| v.to_string()).boxed();
    let pairs: Vec<(&str, BoxedStrategy<String>)> = vec![
        ("model", model_id().boxed()),
        (
            "compare",
            prop_oneof![Just("none".to_string()), model_id()].boxed(),
        ),
        ("workers", int(1, 1_024)),
        ("clients", int(1, 10_000)),
        ("requests", int(1, 1_000_000)),
        ("seed", int(0, 1 << 53)),
        ("think", ms_at_us(10_000)),
        ("rate", float_in(0.1, 100_000.0)),
        ("cpu", float_in(0.0, 1_000.0)),
        ("wait", float_in(0.0, 10_000.0)),
        ("switch", float_in(0.1, 1_000.0)),
        ("blocking", float_in(0.0, 100.0)),
        (
            "speed",
            prop::sample::select(SPEEDS.map(|s| s.to_string()).to_vec()).boxed(),
        ),
        (
            "arrivals",
            prop::sample::select(vec!["open".to_string(), "closed".into()]).boxed(),
        ),
        (
            "dist",
            prop::sample::select(vec!["exp".to_string(), "fixed".into()]).boxed(),
        ),
        (
            "offload",
            prop::sample::select(vec!["0".to_string(), "1".into()]).boxed(),
        ),
        ("t", any::<u64>().prop_map(|v| v.to_string()).boxed()),
    ];
    prop::strategy::Union::new(
        pairs
            .into_iter()
            .map(|(k, v)| v.prop_map(move |v| Part::Good(k.into(), v)).boxed()),
    )
}

fn out_of_range() -> impl Strategy<Value = Part> {
    let above = |hi: u64| (hi + 1..=u64::MAX).prop_map(|v| v.to_string()).boxed();
    let pairs: Vec<(&str, BoxedStrategy<String>)> = vec![
        (
            "workers",
            prop_oneof![Just("0".to_string()), above(1_024)].boxed(),
        ),
        (
            "clients",
            prop_oneof![Just("0".to_string()), above(10_000)].boxed(),
        ),
        (
            "requests",
            prop_oneof![Just("0".to_string()), above(1_000_000)].boxed(),
        ),
        ("seed", above(1 << 53)),
        (
            "think",
            prop_oneof![float_in(-1e12, -1e-9), float_in(10_000.001, 1e12)].boxed(),
        ),
        (
            "rate",
            prop_oneof![float_in(-1e12, 0.099), float_in(100_000.01, 1e12)].boxed(),
        ),
        (
            "cpu",
            prop_oneof![float_in(-1e12, -1e-9), float_in(1_000.001, 1e12)].boxed(),
        ),
        (
            "wait",
            prop_oneof![float_in(-1e12, -1e-9), float_in(10_000.001, 1e12)].boxed(),
        ),
        (
            "switch",
            prop_oneof![float_in(-1e12, 0.099), float_in(1_000.001, 1e12)].boxed(),
        ),
        (
            "blocking",
            prop_oneof![float_in(-1e12, -1e-9), float_in(100.001, 1e12)].boxed(),
        ),
        (
            "speed",
            any::<f64>()
                .prop_filter("a listed speed", |s| s.is_finite() && !SPEEDS.contains(s))
                .prop_map(|s| s.to_string())
                .boxed(),
        ),
    ];
    prop::strategy::Union::new(
        pairs
            .into_iter()
            .map(|(k, v)| v.prop_map(move |v| Part::OutOfRange(k.into(), v)).boxed()),
    )
}

fn bad_value() -> impl Strategy<Value = Part> {
    let key = prop::sample::select(QUERY_KEYS.to_vec());
    // `x` first: never a number, a model id or an enum word. Plus the
    // non-finite floats and numbers too big for u64 / f64.
    let value = prop_oneof![
        "x[^,]{0,30}",
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("1e999".to_string()),
        Just("-1".to_string()),
        Just(String::new()),
        Just("99999999999999999999999".to_string()),
    ];
    (key, value).prop_filter_map("a value the key accepts", |(k, v)| {
        // Some of the fixed values are fine for some keys (a big number is a
        // clamped float, -1 a clamped float): those are not bad values.
        let float_key = [
            "think", "rate", "cpu", "wait", "switch", "blocking", "speed",
        ]
        .contains(&k);
        let numeric_ok = v.parse::<f64>().is_ok_and(f64::is_finite);
        (!(float_key && numeric_ok)).then(|| Part::BadValue(k.to_string(), v))
    })
}

fn unknown_key() -> impl Strategy<Value = Part> {
    ("[^,:]{0,20}", "[^,]{0,20}").prop_filter_map("an unknown key", |(k, v)| {
        (!QUERY_KEYS.contains(&k.as_str())).then_some(Part::UnknownKey(k, v))
    })
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![4 => good(), 2 => out_of_range(), 1 => bad_value(), 1 => unknown_key()]
}

/// Valid: clamping again changes nothing, the speed is a listed one, and the
/// engine's own clamping (the limits a run is held to) has nothing to say.
fn assert_valid(cfg: &Config) {
    let mut again = cfg.clone();
    assert_eq!(again.clamp(), Vec::<Msg>::new(), "{cfg:?}");
    assert_eq!(&again, cfg);
    assert!(SPEEDS.contains(&cfg.speed));
    let limits = Config::limits();
    for kind in cfg.models() {
        assert_eq!(
            cfg.spec(kind).clamp(&limits),
            Vec::<String>::new(),
            "{cfg:?}"
        );
    }
    assert_eq!(
        cfg.workload().clamp(&limits),
        Vec::<String>::new(),
        "{cfg:?}"
    );
}

/// What the page does on load: preset, then the URL, then clamping; the notes
/// are what it shows (here as an English page shows them).
fn load(preset: &str, query: &str) -> (Config, Vec<String>) {
    let mut cfg = Config::preset(preset).unwrap();
    let mut notes = cfg.apply_query(query);
    notes.extend(cfg.clamp());
    (cfg, notes.iter().map(Msg::en).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_queries_give_a_valid_state_and_say_what_they_dropped(
        preset in prop::sample::select(PRESETS.to_vec()),
        parts in prop::collection::vec(part(), 0..6),
    ) {
        let query = parts.iter().map(Part::text).collect::<Vec<_>>().join(",");
        let (cfg, notes) = load(preset, &query);
        assert_valid(&cfg);

        let ignored = parts.iter().any(|p| matches!(p, Part::BadValue(..) | Part::UnknownKey(..)));
        prop_assert_eq!(
            ignored,
            notes.iter().any(|n| n.starts_with("ignored in the URL")),
            "{:?} -> {:?}", query, notes
        );
        // The last applied value of each key is the one that counts.
        let mut last: HashMap<String, &Part> = HashMap::new();
        for p in &parts {
            if let Part::Good(k, _) | Part::OutOfRange(k, _) = p {
                last.insert(k.clone(), p);
            }
        }
        let clamped = last.values().any(|p| matches!(p, Part::OutOfRange(..)));
        prop_assert_eq!(
            clamped,
            notes.iter().any(|n| n.contains("clamped to") || n.contains("reset to")),
            "{:?} -> {:?}", query, notes
        );
        let written = cfg.to_query();
        let written: Vec<&str> = written.split(',').collect();
        for p in last.values() {
            if let Part::Good(..) = p {
                prop_assert!(written.contains(&p.text().as_str()), "{} not in {:?}", p.text(), written);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 50_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic_and_are_never_silently_dropped(
        query in prop_oneof![any::<String>(), "[a-z:,.0-9eE+-]{0,60}"],
    ) {
        let (cfg, notes) = load("ch01", &query);
        assert_valid(&cfg);
        // No message means every part was a known key with a value used as given.
        if notes.is_empty() {
            for part in query.split(',').filter(|p| !p.is_empty()) {
                let key = part.split_once(':').map(|(k, _)| k);
                prop_assert!(key.is_some_and(|k| QUERY_KEYS.contains(&k)), "{:?} in {:?}", part, query);
            }
        }
    }
}
