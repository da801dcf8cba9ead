//! The book's charts in a translation (the Korean edition): each chart drawn
//! again from the same recorded run as the English one, its words translated.
//!
//! A chart's SVG cannot be a gettext message: its `<desc>` holds measured
//! numbers, so every regenerated figure would change it. What a chart *says*
//! splits in two:
//! - its labels (title, axis labels, lane names, legend entries) are the
//!   chart builders' configuration (and the run's row names): [`chart_messages`]
//!   collects them, and `cargo xtask i18n extract` puts them in the catalog with
//!   msgctxt [`CONTEXT`];
//! - its `<desc>` is written again in the translation's language from the
//!   chart's own data ([`korean_desc`]): the kind of chart, its axes, and every
//!   plotted value as the run printed it (the cell's own text).
//!
//! [`localized_svgs`] draws every chart of `src/figures/` with translated
//! labels (tick labels stay numeric) through the same [`charts::render`] and
//! checks it with the same [`charts::check_svg`] as the English one;
//! [`inline_charts`] puts them in a translated chapter in place of its
//! `{{#include figures/NAME.svg}}` directives. Inlined, not written to files
//! beside the chapter: a chart must be inline to follow the page's theme
//! anyway, and inlining needs no path that depends on where the translated
//! book's sources are built.
//!
//! Leaves out: the text figures (printed by the program, shown as printed)
//! and the figure captions (Markdown, in the chapters' messages).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;

use crate::charts::{self, Chart, Coord, Mark, Run};

/// The msgctxt of the charts' labels in the catalogs.
pub const CONTEXT: &str = "chart";

/// The recorded figures' directory, from the repository root.
pub const FIGURES: &str = "src/figures";

fn figures_dir() -> std::path::PathBuf {
    crate::workspace_root().join(FIGURES)
}

/// One recorded run and the charts it gives, as `cargo xtask figures` draws them.
pub struct Recorded {
    /// The figure's file stem (`ch03_wsgi`).
    pub stem: String,
    pub run: Run,
    pub charts: Vec<Chart>,
}

/// Every chart of every recorded run (`NAME.json`) in `dir`, in file order.
pub fn recorded_charts(dir: &Path) -> anyhow::Result<Vec<Recorded>> {
    let mut records: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    records.sort();
    let mut out = Vec::new();
    for path in records {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("a figure's name is not UTF-8")?
            .to_string();
        let run: Run = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| format!("reading {}", path.display()))?;
        let charts = charts::charts_for(&stem, &run)
            .with_context(|| format!("the charts of {}", path.display()))?;
        out.push(Recorded { stem, run, charts });
    }
    Ok(out)
}

/// A chart's words: title, axis labels, lane names, legend entries (not empty).
fn labels_mut(chart: &mut Chart) -> impl Iterator<Item = &mut String> {
    std::iter::once(&mut chart.title)
        .chain([&mut chart.x.label, &mut chart.y.label])
        .chain(chart.lanes.iter_mut())
        .chain(chart.series.iter_mut().map(|s| &mut s.name))
        .filter(|label| !label.trim().is_empty())
}

/// One chart label to translate, and the charts it is in.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartMessage {
    pub label: String,
    /// The chart files (`ch03_wsgi.svg`) that show it.
    pub charts: Vec<String>,
}

/// Every label of every chart in `dir` (each once, in the order first drawn).
pub fn chart_messages_in(dir: &Path) -> anyhow::Result<Vec<ChartMessage>> {
    let mut out: Vec<ChartMessage> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for mut recorded in recorded_charts(dir)? {
        for chart in &mut recorded.charts {
            let file = chart.file.clone();
            for label in labels_mut(chart) {
                let i = *index.entry(label.clone()).or_insert_with(|| {
                    out.push(ChartMessage {
                        label: label.clone(),
                        charts: Vec::new(),
                    });
                    out.len() - 1
                });
                if !out[i].charts.contains(&file) {
                    out[i].charts.push(file.clone());
                }
            }
        }
    }
    Ok(out)
}

/// Every label of every chart of the book (`src/figures/`), each once: the
/// messages (msgctxt [`CONTEXT`]) a translation of the charts needs.
pub fn chart_messages() -> anyhow::Result<Vec<ChartMessage>> {
    chart_messages_in(&figures_dir())
}

