//! One mounted visualizer: builds its controls, runs the simulations when a control
//! changes, and draws the shared time cursor (play / pause / step / scrub / speed,
//! keyboard, reduced motion, `?ww=` URL state, exports).
//!
//! Leaves out: the pixels (draw.rs), the state format (config.rs), the models (sim crate).

use std::cell::RefCell;
use std::rc::Rc;

use waiting_well_sim::{Metrics, ModelKind, Observed, Run, Timeline, simulate_observed};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    CanvasRenderingContext2d, Document, HtmlAnchorElement, HtmlButtonElement, HtmlCanvasElement,
    HtmlElement, HtmlInputElement, HtmlSelectElement, KeyboardEvent,
};

use crate::config::{Config, SPEEDS};
use crate::draw::{self, Frame};
use crate::export;

type Shared = Rc<RefCell<Viz>>;

struct ModelRun {
    run: Run,
    metrics: Metrics,
    timeline: Timeline,
    max_queued: u32,
    max_waiting: u32,
}

struct PanelView {
    section: HtmlElement,
    title: HtmlElement,
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    throughput: HtmlElement,
    details: HtmlElement,
}

struct Controls {
    model: HtmlSelectElement,
    compare: HtmlSelectElement,
    workers: HtmlInputElement,
    clients: HtmlInputElement,
    think: HtmlInputElement,
    arrivals: HtmlSelectElement,
    rate: HtmlInputElement,
    cpu: HtmlInputElement,
    wait: HtmlInputElement,
    dist: HtmlSelectElement,
    requests: HtmlInputElement,
    seed: HtmlInputElement,
    switch: HtmlInputElement,
    blocking: HtmlInputElement,
    offload: HtmlInputElement,
    speed: HtmlSelectElement,
    scrub: HtmlInputElement,
    play: HtmlButtonElement,
}

pub struct Viz {
    doc: Document,
    root: HtmlElement,
    cfg: Config,
    url_sync: bool,
    reduced_motion: bool,
    controls: Controls,
    panels: Vec<PanelView>,
    runs: Vec<ModelRun>,
    cursor: u64,
    end: u64,
    window: u64,
    playing: bool,
    history: Vec<u64>,
    last_ts: Option<f64>,
    motion_acc: f64,
    tick: Option<js_sys::Function>,
    clamp_msg: HtmlElement,
    summary: HtmlElement,
    time_label: HtmlElement,
    download: HtmlAnchorElement,
}

fn el(doc: &Document, tag: &str, class: &str) -> Result<HtmlElement, JsValue> {
    let e: HtmlElement = doc.create_element(tag)?.dyn_into()?;
    if !class.is_empty() {
        e.set_class_name(class);
    }
    Ok(e)
}

fn text(
    doc: &Document,
    parent: &HtmlElement,
    tag: &str,
    class: &str,
    t: &str,
) -> Result<HtmlElement, JsValue> {
    let e = el(doc, tag, class)?;
    e.set_text_content(Some(t));
    parent.append_child(&e)?;
    Ok(e)
}

/// A `<label>` + control pair inside a `.ww-viz-field` wrapper.
fn labelled(
    doc: &Document,
    parent: &HtmlElement,
    id: &str,
    label: &str,
    control: &HtmlElement,
) -> Result<(), JsValue> {
    let wrap = el(doc, "div", "ww-viz-field")?;
    wrap.set_attribute("data-field", id.rsplit('-').next().unwrap_or(id))?;
    let l = el(doc, "label", "")?;
    l.set_attribute("for", id)?;
    l.set_text_content(Some(label));
    control.set_id(id);
    wrap.append_child(&l)?;
    wrap.append_child(control)?;
    parent.append_child(&wrap)?;
    Ok(())
}

fn number(
    doc: &Document,
    parent: &HtmlElement,
    id: &str,
    label: &str,
    min: f64,
    max: f64,
    step: &str,
) -> Result<HtmlInputElement, JsValue> {
    let input: HtmlInputElement = doc.create_element("input")?.dyn_into()?;
    input.set_type("number");
    input.set_attribute("min", &min.to_string())?;
    input.set_attribute("max", &max.to_string())?;
    input.set_attribute("step", step)?;
    input.set_attribute("inputmode", "decimal")?;
    labelled(doc, parent, id, label, &input)?;
    Ok(input)
}

fn select(
    doc: &Document,
    parent: &HtmlElement,
    id: &str,
    label: &str,
    options: &[(&str, &str)],
) -> Result<HtmlSelectElement, JsValue> {
    let s: HtmlSelectElement = doc.create_element("select")?.dyn_into()?;
    for (value, name) in options {
        let o = doc.create_element("option")?;
        o.set_attribute("value", value)?;
        o.set_text_content(Some(name));
        s.append_child(&o)?;
    }
    labelled(doc, parent, id, label, &s)?;
    Ok(s)
}

