//! One mounted visualizer: builds its controls, runs the simulations when a control
//! changes, and draws the shared time cursor (play / pause / step / scrub / speed,
//! keyboard, reduced motion, `?ww=` URL state, exports).
//!
//! Leaves out: the pixels (draw.rs), the state format (config.rs), the models (sim crate).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use waiting_well_sim::{Metrics, ModelKind, Replay, Shown, Timeline, simulate, simulate_shown};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    CanvasRenderingContext2d, Document, HtmlAnchorElement, HtmlButtonElement, HtmlCanvasElement,
    HtmlElement, HtmlInputElement, HtmlSelectElement, KeyboardEvent,
};

use crate::config::{Applied, Config, FIELDS, Field, Kind, Parse, Place, SPEEDS};
use crate::draw::{self, Frame};
use crate::export;
use crate::text::{LaneKind, Lang, Msg, Text};
use crate::workers::{self, Job};

type Shared = Rc<RefCell<Viz>>;

/// One shown model: what the page computed from its run, and a replay of it for
/// the window the canvas draws. Neither the log nor the whole timeline is kept:
/// a run is a pure function of its inputs, so the replay (and an export) runs
/// the same inputs again.
struct ModelRun {
    shown: Shown,
    replay: RefCell<Replay>,
}

impl ModelRun {
    fn new(shown: Shown) -> ModelRun {
        // `shown` has the clamped inputs; clamping them again changes nothing.
        let replay = Replay::new(shown.model, shown.workload, &Config::limits());
        ModelRun {
            shown,
            replay: RefCell::new(replay),
        }
    }

    fn kind(&self) -> ModelKind {
        self.shown.model.kind
    }

    fn metrics(&self) -> &Metrics {
        &self.shown.metrics
    }
}

struct PanelView {
    section: HtmlElement,
    title: HtmlElement,
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    throughput: HtmlElement,
    details: HtmlElement,
}

/// The element a [`Field`] is edited with.
enum Widget {
    Input(HtmlInputElement),
    Checkbox(HtmlInputElement),
    Select(HtmlSelectElement),
}

impl Widget {
    fn element(&self) -> &HtmlElement {
        match self {
            Widget::Input(e) | Widget::Checkbox(e) => e,
            Widget::Select(e) => e,
        }
    }

    /// The value in the field's text form (see `Field::text`).
    fn text(&self) -> String {
        match self {
            Widget::Input(e) => e.value(),
            Widget::Checkbox(e) => if e.checked() { "1" } else { "0" }.into(),
            Widget::Select(e) => e.value(),
        }
    }

    fn set_text(&self, text: &str) {
        match self {
            Widget::Input(e) => e.set_value(text),
            Widget::Checkbox(e) => e.set_checked(text == "1"),
            Widget::Select(e) => e.set_value(text),
        }
    }

    /// Show or hide the control with its label.
    fn show(&self, on: bool) {
        if let Some(wrap) = self
            .element()
            .parent_element()
            .and_then(|p| p.dyn_into::<HtmlElement>().ok())
        {
            wrap.set_hidden(!on);
        }
    }
}

/// One row of the field table and its control on the page.
struct Control {
    field: &'static Field,
    widget: Widget,
}

/// The playback bar: buttons, the time slider and its readout, the export link.
struct Transport {
    back: HtmlButtonElement,
    play: HtmlButtonElement,
    forward: HtmlButtonElement,
    scrub: HtmlInputElement,
    time_label: HtmlElement,
    export_json: HtmlButtonElement,
    export_csv: HtmlButtonElement,
    download: HtmlAnchorElement,
}