/// Adds the charts' labels to an extracted catalog, with msgctxt [`CONTEXT`]
/// and the chart files as their source; returns how many.
pub fn add_chart_messages(catalog: &mut polib::catalog::Catalog) -> anyhow::Result<usize> {
    let messages = chart_messages()?;
    for ChartMessage { label, charts } in &messages {
        let source = charts
            .iter()
            .map(|f| format!("{FIGURES}/{f}"))
            .collect::<Vec<_>>()
            .join(" ");
        catalog.append_or_update(
            polib::message::Message::build_singular()
                .with_msgctxt(CONTEXT.to_string())
                .with_source(source)
                .with_msgid(label.clone())
                .done(),
        );
    }
    Ok(messages.len())
}

/// The translation of a chart label in `catalog` (translated and not fuzzy), if any.
pub fn lookup(catalog: &polib::catalog::Catalog, label: &str) -> Option<String> {
    let m = catalog.find_message(Some(CONTEXT), label, None)?;
    if !m.is_translated() || m.is_fuzzy() {
        return None;
    }
    m.msgstr().ok().map(str::to_string)
}

/// The charts translated: SVG per chart file, and the labels that had no
/// translation (drawn in English; `cargo xtask i18n check` names them too).
#[derive(Debug, Default)]
pub struct Localized {
    pub svgs: BTreeMap<String, String>,
    pub missing: BTreeSet<String>,
}