/// A button showing an optional glyph (hidden from screen readers) and its name:
/// the accessible name is exactly the visible words.
fn button(
    doc: &Document,
    parent: &HtmlElement,
    glyph: &str,
    name: &str,
    class: &str,
) -> Result<HtmlButtonElement, JsValue> {
    let b: HtmlButtonElement = doc.create_element("button")?.dyn_into()?;
    b.set_type("button");
    b.set_class_name(class);
    set_button_text(doc, &b, glyph, name)?;
    parent.append_child(&b)?;
    Ok(b)
}

fn set_button_text(
    doc: &Document,
    b: &HtmlElement,
    glyph: &str,
    name: &str,
) -> Result<(), JsValue> {
    b.set_text_content(None);
    if !glyph.is_empty() {
        let g = el(doc, "span", "ww-viz-glyph")?;
        g.set_attribute("aria-hidden", "true")?;
        g.set_text_content(Some(glyph));
        b.append_child(&g)?;
    }
    let n = el(doc, "span", "ww-viz-name")?;
    n.set_text_content(Some(name));
    b.append_child(&n)?;
    Ok(())
}

/// The cursor to the microsecond, so every step shows a different time.
fn fmt_precise(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.6} s", us as f64 / 1e6)
    } else {
        format!("{:.3} ms", us as f64 / 1e3)
    }
}

fn model_options() -> Vec<(&'static str, &'static str)> {
    ModelKind::ALL.iter().map(|m| (m.id(), m.label())).collect()
}

fn lane_name(kind: ModelKind, lanes: usize, i: usize) -> String {
    match kind {
        ModelKind::EventLoop | ModelKind::BlockedLoop => "loop".into(),
        ModelKind::LoopPerWorker => format!("loop {i}"),
        ModelKind::GilThreads => format!("thread {i}"),
        ModelKind::SyncPool | ModelKind::WorkStealing if lanes > 9 => format!("w{i}"),
        ModelKind::SyncPool | ModelKind::WorkStealing => format!("worker {i}"),
    }
}

/// Utilisation per lane, e.g. "worker 0 52 %, worker 1 48 %" (mean, min and max past 8 lanes).
fn lane_list(kind: ModelKind, shares: &[f64], mean: f64) -> String {
    if shares.len() > 8 {
        let min = shares.iter().copied().fold(f64::INFINITY, f64::min);
        let max = shares.iter().copied().fold(0.0, f64::max);
        return format!(
            "mean {:.0} % (min {:.0} %, max {:.0} %)",
            mean * 100.0,
            min * 100.0,
            max * 100.0
        );
    }
    let lanes = shares.len();
    let parts: Vec<String> = shares
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {:.0} %", lane_name(kind, lanes, i), v * 100.0))
        .collect();
    parts.join(", ")
}

fn listen(
    target: &web_sys::EventTarget,
    event: &str,
    viz: &Shared,
    f: fn(&mut Viz, &web_sys::Event),
) -> Result<(), JsValue> {
    let viz = viz.clone();
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        if let Ok(mut v) = viz.try_borrow_mut() {
            f(&mut v, &e);
        }
    });
    target.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref())?;
    cb.forget(); // the visualizer lives as long as the page
    Ok(())
}

