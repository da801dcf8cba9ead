//! The book's SVG charts, drawn from the JSON record of the same run as the
//! text figure (see `lab::report`: every table an example prints, each cell's
//! text and raw number). One function per chapter example picks the tables
//! and columns it draws ([`charts_for`]); [`render`] draws them with
//! `plotters` (SVG backend only) and themes the result.
//!
//! Theming: plotters writes literal colours, so the chart is drawn in marker
//! colours ([`Ink`]) that [`theme_svg`] rewrites to CSS: text and axes to
//! `currentColor`, series to `var(--ww-series-N, fallback)` (Okabe-Ito,
//! defined per mdBook theme in `theme/charts.css`), the bound to a dashed
//! `currentColor` line. Inlined in a page, a chart follows the page's theme;
//! opened alone, it falls back to the light colours.
//!
//! Every chart carries `<title>`, `<desc>` and a `<metadata>` element whose
//! `data-ww-chart` attribute holds JSON (an attribute, so the book's search
//! index, which reads text, does not take it in) naming the run (banner lines, SHA-256 of the text figure) and, for every
//! plotted point, the table cell it came from and the axis transform, so
//! [`check_svg`] can read each drawn point back and compare it with the run.
//!
//! Left out: interactivity (the text figure beside each chart is the
//! accessible, exact alternative), animation, and any JavaScript.

use std::collections::BTreeMap;
use std::ops::Range;

use anyhow::{Context, bail, ensure};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// One run of an example, as `lab::report` records it (plus the section and
/// caption `figures` finds for each table in the run's text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub title: String,
    pub command: String,
    pub machine: String,
    pub tables: Vec<RunTable>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunTable {
    /// The `## ` heading the table was printed under ("" before any).
    #[serde(default)]
    pub section: String,
    /// The line printed right above the table, if any (its title).
    #[serde(default)]
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<RunCell>>,
    /// The column a chart plots, when the example named one (`Table::chart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunCell {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

impl Run {
    /// The banner lines as the text figure starts with them.
    pub fn banner(&self) -> [String; 3] {
        [
            format!("# {}", self.title),
            format!("# command: {}", self.command),
            format!("# machine: {}", self.machine),
        ]
    }

    /// The index of the first table under a section containing `section`
    /// whose columns include every one of `columns`.
    fn table(&self, section: &str, columns: &[&str]) -> anyhow::Result<usize> {
        self.tables
            .iter()
            .position(|t| {
                t.section.contains(section)
                    && columns.iter().all(|c| t.columns.iter().any(|h| h == c))
            })
            .with_context(|| {
                format!(
                    "{}: no table under {section:?} with columns {columns:?}",
                    self.title
                )
            })
    }

    fn column(&self, table: usize, name: &str) -> anyhow::Result<usize> {
        self.column_where(table, |h| h == name)
            .with_context(|| format!("no column {name:?}"))
    }

    fn column_where(&self, table: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
        self.tables[table].columns.iter().position(|h| pred(h))
    }

    /// The raw number of a cell, or an error naming it.
    fn value(&self, at: CellRef) -> anyhow::Result<f64> {
        let cell = self.cell(at)?;
        cell.value.with_context(|| {
            format!(
                "{}: table {} row {} column {} ({:?}) has no recorded value",
                self.title, at.table, at.row, at.column, cell.text
            )
        })
    }

    pub(crate) fn cell(&self, at: CellRef) -> anyhow::Result<&RunCell> {
        self.tables
            .get(at.table)
            .and_then(|t| t.rows.get(at.row))
            .and_then(|r| r.get(at.column))
            .with_context(|| format!("{}: no cell {at:?}", self.title))
    }
}

/// Where a plotted number comes from in the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CellRef {
    pub table: usize,
    pub row: usize,
    pub column: usize,
}

/// One plotted coordinate: the cell it comes from and the factor from the
/// cell's value to the axis (e.g. 1000 for seconds drawn in ms). A lane
/// coordinate (a row of a lane chart) has no cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coord {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<CellRef>,
    pub scale: f64,
}

/// How a series is drawn. `Line`: a polyline through its points in order;
/// `Dots`: a filled circle per point; `Bound`: a dashed line (or open
/// circles on a lane chart) in the text colour; `Bands`: a bar from each
/// point's x to its `x2`, on its lane; `Bars`: the same, twice as thick
/// (a bar chart: from 0 to the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Line,
    Dots,
    Bound,
    Bands,
    Bars,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub x: Coord,
    pub y: Coord,
    /// For bands: where the bar ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x2: Option<Coord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub mark: Mark,
    /// 1-based palette slot (`--ww-series-N`); 0 for the bound.
    pub slot: usize,
    pub points: Vec<Point>,
}

