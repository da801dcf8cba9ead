//! Painting one model's timeline on a canvas: a lane per worker / loop thread with
//! coloured spans, two step charts (requests queued, requests in I/O wait), and the
//! time window ending at the shared cursor.
//!
//! Colours are Okabe-Ito (colour-blind safe); text and grid take the page's text
//! colour, and the canvas is transparent, so every mdBook theme stays legible.
//! Leaves out: layout of the controls (ui.rs).

use waiting_well_sim::{SpanKind, Timeline};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use crate::text::{Lang, Msg, Text};

pub const CPU: &str = "#E69F00"; // orange
pub const WAIT: &str = "#56B4E9"; // sky blue
pub const QUEUED: &str = "#CC79A7"; // reddish purple
pub const BLOCKED: &str = "#D55E00"; // vermillion
pub const GIL_WAIT: &str = "#0072B2"; // blue

const GUTTER: f64 = 56.0;
const CHART_H: f64 = 28.0;

pub fn span_colour(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Cpu => CPU,
        SpanKind::Wait => WAIT,
        SpanKind::Block => BLOCKED,
        SpanKind::GilWait => GIL_WAIT,
    }
}

/// Most rows of lanes drawn: past this, several lanes share a one-pixel row (a
/// 1,000-worker pool is 400 rows), so the canvas stays a screen high and a frame
/// paints a bounded area.
const MAX_ROWS: usize = 400;

/// CSS height of a canvas for `lanes` lanes.
pub fn canvas_height(lanes: usize) -> f64 {
    let rows = rows(lanes);
    rows as f64 * row_height(rows) + 2.0 * (CHART_H + 6.0) + 22.0
}

fn rows(lanes: usize) -> usize {
    lanes.clamp(1, MAX_ROWS)
}

fn row_height(rows: usize) -> f64 {
    (160.0 / rows as f64).clamp(1.0, 20.0)
}

pub struct Frame<'a> {
    /// The language of the canvas's words (lane names come already in it).
    pub lang: Lang,
    pub timeline: &'a Timeline,
    pub lane_names: &'a dyn Fn(usize) -> String,
    pub cursor: u64,
    pub window: u64,
    pub text_colour: &'a str,
    pub max_queued: u32,
    pub max_waiting: u32,
}