/// Build the visualizer inside `root` from `preset` (and the URL, if `data-url="query"`).
pub fn mount(root: HtmlElement, preset: &str) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let doc = window.document().ok_or("no document")?;
    let Some(mut cfg) = Config::preset(preset) else {
        let known = crate::config::PRESETS.join(", ");
        let msg = format!("Unknown visualizer preset “{preset}” (known: {known}).");
        root.set_text_content(Some(&msg));
        return Err(JsValue::from_str(&msg));
    };
    let url_sync = root.get_attribute("data-url").as_deref() == Some("query");
    let mut url_notes = Vec::new();
    if url_sync && let Some(q) = query_state(&window) {
        url_notes = cfg.apply_query(&q);
    }
    let reduced_motion = window
        .match_media("(prefers-reduced-motion: reduce)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches());

    let id = match root.id() {
        id if id.is_empty() => format!("ww-viz-{preset}"),
        id => id,
    };
    root.set_text_content(None);
    root.class_list().add_1("ww-viz-mounted")?;
    root.set_attribute("role", "group")?;
    root.set_attribute("aria-label", "Server model visualizer")?;
    root.set_tab_index(0);

    // Controls.
    let form = el(&doc, "div", "ww-viz-controls")?;
    root.append_child(&form)?;
    let models = model_options();
    let model = select(&doc, &form, &format!("{id}-model"), "Model", &models)?;
    let mut compare_opts = vec![("none", "(none)")];
    compare_opts.extend(models.iter().copied());
    let compare = select(
        &doc,
        &form,
        &format!("{id}-compare"),
        "Compare with",
        &compare_opts,
    )?;
    let workers = number(
        &doc,
        &form,
        &format!("{id}-workers"),
        "Workers / threads / loops",
        1.0,
        64.0,
        "1",
    )?;
    let arrivals = select(
        &doc,
        &form,
        &format!("{id}-arrivals"),
        "Arrivals",
        &[
            ("closed", "Closed loop (N clients)"),
            ("open", "Open loop (Poisson)"),
        ],
    )?;
    let clients = number(
        &doc,
        &form,
        &format!("{id}-clients"),
        "Clients",
        1.0,
        1000.0,
        "1",
    )?;
    let think = number(
        &doc,
        &form,
        &format!("{id}-think"),
        "Think time (ms)",
        0.0,
        10000.0,
        "any",
    )?;
    let rate = number(
        &doc,
        &form,
        &format!("{id}-rate"),
        "Arrival rate (requests/s)",
        0.1,
        100000.0,
        "any",
    )?;
    let cpu = number(
        &doc,
        &form,
        &format!("{id}-cpu"),
        "CPU per request (ms)",
        0.0,
        1000.0,
        "any",
    )?;
    let wait = number(
        &doc,
        &form,
        &format!("{id}-wait"),
        "I/O wait (ms)",
        0.0,
        10000.0,
        "any",
    )?;
    let dist = select(
        &doc,
        &form,
        &format!("{id}-dist"),
        "Phase lengths",
        &[("fixed", "Fixed"), ("exp", "Exponential")],
    )?;
    let requests = number(
        &doc,
        &form,
        &format!("{id}-requests"),
        "Requests",
        1.0,
        100000.0,
        "1",
    )?;
    let seed = number(
        &doc,
        &form,
        &format!("{id}-seed"),
        "Seed",
        0.0,
        9007199254740992.0,
        "1",
    )?;
    let switch = number(
        &doc,
        &form,
        &format!("{id}-switch"),
        "GIL switch interval (ms)",
        0.1,
        1000.0,
        "any",
    )?;
    let blocking = number(
        &doc,
        &form,
        &format!("{id}-blocking"),
        "Handlers that block the loop (%)",
        0.0,
        100.0,
        "any",
    )?;
    let offload: HtmlInputElement = doc.create_element("input")?.dyn_into()?;
    offload.set_type("checkbox");
    labelled(
        &doc,
        &form,
        &format!("{id}-offload"),
        "Move blocking calls to a thread pool (def endpoint · spawn_blocking)",
        &offload,
    )?;
    let clamp_msg = el(&doc, "p", "ww-viz-clamp")?;
    clamp_msg.set_attribute("role", "status")?;
    root.append_child(&clamp_msg)?;

    // Transport.
    let transport = el(&doc, "div", "ww-viz-transport")?;
    root.append_child(&transport)?;
    let back = button(&doc, &transport, "◀", "Step back", "ww-viz-step-back")?;
    let play = button(&doc, &transport, "▶", "Play", "ww-viz-play")?;
    let fwd = button(&doc, &transport, "▶", "Step forward", "ww-viz-step-forward")?;
    let scrub: HtmlInputElement = doc.create_element("input")?.dyn_into()?;
    scrub.set_type("range");
    scrub.set_attribute("min", "0")?;
    scrub.set_attribute("step", "1")?;
    scrub.set_class_name("ww-viz-scrub");
    labelled(&doc, &transport, &format!("{id}-scrub"), "Time", &scrub)?;
    let speed_opts: Vec<(String, String)> = SPEEDS
        .iter()
        .map(|s| (s.to_string(), format!("×{s}")))
        .collect();
    let speed_refs: Vec<(&str, &str)> = speed_opts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let speed = select(
        &doc,
        &transport,
        &format!("{id}-speed"),
        "Speed",
        &speed_refs,
    )?;
    let time_label = text(&doc, &transport, "span", "ww-viz-time", "")?;
    time_label.set_attribute("aria-live", "off")?;
    let json_btn = button(
        &doc,
        &transport,
        "",
        "Export Chrome trace (JSON)",
        "ww-viz-export-json",
    )?;
    let csv_btn = button(
        &doc,
        &transport,
        "",
        "Export events (CSV)",
        "ww-viz-export-csv",
    )?;
    let download: HtmlAnchorElement = doc.create_element("a")?.dyn_into()?;
    download.set_class_name("ww-viz-download");
    download.set_hidden(true);
    transport.append_child(&download)?;

    // Legend.
    let legend = el(&doc, "ul", "ww-viz-legend")?;
    for (colour, name) in [
        (draw::CPU, "running (CPU)"),
        (draw::WAIT, "waiting on I/O"),
        (draw::QUEUED, "queued"),
        (draw::BLOCKED, "loop blocked"),
        (draw::GIL_WAIT, "waiting for the GIL"),
    ] {
        let li = el(&doc, "li", "")?;
        let sw = el(&doc, "span", "ww-viz-swatch")?;
        sw.style().set_property("background", colour)?;
        sw.set_attribute("aria-hidden", "true")?;
        li.append_child(&sw)?;
        li.append_child(&doc.create_text_node(name))?;
        legend.append_child(&li)?;
    }
    root.append_child(&legend)?;

    // Panels (the second is hidden when nothing is compared).
    let panels_el = el(&doc, "div", "ww-viz-panels")?;
    root.append_child(&panels_el)?;
    let mut panels = Vec::new();
    for i in 0..2 {
        let section = el(&doc, "section", "ww-viz-panel")?;
        let title = text(&doc, &section, "h4", "ww-viz-title", "")?;
        title.set_id(&format!("{id}-title-{i}"));
        let canvas: HtmlCanvasElement = doc.create_element("canvas")?.dyn_into()?;
        canvas.set_class_name("ww-viz-canvas");
        canvas.set_attribute("role", "img")?;
        section.append_child(&canvas)?;
        let ctx: CanvasRenderingContext2d = canvas
            .get_context("2d")?
            .ok_or("no 2d context")?
            .dyn_into()?;
        let line = el(&doc, "p", "ww-viz-metric")?;
        let throughput = el(&doc, "span", "ww-viz-throughput")?;
        line.append_child(&doc.create_text_node("Throughput: "))?;
        line.append_child(&throughput)?;
        line.append_child(&doc.create_text_node(" requests/s"))?;
        section.append_child(&line)?;
        let details = el(&doc, "dl", "ww-viz-details")?;
        section.append_child(&details)?;
        panels_el.append_child(&section)?;
        panels.push(PanelView {
            section,
            title,
            canvas,
            ctx,
            throughput,
            details,
        });
    }
    let summary = el(&doc, "p", "ww-viz-summary")?;
    summary.set_attribute("aria-live", "polite")?;
    root.append_child(&summary)?;

    let controls = Controls {
        model,
        compare,
        workers,
        clients,
        think,
        arrivals,
        rate,
        cpu,
        wait,
        dist,
        requests,
        seed,
        switch,
        blocking,
        offload,
        speed,
        scrub,
        play,
    };
    let viz = Rc::new(RefCell::new(Viz {
        doc,
        root: root.clone(),
        cfg,
        url_sync,
        reduced_motion,
        controls,
        panels,
        runs: Vec::new(),
        cursor: 0,
        end: 0,
        window: 1,
        playing: false,
        history: Vec::new(),
        last_ts: None,
        motion_acc: 0.0,
        tick: None,
        clamp_msg,
        summary,
        time_label,
        download,
    }));

    // Wiring.
    {
        let v = viz.borrow();
        let c = &v.controls;
        for input in [
            &c.workers,
            &c.clients,
            &c.think,
            &c.rate,
            &c.cpu,
            &c.wait,
            &c.requests,
            &c.seed,
            &c.switch,
            &c.blocking,
            &c.offload,
        ] {
            listen(input, "change", &viz, |v, _| v.on_control_change())?;
        }
        for s in [&c.model, &c.compare, &c.arrivals, &c.dist] {
            listen(s, "change", &viz, |v, _| v.on_control_change())?;
        }
        listen(&c.speed, "change", &viz, |v, _| v.on_speed_change())?;
        listen(&c.scrub, "input", &viz, |v, _| v.on_scrub())?;
        listen(&c.play, "click", &viz, |v, _| v.toggle_play())?;
        listen(&back, "click", &viz, |v, _| v.step(-1))?;
        listen(&fwd, "click", &viz, |v, _| v.step(1))?;
        listen(&json_btn, "click", &viz, |v, _| v.export(true))?;
        listen(&csv_btn, "click", &viz, |v, _| v.export(false))?;
        listen(&root, "keydown", &viz, |v, e| v.on_key(e))?;
        listen(&window, "resize", &viz, |v, _| v.render())?;
    }
    let tick_viz = viz.clone();
    let tick = Closure::<dyn FnMut(f64)>::new(move |ts: f64| {
        if let Ok(mut v) = tick_viz.try_borrow_mut() {
            v.on_frame(ts);
        }
    });
    viz.borrow_mut().tick = Some(tick.as_ref().unchecked_ref::<js_sys::Function>().clone());
    tick.forget();

    // Redraw when the reader switches mdBook theme (a class on <html>): the canvas
    // takes its text colour from the page.
    let theme_viz = viz.clone();
    let on_theme = Closure::<dyn FnMut()>::new(move || {
        if let Ok(v) = theme_viz.try_borrow() {
            v.render();
        }
    });
    if let Some(html) = viz.borrow().doc.document_element() {
        let observer = web_sys::MutationObserver::new(on_theme.as_ref().unchecked_ref())?;
        let init = web_sys::MutationObserverInit::new();
        init.set_attributes(true);
        init.set_attribute_filter(&js_sys::Array::of1(&JsValue::from_str("class")));
        observer.observe_with_options(&html, &init)?;
    }
    on_theme.forget();

    let mut v = viz.borrow_mut();
    let mut notes = url_notes;
    notes.extend(v.cfg.clamp());
    v.write_controls();
    v.show_notes(&notes);
    let restore = v.cfg.cursor_us;
    v.simulate();
    if let Some(t) = restore {
        v.cursor = t.min(v.end);
    }
    v.render();
    Ok(())
}

