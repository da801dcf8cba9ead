//! Chapter 6's model against reality: the visualizer's simulation
//! (`playground/sim`, crate `waiting_well_sim`) predicts each measured row
//! from what the run measured about it, and the table puts the prediction
//! beside the measurement.
//!
//! For every row whose stack one of the simulation's models expresses
//! ([`model_for`]: a pool of k, one loop, a loop per worker, a blocked loop,
//! a loop with a blocking pool of 40, GIL threads per process), the
//! simulation gets the row's client count, its wait, the server's CPU per
//! request, this machine's cores shared with the load generator's CPU per
//! request, and how the kernel spread the connections over the server's
//! processes (all measured in the run, see [`Measured`]), and runs a closed
//! loop; its steady-state req/s is the prediction. Nothing is fitted: a row
//! that misses says the model leaves something out. The CPU other programs
//! used meanwhile (PostgreSQL, other users) is shown beside it, not given
//! to the model: it is a rate, not a cost per request.
//!
//! Each row is also classed as wait-bound or CPU-bound ([`Bound`]): which
//! of the two Little's-law limits is lower, the requests that can wait at
//! once over the time each holds its slot, or the cores over the CPU each
//! request costs.
//!
//! Leaves out: PostgreSQL (its round trip is no wait in the model and its
//! CPU is the other programs'), the kernel's network work outside the
//! processes' own CPU time, and how the OS time-slices: a core runs one
//! phase to its end.

use std::time::Duration;

use waiting_well_sim::{Arrivals, Dist, EventKind, Limits, ModelKind, ModelSpec, Workload};

use crate::api;
use crate::python::Stack;
use crate::report::{Cell, Table, duration, num};
use crate::stacks::{FASTAPI_THREADS, Measured, StackName};

/// tokio's `spawn_blocking` pool: at most 512 threads (its default).
pub const TOKIO_BLOCKING_THREADS: u32 = 512;

/// One measured row: which server, under what load, and what was measured.
#[derive(Debug, Clone)]
pub struct Observed {
    pub stack: StackName,
    /// The row's name in the run ("simple JSON", "DB query", "wait 50 ms").
    pub load: String,
    pub clients: usize,
    /// The wait each request makes inside the server (an injected sleep or
    /// round trip); zero when there is none.
    pub wait: Duration,
    /// Worker processes (Python) or threads / workers (Rust), as launched.
    pub workers: usize,
    /// Threads per gunicorn `gthread` worker.
    pub threads: usize,
    pub measured: Measured,
}

/// Which Little's-law limit is the lower one for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The requests that can wait at once, over how long each holds its slot.
    Wait,
    /// The cores, over the CPU each request costs (server and load generator).
    Cpu,
}

impl Bound {
    pub fn name(self) -> &'static str {
        match self {
            Bound::Wait => "wait",
            Bound::Cpu => "CPU",
        }
    }
}

/// What the simulation predicts for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub model: ModelSpec,
    pub bound: Bound,
    /// Steady-state requests per second of the simulated run.
    pub per_second: f64,
}

/// The simulation's model of `stack` as launched with `workers` (processes
/// or threads) and `threads` (per gthread process), or None when no model
/// expresses it (a blocked loop or a `def` pool in several processes).
// ANCHOR: model_for
pub fn model_for(stack: StackName, workers: usize, threads: usize) -> Option<ModelSpec> {
    let workers = u32::try_from(workers).ok()?;
    let threads = u32::try_from(threads).ok()?;
    let spec = |kind, workers| ModelSpec::new(kind, workers);
    let blocked = |offload, blocking_pool| ModelSpec {
        blocking_share: 1.0, // every handler of the row waits the same way
        offload,
        blocking_pool,
        ..spec(ModelKind::BlockedLoop, 1)
    };
    Some(match stack {
        // uvicorn --workers k: k processes, one event loop each.
        StackName::Python(Stack::FastapiAsync) => spec(ModelKind::LoopPerWorker, workers),
        // `def` endpoints: one loop, each handler on one of 40 pool threads.
        StackName::Python(Stack::FastapiDef) if workers == 1 => {
            blocked(true, FASTAPI_THREADS as u32)
        }
        // `time.sleep` in `async def`: the loop itself waits.
        StackName::Python(Stack::FastapiBlocked) if workers == 1 => blocked(false, 0),
        StackName::Python(Stack::FastapiDef | Stack::FastapiBlocked) => return None,
        // gunicorn sync: k processes, one request each at a time.
        StackName::Python(Stack::DjangoSync) => spec(ModelKind::SyncPool, workers),
        // gunicorn gthread: k processes × t threads, one GIL per process.
        StackName::Python(Stack::DjangoGthread) => ModelSpec {
            processes: workers,
            ..spec(ModelKind::GilThreads, workers * threads)
        },
        StackName::Rust(api::ModelKind::SyncPool | api::ModelKind::Rouille) => {
            spec(ModelKind::SyncPool, workers)
        }
        StackName::Rust(api::ModelKind::EventLoop) => spec(ModelKind::EventLoop, 1),
        StackName::Rust(api::ModelKind::WorkStealing) => spec(ModelKind::WorkStealing, workers),
        StackName::Rust(api::ModelKind::LoopPerWorker) => spec(ModelKind::LoopPerWorker, workers),
        StackName::Rust(api::ModelKind::BlockedLoop) => blocked(false, 0),
        StackName::Rust(api::ModelKind::SpawnBlocking) => blocked(true, TOKIO_BLOCKING_THREADS),
    })
}
// ANCHOR_END: model_for