/// Paint `frame` on `canvas` (sized to `css_width` CSS pixels at `dpr`).
pub fn paint(
    canvas: &HtmlCanvasElement,
    ctx: &CanvasRenderingContext2d,
    css_width: f64,
    dpr: f64,
    f: &Frame,
) {
    let lanes = f.timeline.lanes.len().max(1);
    let css_h = canvas_height(lanes);
    let (w_px, h_px) = (
        (css_width * dpr).round() as u32,
        (css_h * dpr).round() as u32,
    );
    if canvas.width() != w_px || canvas.height() != h_px {
        canvas.set_width(w_px);
        canvas.set_height(h_px);
    }
    let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
    ctx.clear_rect(0.0, 0.0, css_width, css_h);
    let plot_w = (css_width - GUTTER - 4.0).max(10.0);
    let from = f.cursor.saturating_sub(f.window);
    let x_of = |t: u64| GUTTER + (t.saturating_sub(from)) as f64 / f.window as f64 * plot_w;
    ctx.set_font("11px sans-serif");
    ctx.set_text_baseline("middle");
    ctx.set_text_align("right");

    let rows = rows(lanes);
    let lh = row_height(rows);
    let row_of = |lane: usize| (lane * rows / lanes) as f64 * lh;
    // Alternate rows shaded, in one path.
    ctx.set_global_alpha(0.08);
    ctx.set_fill_style_str(f.text_colour);
    ctx.begin_path();
    for row in (0..rows).step_by(2) {
        ctx.rect(GUTTER, row as f64 * lh, plot_w, lh);
    }
    ctx.fill();
    ctx.set_global_alpha(1.0);
    // Spans: one path per colour, so a frame sets four fill styles whatever the
    // number of lanes and spans (each style change parses a colour string).
    let (pad, h) = if lh >= 3.0 {
        (1.0, lh - 2.0)
    } else {
        (0.0, lh)
    };
    for kind in [
        SpanKind::Cpu,
        SpanKind::Wait,
        SpanKind::Block,
        SpanKind::GilWait,
    ] {
        ctx.begin_path();
        let mut any = false;
        for (i, lane) in f.timeline.lanes.iter().enumerate() {
            let y = row_of(i);
            for s in Timeline::visible(lane, from, f.cursor) {
                if s.kind == kind {
                    let x0 = x_of(s.start.max(from));
                    let x1 = x_of(s.end.min(f.cursor));
                    ctx.rect(x0, y + pad, (x1 - x0).max(1.0), h);
                    any = true;
                }
            }
        }
        if any {
            ctx.set_fill_style_str(span_colour(kind));
            ctx.fill();
        }
    }
    ctx.set_fill_style_str(f.text_colour);
    for i in 0..lanes {
        if lh >= 9.0 || i == 0 || i + 1 == lanes {
            ctx.fill_text(&(f.lane_names)(i), GUTTER - 4.0, row_of(i) + lh / 2.0)
                .ok();
        }
    }
    let mut y = rows as f64 * lh;
    y += 6.0;
    step_chart(
        ctx,
        f,
        &f.timeline.queued,
        f.max_queued,
        QUEUED,
        Text::QueuedChart.get(f.lang),
        y,
        plot_w,
        &x_of,
    );
    y += CHART_H + 6.0;
    step_chart(
        ctx,
        f,
        &f.timeline.waiting_io,
        f.max_waiting,
        WAIT,
        Text::InIoChart.get(f.lang),
        y,
        plot_w,
        &x_of,
    );
    y += CHART_H + 4.0;

    // Time axis: the window's two ends, relative to the cursor.
    ctx.set_fill_style_str(f.text_colour);
    ctx.set_text_baseline("top");
    ctx.set_text_align("left");
    ctx.fill_text(&format!("−{}", fmt_ms(f.window)), GUTTER, y)
        .ok();
    ctx.set_text_align("right");
    ctx.fill_text(&format!("t = {}", fmt_ms(f.cursor)), GUTTER + plot_w, y)
        .ok();
    ctx.set_stroke_style_str(f.text_colour);
    ctx.set_line_width(1.0);
    ctx.begin_path();
    ctx.move_to(GUTTER + plot_w, 0.0);
    ctx.line_to(GUTTER + plot_w, y);
    ctx.stroke();
}

#[allow(clippy::too_many_arguments)]
fn step_chart(
    ctx: &CanvasRenderingContext2d,
    f: &Frame,
    series: &[(u64, u32)],
    max: u32,
    colour: &str,
    label: &str,
    top: f64,
    plot_w: f64,
    x_of: &dyn Fn(u64) -> f64,
) {
    let from = f.cursor.saturating_sub(f.window);
    let scale = CHART_H / max.max(1) as f64;
    ctx.set_fill_style_str(colour);
    let first = series.partition_point(|&(t, _)| t <= from);
    let mut value = if first == 0 { 0 } else { series[first - 1].1 };
    let mut x = GUTTER;
    for &(t, v) in series[first..].iter().take_while(|&&(t, _)| t <= f.cursor) {
        let nx = x_of(t);
        if value > 0 {
            let h = value as f64 * scale;
            ctx.fill_rect(x, top + CHART_H - h, (nx - x).max(0.5), h);
        }
        x = nx;
        value = v;
    }
    if value > 0 {
        let h = value as f64 * scale;
        ctx.fill_rect(x, top + CHART_H - h, (GUTTER + plot_w - x).max(0.5), h);
    }
    ctx.set_fill_style_str(f.text_colour);
    ctx.set_text_baseline("middle");
    ctx.set_text_align("right");
    ctx.fill_text(label, GUTTER - 4.0, top + CHART_H / 2.0).ok();
    ctx.set_text_baseline("top");
    ctx.set_text_align("left");
    ctx.fill_text(&Msg::ChartMax { max }.get(f.lang), GUTTER + 2.0, top)
        .ok();
    ctx.set_text_baseline("middle");
}

pub fn fmt_ms(us: u64) -> String {
    let ms = us as f64 / 1e3;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}