fn query_state(window: &web_sys::Window) -> Option<String> {
    let search = window.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("ww")
}

fn parse_f64(input: &HtmlInputElement, fallback: f64) -> f64 {
    input
        .value()
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .unwrap_or(fallback)
}

fn parse_u64(input: &HtmlInputElement, fallback: u64) -> u64 {
    let v = parse_f64(input, fallback as f64);
    if v <= 0.0 {
        0
    } else {
        v.round().min(u64::MAX as f64) as u64
    }
}

impl Viz {
    fn read_controls(&mut self) {
        let c = &self.controls;
        let cfg = &mut self.cfg;
        cfg.model = ModelKind::from_id(&c.model.value()).unwrap_or(cfg.model);
        cfg.compare = ModelKind::from_id(&c.compare.value());
        cfg.workers = parse_u64(&c.workers, cfg.workers as u64).min(u32::MAX as u64) as u32;
        cfg.clients = parse_u64(&c.clients, cfg.clients as u64).min(u32::MAX as u64) as u32;
        cfg.requests = parse_u64(&c.requests, cfg.requests as u64).min(u32::MAX as u64) as u32;
        cfg.seed = parse_u64(&c.seed, cfg.seed);
        cfg.think_ms = parse_f64(&c.think, cfg.think_ms);
        cfg.rate_per_s = parse_f64(&c.rate, cfg.rate_per_s);
        cfg.cpu_ms = parse_f64(&c.cpu, cfg.cpu_ms);
        cfg.wait_ms = parse_f64(&c.wait, cfg.wait_ms);
        cfg.switch_ms = parse_f64(&c.switch, cfg.switch_ms);
        cfg.blocking_pct = parse_f64(&c.blocking, cfg.blocking_pct);
        cfg.open = c.arrivals.value() == "open";
        cfg.exponential = c.dist.value() == "exp";
        cfg.offload = c.offload.checked();
    }

