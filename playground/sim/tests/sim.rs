//! Checks of the simulation core: invariants of every model's log (time order, one
//! request per lane at a time, one GIL holder, every closed-loop request finishes,
//! Little's law), queueing theory (M/M/1, M/M/c Erlang C), the blocked loop's
//! throughput, that the views fed during a run equal those of the stored log, that
//! a replay's windows equal the whole timeline's, and a snapshot of a tiny log.
//!
//! Leaves out: the browser front (see playground/web/tests).

use proptest::prelude::*;
use waiting_well_sim::{
    Arrivals, Dist, EventKind, Limits, Metrics, ModelKind, ModelSpec, Replay, Run, Timeline,
    Workload, simulate, simulate_observed, simulate_shown, simulate_with_metrics,
};

fn closed(
    clients: u32,
    cpu_us: u64,
    wait_us: u64,
    requests: u32,
    dist: Dist,
    seed: u64,
) -> Workload {
    Workload {
        arrivals: Arrivals::Closed {
            clients,
            think_us: 0,
        },
        cpu_before_us: cpu_us,
        wait_us,
        cpu_after_us: cpu_us,
        dist,
        requests,
        seed,
    }
}

/// Poisson arrivals, one exponential CPU phase of mean `service_us`, no wait.
fn open_cpu_only(rate_per_s: f64, service_us: u64, requests: u32) -> Workload {
    Workload {
        arrivals: Arrivals::Open { rate_per_s },
        cpu_before_us: service_us,
        wait_us: 0,
        cpu_after_us: 0,
        dist: Dist::Exponential,
        requests,
        // Fixed seed: at rho = 0.9 the run-to-run spread of a 300k-request mean is a few %.
        seed: 1,
    }
}

/// Panics with a message if a log breaks an invariant every model must keep.
fn check_invariants(run: &Run) {
    let mut last = 0;
    let mut running: Vec<Option<u32>> = vec![None; run.lanes as usize];
    // One GIL per process; with a number of cores, no more CPU phases at once.
    let mut gil: Vec<Option<u32>> = vec![None; run.model.process_count() as usize];
    let mut on_cores = 0u32;
    for e in &run.events {
        assert!(e.t >= last, "time went backwards at {e:?}");
        last = e.t;
        match e.kind {
            EventKind::CpuStart { req, lane } | EventKind::BlockStart { req, lane } => {
                if matches!(e.kind, EventKind::CpuStart { .. }) {
                    on_cores += 1;
                    assert!(
                        run.model.cores == 0 || on_cores <= run.model.cores,
                        "{on_cores} CPU phases on {} cores at {e:?}",
                        run.model.cores
                    );
                }
                let slot = &mut running[lane as usize];
                assert_eq!(*slot, None, "lane {lane} runs two requests at {e:?}");
                *slot = Some(req);
            }
            EventKind::CpuEnd { req, lane } | EventKind::BlockEnd { req, lane } => {
                if matches!(e.kind, EventKind::CpuEnd { .. }) {
                    on_cores -= 1;
                }
                assert_eq!(running[lane as usize].take(), Some(req), "bad end {e:?}");
            }
            EventKind::GilAcquire { req, thread } => {
                let gil = &mut gil[run.model.process_of(thread) as usize];
                assert_eq!(*gil, None, "two GIL holders in one process at {e:?}");
                *gil = Some(req);
            }
            EventKind::GilRelease { req, thread, .. } => {
                let gil = &mut gil[run.model.process_of(thread) as usize];
                assert_eq!(gil.take(), Some(req));
            }
            _ => {}
        }
    }
}

fn assert_little(run: &Run) {
    let m = Metrics::from_run(run);
    assert!(
        (m.little_ratio - 1.0).abs() < 0.01,
        "{:?}: L={} λ={} W={} ratio={}",
        run.model.kind,
        m.mean_in_system,
        m.arrival_rate_per_s,
        m.mean_time_in_system_s,
        m.little_ratio
    );
}

