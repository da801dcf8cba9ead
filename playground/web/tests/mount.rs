//! wasm-bindgen tests in headless Chromium: mounting a preset builds the canvas,
//! the throughput readout and labelled controls, in an attached and in a detached
//! element; an unknown preset is a clear error, not a panic.
//! Run by `cargo xtask test` (the runner drives Chromium through chromedriver).
//! Leaves out: the simulation's numbers (playground/sim/tests).
#![cfg(target_arch = "wasm32")]

use waiting_well_viz::{PRESETS, mount};
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