impl Series {
    pub fn new(name: impl Into<String>, mark: Mark, slot: usize, points: Vec<Point>) -> Series {
        Series {
            name: name.into(),
            mark,
            slot,
            points,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Axis {
    pub label: String,
    pub log: bool,
    pub min: f64,
    pub max: f64,
    /// Pixels of `min` and `max` in the SVG (filled in when drawn).
    #[serde(default)]
    pub pixels: (f64, f64),
}

impl Axis {
    /// Where `v` lands in pixels, by the axis transform.
    pub fn pixel(&self, v: f64) -> f64 {
        let (a, b, v) = if self.log {
            (self.min.ln(), self.max.ln(), v.ln())
        } else {
            (self.min, self.max, v)
        };
        self.pixels.0 + (v - a) / (b - a) * (self.pixels.1 - self.pixels.0)
    }

    /// The axis value at pixel `p` (the transform read backwards).
    pub fn value(&self, p: f64) -> f64 {
        let (a, b) = if self.log {
            (self.min.ln(), self.max.ln())
        } else {
            (self.min, self.max)
        };
        let v = a + (p - self.pixels.0) / (self.pixels.1 - self.pixels.0) * (b - a);
        if self.log { v.exp() } else { v }
    }
}

/// A chart: what it shows in words, its axes, its series. `lanes` names the
/// rows of a lane chart (y = lane index), top first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chart {
    pub file: String,
    pub title: String,
    pub desc: String,
    pub x: Axis,
    pub y: Axis,
    #[serde(default)]
    pub lanes: Vec<String>,
    pub series: Vec<Series>,
}

/// What a chart's `<metadata>` holds: the chart and its run's provenance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    /// The text figure drawn (in src/figures/).
    pub source: String,
    /// SHA-256 of that text figure: the chart and the text are one run.
    pub source_sha256: String,
    /// The run's record (in src/figures/).
    pub record: String,
    pub banner: [String; 3],
    pub chart: Chart,
}

pub fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------
// Which charts each example's run gives. Adding a chapter's chart is one
// arm in `charts_for` and a few lines of column names.

/// The charts drawn from one figure's run (`figure`: its file stem, e.g.
/// `ch03_wsgi`; figures without charts, such as `ch03_slow_clients`, get
/// none). Fails, naming the table or column, when the run does not have
/// what a chart needs.
pub fn charts_for(figure: &str, run: &Run) -> anyhow::Result<Vec<Chart>> {
    match figure {
        "ch01_waiting" => Ok(vec![ch01_littles_law(run)?]),
        "ch02_gil" => Ok(vec![
            ch02_speedups(run, "ch02_gil-1.svg", "1. CPU-bound", ["GIL on", "GIL off"])?,
            ch02_convoy(run)?,
            ch02_speedups(
                run,
                "ch02_gil-4.svg",
                "4. The way out",
                ["threads", "processes"],
            )?,
        ]),
        "ch03_wsgi" => Ok(vec![models_against_bounds(
            run,
            "ch03_wsgi.svg",
            "Chapter 3",
        )?]),
        "ch04_asgi" => Ok(vec![
            models_against_bounds(run, "ch04_asgi.svg", "Chapter 4")?,
            ch04_memory(run)?,
        ]),
        "ch04_overload" => Ok(vec![ch04_overload(run)?]),
        "ch05_lifespan" => Ok(vec![
            ch05_app_timeline(run)?,
            ch05_request_timeline(run)?,
            ch05_shutdown_in_flight(run)?,
        ]),
        "ch06_table" => {
            let mut charts = vec![stacks_against_bounds(run)?];
            // The sweep and the knobs need Python; the connections table a
            // full run: a run without them has no such charts.
            if run
                .table("the wait, swept", &["stack", "wait", "req/s"])
                .is_ok()
            {
                charts.push(spread_lanes(
                    run,
                    ("the wait, swept", ["stack", "wait"]),
                    "ch06_table-6.svg",
                    "the wait sweep: FastAPI and DRF at 0, 5 and 50 ms",
                    "the table above",
                )?);
                charts.push(spread_lanes(
                    run,
                    ("one knob at a time", ["stack", "knob"]),
                    "ch06_table-7.svg",
                    "one knob at a time, nothing waiting",
                    "the table above",
                )?);
            }
            if run.table("Holding", &["connections", "in flight"]).is_ok() {
                charts.push(connections_served(run)?);
            }
            charts.push(ch06_model_against_reality(run)?);
            Ok(charts)
        }
        question if question.starts_with("ch07_q") => question_bars(question, run),
        _ => Ok(Vec::new()),
    }
    .map(|charts| {
        charts
            .into_iter()
            .map(|c| if c.lanes.is_empty() { c } else { top_first(c) })
            .collect()
    })
}

fn coord(run: &Run, table: usize, row: usize, column: usize, scale: f64) -> anyhow::Result<Coord> {
    let cell = CellRef { table, row, column };
    Ok(Coord {
        value: run.value(cell)? * scale,
        cell: Some(cell),
        scale,
    })
}

fn lane(index: usize) -> Coord {
    Coord {
        value: index as f64,
        cell: None,
        scale: 1.0,
    }
}

/// A point of a lane chart: at `x` on lane `index`.
fn on_lane(index: usize, x: Coord) -> Point {
    Point {
        x,
        y: lane(index),
        x2: None,
    }
}

/// `y` against `x` for every row of a table, as one series.
fn column_series(
    run: &Run,
    table: usize,
    (x, y): (usize, usize),
    (name, mark, slot): (&str, Mark, usize),
    x_scale: f64,
) -> anyhow::Result<Series> {
    let points = (0..run.tables[table].rows.len())
        .map(|row| {
            Ok(Point {
                x: coord(run, table, row, x, x_scale)?,
                y: coord(run, table, row, y, 1.0)?,
                x2: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Series::new(name, mark, slot, points))
}

/// An axis spanning every point of the series (and `x2`), padded.
fn axis(label: &str, log: bool, values: impl Iterator<Item = f64>, from_zero: bool) -> Axis {
    let (mut min, mut max) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if min > max {
        (min, max) = (0.0, 1.0);
    }
    if log {
        (min, max) = (min.max(1e-9) / 1.6, max * 1.6);
    } else {
        let pad = ((max - min) * 0.06).max(max.abs() * 0.01).max(1e-9);
        min = if from_zero { min.min(0.0) } else { min - pad };
        max += pad;
    }
    Axis {
        label: label.to_string(),
        log,
        min,
        max,
        pixels: (0.0, 0.0),
    }
}

fn xs(series: &[Series]) -> impl Iterator<Item = f64> + '_ {
    series
        .iter()
        .flat_map(|s| s.points.iter())
        .flat_map(|p| std::iter::once(p.x.value).chain(p.x2.map(|c| c.value)))
}

fn ys(series: &[Series]) -> impl Iterator<Item = f64> + '_ {
    series
        .iter()
        .flat_map(|s| s.points.iter())
        .map(|p| p.y.value)
}

fn ch01_littles_law(run: &Run) -> anyhow::Result<Chart> {
    let t = run.table("Little's law", &["clients (L)", "measured req/s"])?;
    let clients = run.column(t, "clients (L)")?;
    let measured = run.column(t, "measured req/s")?;
    let predicted = run
        .column_where(t, |h| h.starts_with("predicted req/s"))
        .context("no predicted req/s column")?;
    let series = vec![
        column_series(
            run,
            t,
            (clients, predicted),
            ("Little's law: L / W", Mark::Bound, 0),
            1.0,
        )?,
        column_series(
            run,
            t,
            (clients, measured),
            ("measured", Mark::Line, 1),
            1.0,
        )?,
    ];
    Ok(Chart {
        file: "ch01_waiting-3.svg".into(),
        title: "Throughput against concurrency, with Little's-law bound".into(),
        desc: format!(
            "Log-log line chart of requests per second against the number of clients L, for an upstream that waits 50 ms. \
             The dashed line is the bound L / W from Little's law; the solid line is what was measured ({}). \
             The exact numbers are in Figure 1.3.",
            measured_summary(run, &series[1])
        ),
        x: axis("clients (L)", true, xs(&series), false),
        y: axis("requests per second", true, ys(&series), false),
        lanes: Vec::new(),
        series,
    })
}

/// "x1 → y1, x2 → y2, …" from the cells' own text, for a chart's `<desc>`.
fn measured_summary(run: &Run, series: &Series) -> String {
    let text = |c: &Coord| {
        c.cell
            .and_then(|at| run.cell(at).ok())
            .map_or(String::new(), |cell| cell.text.clone())
    };
    series
        .points
        .iter()
        .map(|p| format!("{}: {}", text(&p.x), text(&p.y)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ch02_convoy(run: &Run) -> anyhow::Result<Chart> {
    let t = run.table("convoy", &["switch interval", "alone"])?;
    let interval = run.column(t, "switch interval")?;
    let bound = run
        .column_where(t, |h| h.starts_with("1/(interval"))
        .context("no 1/(interval + wait) column")?;
    let mut series = vec![column_series(
        run,
        t,
        (interval, bound),
        ("1 / (interval + wait)", Mark::Bound, 0),
        1e3,
    )?];
    for (slot, name) in ["alone", "+1 CPU", "+2 CPU", "+4 CPU"]
        .into_iter()
        .enumerate()
    {
        let c = run.column(t, name)?;
        let label = if name == "alone" {
            "I/O thread alone".to_string()
        } else {
            format!(
                "beside {} CPU thread{}",
                &name[1..2],
                if name == "+1 CPU" { "" } else { "s" }
            )
        };
        series.push(column_series(
            run,
            t,
            (interval, c),
            (&label, Mark::Line, slot + 1),
            1e3,
        )?);
    }
    Ok(Chart {
        file: "ch02_gil-3.svg".into(),
        title: "The convoy effect: I/O operations per second against the switch interval".into(),
        desc: "Log-log line chart: operations per second of a thread making 100 µs blocking calls, alone and beside 1, 2 and 4 CPU-bound threads, \
               for switch intervals from 1 µs to 100 ms. The dashed line is 1 / (interval + wait). The exact numbers are in Figure 2.3."
            .into(),
        x: axis("switch interval (ms)", true, xs(&series), false),
        y: axis("I/O operations per second", true, ys(&series), false),
        lanes: Vec::new(),
        series,
    })
}

fn ch02_speedups(run: &Run, file: &str, section: &str, names: [&str; 2]) -> anyhow::Result<Chart> {
    let t = run.table(section, &[names[0], "speedup"])?;
    let n = 0;
    let cols = &run.tables[t].columns;
    let mut series = Vec::new();
    for (slot, name) in names.iter().enumerate() {
        let at = run.column(t, name)?;
        // The speedup column right after each timing column.
        ensure!(
            cols.get(at + 1).map(String::as_str) == Some("speedup"),
            "{file}: no speedup column after {name:?}"
        );
        series.push(column_series(
            run,
            t,
            (n, at + 1),
            (name, Mark::Line, slot + 1),
            1.0,
        )?);
    }
    let (what, figure) = if file.ends_with("-1.svg") {
        ("threads with the GIL on and off", "2.1")
    } else {
        (
            "threads sharing one GIL and processes with a GIL each",
            "2.4",
        )
    };
    Ok(Chart {
        file: file.into(),
        title: format!("CPU-bound speedup: {what}"),
        desc: format!(
            "Line chart of speedup over one thread against the number of threads or processes (1, 2, 4), for {what}. \
             {}: {}. {}: {}. The exact numbers are in Figure {figure}.",
            names[0],
            measured_summary(run, &series[0]),
            names[1],
            measured_summary(run, &series[1])
        ),
        x: axis(cols[n].as_str(), false, xs(&series), false),
        y: axis("speedup over 1 (×)", false, ys(&series), true),
        lanes: Vec::new(),
        series,
    })
}

/// Chapters 3 and 4: one lane per (model, clients) row; a dot for req/s,
/// an open circle for its Little's-law bound.
fn models_against_bounds(run: &Run, file: &str, chapter: &str) -> anyhow::Result<Chart> {
    let number = &chapter[chapter.len() - 1..];
    let figure = format!("Figure {number}.1");
    against_bounds(run, ("", "model"), file, chapter, &figure)
}

/// Chapter 6's 50 ms table: each real Python stack against its bound.
fn stacks_against_bounds(run: &Run) -> anyhow::Result<Chart> {
    against_bounds(
        run,
        ("Waiting", "stack"),
        "ch06_table-5.svg",
        "Chapter 6",
        "the 50 ms table above",
    )
}

/// One lane per row of a table with `req/s`, `min` and `max` columns
/// (repeated rounds): a bar from the slowest to the fastest round, a dot at
/// the median; plus the Little's-law bound where the row has one.
fn spread_lanes(
    run: &Run,
    (section, labels): (&str, [&str; 2]),
    file: &str,
    what: &str,
    figure: &str,
) -> anyhow::Result<Chart> {
    let t = run.table(section, &[labels[0], labels[1], "req/s", "min", "max"])?;
    let (first, second) = (run.column(t, labels[0])?, run.column(t, labels[1])?);
    let (median, min, max) = (
        run.column(t, "req/s")?,
        run.column(t, "min")?,
        run.column(t, "max")?,
    );
    let bound = run.column(t, "bound").ok();
    let table = &run.tables[t];
    let (mut lanes, mut spread, mut medians, mut bounds) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (row, cells) in table.rows.iter().enumerate() {
        lanes.push(format!("{}, {}", cells[first].text, cells[second].text));
        // Log scale: a round that answered nothing (0 req/s) is left off
        // the chart; the table says 0.
        let positive = |c: usize| cells[c].value.is_some_and(|v| v > 0.0);
        if positive(min) {
            spread.push(Point {
                x: coord(run, t, row, min, 1.0)?,
                y: lane(row),
                x2: Some(coord(run, t, row, max, 1.0)?),
            });
        }
        if positive(median) {
            medians.push(on_lane(row, coord(run, t, row, median, 1.0)?));
        }
        if let Some(b) = bound.filter(|&b| cells[b].value.is_some()) {
            bounds.push(on_lane(row, coord(run, t, row, b, 1.0)?));
        }
    }
    let mut series = Vec::new();
    if !bounds.is_empty() {
        series.push(Series::new("Little's-law bound", Mark::Bound, 0, bounds));
    }
    series.push(Series::new(
        "slowest to fastest round",
        Mark::Bands,
        2,
        spread,
    ));
    series.push(Series::new("median req/s", Mark::Dots, 1, medians));
    Ok(Chart {
        file: file.into(),
        title: format!("Chapter 6: {what}"),
        desc: format!(
            "Dot chart, one row per {} and {}, requests per second on a log scale: a filled dot at the median round, \
             a bar from the slowest to the fastest round, and an open circle at the Little's-law bound where requests wait. \
             The exact numbers are in {figure}.",
            labels[0], labels[1]
        ),
        ..lane_chart(
            ("requests per second (log scale)", Scale::Log),
            lanes,
            series,
        )
    })
}

/// Chapter 6's model against reality: one lane per measured row the
/// simulation predicted; a filled dot for the measured req/s, an open
/// circle for the simulation's prediction (a dot inside its circle: the
/// model got it right).
fn ch06_model_against_reality(run: &Run) -> anyhow::Result<Chart> {
    let t = run.table(
        "Model against reality",
        &["stack", "load", "measured req/s", "predicted req/s"],
    )?;
    let (stack, load, measured_at, predicted_at) = (
        run.column(t, "stack")?,
        run.column(t, "load")?,
        run.column(t, "measured req/s")?,
        run.column(t, "predicted req/s")?,
    );
    let table = &run.tables[t];
    let (mut lanes, mut measured, mut predicted) = (Vec::new(), Vec::new(), Vec::new());
    // Rows the simulation has no model for have no prediction: not drawn.
    let rows = (0..table.rows.len()).filter(|&row| {
        table.rows[row][predicted_at].value.is_some()
            && table.rows[row][measured_at].value > Some(0.0)
    });
    for row in rows {
        let cells = &table.rows[row];
        let at = lanes.len();
        lanes.push(format!("{}, {}", cells[stack].text, cells[load].text));
        for (list, column) in [(&mut measured, measured_at), (&mut predicted, predicted_at)] {
            list.push(on_lane(at, coord(run, t, row, column, 1.0)?));
        }
    }
    ensure!(!lanes.is_empty(), "{}: no predicted row to draw", run.title);
    let series = vec![
        Series::new("predicted by the simulation", Mark::Bound, 0, predicted),
        Series::new("measured req/s", Mark::Dots, 1, measured),
    ];
    Ok(Chart {
        file: "ch06_table-9.svg".into(),
        title: "Chapter 6: the simulation's predicted requests per second against the measured ones"
            .into(),
        desc: "Dot chart, one row per measured server and load, requests per second on a log scale: a filled dot for what was measured, \
               an open circle for what the visualizer's simulation predicted from the row's clients, wait and measured CPU per request. \
               A dot inside its circle is a row the model got right. The exact numbers and errors are in the model-against-reality table above."
            .into(),
        ..lane_chart(("requests per second (log scale)", Scale::Log), lanes, series)
    })
}

/// Chapter 6's connections table: per stack and connections held, how many
/// had a request out, served or queued (Little's L from the run), against
/// how many were held.
fn connections_served(run: &Run) -> anyhow::Result<Chart> {
    let t = run.table("Holding", &["stack", "connections", "in flight"])?;
    let (stack, held, served) = (
        run.column(t, "stack")?,
        run.column(t, "connections")?,
        run.column(t, "in flight")?,
    );
    let table = &run.tables[t];
    let (mut lanes, mut held_points, mut served_points) = (Vec::new(), Vec::new(), Vec::new());
    for (row, cells) in table.rows.iter().enumerate() {
        lanes.push(format!("{}, {}", cells[stack].text, cells[held].text));
        held_points.push(on_lane(row, coord(run, t, row, held, 1.0)?));
        // Nothing served at all has no place on a log scale: such a row
        // keeps its circle only (the table says 0).
        if cells[served].value.is_some_and(|v| v >= 1.0) {
            served_points.push(on_lane(row, coord(run, t, row, served, 1.0)?));
        }
    }
    let series = vec![
        Series::new("connections held", Mark::Bound, 0, held_points),
        Series::new(
            "requests out, served or queued (req/s × mean latency)",
            Mark::Dots,
            1,
            served_points,
        ),
    ];
    Ok(Chart {
        file: "ch06_table-8.svg".into(),
        title: "Chapter 6: connections held against requests in flight".into(),
        desc: "Dot chart, one row per stack and number of connections held open (1,000 and 10,000), on a log scale: \
               an open circle at the connections held, a filled dot at how many had a request out on average, \
               served or queued (requests per second times mean latency, Little's L). The exact numbers, with p99 and errors, are in the table above."
            .into(),
        ..lane_chart(("connections (log scale)", Scale::Log), lanes, series)
    })
}

/// One row per server (named in the `label` column of the first table under
/// a `section` heading containing that text) and client count: the measured
/// req/s against the Little's-law bound.
fn against_bounds(
    run: &Run,
    (section, label): (&str, &str),
    file: &str,
    chapter: &str,
    figure: &str,
) -> anyhow::Result<Chart> {
    let t = run.table(section, &[label, "clients", "req/s", "bound"])?;
    let (model, clients, rps, bound) = (
        run.column(t, label)?,
        run.column(t, "clients")?,
        run.column(t, "req/s")?,
        run.column(t, "bound")?,
    );
    let table = &run.tables[t];
    let mut lanes = Vec::new();
    let (mut measured, mut bounds) = (Vec::new(), Vec::new());
    for (row, cells) in table.rows.iter().enumerate() {
        lanes.push(format!(
            "{}, {} clients",
            cells[model].text, cells[clients].text
        ));
        for (list, column) in [(&mut measured, rps), (&mut bounds, bound)] {
            // A server that answered nothing in the window (0 req/s) has no
            // place on a log scale: its lane keeps the bound only, and the
            // table beside the chart says 0.
            if cells[column].value.is_some_and(|v| v <= 0.0) {
                continue;
            }
            list.push(on_lane(row, coord(run, t, row, column, 1.0)?));
        }
    }
    let series = vec![
        Series::new("Little's-law bound", Mark::Bound, 0, bounds),
        Series::new("measured req/s", Mark::Dots, 1, measured),
    ];
    Ok(Chart {
        file: file.into(),
        title: format!("{chapter}: each {label}'s requests per second against its bound"),
        desc: format!(
            "Dot chart, one row per server {label} and client count, requests per second on a log scale: a filled dot for what was measured, \
             an open circle for the Little's-law bound. The exact numbers are in {figure}."
        ),
        ..lane_chart(
            ("requests per second (log scale)", Scale::Log),
            lanes,
            series,
        )
    })
}

/// Lane charts list their rows top first: lane 0 is drawn at the top.
fn top_first(mut chart: Chart) -> Chart {
    let last = chart.lanes.len() as f64 - 1.0;
    for p in chart.series.iter_mut().flat_map(|s| s.points.iter_mut()) {
        p.y.value = last - p.y.value;
    }
    chart.lanes.reverse();
    chart
}

fn lane_axis(n: usize) -> Axis {
    Axis {
        label: String::new(),
        log: false,
        min: -0.6,
        max: n as f64 - 0.4,
        pixels: (0.0, 0.0),
    }
}

/// How a lane chart's x axis runs: a log scale (rates that span orders of
/// magnitude) or a linear one from zero (sizes, times, bars).
#[derive(Debug, Clone, Copy)]
enum Scale {
    Log,
    FromZero,
}

/// A lane chart without its words: a lane per entry of `lanes` (lane i is
/// the table's row i, drawn top first by [`top_first`]), `series` along an
/// x axis named `x_label` that spans all their points. The caller names it:
/// `Chart { file, title, desc, ..lane_chart(…) }`.
fn lane_chart((x_label, scale): (&str, Scale), lanes: Vec<String>, series: Vec<Series>) -> Chart {
    let x = match scale {
        Scale::Log => axis(x_label, true, xs(&series), false),
        Scale::FromZero => axis(x_label, false, xs(&series), true),
    };
    Chart {
        file: String::new(),
        title: String::new(),
        desc: String::new(),
        x,
        y: lane_axis(lanes.len()),
        lanes,
        series,
    }
}

/// One column of a lane chart's table as a series: row i on lane i, x its
/// value (rows without one are left out).
fn lane_series(
    run: &Run,
    t: usize,
    column: &str,
    (name, mark, slot): (&str, Mark, usize),
) -> anyhow::Result<Series> {
    let c = run.column(t, column)?;
    let rows = &run.tables[t].rows;
    let points = (0..rows.len())
        .filter(|&row| rows[row][c].value.is_some())
        .map(|row| Ok(on_lane(row, coord(run, t, row, c, 1.0)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Series::new(name, mark, slot, points))
}

fn ch04_memory(run: &Run) -> anyhow::Result<Chart> {
    let t = run.table("", &["what", "RSS per item"])?;
    let what = run.column(t, "what")?;
    let columns = [
        ("RSS per item", "resident memory (RSS)"),
        ("kernel stack per item", "kernel stack"),
    ];
    let table = &run.tables[t];
    let lanes: Vec<String> = table.rows.iter().map(|r| r[what].text.clone()).collect();
    let series = (columns.into_iter().enumerate())
        .map(|(slot, (column, name))| lane_series(run, t, column, (name, Mark::Dots, slot + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Chart {
        file: "ch04_asgi-memory.svg".into(),
        title: "Memory per idle keep-alive connection, on an event loop and holding a thread, against a parked thread".into(),
        desc: "Dot chart in KiB per item: the resident memory each idle keep-alive connection adds to an event-loop server (axum, actix-web) \
               and to a server that holds a thread per connection (rouille), and each parked OS thread adds to a process, \
               plus the kernel stack each costs outside any process (machine-wide). \
               The exact numbers are in the last table of Figure 4.1."
            .into(),
        ..lane_chart(("KiB per item", Scale::FromZero), lanes, series)
    })
}

/// The overload figure: per phase, the rate offered (open circle) against
/// what was served (2xx) and what was shed (503), in requests per second.
fn ch04_overload(run: &Run) -> anyhow::Result<Chart> {
    let t = run.table(
        "",
        &["phase", "offered req/s", "served 2xx/s", "shed 503/s"],
    )?;
    let phase = run.column(t, "phase")?;
    let table = &run.tables[t];
    let lanes: Vec<String> = table.rows.iter().map(|r| r[phase].text.clone()).collect();
    let columns = [
        ("offered req/s", "offered (open loop)", Mark::Bound, 0),
        ("served 2xx/s", "served (2xx)", Mark::Dots, 1),
        ("shed 503/s", "shed (503)", Mark::Dots, 2),
    ];
    let series = (columns.into_iter())
        .map(|(column, name, mark, slot)| lane_series(run, t, column, (name, mark, slot)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Chart {
        file: "ch04_overload.svg".into(),
        title: "Overload: requests offered, served and shed per second, phase by phase".into(),
        desc: "Dot chart, one row per phase of the overload run (before, the overload at twice the capacity, then half-second windows after it), \
               in requests per second: an open circle for the rate offered, a filled dot for the requests served (2xx) and another for those shed (503). \
               The exact numbers, with latency and memory, are in Figure 4.2."
            .into(),
        ..lane_chart(("requests per second", Scale::FromZero), lanes, series)
    })
}

/// The row whose step text (in `column`) starts with `step`.
fn step_row(run: &Run, table: usize, column: usize, step: &str) -> Option<usize> {
    run.tables[table]
        .rows
        .iter()
        .position(|r| r.get(column).is_some_and(|c| c.text.starts_with(step)))
}

/// A band on `lane` from the time of step `from` to step `to` (a timeline
/// table has the step in `column` and its time in `column + 1`).
fn band(
    run: &Run,
    table: usize,
    column: usize,
    lane_index: usize,
    (from, to): (&str, &str),
) -> anyhow::Result<Option<Point>> {
    let (Some(a), Some(b)) = (
        step_row(run, table, column, from),
        step_row(run, table, column, to),
    ) else {
        return Ok(None);
    };
    Ok(Some(Point {
        x: coord(run, table, a, column + 1, 1e3)?,
        y: lane(lane_index),
        x2: Some(coord(run, table, b, column + 1, 1e3)?),
    }))
}

/// Every event of a timeline table's framework column, as dots on `lane`.
fn event_dots(
    run: &Run,
    table: usize,
    column: usize,
    lane_index: usize,
) -> anyhow::Result<Vec<Point>> {
    (0..run.tables[table].rows.len())
        .filter(|&row| run.tables[table].rows[row][column + 1].value.is_some())
        .map(|row| {
            Ok(on_lane(
                lane_index,
                coord(run, table, row, column + 1, 1e3)?,
            ))
        })
        .collect()
}

const FRAMEWORKS: [(&str, usize); 2] = [("axum", 1), ("actix-web", 3)];

/// A timeline's series: its bands (each moved by its offset within the
/// lane, so bands that overlap in time stay apart) and its event dots.
fn timeline(name: &str, bands: Vec<(&str, Vec<Point>, f64)>, events: Vec<Point>) -> Vec<Series> {
    let mut series: Vec<Series> = bands
        .into_iter()
        .enumerate()
        .map(|(i, (label, mut points, offset))| {
            for p in &mut points {
                p.y.value += offset;
            }
            Series::new(label, Mark::Bands, i + 1, points)
        })
        .collect();
    series.push(Series::new(name, Mark::Dots, 4, events));
    series
}

fn ch05_app_timeline(run: &Run) -> anyhow::Result<Chart> {
    let t = run.table("App scope", &["#", "axum", "at", "actix-web"])?;
    let mut lanes = Vec::new();
    let (mut starting, mut serving, mut stopping, mut events) = (vec![], vec![], vec![], vec![]);
    for (i, (framework, column)) in FRAMEWORKS.into_iter().enumerate() {
        lanes.push(framework.to_string());
        starting.extend(band(run, t, column, i, ("startup began", "listening"))?);
        serving.extend(band(run, t, column, i, ("listening", "shutdown began"))?);
        stopping.extend(band(
            run,
            t,
            column,
            i,
            ("shutdown began", "model dropped"),
        )?);
        events.extend(event_dots(run, t, column, i)?);
    }
    let series = timeline(
        "a recorded app event",
        vec![
            ("startup: pool, schema, model", starting, 0.0),
            ("listening, serving requests", serving, 0.0),
            ("shutdown: drain, close, drop", stopping, 0.0),
        ],
        events,
    );
    Ok(Chart {
        file: "ch05_lifespan-1.svg".into(),
        title: "Chapter 5: the app's life in axum and actix-web, from the recorded events".into(),
        desc: "Timeline, one row per framework, milliseconds since the recorder was made: startup (pool opened, schema migrated, model loaded) \
               ends before the port opens; requests are served while listening; shutdown drains in-flight requests, closes the pool and \
               drops the model after the last request. Dots are the recorded events of Figure 5.1's app-scope table."
            .into(),
        ..lane_chart(("ms since the recorder was made", Scale::FromZero), lanes, series)
    })
}

fn ch05_request_timeline(run: &Run) -> anyhow::Result<Chart> {
    let mut lanes = Vec::new();
    let (mut held, mut responding, mut events) = (vec![], vec![], vec![]);
    let tables = timeline_tables(run, "Request scope");
    ensure!(!tables.is_empty(), "no request-scope timelines in the run");
    for t in tables {
        // "GET /users/export?hold=true (hold until the stream ends) (times since …)":
        // the lane is named by what the request does, "hold until the stream ends".
        let caption = &run.tables[t].caption;
        let what = caption
            .split_once(" (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map_or(caption.as_str(), |(what, _)| what);
        for (framework, column) in FRAMEWORKS {
            let i = lanes.len();
            lanes.push(format!("{framework}: {what}"));
            held.extend(band(run, t, column, i, ("acquired", "released"))?);
            responding.extend(band(
                run,
                t,
                column,
                i,
                ("response started", "response sent"),
            )?);
            events.extend(event_dots(run, t, column, i)?);
        }
    }
    let series = timeline(
        "a recorded request event",
        vec![
            (
                "pooled connection held (acquired → released)",
                held,
                -BAND_HALF,
            ),
            ("response going out (started → sent)", responding, BAND_HALF),
        ],
        events,
    );
    Ok(Chart {
        file: "ch05_lifespan-2.svg".into(),
        title: "Chapter 5: when each request holds its pooled connection, from the recorded events".into(),
        desc: "Timeline, one row per request and framework, milliseconds since the request was received: a bar while the pooled \
               connection is held (acquired to released) and a bar while the response goes out (started to sent). A request that \
               commits or rolls back releases before responding; an export that releases first streams without a connection; \
               one that holds keeps it until the stream ends. Dots are the recorded events of Figure 5.1's request-scope tables."
            .into(),
        ..lane_chart(("ms since the request was received", Scale::FromZero), lanes, series)
    })
}

/// The tables of a timeline section: those under the `## ` heading that
/// contains `section` whose first column is `#`.
fn timeline_tables(run: &Run, section: &str) -> Vec<usize> {
    (0..run.tables.len())
        .filter(|&t| {
            let table = &run.tables[t];
            table.section.contains(section) && table.columns.first().is_some_and(|c| c == "#")
        })
        .collect()
}

fn ch05_shutdown_in_flight(run: &Run) -> anyhow::Result<Chart> {
    let tables = timeline_tables(run, "Shutdown with requests in flight");
    ensure!(
        tables.len() >= 2,
        "no shutdown-with-requests-in-flight timelines in the run"
    );
    let mut lanes = Vec::new();
    let (mut shutdown, mut in_flight, mut held, mut events) = (vec![], vec![], vec![], vec![]);
    for (framework, column) in FRAMEWORKS {
        for &t in &tables {
            // "GET /users/export?hold=true (stream, holds its connection) (times since …)":
            // the lane is named by its parenthesis, "stream, holds its connection";
            // "shutdown of the app (times since …)" by what comes before.
            let caption = &run.tables[t].caption;
            let what = caption
                .rsplit_once(" (times")
                .map_or(caption.as_str(), |(w, _)| w);
            let what = what
                .split_once(" (")
                .map_or(what, |(_, rest)| rest.trim_end_matches(')'));
            let i = lanes.len();
            lanes.push(format!("{framework}: {what}"));
            shutdown.extend(band(run, t, column, i, ("shutdown began", "pool closed"))?);
            in_flight.extend(band(run, t, column, i, ("received", "response sent"))?);
            held.extend(band(run, t, column, i, ("acquired", "released"))?);
            events.extend(event_dots(run, t, column, i)?);
        }
    }
    let series = timeline(
        "a recorded event",
        vec![
            ("shutdown (began → pool closed)", shutdown, 0.0),
            (
                "request in flight (received → response sent)",
                in_flight,
                -BAND_HALF,
            ),
            (
                "pooled connection held (acquired → released)",
                held,
                BAND_HALF,
            ),
        ],
        events,
    );
    Ok(Chart {
        file: "ch05_lifespan-3.svg".into(),
        title: "Chapter 5: shutdown with requests in flight, from the recorded events".into(),
        desc: "Timeline, one row per request and one for the app's shutdown, per framework, milliseconds since the first of \
               the requests was received. Shutdown begins while two slow writes and two streaming exports are running; \
               every one of them is answered in full, and the pool closes only after the last response was sent. The export \
               that holds its pooled connection keeps it until its stream ends; the one that released it streams without one. \
               Dots are the recorded events of the shutdown-with-requests-in-flight tables in Figure 5.1."
            .into(),
        ..lane_chart(
            ("ms since the first in-flight request was received", Scale::FromZero),
            lanes,
            series,
        )
    })
}

/// Chapter 7: one bar chart per table that names its chart column
/// (`lab::report::Table::chart`): a bar per row, from 0 to that column's
/// value, on a lane labelled by the row's first cell; when the table has a
/// column whose name starts with `bound`, an open circle marks each row's
/// bound. The first chart is `ch07_qNN.svg`, the next `ch07_qNN-b.svg`, …
/// A row without a value (a skipped measurement) keeps its lane, no bar.
fn question_bars(figure: &str, run: &Run) -> anyhow::Result<Vec<Chart>> {
    let mut charts = Vec::new();
    for (t, table) in run.tables.iter().enumerate() {
        let Some(column_name) = &table.chart else {
            continue;
        };
        let column = run.column(t, column_name)?;
        let bound = run.column_where(t, |h| h.starts_with("bound"));
        let lanes: Vec<String> = table
            .rows
            .iter()
            .map(|r| r.first().map_or(String::new(), |c| c.text.clone()))
            .collect();
        let with_value = |c: usize| {
            (0..table.rows.len()).filter(move |&row| {
                table.rows[row]
                    .get(c)
                    .is_some_and(|cell| cell.value.is_some())
            })
        };
        let bars = with_value(column)
            .map(|row| {
                Ok(Point {
                    x: Coord {
                        value: 0.0,
                        cell: None,
                        scale: 1.0,
                    },
                    y: lane(row),
                    x2: Some(coord(run, t, row, column, 1.0)?),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let summary = bars
            .iter()
            .filter_map(|p| {
                let at = p.x2?.cell?;
                Some(format!("{}: {}", lanes[at.row], run.cell(at).ok()?.text))
            })
            .collect::<Vec<_>>()
            .join("; ");
        // The bars first, so each bound's open circle is drawn over its bar.
        let mut series = vec![Series::new(column_name.clone(), Mark::Bars, 1, bars)];
        if let Some(b) = bound {
            let points = with_value(b)
                .map(|row| Ok(on_lane(row, coord(run, t, row, b, 1.0)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            series.push(Series::new(
                table.columns[b].clone(),
                Mark::Bound,
                0,
                points,
            ));
        }
        let letter = (b'a' + charts.len() as u8) as char;
        let file = if charts.is_empty() {
            format!("{figure}.svg")
        } else {
            format!("{figure}-{letter}.svg")
        };
        let what = if table.caption.is_empty() {
            table.section.clone()
        } else {
            table.caption.clone()
        };
        let bound_note = bound.map_or(String::new(), |b| {
            format!(" An open circle marks each row's {}.", table.columns[b])
        });
        charts.push(Chart {
            file,
            title: format!("{what}: {column_name}"),
            desc: format!(
                "Bar chart, one bar per row ({}), of {column_name}: {summary}.{bound_note} \
                 The exact numbers are in the text figure beside it.",
                table.columns.first().map_or("", String::as_str)
            ),
            ..lane_chart((column_name, Scale::FromZero), lanes, series)
        });
    }
    Ok(charts)
}

// ---------------------------------------------------------------------------
// Drawing.

/// Marker colours plotters draws with; [`theme_svg`] turns them into CSS.
struct Ink;

impl Ink {
    const TEXT: RGBColor = RGBColor(0, 0, 0);
    const BOUND: RGBColor = RGBColor(2, 0, 0);
    fn series(slot: usize) -> RGBColor {
        RGBColor(1, 0, slot as u8)
    }
}

/// Light-theme fallbacks for `--ww-series-N` (the same as theme/charts.css),
/// for a chart opened on its own.
const FALLBACK: [&str; 5] = ["currentColor", "#0072b2", "#c35600", "#008060", "#b0588a"];

const WIDTH: u32 = 720;
/// Half a band's height, in lanes (a lane is 1 apart).
const BAND_HALF: f64 = 0.17;

/// Draws `chart` (filling in its axes' pixels) and returns the themed SVG.
pub fn render(
    chart: &mut Chart,
    provenance: impl FnOnce(&Chart) -> Provenance,
) -> anyhow::Result<String> {
    let lanes = chart.lanes.len();
    let height = legend_height(chart)
        + if lanes > 0 {
            (70 + 34 * lanes as u32).max(200)
        } else {
            400
        };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let (x, y) = (chart.x.clone(), chart.y.clone());
        let pixels = match (x.log, y.log) {
            (false, false) => draw(&root, chart, x.min..x.max, y.min..y.max)?,
            (true, false) => draw(&root, chart, (x.min..x.max).log_scale(), y.min..y.max)?,
            (false, true) => draw(&root, chart, x.min..x.max, (y.min..y.max).log_scale())?,
            (true, true) => draw(
                &root,
                chart,
                (x.min..x.max).log_scale(),
                (y.min..y.max).log_scale(),
            )?,
        };
        root.present().context("drawing the chart")?;
        // Plotters maps onto the plotting area's first to last pixel
        // (`ChartBuilder::build_cartesian_2d`), y upwards: min at the bottom.
        let (px, py) = pixels;
        chart.x.pixels = (f64::from(px.start), f64::from(px.end - 1));
        chart.y.pixels = (f64::from(py.end - 1), f64::from(py.start));
    }
    let provenance = provenance(chart);
    theme_svg(&svg, &provenance)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn draw<'a, X, Y>(
    root: &Area<'a>,
    chart: &Chart,
    x: X,
    y: Y,
) -> anyhow::Result<(Range<i32>, Range<i32>)>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let text = |size: u32| TextStyle::from(("sans-serif", size).into_font()).color(&Ink::TEXT);
    let lanes = &chart.lanes;
    let whole_x = chart
        .series
        .iter()
        .flat_map(|s| &s.points)
        .all(|p| p.x.value.fract() == 0.0);
    let lane_width = lanes.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let mut ctx = ChartBuilder::on(root)
        .margin(12)
        .margin_right(24)
        .margin_top(16 + legend_height(chart))
        .x_label_area_size(44)
        .y_label_area_size(if lanes.is_empty() {
            64
        } else {
            12 + 7 * lane_width.min(46)
        })
        .build_cartesian_2d(x, y)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let lane_label = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            lanes.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    // Threads and clients come whole: no tick at 1.5 threads.
    let x_tick = |v: &f64| {
        if whole_x && (v - v.round()).abs() > 1e-9 {
            String::new()
        } else {
            tick(*v)
        }
    };
    let mut mesh = ctx.configure_mesh();
    mesh.x_desc(chart.x.label.as_str())
        .axis_desc_style(text(18))
        .label_style(text(16))
        .axis_style(Ink::TEXT)
        .bold_line_style(Ink::TEXT.mix(0.18))
        .light_line_style(Ink::TEXT.mix(0.06))
        .x_label_formatter(&x_tick);
    if lanes.is_empty() {
        mesh.y_desc(chart.y.label.as_str())
            .y_label_formatter(&|v| tick(*v));
    } else {
        mesh.y_labels(lanes.len() * 2 + 1)
            .y_label_formatter(&lane_label)
            .disable_y_mesh();
    }
    mesh.draw().map_err(|e| anyhow::anyhow!("{e:?}"))?;

    for series in &chart.series {
        let color = if series.mark == Mark::Bound {
            Ink::BOUND
        } else {
            Ink::series(series.slot)
        };
        let xy: Vec<(f64, f64)> = series
            .points
            .iter()
            .map(|p| (p.x.value, p.y.value))
            .collect();
        let drawn = match series.mark {
            Mark::Line => {
                ctx.draw_series(xy.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                ctx.draw_series(LineSeries::new(xy.clone(), color.stroke_width(3)))
            }
            Mark::Bound if lanes.is_empty() => {
                ctx.draw_series(LineSeries::new(xy, color.stroke_width(2)))
            }
            Mark::Bound => ctx.draw_series(
                xy.iter()
                    .map(|&p| Circle::new(p, 7, ShapeStyle::from(color).stroke_width(2))),
            ),
            Mark::Dots => {
                let r = if series.name.contains("event") { 3 } else { 6 };
                ctx.draw_series(xy.iter().map(|&p| Circle::new(p, r, color.filled())))
            }
            Mark::Bands | Mark::Bars => ctx.draw_series(series.points.iter().map(|p| {
                let half = if series.mark == Mark::Bars {
                    2.0 * BAND_HALF
                } else {
                    BAND_HALF
                };
                let (x0, x1) = (p.x.value, p.x2.map_or(p.x.value, |c| c.value));
                let (y0, y1) = (p.y.value - half, p.y.value + half);
                Rectangle::new([(x0, y0), (x1, y1)], color.mix(0.85).filled())
            })),
        };
        drawn.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    // The legend: one line per series above the plot, in the top margin kept
    // for it, so it never covers a point. Each swatch is drawn like its series.
    let (px, _) = ctx.plotting_area().get_pixel_range();
    for (i, series) in chart.series.iter().enumerate() {
        let color = if series.mark == Mark::Bound {
            Ink::BOUND
        } else {
            Ink::series(series.slot)
        };
        let y = 14 + 22 * i as i32;
        let x = px.start + 6;
        let swatch = match series.mark {
            Mark::Line | Mark::Bound if lanes.is_empty() => root.draw(&PathElement::new(
                vec![(x, y), (x + 26, y)],
                color.stroke_width(3),
            )),
            Mark::Bound => root.draw(&Circle::new(
                (x + 13, y),
                7,
                ShapeStyle::from(color).stroke_width(2),
            )),
            Mark::Line | Mark::Dots => root.draw(&Circle::new((x + 13, y), 5, color.filled())),
            Mark::Bands | Mark::Bars => root.draw(&Rectangle::new(
                [(x, y - 6), (x + 26, y + 6)],
                color.mix(0.85).filled(),
            )),
        };
        swatch.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        root.draw(&Text::new(
            series.name.clone(),
            (x + 36, y),
            text(16).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    Ok(ctx.plotting_area().get_pixel_range())
}

/// The height of the legend above the plot: one line per series.
fn legend_height(chart: &Chart) -> u32 {
    6 + 22 * chart.series.len() as u32
}

/// A tick label: plain for small numbers, with thousands marked for large
/// ones, and without trailing zeros.
fn tick(v: f64) -> String {
    if v.abs() >= 1e4 {
        return format!("{}k", trim(format!("{:.1}", v / 1e3)));
    }
    trim(format!("{v:.3}"))
}

/// `"0.800"` → `"0.8"`, `"2.000"` → `"2"`.
fn trim(text: String) -> String {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Rewrites plotters' literal colours to the theme's, adds `<title>`,
/// `<desc>`, the accessibility attributes and the `<metadata>`, and makes
/// the SVG safe to inline into Markdown (no blank lines, no XML prolog).
fn theme_svg(svg: &str, provenance: &Provenance) -> anyhow::Result<String> {
    let id = provenance
        .chart
        .file
        .trim_end_matches(".svg")
        .replace('_', "-");
    let attr = regex::Regex::new(r##" (fill|stroke)="#([0-9A-F]{6})""##)?;
    let mut out = String::new();
    let viewbox_attr = regex::Regex::new(r#"viewBox="([^"]+)""#)?;
    let mut opened = false;
    for line in svg.lines().filter(|l| !l.trim().is_empty()) {
        if !opened && line.starts_with("<svg") {
            let viewbox = viewbox_attr
                .captures(line)
                .map(|c| c[1].to_string())
                .context("plotters wrote no viewBox")?;
            out.push_str(&format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{viewbox}\" class=\"ww-chart-svg\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" data-source=\"{}\">\n",
                provenance.source
            ));
            out.push_str(&format!(
                "<title id=\"{id}-title\">{}</title>\n<desc id=\"{id}-desc\">{}</desc>\n<metadata data-ww-chart=\"{}\"/>\n",
                escape(&provenance.chart.title),
                escape(&provenance.chart.desc),
                escape(&serde_json::to_string(provenance)?).replace('"', "&quot;")
            ));
            opened = true;
            continue;
        }
        let mut styles = Vec::new();
        let mut class = None;
        let rest = attr.replace_all(line, |c: &regex::Captures| {
            let (what, hex) = (&c[1], &c[2]);
            let value = match hex {
                "000000" => "currentColor".to_string(),
                "FFFFFF" => "var(--bg, #ffffff)".to_string(),
                "020000" => {
                    class = Some("ww-bound".to_string());
                    "currentColor".to_string()
                }
                _ if hex.starts_with("0100") => {
                    let slot = usize::from_str_radix(&hex[4..], 16).unwrap_or(0).min(4);
                    class = Some(format!("ww-series-{slot}"));
                    format!("var(--ww-series-{slot}, {})", FALLBACK[slot])
                }
                _ => format!("#{hex}"),
            };
            styles.push(format!("{what}:{value}"));
            String::new()
        });
        if styles.is_empty() {
            out.push_str(line);
        } else {
            // `<tag attrs/>` or `<tag attrs>`: the style and class go after the tag name.
            let (tag, attrs) = rest.split_once(' ').unwrap_or((&rest, ""));
            // The bound is dashed in the markup too, so a chart opened alone shows it.
            let dash = if class.as_deref() == Some("ww-bound") && tag == "<polyline" {
                " stroke-dasharray=\"7 5\""
            } else {
                ""
            };
            let class = class.map_or(String::new(), |c| format!(" class=\"{c}\"{dash}"));
            out.push_str(&format!(
                "{tag}{class} style=\"{}\" {attrs}",
                styles.join(";")
            ));
        }
        out.push('\n');
    }
    ensure!(opened, "plotters wrote no <svg> element");
    Ok(out)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

// ---------------------------------------------------------------------------
// Reading a chart back.

/// The `<metadata>` of a chart, parsed.
pub fn provenance(svg: &str) -> anyhow::Result<Provenance> {
    let key = "<metadata data-ww-chart=\"";
    let start = svg.find(key).context("no <metadata data-ww-chart=…>")? + key.len();
    let end = start
        + svg[start..]
            .find('"')
            .context("an unclosed data-ww-chart")?;
    let json = svg[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    Ok(serde_json::from_str(&json)?)
}

/// Checks one chart against its run: `<title>`/`<desc>` present, every
/// plotted value equals its cell's recorded value, and every point is drawn
/// where the axis transform puts that value (read back from the SVG's own
/// polylines, circles and rects, to 1.5 px).
pub fn check_svg(svg: &str, run: &Run) -> anyhow::Result<usize> {
    for tag in [
        "<title id=",
        "<desc id=",
        "role=\"img\"",
        "aria-labelledby=",
    ] {
        ensure!(svg.contains(tag), "no {tag}");
    }
    ensure!(
        !svg.contains("\n\n"),
        "a blank line would end the HTML block it is inlined in"
    );
    let p = provenance(svg)?;
    ensure!(
        p.banner == run.banner(),
        "its banner {:?} is not the run's {:?}",
        p.banner,
        run.banner()
    );
    let chart = &p.chart;
    let drawn = drawn_marks(svg)?;
    let mut checked = 0;
    for series in &chart.series {
        let class = if series.mark == Mark::Bound {
            "ww-bound".to_string()
        } else {
            format!("ww-series-{}", series.slot)
        };
        let marks = drawn.get(&class).cloned().unwrap_or_default();
        let expected: Vec<(f64, f64)> = series
            .points
            .iter()
            .flat_map(|pt| {
                let y = chart.y.pixel(pt.y.value);
                std::iter::once((chart.x.pixel(pt.x.value), y))
                    .chain(pt.x2.map(|x2| (chart.x.pixel(x2.value), y)))
            })
            .collect();
        for pt in &series.points {
            for c in std::iter::once(&pt.x).chain([&pt.y]).chain(pt.x2.as_ref()) {
                if let Some(at) = c.cell {
                    let value = run.value(at)? * c.scale;
                    // Equal to the last bit or two: JSON printing and parsing
                    // (serde_json's fast float parser) may move the last ulp.
                    ensure!(
                        (value - c.value).abs() <= 1e-12 * value.abs().max(1e-300),
                        "{}: {:?} plots {} where the run recorded {value}",
                        series.name,
                        at,
                        c.value
                    );
                }
            }
        }
        for (x, y) in &expected {
            let found = marks
                .iter()
                .any(|(mx, my)| (mx - x).abs() <= 1.5 && (my - y).abs() <= 1.5);
            if !found {
                bail!(
                    "{}: nothing drawn at ({x:.1}, {y:.1}), i.e. x = {:.4}, y = {:.4} (drawn: {marks:?})",
                    series.name,
                    chart.x.value(*x),
                    chart.y.value(*y)
                );
            }
            checked += 1;
        }
    }
    Ok(checked)
}

/// The drawn coordinates per class: polyline vertices, circle centres, and
/// the two ends of each band's centre line.
fn drawn_marks(svg: &str) -> anyhow::Result<BTreeMap<String, Vec<(f64, f64)>>> {
    let class = regex::Regex::new(r#"^<(polyline|circle|rect) class="([^"]+)""#)?;
    let num = |line: &str, name: &str| -> Option<f64> {
        let key = format!(" {name}=\"");
        let start = line.find(&key)? + key.len();
        line[start..].split('"').next()?.parse().ok()
    };
    let mut marks: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for line in svg.lines() {
        let Some(c) = class.captures(line) else {
            continue;
        };
        let list = marks.entry(c[2].to_string()).or_default();
        match &c[1] {
            "polyline" => {
                let start = line.find(" points=\"").context("polyline without points")? + 9;
                for pair in line[start..]
                    .split('"')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                {
                    let (x, y) = pair.split_once(',').context("a point without a comma")?;
                    list.push((x.parse()?, y.parse()?));
                }
            }
            "circle" => {
                if let (Some(x), Some(y)) = (num(line, "cx"), num(line, "cy")) {
                    list.push((x, y));
                }
            }
            _ => {
                if let (Some(x), Some(y), Some(w), Some(h)) = (
                    num(line, "x"),
                    num(line, "y"),
                    num(line, "width"),
                    num(line, "height"),
                ) {
                    let mid = y + h / 2.0;
                    list.push((x, mid));
                    list.push((x + w, mid));
                }
            }
        }
    }
    Ok(marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str, value: Option<f64>) -> RunCell {
        RunCell {
            text: text.into(),
            value,
        }
    }

    /// A run with chapter 1's Little's-law table, as `figures` records it.
    fn ch01_run() -> Run {
        let rows = [
            (1.0, 20.0, 19.5),
            (10.0, 200.0, 195.2),
            (100.0, 2000.0, 1931.4),
        ]
        .map(|(l, p, m)| {
            vec![
                cell(&format!("{l:.0}"), Some(l)),
                cell(&format!("{p:.0}"), Some(p)),
                cell(&format!("{m:.0}"), Some(m)),
            ]
        })
        .to_vec();
        Run {
            title: "Chapter 1: I/O-bound waiting".into(),
            command: "cargo run --release --example ch01_waiting".into(),
            machine: "test machine".into(),
            tables: vec![RunTable {
                section: "Little's law: throughput = clients / time per request".into(),
                caption: String::new(),
                columns: vec![
                    "clients (L)".into(),
                    "predicted req/s (L / 50.0 ms)".into(),
                    "measured req/s".into(),
                ],
                rows,
                chart: None,
            }],
        }
    }

    fn draw(run: &Run) -> String {
        let mut chart = charts_for("ch01_waiting", run).unwrap().remove(0);
        render(&mut chart, |chart| Provenance {
            source: "ch01_waiting-3.txt".into(),
            source_sha256: sha256_hex("text"),
            record: "ch01_waiting.json".into(),
            banner: run.banner(),
            chart: chart.clone(),
        })
        .unwrap()
    }

    #[test]
    fn a_chart_reads_back_as_its_run_and_no_other() {
        let run = ch01_run();
        let svg = draw(&run);
        assert_eq!(check_svg(&svg, &run).unwrap(), 6);
        assert!(svg.contains("var(--ww-series-1, #0072b2)"), "{svg}");
        assert!(svg.contains("class=\"ww-bound\" stroke-dasharray"), "{svg}");
        assert!(!svg.contains("#000000") && !svg.contains("<?xml"));

        // Another run's numbers: the recorded value differs from the plotted one.
        let mut other = run.clone();
        other.tables[0].rows[2][2].value = Some(1500.0);
        let err = check_svg(&svg, &other).unwrap_err().to_string();
        assert!(
            err.contains("plots 1931.4 where the run recorded 1500"),
            "{err}"
        );

        // A point drawn somewhere else than its value.
        let moved = regex::Regex::new(r#"(class="ww-series-1"[^>]* cx=")(\d+)"#)
            .unwrap()
            .replace(&svg, |c: &regex::Captures| {
                format!("{}{}", &c[1], c[2].parse::<i32>().unwrap() + 9)
            })
            .into_owned();
        // ... and its line gone too, so only the moved dots are left to find.
        let line = svg[svg.find("<polyline class=\"ww-series-1\"").unwrap()..]
            .lines()
            .next()
            .unwrap();
        let moved = moved.replace(&format!("{line}\n"), "");
        let err = check_svg(&moved, &run).unwrap_err().to_string();
        assert!(err.contains("measured: nothing drawn at"), "{err}");
    }

    /// A chapter 7 run: one table with a chart column and a bound, one without.
    fn ch07_run() -> Run {
        let row = |label: &str, rps: Option<f64>, bound: f64| {
            vec![
                cell(label, None),
                match rps {
                    Some(v) => cell(&format!("{v:.0}"), Some(v)),
                    None => cell("skipped", None),
                },
                cell(&format!("{bound:.0}"), Some(bound)),
            ]
        };
        let table = |chart: Option<&str>| RunTable {
            section: "3. Do sync endpoints scale with threads?".into(),
            caption: "100 clients, 1 s def requests".into(),
            columns: vec!["server".into(), "req/s".into(), "bound (req/s)".into()],
            rows: vec![
                row("uvicorn, 40 tokens", Some(39.2), 40.0),
                row("uvicorn, 100 tokens", Some(97.5), 100.0),
                row("no python", None, 100.0),
            ],
            chart: chart.map(String::from),
        };
        Run {
            title: "Chapter 7".into(),
            command: "cargo run --release --example ch07_questions -- --only 3".into(),
            machine: "test machine".into(),
            tables: vec![table(Some("req/s")), table(None), table(Some("req/s"))],
        }
    }

    #[test]
    fn a_question_gets_one_bar_chart_per_charted_table() {
        let run = ch07_run();
        let charts = charts_for("ch07_q03", &run).unwrap();
        let files: Vec<&str> = charts.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(files, ["ch07_q03.svg", "ch07_q03-b.svg"]);
        let mut chart = charts[0].clone();
        assert_eq!(chart.lanes[0], "no python", "top first: lane 0 on top");
        assert!(
            chart.desc.contains("uvicorn, 40 tokens: 39"),
            "{}",
            chart.desc
        );
        let svg = render(&mut chart, |chart| Provenance {
            source: "ch07_q03.txt".into(),
            source_sha256: sha256_hex("text"),
            record: "ch07_q03.json".into(),
            banner: run.banner(),
            chart: chart.clone(),
        })
        .unwrap();
        // Two bars (two ends each) and three bounds.
        assert_eq!(check_svg(&svg, &run).unwrap(), 7);
        let mut other = run.clone();
        other.tables[0].rows[1][1].value = Some(60.0);
        let err = check_svg(&svg, &other).unwrap_err().to_string();
        assert!(
            err.contains("plots 97.5 where the run recorded 60"),
            "{err}"
        );
        // A bar drawn shorter than its value is found out.
        let shorter = regex::Regex::new(r#"(<rect class="ww-series-1"[^>]* width=")(\d+)"#)
            .unwrap()
            .replace(&svg, |c: &regex::Captures| {
                format!("{}{}", &c[1], c[2].parse::<i32>().unwrap() - 20)
            })
            .into_owned();
        let err = check_svg(&shorter, &run).unwrap_err().to_string();
        assert!(err.contains("req/s: nothing drawn at"), "{err}");
    }

    #[test]
    fn the_axis_transform_reads_back_both_ways() {
        let axis = Axis {
            label: String::new(),
            log: true,
            min: 1.0,
            max: 1000.0,
            pixels: (100.0, 400.0),
        };
        assert!((axis.pixel(10.0) - 200.0).abs() < 1e-9);
        assert!((axis.value(300.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_missing_column_is_named() {
        let mut run = ch01_run();
        run.tables[0].columns[2] = "req/s".into();
        let err = charts_for("ch01_waiting", &run).unwrap_err().to_string();
        assert!(err.contains("measured req/s"), "{err}");
    }
}