#[test]
fn every_model_keeps_the_invariants_and_littles_law() {
    for kind in ModelKind::ALL {
        for arrivals in [
            Arrivals::Closed {
                clients: 16,
                think_us: 2_000,
            },
            Arrivals::Open { rate_per_s: 300.0 },
        ] {
            let w = Workload {
                arrivals,
                ..closed(16, 1_000, 50_000, 2_000, Dist::Exponential, 3)
            };
            let run = simulate(ModelSpec::new(kind, 4), w, &Limits::default());
            assert!(!run.truncated);
            check_invariants(&run);
            assert_little(&run);
            assert_eq!(Metrics::from_run(&run).completed, 2_000, "{kind:?}");
        }
    }
}

#[test]
fn event_loop_beats_a_small_pool_on_io_bound_work() {
    let w = closed(16, 1_000, 50_000, 1_600, Dist::Fixed, 1);
    let pool = Metrics::from_run(&simulate(
        ModelSpec::new(ModelKind::SyncPool, 4),
        w,
        &Limits::default(),
    ));
    let lp = Metrics::from_run(&simulate(
        ModelSpec::new(ModelKind::EventLoop, 1),
        w,
        &Limits::default(),
    ));
    // Pool: 4 workers / 52 ms ≈ 77/s. Loop: 16 clients / ~52-70 ms ≈ 230-300/s.
    assert!(
        lp.throughput_per_s > 2.5 * pool.throughput_per_s,
        "{} vs {}",
        lp.throughput_per_s,
        pool.throughput_per_s
    );
}

#[test]
fn mm1_mean_response_matches_theory() {
    let service_us = 1_000u64;
    for rho in [0.5, 0.8] {
        let w = open_cpu_only(rho * 1e6 / service_us as f64, service_us, 200_000);
        let run = simulate(
            ModelSpec::new(ModelKind::SyncPool, 1),
            w,
            &Limits::default(),
        );
        let m = Metrics::from_run(&run);
        let theory_ms = service_us as f64 / 1e3 / (1.0 - rho);
        let err = (m.mean_latency_ms - theory_ms).abs() / theory_ms;
        assert!(
            err < 0.05,
            "rho={rho}: {} ms vs {theory_ms} ms",
            m.mean_latency_ms
        );
    }
}

/// Mean response time of M/M/c (Erlang C), seconds.
fn erlang_c_response(c: u32, lambda: f64, mu: f64) -> f64 {
    let a = lambda / mu;
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let tail = term * c as f64 / (c as f64 - a); // (a^c / c!) * c / (c - a)
    let wait_probability = tail / (sum + tail);
    wait_probability / (c as f64 * mu - lambda) + 1.0 / mu
}

#[test]
fn mmc_matches_erlang_c_at_rho_0_9() {
    let (c, service_us, rho) = (4u32, 1_000u64, 0.9);
    let mu = 1e6 / service_us as f64;
    let lambda = rho * c as f64 * mu;
    let w = open_cpu_only(lambda, service_us, 300_000);
    let m = Metrics::from_run(&simulate(
        ModelSpec::new(ModelKind::SyncPool, c),
        w,
        &Limits::default(),
    ));
    let theory_ms = erlang_c_response(c, lambda, mu) * 1e3;
    let err = (m.mean_latency_ms - theory_ms).abs() / theory_ms;
    assert!(
        err < 0.05,
        "{} ms vs Erlang C {theory_ms} ms",
        m.mean_latency_ms
    );
}