/// Every chart of `dir` drawn with its labels translated by `tr` and a Korean
/// `<desc>`, each checked against its run as the English ones are.
pub fn localized_svgs(
    dir: &Path,
    tr: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Localized> {
    let mut out = Localized::default();
    for recorded in recorded_charts(dir)? {
        for mut chart in recorded.charts {
            for label in labels_mut(&mut chart) {
                match tr(label) {
                    Some(t) => *label = t,
                    None => {
                        out.missing.insert(label.clone());
                    }
                }
            }
            chart.desc = korean_desc(&chart, &recorded.run);
            let (svg, _) =
                crate::figures::render_chart(dir, &recorded.stem, &recorded.run, &mut chart)?;
            out.svgs.insert(chart.file.clone(), svg);
        }
    }
    Ok(out)
}

/// The Korean charts of the book, labels from `catalog` (po/ko.po).
pub fn korean_svgs(catalog: &polib::catalog::Catalog) -> anyhow::Result<Localized> {
    localized_svgs(&figures_dir(), &|label| lookup(catalog, label))
}

/// Puts the translated charts into a translated book (`lang`'s catalog):
/// every chapter's chart includes become the charts drawn with the
/// catalog's labels, inline. Called by the translation's build after
/// `translate_book`, before mdBook's preprocessors. A label without a
/// translation is drawn in English and named here (the check fails on it).
pub fn inline_translated_charts(
    book: &mut mdbook_preprocessor::book::Book,
    catalog: &polib::catalog::Catalog,
    lang: &str,
) -> anyhow::Result<()> {
    // The `<desc>` is written by code, one writer per language.
    anyhow::ensure!(
        lang == "ko",
        "no chart descriptions are written for {lang:?} (charts_ko::korean_desc)"
    );
    let localized = korean_svgs(catalog)?;
    if !localized.missing.is_empty() {
        println!(
            "{} chart labels not translated (drawn in English): {:?}",
            localized.missing.len(),
            localized.missing
        );
    }
    book.for_each_mut(|item| {
        if let mdbook_preprocessor::book::BookItem::Chapter(chapter) = item {
            chapter.content = inline_charts(&chapter.content, &localized.svgs);
        }
    });
    Ok(())
}

/// `markdown` with every `{{#include figures/NAME.svg}}` (from any folder depth)
/// whose chart is in `svgs` replaced by that SVG, inline; other includes stay.
pub fn inline_charts(markdown: &str, svgs: &BTreeMap<String, String>) -> String {
    let include = regex::Regex::new(r"\{\{#include\s+(?:\.\./)*figures/([^\s}]+\.svg)\s*\}\}")
        .expect("a valid pattern");
    include
        .replace_all(markdown, |c: &regex::Captures| match svgs.get(&c[1]) {
            // The SVG ends in a newline; the directive did not.
            Some(svg) => svg.trim_end().to_string(),
            None => c[0].to_string(),
        })
        .into_owned()
}

/// A chart's `<desc>` in Korean, from the chart itself: what kind of chart,
/// its axes, and each series' values as the run printed them.
pub fn korean_desc(chart: &Chart, run: &Run) -> String {
    let has = |mark: Mark| chart.series.iter().any(|s| s.mark == mark);
    let lanes = !chart.lanes.is_empty();
    // Bands on a linear time axis are a timeline; on a log axis, the spread
    // of rounds in a dot chart.
    let kind = if has(Mark::Bars) {
        "막대 차트"
    } else if has(Mark::Bands) && !chart.x.log {
        "타임라인"
    } else if lanes {
        "점 차트"
    } else {
        "선 차트"
    };
    // "(log scale)" is in some axis labels already.
    let scale = |axis: &charts::Axis| {
        let said = axis.label.contains("로그") || axis.label.contains("log");
        if axis.log && !said {
            ", 로그 척도"
        } else {
            ""
        }
    };
    let mut text = if lanes {
        format!(
            "{kind}, 행 {}개: {}{}.",
            chart.lanes.len(),
            chart.x.label,
            scale(&chart.x)
        )
    } else {
        format!(
            "{kind}: 가로축 {}{}, 세로축 {}{}.",
            chart.x.label,
            scale(&chart.x),
            chart.y.label,
            scale(&chart.y)
        )
    };
    for series in &chart.series {
        let shown: Vec<String> = series
            .points
            .iter()
            .take(DESC_POINTS)
            .map(|p| {
                let at = if lanes {
                    format!("“{}”", lane_name(chart, p.y.value))
                } else {
                    value_text(run, &p.x)
                };
                match (series.mark, p.x2) {
                    // A bar runs from 0: its value is where it ends.
                    (Mark::Bars, Some(x2)) => format!("{at} {}", value_text(run, &x2)),
                    (_, Some(x2)) => {
                        format!("{at} {}–{}", value_text(run, &p.x), value_text(run, &x2))
                    }
                    _ if lanes => format!("{at} {}", value_text(run, &p.x)),
                    _ => format!("{at}: {}", value_text(run, &p.y)),
                }
            })
            .collect();
        let more = series.points.len().saturating_sub(DESC_POINTS);
        let what = match series.mark {
            Mark::Bound if lanes => " (빈 원)",
            Mark::Bound => " (점선)",
            _ => "",
        };
        text.push_str(&format!(" {}{what}: {}", series.name, shown.join("; ")));
        if more > 0 {
            text.push_str(&format!(" 외 {more}개"));
        }
        text.push('.');
    }
    text.push_str(" 정확한 수치는 같은 실행의 텍스트 그림에 있습니다.");
    text
}

/// Most values a `<desc>` lists per series (a timeline has hundreds of events).
const DESC_POINTS: usize = 12;

/// A lane chart's row name at lane coordinate `y` (lane `i` is named `lanes[i]`).
fn lane_name(chart: &Chart, y: f64) -> String {
    let i = y.round();
    match chart.lanes.get(i as usize) {
        Some(name) if i >= 0.0 => name.clone(),
        _ => number(y),
    }
}

/// A plotted value as the run printed it (its cell's text), or formatted here
/// when it has no cell.
fn value_text(run: &Run, c: &Coord) -> String {
    c.cell
        .and_then(|at| run.cell(at).ok())
        .map(|cell| cell.text.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| number(c.value))
}

/// Three significant figures at most, no trailing zeros, thousands as written.
fn number(v: f64) -> String {
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_hangul(s: &str) -> bool {
        s.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
    }

    /// A fake translation: every label gets a Korean prefix.
    fn fake(label: &str) -> Option<String> {
        Some(format!("번역 {label}"))
    }

    #[test]
    fn every_chart_of_the_book_has_labels_to_translate() {
        let messages = chart_messages().unwrap();
        assert!(messages.len() > 20, "{} labels", messages.len());
        let unique: BTreeSet<&String> = messages.iter().map(|m| &m.label).collect();
        assert_eq!(unique.len(), messages.len(), "a label listed twice");
        let rps = messages.iter().find(|m| m.label == "requests per second");
        let charts = &rps.expect("a label of chapter 1's chart").charts;
        assert!(
            charts.iter().any(|c| c == "ch01_waiting-3.svg"),
            "{charts:?}"
        );
    }

    /// Drawn in Korean, each chart still reads back as its run (the same
    /// check as the English ones), its words are the translation's, and its
    /// `<desc>` is Korean and carries the run's numbers.
    #[test]
    fn the_translated_charts_read_back_as_their_runs() {
        let dir = &figures_dir();
        let localized = localized_svgs(dir, &fake).unwrap();
        assert!(localized.missing.is_empty());
        let english: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.ends_with(".svg"))
            .collect();
        let drawn: BTreeSet<String> = localized.svgs.keys().cloned().collect();
        assert_eq!(
            drawn, english,
            "a chart of the book not drawn in translation"
        );
        for recorded in recorded_charts(dir).unwrap() {
            for chart in &recorded.charts {
                let svg = &localized.svgs[&chart.file];
                charts::check_svg(svg, &recorded.run)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", chart.file));
                let p = charts::provenance(svg).unwrap();
                assert!(p.chart.title.starts_with("번역 "), "{}", p.chart.title);
                assert!(p.chart.lanes.iter().all(|l| l.starts_with("번역 ")));
                assert!(p.chart.series.iter().all(|s| s.name.starts_with("번역 ")));
                assert!(has_hangul(&p.chart.desc), "{}", p.chart.desc);
                assert!(
                    !p.chart.desc.contains(&chart.desc),
                    "{}: the English desc",
                    chart.file
                );
                // The title in the SVG's <title> is the translated one.
                assert!(svg.contains(&format!(">{}</title>", p.chart.title)));
            }
        }
    }

    #[test]
    fn the_korean_desc_lists_the_recorded_values() {
        let dir = &figures_dir();
        let recorded = recorded_charts(dir).unwrap();
        let ch01 = recorded.iter().find(|r| r.stem == "ch01_waiting").unwrap();
        let chart = &ch01.charts[0];
        let desc = korean_desc(chart, &ch01.run);
        assert!(desc.starts_with("선 차트: 가로축 "), "{desc}");
        // Every measured value, as the run printed it.
        let measured = chart.series.iter().find(|s| s.mark == Mark::Line).unwrap();
        for p in &measured.points {
            let cell = ch01.run.cell(p.y.cell.unwrap()).unwrap();
            assert!(
                desc.contains(cell.text.trim()),
                "{} not in {desc}",
                cell.text
            );
        }
    }

    #[test]
    fn includes_of_drawn_charts_are_inlined_and_others_kept() {
        let svgs = BTreeMap::from([("a-1.svg".to_string(), "<svg>가</svg>\n".to_string())]);
        let md = "x\n<figure class=\"ww-chart\">{{#include figures/a-1.svg}}<figcaption>c</figcaption></figure>\n\
                  {{#include ../figures/a-1.svg}}\n{{#include figures/b.svg}}\n{{#include figures/a-1.txt}}\n";
        assert_eq!(
            inline_charts(md, &svgs),
            "x\n<figure class=\"ww-chart\"><svg>가</svg><figcaption>c</figcaption></figure>\n\
             <svg>가</svg>\n{{#include figures/b.svg}}\n{{#include figures/a-1.txt}}\n"
        );
    }

    #[test]
    fn numbers_keep_three_significant_figures() {
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.126), "0.13");
    }
}

#[cfg(test)]
mod korean {
    use super::*;

    /// Every label of every chart has its Korean in po/ko.po (msgctxt
    /// "chart"), and the Korean charts drawn with it have no title left in English.
    #[test]
    fn the_korean_catalog_translates_every_chart_label() {
        let path = crate::workspace_root().join("po/ko.po");
        let catalog = crate::i18n::read_po(&path).unwrap();
        let missing: Vec<String> = chart_messages()
            .unwrap()
            .into_iter()
            .map(|m| m.label)
            .filter(|label| lookup(&catalog, label).is_none())
            .collect();
        assert!(missing.is_empty(), "no Korean in po/ko.po for {missing:?}");
        let localized = korean_svgs(&catalog).unwrap();
        assert!(localized.missing.is_empty(), "{:?}", localized.missing);
        let english = chart_messages().unwrap();
        let english: BTreeSet<&String> = english.iter().map(|m| &m.label).collect();
        for (file, svg) in &localized.svgs {
            let p = charts::provenance(svg).unwrap();
            assert!(
                !english.contains(&p.chart.title),
                "{file}: title {:?} in English",
                p.chart.title
            );
        }
    }
}