/// How many requests the model lets wait at once, and how many run CPU at
/// once (before the machine's cores limit them).
fn slots(model: &ModelSpec, clients: u32) -> (u32, u32) {
    let waiting = match model.kind {
        ModelKind::SyncPool | ModelKind::GilThreads => model.workers,
        ModelKind::BlockedLoop if !model.offload => 1,
        ModelKind::BlockedLoop if model.blocking_pool > 0 => model.blocking_pool,
        _ => clients,
    };
    let running = match model.kind {
        ModelKind::GilThreads => model.processes,
        kind => kind.lanes(model.workers),
    };
    (waiting.min(clients), running)
}

// ANCHOR: predict
/// Runs the simulation for one row on a machine with `cores` cores.
pub fn predict(row: &Observed, cores: u32) -> Option<Prediction> {
    let model = model_for(row.stack, row.workers, row.threads)?;
    let server_cpu = row.measured.cpu_per_request?;
    let clients = u32::try_from(row.clients).ok()?;
    let us = |d: Duration| d.as_micros() as u64;
    let cpu = us(server_cpu);
    // The share of the connections the busiest process held.
    let connections = &row.measured.connections;
    let total: usize = connections.iter().sum();
    let pin_share = match connections.first() {
        Some(&most) if total > 0 => most as f64 / total as f64,
        _ => 0.0,
    };
    let model = ModelSpec {
        cores,
        shared_cpu_us: us(row.measured.client_cpu_per_request),
        pin_share,
        ..model
    };
    // Enough requests that every client sends about 50: the middle half of
    // the run is the steady state, as the warm-up leaves out the start.
    let requests = (clients.saturating_mul(50)).clamp(10_000, 100_000);
    let workload = Workload {
        arrivals: Arrivals::Closed {
            clients,
            think_us: 0,
        },
        cpu_before_us: cpu / 2,
        wait_us: us(row.wait),
        cpu_after_us: cpu - cpu / 2,
        dist: Dist::Exponential,
        requests,
        seed: 6,
    };
    let limits = Limits {
        max_clients: clients.max(Limits::default().max_clients),
        ..Limits::default()
    };
    let run = waiting_well_sim::simulate(model, workload, &limits);
    let done: Vec<u64> = run
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Done { .. }))
        .map(|e| e.t)
        .collect();
    let (from, to) = (done.len() / 4, done.len() * 3 / 4);
    let span = done.get(to)?.checked_sub(*done.get(from)?)?;
    let per_second = (to - from) as f64 / (span.max(1) as f64 / 1e6);

    // Which Little's-law limit is lower for this row.
    let (waiting, running) = slots(&model, clients);
    let hold = row.wait.as_secs_f64() + server_cpu.as_secs_f64();
    let wait_limit = f64::from(waiting) / hold.max(1e-9);
    let client_cpu = row.measured.client_cpu_per_request.as_secs_f64();
    let cpu_limit = (f64::from(running.min(cores)) / server_cpu.as_secs_f64().max(1e-9))
        .min(f64::from(cores) / (server_cpu.as_secs_f64() + client_cpu).max(1e-9));
    let bound = if wait_limit < cpu_limit {
        Bound::Wait
    } else {
        Bound::Cpu
    };
    Some(Prediction {
        model,
        bound,
        per_second,
    })
}
// ANCHOR_END: predict