pub struct Viz {
    doc: Document,
    /// The page's language: every word shown is in it.
    lang: Lang,
    root: HtmlElement,
    cfg: Config,
    url_sync: bool,
    reduced_motion: bool,
    controls: Vec<Control>,
    transport: Transport,
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
    /// The page's text colour (read when the theme changes, not every frame).
    text_colour: String,
    /// Whether the play button shows "Pause" (rewritten only when that changes).
    button_shows_playing: std::cell::Cell<Option<bool>>,
    /// Itself, for the end of a run simulated on the workers.
    me: Weak<RefCell<Viz>>,
    /// Counts the runs asked for: a run's results are shown only if no newer
    /// one was asked for meanwhile.
    generation: u64,
    /// A run is being simulated on the workers (the panels are empty till then).
    busy: bool,
    /// Where to put the cursor when the next run is in (the URL's `t`).
    restore_cursor: Option<u64>,
    /// The URL was to be updated while busy: update it when the run is in.
    url_after_run: bool,
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
    let e = append(doc, parent, tag, class)?;
    e.set_text_content(Some(t));
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

fn select(
    doc: &Document,
    parent: &HtmlElement,
    id: &str,
    label: &str,
    options: &[(&str, String)],
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

/// The labelled control for `field`, built from its row of the table.
fn widget(
    doc: &Document,
    parent: &HtmlElement,
    id: &str,
    field: &Field,
    lang: Lang,
) -> Result<Widget, JsValue> {
    let id = format!("{id}-{}", field.key);
    let label = field.label.get(lang);
    let number = |min: String, max: String, step: &str| -> Result<Widget, JsValue> {
        let input: HtmlInputElement = doc.create_element("input")?.dyn_into()?;
        input.set_type("number");
        input.set_attribute("min", &min)?;
        input.set_attribute("max", &max)?;
        input.set_attribute("step", step)?;
        input.set_attribute("inputmode", "decimal")?;
        labelled(doc, parent, &id, label, &input)?;
        Ok(Widget::Input(input))
    };
    match &field.kind {
        Kind::Int { min, max, .. } => number(min.to_string(), max.to_string(), "1"),
        Kind::Float { min, max, .. } => number(min.to_string(), max.to_string(), "any"),
        Kind::Choice { options, .. } => {
            let options: Vec<(&str, String)> = options()
                .into_iter()
                .map(|(value, name)| (value, name.get(lang).to_string()))
                .collect();
            Ok(Widget::Select(select(doc, parent, &id, label, &options)?))
        }
        Kind::Toggle { .. } => {
            let input: HtmlInputElement = doc.create_element("input")?.dyn_into()?;
            input.set_type("checkbox");
            labelled(doc, parent, &id, label, &input)?;
            Ok(Widget::Checkbox(input))
        }
        Kind::Speed => {
            let values: Vec<String> = SPEEDS.iter().map(|s| s.to_string()).collect();
            let options: Vec<(&str, String)> = values
                .iter()
                .map(|v| (v.as_str(), format!("×{v}")))
                .collect();
            Ok(Widget::Select(select(doc, parent, &id, label, &options)?))
        }
    }
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

fn lane_name(kind: ModelKind, lanes: usize, i: usize) -> Msg {
    let (kind, index) = match kind {
        ModelKind::EventLoop | ModelKind::BlockedLoop => (LaneKind::Loop, None),
        ModelKind::LoopPerWorker => (LaneKind::Loop, Some(i)),
        ModelKind::GilThreads => (LaneKind::Thread, Some(i)),
        ModelKind::SyncPool | ModelKind::WorkStealing if lanes > 9 => {
            return Msg::LaneShort { index: i };
        }
        ModelKind::SyncPool | ModelKind::WorkStealing => (LaneKind::Worker, Some(i)),
    };
    Msg::Lane { kind, index }
}

/// Utilisation per lane, e.g. "worker 0 52 %, worker 1 48 %" (mean, min and max past 8 lanes).
fn lane_list(kind: ModelKind, shares: &[f64], mean: f64, lang: Lang) -> String {
    if shares.len() > 8 {
        let min = shares.iter().copied().fold(f64::INFINITY, f64::min);
        let max = shares.iter().copied().fold(0.0, f64::max);
        return Msg::LaneSpread {
            mean: mean * 100.0,
            min: min * 100.0,
            max: max * 100.0,
        }
        .get(lang);
    }
    let lanes = shares.len();
    let parts: Vec<String> = shares
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {:.0} %", lane_name(kind, lanes, i).get(lang), v * 100.0))
        .collect();
    parts.join(", ")
}

/// The panel's detail rows (term, description) for one run.
fn detail_rows(r: &ModelRun, lang: Lang) -> Vec<(Text, String)> {
    let kind = r.kind();
    let m = r.metrics();
    let busy: f64 = m.lane_busy.iter().sum::<f64>() / m.lane_busy.len().max(1) as f64;
    let mut rows = vec![
        (
            Text::Latency,
            format!("{:.1} / {:.1} / {:.1} ms", m.p50_ms, m.p95_ms, m.p99_ms),
        ),
        (
            Text::LittlesLaw,
            format!(
                "L = {:.2} ≈ λW = {:.1}/s × {:.1} ms = {:.2}",
                m.mean_in_system,
                m.arrival_rate_per_s,
                m.mean_time_in_system_s * 1e3,
                m.arrival_rate_per_s * m.mean_time_in_system_s
            ),
        ),
        (Text::CpuBusy, lane_list(kind, &m.lane_busy, busy, lang)),
        (Text::MostQueued, m.max_queue.to_string()),
    ];
    if kind.holds_worker() {
        let held: f64 = m.lane_held.iter().sum::<f64>() / m.lane_held.len().max(1) as f64;
        rows.push((
            Text::HeldByRequest,
            lane_list(kind, &m.lane_held, held, lang),
        ));
    }
    if kind == ModelKind::GilThreads {
        rows.push((
            Text::GilWaitTerm,
            Msg::GilWaitValue {
                ms: m.gil_wait_ms,
                forced: m.forced_switches.into(),
            }
            .get(lang),
        ));
    }
    if kind == ModelKind::BlockedLoop {
        rows.push((
            Text::LoopBlockedTerm,
            Msg::LoopBlockedValue {
                ms: m.loop_blocked_ms,
                delayed: m.delayed_by_block as usize,
                ids: m.first_delayed.clone(),
                more: m.delayed_by_block as usize > m.first_delayed.len(),
            }
            .get(lang),
        ));
    }
    if r.shown.truncated {
        rows.push((Text::Note, Text::Truncated.get(lang).into()));
    }
    rows
}

/// One model's run, simulated on the page's own thread.
fn simulate_here(job: &Job) -> Shown {
    simulate_shown(job.model, job.workload, &Config::limits())
}

/// The first frame of a run of `cfg` ending at `end` µs: how much time the
/// canvas shows (four requests' worth, at least 20 ms, at most 20 s, at most
/// the whole run) and where the cursor starts (two of those in, at most the end).
pub(crate) fn first_frame(cfg: &Config, end: u64) -> (u64, u64) {
    let per_request = ((cfg.cpu_ms + cfg.wait_ms) * 1e3) as u64;
    let window = (per_request * 4).clamp(20_000, 20_000_000).min(end.max(1));
    (window, (window * 2).min(end))
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
    let lang = Lang::of_page(&doc);
    let Some(mut cfg) = Config::preset(preset) else {
        let msg = Msg::UnknownPreset {
            preset: preset.into(),
            known: crate::config::PRESETS.join(", "),
        }
        .get(lang);
        root.set_text_content(Some(&msg));
        return Err(JsValue::from_str(&msg));
    };
    let url_sync = root.get_attribute("data-url").as_deref() == Some("query");
    let mut notes = Vec::new();
    if url_sync && let Some(q) = query_state(&window) {
        notes = cfg.apply_query(&q);
    }
    notes.extend(cfg.clamp());
    let id = match root.id() {
        id if id.is_empty() => format!("ww-viz-{preset}"),
        id => id,
    };
    prepare_root(&root, lang)?;

    let form = append(&doc, &root, "div", "ww-viz-controls")?;
    let mut controls = build_controls(&doc, &form, &id, Place::Form, lang)?;
    let clamp_msg = append(&doc, &root, "p", "ww-viz-clamp")?;
    clamp_msg.set_attribute("role", "status")?;
    let bar = append(&doc, &root, "div", "ww-viz-transport")?;
    let (transport, speed) = build_transport(&doc, &bar, &id, lang)?;
    controls.extend(speed);
    let legend = legend(&doc, lang)?;
    root.append_child(&legend)?;
    let panels = build_panels(&doc, &root, &id, lang)?;
    let summary = append(&doc, &root, "p", "ww-viz-summary")?;
    summary.set_attribute("aria-live", "polite")?;

    let viz = Rc::new(RefCell::new(Viz {
        doc,
        lang,
        root: root.clone(),
        cfg,
        url_sync,
        reduced_motion: prefers_reduced_motion(&window),
        controls,
        transport,
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
        text_colour: String::new(),
        button_shows_playing: std::cell::Cell::new(None),
        me: Weak::new(),
        generation: 0,
        busy: false,
        restore_cursor: None,
        url_after_run: false,
    }));
    viz.borrow_mut().me = Rc::downgrade(&viz);
    wire(&viz, &window, &root)?;
    redraw_on_theme_change(&viz)?;
    viz.borrow_mut().first_draw(&notes);
    Ok(())
}

/// A new `tag.class` element appended to `parent`.
fn append(
    doc: &Document,
    parent: &HtmlElement,
    tag: &str,
    class: &str,
) -> Result<HtmlElement, JsValue> {
    let e = el(doc, tag, class)?;
    parent.append_child(&e)?;
    Ok(e)
}

fn prefers_reduced_motion(window: &web_sys::Window) -> bool {
    window
        .match_media("(prefers-reduced-motion: reduce)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches())
}

/// Empty the embed and make it one focusable, labelled group (keys act on it).
fn prepare_root(root: &HtmlElement, lang: Lang) -> Result<(), JsValue> {
    root.set_text_content(None);
    root.class_list().add_1("ww-viz-mounted")?;
    root.set_attribute("role", "group")?;
    root.set_attribute("aria-label", Text::Visualizer.get(lang))?;
    root.set_tab_index(0);
    Ok(())
}

/// A labelled control for every field of [`FIELDS`] placed at `place`, in table order.
fn build_controls(
    doc: &Document,
    parent: &HtmlElement,
    id: &str,
    place: Place,
    lang: Lang,
) -> Result<Vec<Control>, JsValue> {
    FIELDS
        .iter()
        .filter(|field| field.place == place)
        .map(|field| {
            Ok(Control {
                field,
                widget: widget(doc, parent, id, field, lang)?,
            })
        })
        .collect()
}

/// Step back, play, step forward, the time slider, the transport's fields (speed),
/// the time readout and the exports.
fn build_transport(
    doc: &Document,
    bar: &HtmlElement,
    id: &str,
    lang: Lang,
) -> Result<(Transport, Vec<Control>), JsValue> {
    let t = |text: Text| text.get(lang);
    let back = button(doc, bar, "◀", t(Text::StepBack), "ww-viz-step-back")?;
    let play = button(doc, bar, "▶", t(Text::Play), "ww-viz-play")?;
    let forward = button(doc, bar, "▶", t(Text::StepForward), "ww-viz-step-forward")?;
    let scrub: HtmlInputElement = doc.create_element("input")?.dyn_into()?;
    scrub.set_type("range");
    scrub.set_attribute("min", "0")?;
    scrub.set_attribute("step", "1")?;
    scrub.set_class_name("ww-viz-scrub");
    labelled(doc, bar, &format!("{id}-scrub"), t(Text::Time), &scrub)?;
    let fields = build_controls(doc, bar, id, Place::Transport, lang)?;
    let time_label = text(doc, bar, "span", "ww-viz-time", "")?;
    time_label.set_attribute("aria-live", "off")?;
    let export_json = button(doc, bar, "", t(Text::ExportTrace), "ww-viz-export-json")?;
    let export_csv = button(doc, bar, "", t(Text::ExportCsv), "ww-viz-export-csv")?;
    let download: HtmlAnchorElement = doc.create_element("a")?.dyn_into()?;
    download.set_class_name("ww-viz-download");
    download.set_hidden(true);
    bar.append_child(&download)?;
    let transport = Transport {
        back,
        play,
        forward,
        scrub,
        time_label,
        export_json,
        export_csv,
        download,
    };
    Ok((transport, fields))
}

/// The colour key: one swatch per span kind.
fn legend(doc: &Document, lang: Lang) -> Result<HtmlElement, JsValue> {
    let legend = el(doc, "ul", "ww-viz-legend")?;
    for (colour, name) in [
        (draw::CPU, Text::Running),
        (draw::WAIT, Text::WaitingIo),
        (draw::QUEUED, Text::Queued),
        (draw::BLOCKED, Text::LoopBlocked),
        (draw::GIL_WAIT, Text::WaitingGil),
    ] {
        let li = el(doc, "li", "")?;
        let sw = el(doc, "span", "ww-viz-swatch")?;
        sw.style().set_property("background", colour)?;
        sw.set_attribute("aria-hidden", "true")?;
        li.append_child(&sw)?;
        li.append_child(&doc.create_text_node(name.get(lang)))?;
        legend.append_child(&li)?;
    }
    Ok(legend)
}

/// Two panels (the second is hidden when nothing is compared).
fn build_panels(
    doc: &Document,
    root: &HtmlElement,
    id: &str,
    lang: Lang,
) -> Result<Vec<PanelView>, JsValue> {
    let panels_el = append(doc, root, "div", "ww-viz-panels")?;
    (0..2)
        .map(|i| {
            let section = append(doc, &panels_el, "section", "ww-viz-panel")?;
            let title = text(doc, &section, "h4", "ww-viz-title", "")?;
            title.set_id(&format!("{id}-title-{i}"));
            let canvas: HtmlCanvasElement = doc.create_element("canvas")?.dyn_into()?;
            canvas.set_class_name("ww-viz-canvas");
            canvas.set_attribute("role", "img")?;
            section.append_child(&canvas)?;
            let ctx: CanvasRenderingContext2d = canvas
                .get_context("2d")?
                .ok_or("no 2d context")?
                .dyn_into()?;
            let line = append(doc, &section, "p", "ww-viz-metric")?;
            let throughput = el(doc, "span", "ww-viz-throughput")?;
            line.append_child(&doc.create_text_node(Text::Throughput.get(lang)))?;
            line.append_child(&throughput)?;
            line.append_child(&doc.create_text_node(Text::RequestsPerSecond.get(lang)))?;
            let details = append(doc, &section, "dl", "ww-viz-details")?;
            Ok(PanelView {
                section,
                title,
                canvas,
                ctx,
                throughput,
                details,
            })
        })
        .collect()
}

/// Every event the visualizer answers: its controls, the transport, keys, resizing,
/// and the animation frame callback.
fn wire(viz: &Shared, window: &web_sys::Window, root: &HtmlElement) -> Result<(), JsValue> {
    {
        let v = viz.borrow();
        for c in &v.controls {
            let handler: fn(&mut Viz, &web_sys::Event) = match c.field.place {
                Place::Form => |v, _| v.on_control_change(),
                Place::Transport => |v, _| v.on_transport_change(),
            };
            listen(c.widget.element(), "change", viz, handler)?;
        }
        let t = &v.transport;
        listen(&t.scrub, "input", viz, |v, _| v.on_scrub())?;
        listen(&t.play, "click", viz, |v, _| v.toggle_play())?;
        listen(&t.back, "click", viz, |v, _| v.step(-1))?;
        listen(&t.forward, "click", viz, |v, _| v.step(1))?;
        listen(&t.export_json, "click", viz, |v, _| v.export(true))?;
        listen(&t.export_csv, "click", viz, |v, _| v.export(false))?;
    }
    listen(root, "keydown", viz, |v, e| v.on_key(e))?;
    listen(window, "resize", viz, |v, _| v.render())?;
    let tick_viz = viz.clone();
    let tick = Closure::<dyn FnMut(f64)>::new(move |ts: f64| {
        if let Ok(mut v) = tick_viz.try_borrow_mut() {
            v.on_frame(ts);
        }
    });
    viz.borrow_mut().tick = Some(tick.as_ref().unchecked_ref::<js_sys::Function>().clone());
    tick.forget();
    Ok(())
}

/// Redraw when the reader switches mdBook theme (a class on <html>): the canvas
/// takes its text colour from the page.
fn redraw_on_theme_change(viz: &Shared) -> Result<(), JsValue> {
    let theme_viz = viz.clone();
    let on_theme = Closure::<dyn FnMut()>::new(move || {
        if let Ok(mut v) = theme_viz.try_borrow_mut() {
            v.read_text_colour();
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
    Ok(())
}

/// Most events an export writes (both models together): about what 100,000
/// requests through two models log. A million requests' trace would be over a
/// gigabyte of text, past what a browser tab holds in one string.
const EXPORT_MAX_EVENTS: usize = 2_500_000;

/// `performance.now()`, ms (0 where there is none).
fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Most frame times kept between two reads (the bench reads them every few seconds).
const FRAME_TIMES_KEPT: usize = 10_000;

thread_local! {
    /// Time each animation frame spent in the visualizer (advance + draw), ms.
    static FRAME_TIMES: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

fn record_frame_time(ms: f64) {
    FRAME_TIMES.with_borrow_mut(|times| {
        if times.len() < FRAME_TIMES_KEPT {
            times.push(ms);
        }
    });
}

/// The frame times recorded since the last call (for the benchmark), emptied.
pub fn take_frame_times() -> Vec<f64> {
    FRAME_TIMES.with_borrow_mut(std::mem::take)
}

fn query_state(window: &web_sys::Window) -> Option<String> {
    let search = window.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("ww")
}

impl Viz {
    /// Show the state the page opened with, its notes, and the first frame (at the
    /// URL's cursor, if it had one).
    fn first_draw(&mut self, notes: &[Msg]) {
        self.read_text_colour();
        self.write_controls();
        self.show_notes(notes);
        self.restore_cursor = self.cfg.cursor_us;
        self.simulate();
        self.render();
    }

    /// Read the controls at `place` into the state, clamped; a note per clamped
    /// or unreadable value (which keeps the value it had).
    fn read_controls(&mut self, place: Place) -> Vec<Msg> {
        let mut notes = Vec::new();
        for c in self.controls.iter().filter(|c| c.field.place == place) {
            let text = c.widget.text();
            match c.field.apply(&mut self.cfg, &text, Parse::Lenient) {
                Some(Applied::AsGiven) => {}
                Some(Applied::Clamped(note)) => notes.push(note),
                None => notes.push(Msg::KeptAt {
                    field: c.field.name,
                    kept: c.field.text(&self.cfg),
                    given: text.chars().take(40).collect(),
                }),
            }
        }
        notes
    }

    /// Show the state in every control, and only the controls that matter for it.
    fn write_controls(&self) {
        for c in &self.controls {
            c.widget.set_text(&c.field.text(&self.cfg));
            c.widget.show((c.field.shown)(&self.cfg));
        }
    }

    fn show_notes(&self, notes: &[Msg]) {
        let notes: Vec<String> = notes.iter().map(|n| n.get(self.lang)).collect();
        self.clamp_msg.set_text_content(Some(&notes.join("; ")));
        self.clamp_msg.set_hidden(notes.is_empty());
    }

    fn on_control_change(&mut self) {
        let notes = self.read_controls(Place::Form);
        self.write_controls();
        self.show_notes(&notes);
        self.simulate();
        self.render();
        self.sync_url();
    }

    /// The speed changed: playback only, no new run.
    fn on_transport_change(&mut self) {
        self.read_controls(Place::Transport);
        self.sync_url();
    }

    /// Rerun every shown model on the current workload and reset the cursor:
    /// at once, or, for a run of many requests, on the worker threads (the
    /// panels stay empty and the visualizer says it is busy until it is in).
    fn simulate(&mut self) {
        let workload = self.cfg.workload();
        let jobs: Vec<Job> = (self.cfg.models().into_iter())
            .map(|kind| Job {
                model: self.cfg.spec(kind),
                workload,
            })
            .collect();
        self.generation += 1;
        if workload.requests < workers::FROM_REQUESTS {
            self.set_busy(None); // a bigger run still on the workers is dropped
            self.show_runs(jobs.iter().map(simulate_here).collect());
            return;
        }
        self.show_runs(Vec::new());
        self.set_busy(Some(Msg::Simulating {
            requests: workload.requests,
            models: jobs.len(),
        }));
        let (me, generation) = (self.me.clone(), self.generation);
        wasm_bindgen_futures::spawn_local(async move {
            let result = workers::simulate(&jobs).await;
            let Some(viz) = me.upgrade() else { return };
            let mut viz = viz.borrow_mut();
            if viz.generation != generation {
                return; // a newer run was asked for meanwhile
            }
            let shown = result.unwrap_or_else(|why| {
                web_sys::console::warn_1(
                    &format!("Waiting Well: no worker threads ({why}); simulating here").into(),
                );
                jobs.iter().map(simulate_here).collect()
            });
            viz.set_busy(None);
            viz.show_runs(shown);
            viz.render();
            if std::mem::take(&mut viz.url_after_run) {
                viz.sync_url();
            }
        });
    }

    /// Show these runs from their start (or from the cursor the URL asked for).
    fn show_runs(&mut self, shown: Vec<Shown>) {
        self.runs = shown.into_iter().map(ModelRun::new).collect();
        self.end = self.runs.iter().map(|r| r.shown.end_us).max().unwrap_or(0);
        (self.window, self.cursor) = first_frame(&self.cfg, self.end);
        if !self.runs.is_empty()
            && let Some(t) = self.restore_cursor.take()
        {
            self.cursor = t.min(self.end);
        }
        self.history.clear();
        self.transport
            .scrub
            .set_attribute("max", &self.end.to_string())
            .ok();
        self.write_metrics();
    }

    /// Say that a run is being simulated (`Some`, in the summary, and
    /// `aria-busy` on the visualizer), or that it is in (`None`).
    fn set_busy(&mut self, what: Option<Msg>) {
        self.busy = what.is_some();
        if let Some(msg) = what {
            self.summary.set_text_content(Some(&msg.get(self.lang)));
            self.root.set_attribute("aria-busy", "true").ok();
        } else {
            self.root.remove_attribute("aria-busy").ok();
        }
    }

    fn write_metrics(&self) {
        let lang = self.lang;
        let mut summary = Vec::new();
        for (i, panel) in self.panels.iter().enumerate() {
            let Some(r) = self.runs.get(i) else {
                panel.section.set_hidden(true);
                continue;
            };
            panel.section.set_hidden(false);
            let kind = r.kind();
            let m = r.metrics();
            panel
                .title
                .set_text_content(Some(Text::Model(kind).get(lang)));
            panel
                .throughput
                .set_text_content(Some(&format!("{:.1}", m.throughput_per_s)));
            panel.details.set_text_content(None);
            for (k, v) in detail_rows(r, lang) {
                let dt = self.doc.create_element("dt").ok();
                let dd = self.doc.create_element("dd").ok();
                if let (Some(dt), Some(dd)) = (dt, dd) {
                    dt.set_text_content(Some(k.get(lang)));
                    dd.set_text_content(Some(&v));
                    panel.details.append_child(&dt).ok();
                    panel.details.append_child(&dd).ok();
                }
            }
            summary.push(
                Msg::Summary {
                    model: kind,
                    throughput: m.throughput_per_s,
                    p50_ms: m.p50_ms,
                    p99_ms: m.p99_ms,
                }
                .get(lang),
            );
            let aria = Msg::TimelineAria {
                model: kind,
                multi: kind.lanes(2) > 1,
            };
            panel
                .canvas
                .set_attribute("aria-label", &aria.get(lang))
                .ok();
        }
        if let [a, b] = &self.runs[..] {
            let ratio = b.metrics().throughput_per_s / a.metrics().throughput_per_s.max(1e-9);
            summary.push(Msg::Ratio { ratio }.get(lang));
        }
        self.summary.set_text_content(Some(&summary.join(" ")));
    }

    /// The canvas draws text and grid in the page's text colour.
    fn read_text_colour(&mut self) {
        self.text_colour = web_sys::window()
            .and_then(|w| w.get_computed_style(&self.root).ok().flatten())
            .and_then(|s| s.get_property_value("color").ok())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "#333".into());
    }

    fn render(&self) {
        let colour = &self.text_colour;
        let dpr = web_sys::window()
            .map_or(1.0, |w| w.device_pixel_ratio())
            .max(1.0);
        for (panel, r) in self.panels.iter().zip(&self.runs) {
            let width = match panel.section.client_width() {
                w if w > 0 => w as f64,
                _ => 600.0,
            };
            let kind = r.kind();
            let lanes = r.shown.lanes as usize;
            let lang = self.lang;
            let names = move |i: usize| lane_name(kind, lanes, i).get(lang);
            let mut replay = r.replay.borrow_mut();
            let frame = Frame {
                lang,
                timeline: replay.window(self.cursor.saturating_sub(self.window), self.cursor),
                lane_names: &names,
                cursor: self.cursor,
                window: self.window,
                text_colour: colour,
                max_queued: r.metrics().max_queue,
                max_waiting: r.metrics().max_in_io,
            };
            draw::paint(&panel.canvas, &panel.ctx, width, dpr, &frame);
            panel
                .canvas
                .style()
                .set_property("height", &format!("{}px", draw::canvas_height(lanes)))
                .ok();
        }
        self.transport.scrub.set_value(&self.cursor.to_string());
        let readout = Msg::TimeReadout {
            at: fmt_precise(self.cursor),
            of: draw::fmt_ms(self.end),
        };
        self.transport
            .time_label
            .set_text_content(Some(&readout.get(self.lang)));
        if self.button_shows_playing.replace(Some(self.playing)) != Some(self.playing) {
            let (glyph, name) = if self.playing {
                ("❙❙", Text::Pause)
            } else {
                ("▶", Text::Play)
            };
            set_button_text(&self.doc, &self.transport.play, glyph, name.get(self.lang)).ok();
        }
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
        let started = now_ms();
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
        record_frame_time(now_ms() - started);
    }

    /// One frame = the next (or previous) instant at which any shown model logs an event.
    fn step(&mut self, dir: i32) {
        self.playing = false;
        if dir > 0 {
            let next = self
                .runs
                .iter()
                .filter_map(|r| r.replay.borrow_mut().after(self.cursor))
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
                .filter_map(|r| r.replay.borrow_mut().before(self.cursor))
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
            .transport
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
        self.write_controls();
        self.sync_url();
    }

    fn sync_url(&mut self) {
        if !self.url_sync {
            return;
        }
        if self.busy {
            self.url_after_run = true; // the cursor is not known yet
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

    /// Download the shown runs' logs: each run again from its (clamped) inputs,
    /// the same log the page's numbers came from, since the page keeps none.
    fn export(&self, json: bool) {
        if self.runs.is_empty() {
            return; // still simulating
        }
        let events: usize = self.runs.iter().map(|r| r.shown.events).sum();
        if events > EXPORT_MAX_EVENTS {
            self.show_notes(&[Msg::ExportTooBig {
                max: EXPORT_MAX_EVENTS,
                events,
            }]);
            return;
        }
        let logs: Vec<_> = self
            .runs
            .iter()
            .map(|r| simulate(r.shown.model, r.shown.workload, &Config::limits()))
            .collect();
        let (body, mime, name) = if json {
            // The trace's slices are the whole timeline's spans.
            let timelines: Vec<Timeline> = logs.iter().map(Timeline::from_run).collect();
            let models: Vec<_> = self
                .runs
                .iter()
                .zip(logs.iter().zip(&timelines))
                .map(|(r, (run, timeline))| {
                    let kind = r.kind();
                    let lanes = r.shown.lanes as usize;
                    let names = (0..lanes)
                        .map(|i| lane_name(kind, lanes, i).get(self.lang))
                        .collect();
                    (Text::Model(kind).get(self.lang), names, run, timeline)
                })
                .collect();
            (
                export::chrome_trace(&models, self.lang),
                "application/json",
                "waiting-well-trace.json",
            )
        } else {
            let models: Vec<_> = logs.iter().map(|run| (run.model.kind.id(), run)).collect();
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
        let old = self.transport.download.href();
        if old.starts_with("blob:") {
            web_sys::Url::revoke_object_url(&old).ok();
        }
        self.transport.download.set_href(&href);
        self.transport.download.set_download(name);
        self.transport
            .download
            .set_attribute("data-kind", if json { "json" } else { "csv" })
            .ok();
        self.transport.download.click();
    }
}
