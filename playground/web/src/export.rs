//! Exports of the current runs: Chrome trace-event JSON (opens in Perfetto /
//! chrome://tracing: one process per model, one thread per lane, I/O waits as async
//! slices, the queue as a counter) and a CSV of the raw event log.
//!
//! Leaves out: the download mechanics (ui.rs turns the text into a Blob link).

use serde::Serialize;
use waiting_well_sim::{EventKind, Run, SpanKind, Timeline};

use crate::text::{Lang, Text};

#[derive(Serialize)]
struct Trace {
    #[serde(rename = "traceEvents")]
    trace_events: Vec<TraceEvent>,
    #[serde(rename = "displayTimeUnit")]
    display_time_unit: &'static str,
}

#[derive(Serialize)]
struct TraceEvent {
    name: String,
    ph: &'static str,
    pid: u32,
    tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    args: serde_json::Value,
}

fn ev(name: impl Into<String>, ph: &'static str, pid: u32, tid: u32) -> TraceEvent {
    TraceEvent {
        name: name.into(),
        ph,
        pid,
        tid,
        ts: None,
        dur: None,
        cat: None,
        id: None,
        args: serde_json::Value::Null,
    }
}

/// One model per entry: (label, lane names, run, timeline); slice names in `lang`.
pub fn chrome_trace(models: &[(&str, Vec<String>, &Run, &Timeline)], lang: Lang) -> String {
    let mut out = Vec::new();
    for (p, (label, lane_names, run, timeline)) in models.iter().enumerate() {
        let pid = p as u32 + 1;
        out.push(TraceEvent {
            args: serde_json::json!({ "name": label }),
            ..ev("process_name", "M", pid, 0)
        });
        for (lane, name) in lane_names.iter().enumerate() {
            out.push(TraceEvent {
                args: serde_json::json!({ "name": name }),
                ..ev("thread_name", "M", pid, lane as u32 + 1)
            });
        }
        for (lane, spans) in timeline.lanes.iter().enumerate() {
            for s in spans {
                let name = match s.kind {
                    SpanKind::Cpu => Text::TraceCpu,
                    SpanKind::Wait => Text::TraceWaitHolding,
                    SpanKind::Block => Text::TraceBlock,
                    SpanKind::GilWait => Text::TraceGilWait,
                }
                .get(lang);
                out.push(TraceEvent {
                    ts: Some(s.start),
                    dur: Some(s.end - s.start),
                    args: serde_json::json!({ "req": s.req }),
                    ..ev(name, "X", pid, lane as u32 + 1)
                });
            }
        }
        if !run.model.kind.holds_worker() {
            for e in &run.events {
                let (ph, req) = match e.kind {
                    EventKind::WaitStart { req } => ("b", req),
                    EventKind::WaitEnd { req } => ("e", req),
                    _ => continue,
                };
                out.push(TraceEvent {
                    ts: Some(e.t),
                    cat: Some("io"),
                    id: Some(req),
                    ..ev(Text::TraceIoWait.get(lang), ph, pid, 0)
                });
            }
        }
        for &(t, q) in &timeline.queued {
            out.push(TraceEvent {
                ts: Some(t),
                args: serde_json::json!({ "queued": q }),
                ..ev(Text::TraceQueued.get(lang), "C", pid, 0)
            });
        }
    }
    serde_json::to_string(&Trace {
        trace_events: out,
        display_time_unit: "ms",
    })
    .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// `model,t_us,event,req,lane,detail` — one row per logged event.
pub fn csv(models: &[(&str, &Run)]) -> String {
    let mut out = String::from("model,t_us,event,req,lane,detail\n");
    for (model, run) in models {
        for e in &run.events {
            let (name, req, lane, detail): (&str, u32, String, String) = match e.kind {
                EventKind::Arrive { req, client } => {
                    ("Arrive", req, String::new(), format!("client={client}"))
                }
                EventKind::Queued { req, depth } => {
                    ("Queued", req, String::new(), format!("depth={depth}"))
                }
                EventKind::Start { req, worker } => {
                    ("Start", req, worker.to_string(), String::new())
                }
                EventKind::Ready { req } => ("Ready", req, String::new(), String::new()),
                EventKind::CpuStart { req, lane } => {
                    ("CpuStart", req, lane.to_string(), String::new())
                }
                EventKind::CpuEnd { req, lane } => ("CpuEnd", req, lane.to_string(), String::new()),
                EventKind::WaitStart { req } => ("WaitStart", req, String::new(), String::new()),
                EventKind::WaitEnd { req } => ("WaitEnd", req, String::new(), String::new()),
                EventKind::BlockStart { req, lane } => {
                    ("BlockStart", req, lane.to_string(), String::new())
                }
                EventKind::BlockEnd { req, lane } => {
                    ("BlockEnd", req, lane.to_string(), String::new())
                }
                EventKind::GilWait { req, thread } => {
                    ("GilWait", req, thread.to_string(), String::new())
                }
                EventKind::GilAcquire { req, thread } => {
                    ("GilAcquire", req, thread.to_string(), String::new())
                }
                EventKind::GilRelease {
                    req,
                    thread,
                    forced,
                } => (
                    "GilRelease",
                    req,
                    thread.to_string(),
                    format!("forced={forced}"),
                ),
                EventKind::Done { req } => ("Done", req, String::new(), String::new()),
            };
            out.push_str(&format!("{},{},{name},{req},{lane},{detail}\n", model, e.t));
        }
    }
    out
}