/// The model-vs-reality table: one line per row, the simulation's req/s
/// beside the measured one and the error (predicted / measured - 1).
pub fn table(rows: &[Observed], cores: u32) -> Table {
    let mut table = Table::new([
        "stack",
        "load",
        "clients",
        "model",
        "wait",
        "server CPU/req",
        "loadgen CPU/req",
        "connections",
        "others' cores",
        "bound by",
        "measured req/s",
        "predicted req/s",
        "error",
    ]);
    for row in rows {
        let prediction = predict(row, cores);
        let m = &row.measured;
        let (model, bound, predicted, error) = match &prediction {
            Some(p) => (
                describe(&p.model),
                Cell::from(p.bound.name()),
                num(p.per_second, 0),
                error_cell(p.per_second, m.per_second),
            ),
            None => (
                "none".to_string(),
                Cell::from("-"),
                Cell::from("-"),
                Cell::from("-"),
            ),
        };
        table.row([
            Cell::from(row.stack.name()),
            Cell::from(row.load.as_str()),
            Cell::from(row.clients),
            Cell::from(model),
            duration(row.wait),
            m.cpu_per_request.map_or(Cell::from("-"), duration),
            duration(m.client_cpu_per_request),
            Cell::from(spread(&m.connections)),
            // Cores other programs kept busy on average: their CPU per
            // request times requests per second.
            m.other_cpu_per_request
                .map_or(Cell::from("-"), |d| num(d.as_secs_f64() * m.per_second, 2)),
            bound,
            num(m.per_second, 0),
            predicted,
            error,
        ]);
    }
    table
}

/// `+4.2%`: how far the prediction is from the measurement; its value is
/// the plain fraction (0.042).
fn error_cell(predicted: f64, measured: f64) -> Cell {
    if measured <= 0.0 {
        return Cell::from("-");
    }
    let e = predicted / measured - 1.0;
    Cell::measured(format!("{:+.1}%", e * 100.0), e)
}

/// Connections per process, `87+13`; `-` when none were counted.
fn spread(connections: &[usize]) -> String {
    if connections.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = connections.iter().map(usize::to_string).collect();
    parts.join("+")
}

/// A model in a narrow cell: `sync-pool ×2`, `gil-threads 2×16`, …
pub fn describe(model: &ModelSpec) -> String {
    let id = model.kind.id();
    match model.kind {
        ModelKind::EventLoop => id.to_string(),
        ModelKind::BlockedLoop if model.offload => {
            format!("{id} + pool of {}", model.blocking_pool)
        }
        ModelKind::BlockedLoop => id.to_string(),
        ModelKind::GilThreads => format!(
            "{id} {}×{}",
            model.processes,
            model.workers / model.processes.max(1)
        ),
        _ => format!("{id} ×{}", model.workers),
    }
}

/// This machine's cores, as the simulation takes them.
pub fn machine_cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::{Failures, LoadReport};

    fn observed(stack: StackName, workers: usize, wait_ms: u64, cpu_us: u64) -> Observed {
        Observed {
            stack,
            load: "wait".into(),
            clients: 100,
            wait: Duration::from_millis(wait_ms),
            workers,
            threads: 16,
            measured: Measured {
                report: LoadReport {
                    requests: 0,
                    errors: 0,
                    elapsed: Duration::ZERO,
                    latency_us: hdrhistogram::Histogram::new(3).unwrap(),
                    failures: Failures::default(),
                    status: Default::default(),
                    connects: 0,
                    unfinished: 0,
                },
                per_second: 0.0,
                rss_bytes: None,
                processes: 1,
                cpu_per_request: Some(Duration::from_micros(cpu_us)),
                client_cpu_per_request: Duration::from_micros(20),
                other_cpu_per_request: Some(Duration::ZERO),
                connections: vec![50, 50],
            },
        }
    }

    #[test]
    fn every_python_stack_of_the_wait_table_has_a_model_with_its_bound() {
        // The chapter's 50 ms table: 100 clients, little CPU.
        let cases = [
            (StackName::Python(Stack::FastapiAsync), 1, 2_000.0),
            (StackName::Python(Stack::FastapiDef), 1, 800.0),
            (StackName::Python(Stack::FastapiBlocked), 1, 20.0),
            (StackName::Python(Stack::DjangoSync), 2, 40.0),
            (StackName::Rust(api::ModelKind::SyncPool), 2, 40.0),
            (StackName::Rust(api::ModelKind::EventLoop), 1, 2_000.0),
        ];
        for (stack, workers, bound) in cases {
            let p = predict(&observed(stack, workers, 50, 100), 2).unwrap();
            assert_eq!(p.bound, Bound::Wait, "{stack:?}");
            let share = p.per_second / bound;
            assert!((0.9..=1.0).contains(&share), "{stack:?}: {p:?}");
        }
        // No wait, 1 ms of CPU: two processes on two cores, CPU-bound.
        let p = predict(
            &observed(StackName::Python(Stack::DjangoSync), 2, 0, 1_000),
            2,
        )
        .unwrap();
        assert_eq!(p.bound, Bound::Cpu);
        assert!(p.per_second < 2_000.0, "{p:?}");
        assert!(model_for(StackName::Python(Stack::FastapiDef), 2, 1).is_none());
    }
}