#[test]
fn a_loop_that_always_blocks_serves_one_request_per_blocking_call() {
    let w = closed(16, 0, 20_000, 200, Dist::Fixed, 1);
    let spec = ModelSpec {
        blocking_share: 1.0,
        ..ModelSpec::new(ModelKind::BlockedLoop, 1)
    };
    let m = Metrics::from_run(&simulate(spec, w, &Limits::default()));
    assert!(
        (m.throughput_per_s - 50.0).abs() < 0.5,
        "{}",
        m.throughput_per_s
    );
    assert!(m.loop_blocked_ms > 0.99 * m.span_us as f64 / 1e3);
    assert!(m.delayed_by_block > 0);
    // Offloading the blocking call lets the waits overlap again.
    let off = Metrics::from_run(&simulate(
        ModelSpec {
            offload: true,
            ..spec
        },
        w,
        &Limits::default(),
    ));
    assert!(off.throughput_per_s > 10.0 * m.throughput_per_s);
    assert_eq!(off.loop_blocked_ms, 0.0);
}

#[test]
fn gil_threads_wait_for_the_gil_and_get_forced_switches() {
    // CPU phases of 20 ms with a 5 ms switch interval: threads take turns.
    let w = closed(8, 20_000, 10_000, 200, Dist::Fixed, 1);
    let run = simulate(
        ModelSpec::new(ModelKind::GilThreads, 4),
        w,
        &Limits::default(),
    );
    check_invariants(&run);
    let m = Metrics::from_run(&run);
    assert!(m.forced_switches > 0);
    assert!(m.gil_wait_ms > 0.0);
    // One GIL: CPU work is serialized, so throughput ≤ 1 / (2 × 20 ms) = 25/s.
    assert!(m.throughput_per_s <= 25.0 + 0.01, "{}", m.throughput_per_s);
}

#[test]
fn the_event_cap_truncates_instead_of_running_forever() {
    let limits = Limits {
        max_events: 1_000,
        ..Limits::default()
    };
    let run = simulate(
        ModelSpec::new(ModelKind::EventLoop, 1),
        closed(4, 10, 10, 10_000, Dist::Fixed, 1),
        &limits,
    );
    assert!(run.truncated);
    // One timer emits a handful of events at most, so the cap is hit within a few.
    assert!(run.events.len() < 1_010, "{}", run.events.len());
}

#[test]
fn out_of_range_inputs_are_clamped_with_a_message() {
    let mut spec = ModelSpec::new(ModelKind::SyncPool, 5_000);
    let notes = spec.clamp(&Limits::default());
    assert_eq!(spec.workers, 1_024);
    assert_eq!(notes, ["workers clamped to 1024"]);
}

/// Past 64 workers (one word of the idle-lane set): a pool with a worker per
/// client never queues and uses every worker; work-stealing and pinned loops use
/// lanes beyond the first word too.
#[test]
fn a_thousand_workers_each_take_requests() {
    let w = closed(1_000, 1_000, 50_000, 5_000, Dist::Fixed, 1);
    let pool = Metrics::from_run(&simulate(
        ModelSpec::new(ModelKind::SyncPool, 1_000),
        w,
        &Limits::default(),
    ));
    assert_eq!(pool.max_queue, 0);
    assert_eq!(pool.completed, 5_000);
    assert!(pool.lane_held.iter().all(|&h| h > 0.0), "an idle worker");
    for kind in [ModelKind::WorkStealing, ModelKind::LoopPerWorker] {
        let run = simulate(ModelSpec::new(kind, 1_000), w, &Limits::default());
        let top = run
            .events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::CpuStart { lane, .. } => Some(lane),
                _ => None,
            })
            .max();
        assert!(
            top.is_some_and(|l| (64..1_000).contains(&l)),
            "{kind:?}: {top:?}"
        );
    }
}

#[test]
fn snapshot_of_a_tiny_pool_and_loop() {
    let w = closed(3, 1_000, 5_000, 3, Dist::Fixed, 1);
    let pool = simulate(
        ModelSpec::new(ModelKind::SyncPool, 2),
        w,
        &Limits::default(),
    );
    insta::assert_json_snapshot!("tiny_pool", pool.events);
    let lp = simulate(
        ModelSpec::new(ModelKind::EventLoop, 1),
        w,
        &Limits::default(),
    );
    insta::assert_json_snapshot!("tiny_loop", lp.events);
}

