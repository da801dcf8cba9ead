//! wasm-bindgen tests in headless Chromium: mounting a preset builds the canvas,
//! the throughput readout and labelled controls, in an attached and in a detached
//! element; an unknown preset is a clear error, not a panic; a Korean page
//! (`<html lang="ko">`) gets every label in Korean, an English page none.
//! Run by `cargo xtask test` (the runner drives Chromium through chromedriver).
//! Leaves out: the simulation's numbers (playground/sim/tests).
#![cfg(target_arch = "wasm32")]

use waiting_well_viz::{PRESETS, Text, mount};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

fn new_div(id: &str) -> HtmlElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let div: HtmlElement = doc.create_element("div").unwrap().dyn_into().unwrap();
    div.set_id(id);
    div.set_class_name("ww-viz");
    div
}

fn count(root: &HtmlElement, selector: &str) -> u32 {
    root.query_selector_all(selector).unwrap().length()
}

#[wasm_bindgen_test]
fn every_preset_mounts_into_an_attached_div() {
    let body = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap();
    for preset in PRESETS {
        let div = new_div(&format!("viz-test-{preset}"));
        body.append_child(&div).unwrap();
        mount(div.clone(), preset).unwrap();
        assert!(count(&div, "canvas") >= 1, "{preset}: no canvas");
        let throughput = div
            .query_selector(".ww-viz-throughput")
            .unwrap()
            .expect("throughput");
        let text = throughput.text_content().unwrap_or_default();
        assert!(
            text.parse::<f64>().is_ok_and(|v| v > 0.0),
            "{preset}: throughput {text:?}"
        );
        // Every control has a label pointing at it.
        for input in ["input", "select"] {
            let list = div.query_selector_all(input).unwrap();
            for i in 0..list.length() {
                let id = list
                    .get(i)
                    .unwrap()
                    .dyn_into::<web_sys::Element>()
                    .unwrap()
                    .id();
                assert!(
                    count(&div, &format!("label[for='{id}']")) == 1,
                    "{preset}: {id} unlabelled"
                );
            }
        }
        let canvas: web_sys::HtmlCanvasElement = div
            .query_selector("canvas")
            .unwrap()
            .unwrap()
            .dyn_into()
            .unwrap();
        assert!(canvas.width() > 0 && canvas.height() > 0);
        div.remove();
    }
}

#[wasm_bindgen_test]
fn mounting_a_detached_div_works_too() {
    let div = new_div("viz-detached");
    mount(div.clone(), "ch01").unwrap();
    assert_eq!(count(&div, ".ww-viz-panel:not([hidden]) canvas"), 2);
    assert_eq!(count(&div, ".ww-viz-throughput"), 2);
}

#[wasm_bindgen_test]
fn an_unknown_preset_is_an_error_shown_in_the_element() {
    let div = new_div("viz-unknown");
    assert!(mount(div.clone(), "no-such-preset").is_err());
    assert!(
        div.text_content()
            .unwrap_or_default()
            .contains("Unknown visualizer preset")
    );
}

fn has_hangul(s: &str) -> bool {
    s.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
}

fn text_of(root: &HtmlElement, selector: &str) -> Vec<String> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .map(|i| list.get(i).unwrap().text_content().unwrap_or_default())
        .collect()
}

/// Mounts `preset` on a page whose `<html lang>` is `lang` (set back to
/// English after), in an attached div.
fn mount_in(lang: &str, preset: &str, id: &str) -> HtmlElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    let html = doc.document_element().unwrap();
    html.set_attribute("lang", lang).unwrap();
    let div = new_div(id);
    doc.body().unwrap().append_child(&div).unwrap();
    let mounted = mount(div.clone(), preset);
    html.set_attribute("lang", "en").unwrap();
    mounted.unwrap();
    div
}

/// On a Korean page (`<html lang="ko">`, as mdBook writes it for the Korean
/// edition) the controls, buttons, legend, metric names and model
/// descriptions are the Korean ones, and no English label is left anywhere in
/// the visualizer's text or accessible names.
#[wasm_bindgen_test]
fn a_korean_page_gets_a_korean_visualizer() {
    // The blocked-loop preset shows the most controls (blocking share, offload).
    for preset in ["ch04-blocked-loop", "ch02-gil"] {
        let id = format!("viz-ko-{preset}");
        let div = mount_in("ko", preset, &id);
        let label = |key: &str| text_of(&div, &format!("label[for='{id}-{key}']")).join("");
        assert_eq!(label("model"), Text::ModelLabel.ko());
        assert_eq!(label("workers"), Text::WorkersLabel.ko());
        assert_eq!(label("requests"), Text::RequestsLabel.ko());
        assert_eq!(label("speed"), Text::SpeedLabel.ko());
        assert_eq!(label("scrub"), Text::Time.ko());
        if preset == "ch04-blocked-loop" {
            assert_eq!(label("offload"), Text::OffloadLabel.ko());
        }
        let buttons = text_of(&div, "button .ww-viz-name");
        assert_eq!(
            buttons,
            [
                Text::StepBack,
                Text::Play,
                Text::StepForward,
                Text::ExportTrace,
                Text::ExportCsv
            ]
            .map(Text::ko)
        );
        let titles = text_of(&div, ".ww-viz-title");
        assert!(titles.iter().all(|t| has_hangul(t)), "{titles:?}");
        let terms = text_of(&div, ".ww-viz-details dt");
        assert!(
            terms.contains(&Text::LittlesLaw.ko().to_string()),
            "{terms:?}"
        );
        assert!(terms.iter().all(|t| has_hangul(t)), "{terms:?}");
        let metric = text_of(&div, ".ww-viz-metric").join("");
        assert!(metric.starts_with(Text::Throughput.ko()), "{metric}");
        for item in text_of(&div, ".ww-viz-legend li") {
            assert!(has_hangul(&item), "legend {item:?}");
        }
        // No English label anywhere: in the text, the options, the accessible names.
        let mut shown = div.text_content().unwrap_or_default();
        shown.push_str(&div.get_attribute("aria-label").unwrap_or_default());
        let canvases = div.query_selector_all("canvas").unwrap();
        for i in 0..canvases.length() {
            let canvas: web_sys::Element = canvases.get(i).unwrap().dyn_into().unwrap();
            let aria = canvas.get_attribute("aria-label").unwrap_or_default();
            assert!(has_hangul(&aria), "{aria}");
            shown.push_str(&aria);
        }
        // English that is also part of some Korean string (a unit, "CPU (ms)";
        // code, "uvicorn --workers k") cannot be told apart: not looked for.
        let korean: Vec<&str> = Text::all().into_iter().map(Text::ko).collect();
        for t in Text::all() {
            let en = t.en();
            if en.trim().len() > 3 && !korean.iter().any(|ko| *ko != en && ko.contains(en)) {
                assert!(
                    !shown.contains(en),
                    "{preset}: English {en:?} on a Korean page"
                );
            }
        }
        div.remove();
    }
}

/// The English edition stays English: nothing Korean in it.
#[wasm_bindgen_test]
fn an_english_page_gets_no_korean() {
    let div = mount_in("en", "ch04-blocked-loop", "viz-en");
    let text = div.text_content().unwrap_or_default();
    assert!(!has_hangul(&text), "{text}");
    assert_eq!(
        text_of(&div, "label[for='viz-en-model']").join(""),
        Text::ModelLabel.en()
    );
    div.remove();
}