    fn write_controls(&self) {
        let c = &self.controls;
        let cfg = &self.cfg;
        c.model.set_value(cfg.model.id());
        c.compare
            .set_value(cfg.compare.map_or("none", ModelKind::id));
        c.workers.set_value(&cfg.workers.to_string());
        c.clients.set_value(&cfg.clients.to_string());
        c.requests.set_value(&cfg.requests.to_string());
        c.seed.set_value(&cfg.seed.to_string());
        c.think.set_value(&cfg.think_ms.to_string());
        c.rate.set_value(&cfg.rate_per_s.to_string());
        c.cpu.set_value(&cfg.cpu_ms.to_string());
        c.wait.set_value(&cfg.wait_ms.to_string());
        c.switch.set_value(&cfg.switch_ms.to_string());
        c.blocking.set_value(&cfg.blocking_pct.to_string());
        c.arrivals
            .set_value(if cfg.open { "open" } else { "closed" });
        c.dist
            .set_value(if cfg.exponential { "exp" } else { "fixed" });
        c.offload.set_checked(cfg.offload);
        c.speed.set_value(&cfg.speed.to_string());
        // Show only the fields that matter for the chosen models and arrivals.
        let show = |input: &HtmlElement, on: bool| {
            if let Some(wrap) = input
                .parent_element()
                .and_then(|p| p.dyn_into::<HtmlElement>().ok())
            {
                wrap.set_hidden(!on);
            }
        };
        show(&c.clients, !cfg.open);
        show(&c.think, !cfg.open);
        show(&c.rate, cfg.open);
        show(&c.switch, cfg.uses(|m| m == ModelKind::GilThreads));
        show(&c.blocking, cfg.uses(|m| m == ModelKind::BlockedLoop));
        show(&c.offload, cfg.uses(|m| m == ModelKind::BlockedLoop));
        show(&c.workers, cfg.uses(|m| m.lanes(2) > 1));
    }

