//! One name per server model: the simulation's ids are the lab's `--model`
//! names wherever the two have the same model, links with the visualizer's
//! old ids still open the same model, and exports use the names too.

use waiting_well_sim::ModelKind;

#[test]
fn the_simulation_and_the_lab_name_each_shared_model_alike() {
    let lab_names: Vec<String> = lab::api::ModelKind::ALL.iter().map(|m| m.name()).collect();
    let (shared, sim_only): (Vec<&str>, Vec<&str>) = ModelKind::ALL
        .iter()
        .map(|m| m.id())
        .partition(|id| lab_names.iter().any(|name| name == id));
    assert_eq!(
        shared,
        [
            "sync-pool",
            "event-loop",
            "blocked-loop",
            "loop-per-worker",
            "work-stealing"
        ]
    );
    // CPython's GIL is simulated, not built as a server; the lab's rouille is
    // a sync pool, and its spawn-blocking is blocked-loop with offload.
    assert_eq!(sim_only, ["gil-threads"]);
    for kind in ModelKind::ALL {
        assert!(
            kind.label().starts_with(&format!("{}: ", kind.id())),
            "{kind:?}"
        );
    }
}

#[test]
fn old_ids_from_shared_links_still_work() {
    let old = [
        ("pool", ModelKind::SyncPool),
        ("loop", ModelKind::EventLoop),
        ("blocked", ModelKind::BlockedLoop),
        ("gil", ModelKind::GilThreads),
        ("pinned", ModelKind::LoopPerWorker),
        ("stealing", ModelKind::WorkStealing),
    ];
    for (id, kind) in old {
        assert_eq!(ModelKind::from_id(id), Some(kind), "{id}");
        assert_eq!(ModelKind::from_id(kind.id()), Some(kind));
    }
    assert_eq!(ModelKind::from_id("nope"), None);
}

#[test]
fn exports_spell_the_same_names() {
    for kind in ModelKind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.id()));
        assert_eq!(serde_json::from_str::<ModelKind>(&json).unwrap(), kind);
    }
}