fn any_model() -> impl Strategy<Value = ModelSpec> {
    (
        (
            0..6usize,
            1..8u32,
            100..20_000u64,
            0.0..1.0f64,
            any::<bool>(),
        ),
        // The machine: blocking pool, processes, cores (0: no limit), clients' CPU.
        (0..4u32, 1..4u32, 0..4u32, 0..500u64),
    )
        .prop_map(
            |(
                (k, workers, switch_interval_us, blocking_share, offload),
                (blocking_pool, processes, cores, shared_cpu_us),
            )| ModelSpec {
                kind: ModelKind::ALL[k],
                workers,
                switch_interval_us,
                blocking_share,
                offload,
                blocking_pool,
                processes,
                cores,
                shared_cpu_us,
                pin_share: 0.0,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn any_closed_run_is_ordered_consistent_and_complete(
        model in any_model(),
        clients in 1..20u32,
        cpu in 0..5_000u64,
        wait in 0..50_000u64,
        think in 0..5_000u64,
        expo in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let w = Workload {
            arrivals: Arrivals::Closed { clients, think_us: think },
            cpu_before_us: cpu,
            wait_us: wait,
            cpu_after_us: cpu / 2,
            dist: if expo { Dist::Exponential } else { Dist::Fixed },
            requests: 150,
            seed,
        };
        let run = simulate(model, w, &Limits::default());
        check_invariants(&run);
        let m = Metrics::from_run(&run);
        prop_assert_eq!(m.completed, 150);
        if m.span_us > 0 {
            prop_assert!((m.little_ratio - 1.0).abs() < 0.01, "ratio {}", m.little_ratio);
        }
    }
}

/// Any workload of `requests` requests: open or closed loop, fixed or
/// exponential phases (a closed loop's clients think a third of the wait).
fn any_workload(requests: std::ops::Range<u32>) -> impl Strategy<Value = Workload> {
    let shape = (any::<bool>(), 1..20u32, 10.0..2_000.0f64, any::<bool>());
    let lengths = (0..5_000u64, 0..50_000u64, requests, any::<u64>());
    (shape, lengths).prop_map(
        |((open, clients, rate, expo), (cpu, wait, requests, seed))| Workload {
            arrivals: if open {
                Arrivals::Open { rate_per_s: rate }
            } else {
                Arrivals::Closed {
                    clients,
                    think_us: wait / 3,
                }
            },
            cpu_before_us: cpu,
            wait_us: wait,
            cpu_after_us: cpu / 3,
            dist: if expo { Dist::Exponential } else { Dist::Fixed },
            requests,
            seed,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The page's one-pass run (views fed event by event) gives exactly what reading
    /// the stored log gives: the views depend on the log alone.
    #[test]
    fn views_fed_during_the_run_equal_views_of_the_stored_log(
        model in any_model(),
        w in any_workload(1..300),
    ) {
        let plain = simulate(model, w, &Limits::default());
        let page = simulate_observed(model, w, &Limits::default());
        prop_assert_eq!(&page.run.events, &plain.events);
        prop_assert_eq!(&page.metrics, &Metrics::from_run(&plain));
        prop_assert_eq!(&page.timeline, &Timeline::from_run(&plain));
        let (run, metrics) = simulate_with_metrics(model, w, &Limits::default());
        prop_assert_eq!(&run.events, &plain.events);
        prop_assert_eq!(&metrics, &page.metrics);
        // What the page keeps (no log) is the same metrics; the charts' scales
        // (the counters' highest values) come from them.
        let shown = simulate_shown(model, w, &Limits::default());
        prop_assert_eq!(&shown.metrics, &page.metrics);
        let highest = |s: &[(u64, u32)]| s.iter().map(|&(_, v)| v).max().unwrap_or(0);
        prop_assert_eq!(shown.metrics.max_queue, highest(&page.timeline.queued));
        prop_assert_eq!(shown.metrics.max_in_io, highest(&page.timeline.waiting_io));
        prop_assert_eq!((shown.end_us, shown.truncated, shown.events), (plain.end_us(), plain.truncated, plain.events.len()));
        prop_assert_eq!((shown.model, shown.workload, shown.lanes), (plain.model, plain.workload, plain.lanes));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// A replay's windows are the whole timeline cut to them, in whatever order
    /// the page asks for them (forward as it plays, back as it scrubs, past the
    /// end), and its next and previous instants are the log's: the page draws
    /// the same thing it would from the whole timeline.
    #[test]
    fn replayed_windows_equal_the_whole_timeline_cut_to_them(
        model in any_model(),
        w in any_workload(200..201),
        cap in prop::option::of(50..3_000usize),
        windows in prop::collection::vec((0.0..1.1f64, 0.0..0.3f64, any::<bool>()), 1..12),
    ) {
        let limits = Limits { max_events: cap.unwrap_or(Limits::default().max_events), ..Limits::default() };
        let run = simulate(model, w, &limits);
        let whole = Timeline::from_run(&run);
        let times: Vec<u64> = run.events.iter().map(|e| e.t).collect();
        let end = run.end_us() as f64;
        let mut replay = Replay::new(model, w, &limits);
        // A window's ends at any time, or (`snap`) at event times, where spans
        // start and end.
        let event_at = |t: u64| times[times.partition_point(|&e| e < t).min(times.len() - 1)];
        for (at, len, snap) in windows {
            let mut to = (at * end) as u64;
            let mut from = to.saturating_sub((len * end) as u64);
            if snap && !times.is_empty() {
                (from, to) = (event_at(from), event_at(to));
            }
            prop_assert_eq!(replay.window(from, to), &whole.cut(from, to), "window [{}, {}]", from, to);
            prop_assert_eq!(replay.after(to), times.iter().copied().find(|&t| t > to), "after {}", to);
            prop_assert_eq!(replay.before(to), times.iter().rev().copied().find(|&t| t < to), "before {}", to);
        }
    }
}

#[test]
fn a_blocking_call_delays_exactly_the_requests_that_wait_behind_it() {
    // Two clients, every handler blocks the loop for 10 ms: request 0 runs at once;
    // every later request becomes ready while the loop is blocked.
    let w = closed(2, 0, 10_000, 6, Dist::Fixed, 1);
    let spec = ModelSpec {
        blocking_share: 1.0,
        ..ModelSpec::new(ModelKind::BlockedLoop, 1)
    };
    let m = Metrics::from_run(&simulate(spec, w, &Limits::default()));
    assert_eq!(
        (m.delayed_by_block, &m.first_delayed[..]),
        (5, &[1, 2, 3, 4, 5][..])
    );
    assert_eq!(m.loop_blocked_ms, 60.0);
}

/// Throughput of a closed-loop run of `requests` requests.
fn throughput(spec: ModelSpec, w: Workload) -> f64 {
    let m = Metrics::from_run(&simulate(spec, w, &Limits::default()));
    m.throughput_per_s
}

#[test]
fn a_blocking_pool_of_40_serves_40_waits_at_once() {
    // FastAPI's `def` endpoints: 100 clients, every handler waits 50 ms on one
    // of 40 pool threads: 40 / 50 ms = 800 req/s; no limit: all 100 overlap.
    let w = closed(100, 0, 50_000, 4_000, Dist::Fixed, 1);
    let unbounded = ModelSpec {
        blocking_share: 1.0,
        offload: true,
        ..ModelSpec::new(ModelKind::BlockedLoop, 1)
    };
    let pool = ModelSpec {
        blocking_pool: 40,
        ..unbounded
    };
    let (x, y) = (throughput(pool, w), throughput(unbounded, w));
    assert!((x - 800.0).abs() < 8.0, "{x}");
    assert!((y - 2_000.0).abs() < 20.0, "{y}");
}

#[test]
fn lanes_share_the_cores_and_the_clients_cpu_takes_its_part() {
    // CPU only, 1 ms a request (0.5 before + 0.5 after): 4 workers on their
    // own cores do 4,000 req/s; on 2 cores, 2,000.
    let w = closed(50, 500, 0, 4_000, Dist::Fixed, 1);
    let pool = ModelSpec::new(ModelKind::SyncPool, 4);
    assert!((throughput(pool, w) - 4_000.0).abs() < 40.0);
    let two = ModelSpec { cores: 2, ..pool };
    let x = throughput(two, w);
    assert!((x - 2_000.0).abs() < 20.0, "{x}");
    // The clients spend 1 ms of CPU per request on the same 2 cores too:
    // 2 cores / 2 ms = 1,000 req/s.
    let shared = ModelSpec {
        shared_cpu_us: 1_000,
        ..two
    };
    let x = throughput(shared, w);
    assert!((x - 1_000.0).abs() < 15.0, "{x}");
    // A blocking call sleeps: it needs no core (1 loop, 0 CPU, 10 ms sleeps).
    let blocked = ModelSpec {
        blocking_share: 1.0,
        cores: 1,
        ..ModelSpec::new(ModelKind::BlockedLoop, 1)
    };
    let x = throughput(blocked, closed(4, 0, 10_000, 200, Dist::Fixed, 1));
    assert!((x - 100.0).abs() < 1.0, "{x}");
}

#[test]
fn each_process_has_its_own_gil() {
    // CPU only, 1 ms a request, 4 threads: one GIL runs 1,000 req/s; two
    // processes of 2 threads, each with its GIL, 2,000 (on cores enough).
    let w = closed(40, 500, 0, 4_000, Dist::Fixed, 1);
    let one = ModelSpec::new(ModelKind::GilThreads, 4);
    let two = ModelSpec {
        processes: 2,
        ..one
    };
    let (x, y) = (throughput(one, w), throughput(two, w));
    assert!((x - 1_000.0).abs() < 10.0, "{x}");
    assert!((y - 2_000.0).abs() < 60.0, "{y}");
    // One GIL holder per process, never two in one (check_invariants).
    let run = simulate(
        two,
        closed(2, 500, 1_000, 200, Dist::Fixed, 3),
        &Limits::default(),
    );
    check_invariants(&run);
}

#[test]
fn a_process_of_many_threads_uses_only_its_own() {
    // 1,000 threads in 3 processes (0..334, 334..667, 667..1,000: runs across the
    // idle-lane set's 64-lane words), 1,000 connections waiting 50 ms: each
    // connection's requests run on threads of its one process, lowest idle
    // thread first, and threads past the first 64 of every process take requests.
    let spec = ModelSpec {
        processes: 3,
        ..ModelSpec::new(ModelKind::GilThreads, 1_000)
    };
    let run = simulate(
        spec,
        closed(1_000, 10, 50_000, 5_000, Dist::Fixed, 1),
        &Limits::default(),
    );
    check_invariants(&run);
    let starts = [0, 334, 667];
    let mut client_of = std::collections::HashMap::new();
    let mut process_of_client = std::collections::HashMap::new();
    let mut top = [0; 3];
    for e in run.events.iter() {
        match e.kind {
            EventKind::Arrive { req, client } => {
                client_of.insert(req, client);
            }
            EventKind::Start { req, worker } => {
                let p = spec.process_of(worker) as usize;
                assert!(worker >= starts[p], "{worker} in process {p}");
                let first = *process_of_client.entry(client_of[&req]).or_insert(p);
                assert_eq!(first, p, "request {req} left its connection's process");
                top[p] = top[p].max(worker);
            }
            _ => {}
        }
    }
    for (p, (&top, &start)) in top.iter().zip(&starts).enumerate() {
        assert!(top >= start + 64, "process {p}: threads up to {top} only");
    }
}