    fn show_notes(&self, notes: &[String]) {
        self.clamp_msg.set_text_content(Some(&notes.join("; ")));
        self.clamp_msg.set_hidden(notes.is_empty());
    }

    fn on_control_change(&mut self) {
        self.read_controls();
        let notes = self.cfg.clamp();
        self.write_controls();
        self.show_notes(&notes);
        self.simulate();
        self.render();
        self.sync_url();
    }

    fn on_speed_change(&mut self) {
        self.cfg.speed = self.controls.speed.value().parse().unwrap_or(1.0);
        self.cfg.clamp();
        self.sync_url();
    }

    /// Rerun every shown model on the current workload and reset the cursor.
    fn simulate(&mut self) {
        let workload = self.cfg.workload();
        let limits = Config::limits();
        self.runs = self
            .cfg
            .models()
            .into_iter()
            .map(|kind| {
                let Observed {
                    run,
                    metrics,
                    timeline,
                } = simulate_observed(self.cfg.spec(kind), workload, &limits);
                let max_queued = timeline.queued.iter().map(|&(_, v)| v).max().unwrap_or(0);
                let max_waiting = timeline
                    .waiting_io
                    .iter()
                    .map(|&(_, v)| v)
                    .max()
                    .unwrap_or(0);
                ModelRun {
                    run,
                    metrics,
                    timeline,
                    max_queued,
                    max_waiting,
                }
            })
            .collect();
        self.end = self.runs.iter().map(|r| r.run.end_us()).max().unwrap_or(0);
        let per_request = ((self.cfg.cpu_ms + self.cfg.wait_ms) * 1e3) as u64;
        self.window = (per_request * 4)
            .clamp(20_000, 20_000_000)
            .min(self.end.max(1));
        self.cursor = (self.window * 2).min(self.end);
        self.history.clear();
        self.controls
            .scrub
            .set_attribute("max", &self.end.to_string())
            .ok();
        self.write_metrics();
    }

    fn write_metrics(&self) {
        let mut summary = Vec::new();
        for (i, panel) in self.panels.iter().enumerate() {
            let Some(r) = self.runs.get(i) else {
                panel.section.set_hidden(true);
                continue;
            };
            panel.section.set_hidden(false);
            let kind = r.run.model.kind;
            let m = &r.metrics;
            panel.title.set_text_content(Some(kind.label()));
            panel
                .throughput
                .set_text_content(Some(&format!("{:.1}", m.throughput_per_s)));
            let busy: f64 = m.lane_busy.iter().sum::<f64>() / m.lane_busy.len().max(1) as f64;
            let mut rows = vec![
                (
                    "Latency p50 / p95 / p99",
                    format!("{:.1} / {:.1} / {:.1} ms", m.p50_ms, m.p95_ms, m.p99_ms),
                ),
                (
                    "Little's law",
                    format!(
                        "L = {:.2} ≈ λW = {:.1}/s × {:.1} ms = {:.2}",
                        m.mean_in_system,
                        m.arrival_rate_per_s,
                        m.mean_time_in_system_s * 1e3,
                        m.arrival_rate_per_s * m.mean_time_in_system_s
                    ),
                ),
                ("CPU busy per lane", lane_list(kind, &m.lane_busy, busy)),
                ("Most requests queued", m.max_queue.to_string()),
            ];
            if kind.holds_worker() {
                let held: f64 = m.lane_held.iter().sum::<f64>() / m.lane_held.len().max(1) as f64;
                rows.push(("Held by a request", lane_list(kind, &m.lane_held, held)));
            }
            if kind == ModelKind::GilThreads {
                rows.push((
                    "Waiting for the GIL",
                    format!(
                        "{:.0} ms total, {} forced switches",
                        m.gil_wait_ms, m.forced_switches
                    ),
                ));
            }
            if kind == ModelKind::BlockedLoop {
                let ids: Vec<String> = m
                    .delayed_by_block
                    .iter()
                    .take(8)
                    .map(|r| format!("#{r}"))
                    .collect();
                rows.push((
                    "Loop blocked",
                    format!(
                        "{:.0} ms; delayed {} requests ({}{})",
                        m.loop_blocked_ms,
                        m.delayed_by_block.len(),
                        ids.join(" "),
                        if m.delayed_by_block.len() > 8 {
                            " …"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            if r.run.truncated {
                rows.push((
                    "Note",
                    "stopped at the event cap: some requests did not finish".into(),
                ));
            }
            panel.details.set_text_content(None);
            for (k, v) in rows {
                let dt = self.doc.create_element("dt").ok();
                let dd = self.doc.create_element("dd").ok();
                if let (Some(dt), Some(dd)) = (dt, dd) {
                    dt.set_text_content(Some(k));
                    dd.set_text_content(Some(&v));
                    panel.details.append_child(&dt).ok();
                    panel.details.append_child(&dd).ok();
                }
            }
            summary.push(format!(
                "{}: {:.1} requests per second, median latency {:.1} ms, 99th percentile {:.1} ms.",
                kind.label(),
                m.throughput_per_s,
                m.p50_ms,
                m.p99_ms
            ));
            panel
                .canvas
                .set_attribute(
                    "aria-label",
                    &format!(
                        "Timeline of {}: one lane per {}, coloured by what each is doing.",
                        kind.label(),
                        if kind.lanes(2) > 1 {
                            "worker"
                        } else {
                            "loop thread"
                        }
                    ),
                )
                .ok();
        }
        if let [a, b] = &self.runs[..] {
            let ratio = b.metrics.throughput_per_s / a.metrics.throughput_per_s.max(1e-9);
            summary.push(format!(
                "The second model serves {ratio:.1}× the throughput of the first."
            ));
        }
        self.summary.set_text_content(Some(&summary.join(" ")));
    }

    fn render(&self) {
        let colour = web_sys::window()
            .and_then(|w| w.get_computed_style(&self.root).ok().flatten())
            .and_then(|s| s.get_property_value("color").ok())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "#333".into());
        let dpr = web_sys::window()
            .map_or(1.0, |w| w.device_pixel_ratio())
            .max(1.0);
        for (panel, r) in self.panels.iter().zip(&self.runs) {
            let width = match panel.section.client_width() {
                w if w > 0 => w as f64,
                _ => 600.0,
            };
            let kind = r.run.model.kind;
            let lanes = r.timeline.lanes.len();
            let names = move |i: usize| lane_name(kind, lanes, i);
            let frame = Frame {
                timeline: &r.timeline,
                lane_names: &names,
                cursor: self.cursor,
                window: self.window,
                text_colour: &colour,
                max_queued: r.max_queued,
                max_waiting: r.max_waiting,
            };
            draw::paint(&panel.canvas, &panel.ctx, width, dpr, &frame);
            panel
                .canvas
                .style()
                .set_property("height", &format!("{}px", draw::canvas_height(lanes)))
                .ok();
        }
        self.controls.scrub.set_value(&self.cursor.to_string());
        self.time_label.set_text_content(Some(&format!(
            "t = {} of {}",
            fmt_precise(self.cursor),
            draw::fmt_ms(self.end)
        )));
        let (glyph, name) = if self.playing {
            ("❙❙", "Pause")
        } else {
            ("▶", "Play")
        };
        set_button_text(&self.doc, &self.controls.play, glyph, name).ok();
    }

    fn toggle_play(&mut self) {
        self.playing = !self.playing;
        if self.playing {
            if self.cursor >= self.end {
                self.cursor = 0;
            }
            self.last_ts = None;
            self.request_frame();
        } else {
            self.sync_url();
        }
        self.render();
    }

    fn request_frame(&self) {
        if let (Some(w), Some(f)) = (web_sys::window(), &self.tick) {
            w.request_animation_frame(f).ok();
        }
    }

    fn on_frame(&mut self, ts: f64) {
        if !self.playing {
            return;
        }
        let dt_ms = self
            .last_ts
            .map_or(0.0, |last| (ts - last).clamp(0.0, 100.0));
        self.last_ts = Some(ts);
        if self.reduced_motion {
            // No smooth scrolling: jump a quarter window twice a second (faster with speed).
            self.motion_acc += dt_ms * self.cfg.speed;
            if self.motion_acc >= 500.0 {
                self.motion_acc = 0.0;
                self.cursor = (self.cursor + self.window / 4).min(self.end);
            }
        } else {
            // ×1 is real time: one simulated millisecond per millisecond.
            self.cursor = (self.cursor + (dt_ms * 1e3 * self.cfg.speed) as u64).min(self.end);
        }
        if self.cursor >= self.end {
            self.playing = false;
            self.sync_url();
        } else {
            self.request_frame();
        }
        self.render();
    }

    /// One frame = the next (or previous) instant at which any shown model logs an event.
    fn step(&mut self, dir: i32) {
        self.playing = false;
        if dir > 0 {
            let next = self
                .runs
                .iter()
                .filter_map(|r| {
                    let ev = &r.run.events;
                    ev.get(ev.partition_point(|e| e.t <= self.cursor))
                        .map(|e| e.t)
                })
                .min();
            if let Some(t) = next {
                self.history.push(self.cursor);
                self.cursor = t;
            }
        } else if let Some(prev) = self.history.pop() {
            self.cursor = prev;
        } else {
            let prev = self
                .runs
                .iter()
                .filter_map(|r| {
                    let ev = &r.run.events;
                    let before = ev.partition_point(|e| e.t < self.cursor);
                    before.checked_sub(1).and_then(|i| ev.get(i)).map(|e| e.t)
                })
                .max();
            self.cursor = prev.unwrap_or(0);
        }
        self.render();
        self.sync_url();
    }

    fn on_scrub(&mut self) {
        self.playing = false;
        self.history.clear();
        self.cursor = self
            .controls
            .scrub
            .value()
            .parse::<u64>()
            .unwrap_or(0)
            .min(self.end);
        self.render();
        self.sync_url();
    }

    fn on_key(&mut self, e: &web_sys::Event) {
        let Some(k) = e.dyn_ref::<KeyboardEvent>() else {
            return;
        };
        let tag = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .map(|t| t.tag_name())
            .unwrap_or_default();
        if matches!(tag.as_str(), "INPUT" | "SELECT" | "TEXTAREA")
            || (tag == "BUTTON" && matches!(k.key().as_str(), " " | "Enter"))
        {
            return;
        }
        match k.key().as_str() {
            " " => self.toggle_play(),
            "ArrowRight" => self.step(1),
            "ArrowLeft" => self.step(-1),
            "+" | "=" => self.change_speed(1),
            "-" | "_" => self.change_speed(-1),
            _ => return,
        }
        // Handled here: keep mdBook's arrow-key page navigation from also firing.
        e.prevent_default();
        e.stop_propagation();
    }

    fn change_speed(&mut self, dir: i32) {
        let i = SPEEDS
            .iter()
            .position(|&s| s == self.cfg.speed)
            .unwrap_or(2) as i32;
        self.cfg.speed = SPEEDS[(i + dir).clamp(0, SPEEDS.len() as i32 - 1) as usize];
        self.controls.speed.set_value(&self.cfg.speed.to_string());
        self.sync_url();
    }

    fn sync_url(&mut self) {
        if !self.url_sync {
            return;
        }
        self.cfg.cursor_us = Some(self.cursor);
        let Some(w) = web_sys::window() else { return };
        let Ok(href) = w.location().href() else {
            return;
        };
        let Ok(url) = web_sys::Url::new(&href) else {
            return;
        };
        url.search_params().set("ww", &self.cfg.to_query());
        if let Ok(history) = w.history() {
            history
                .replace_state_with_url(&JsValue::NULL, "", Some(&url.href()))
                .ok();
        }
    }

    fn export(&self, json: bool) {
        let (body, mime, name) = if json {
            let models: Vec<_> = self
                .runs
                .iter()
                .map(|r| {
                    let kind = r.run.model.kind;
                    let lanes = r.timeline.lanes.len();
                    let names = (0..lanes).map(|i| lane_name(kind, lanes, i)).collect();
                    (kind.label(), names, &r.run, &r.timeline)
                })
                .collect();
            (
                export::chrome_trace(&models),
                "application/json",
                "waiting-well-trace.json",
            )
        } else {
            let models: Vec<_> = self
                .runs
                .iter()
                .map(|r| (r.run.model.kind.id(), &r.run))
                .collect();
            (export::csv(&models), "text/csv", "waiting-well-events.csv")
        };
        let parts = js_sys::Array::of1(&JsValue::from_str(&body));
        let bag = web_sys::BlobPropertyBag::new();
        bag.set_type(mime);
        let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &bag) else {
            return;
        };
        let Ok(href) = web_sys::Url::create_object_url_with_blob(&blob) else {
            return;
        };
        let old = self.download.href();
        if old.starts_with("blob:") {
            web_sys::Url::revoke_object_url(&old).ok();
        }
        self.download.set_href(&href);
        self.download.set_download(name);
        self.download
            .set_attribute("data-kind", if json { "json" } else { "csv" })
            .ok();
        self.download.click();
    }
}
