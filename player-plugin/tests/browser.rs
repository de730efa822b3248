//! The browser glue in a real (headless) Chromium: listener wiring, `destroy()`
//! exactness, one monitor per element, option errors. Run by `cargo xtask test`
//! through wasm-bindgen-test-runner; media events are dispatched synthetically so
//! each test is fast and exact (real playback is the end-to-end suite's job).
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn video() -> web_sys::HtmlMediaElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    doc.create_element("video").unwrap().dyn_into().unwrap()
}

fn dispatch(el: &web_sys::HtmlMediaElement, name: &str) {
    el.dispatch_event(&web_sys::Event::new(name).unwrap())
        .unwrap();
}

/// Options with an unreachable collector and a hook counting batches sent.
fn options(count: Rc<Cell<u32>>) -> (JsValue, Closure<dyn FnMut(JsValue)>) {
    let hook = Closure::<dyn FnMut(JsValue)>::new(move |_batch: JsValue| {
        count.set(count.get() + 1);
    });
    let opts = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&opts, &k.into(), v).unwrap();
    set("collector", &"http://127.0.0.1:9".into());
    set("property", &"test".into());
    set("onBeacon", hook.as_ref());
    (opts.into(), hook)
}

fn field(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap()
}

#[wasm_bindgen_test]
fn play_starts_a_view_and_snapshot_is_a_plain_object() {
    let el = video();
    let sent = Rc::new(Cell::new(0));
    let (opts, _hook) = options(sent.clone());
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    let before = h.snapshot();
    assert!(field(&before, "view_id").is_null());
    assert!(field(&before, "startup_ms").is_null());
    assert!(field(&before, "error").is_null());
    dispatch(&el, "play");
    let s = h.snapshot();
    assert!(field(&s, "view_id")
        .as_string()
        .is_some_and(|id| id.len() == 16));
    assert_eq!(field(&s, "rebuffer_count").as_f64(), Some(0.0));
    assert_eq!(sent.get(), 1, "a beacon on view start");
    h.destroy();
}

#[wasm_bindgen_test]
fn destroy_removes_every_listener() {
    let el = video();
    let sent = Rc::new(Cell::new(0));
    let (opts, _hook) = options(sent.clone());
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    h.destroy();
    let after_destroy = sent.get();
    assert_eq!(after_destroy, 2, "view start + final beacon");
    let last = h.snapshot();
    assert_eq!(field(&last, "view_ended").as_bool(), Some(true));
    for name in vidpulse_plugin::MEDIA_EVENTS {
        dispatch(&el, name);
    }
    dispatch(&el, "play");
    let window = web_sys::window().unwrap();
    window
        .dispatch_event(&web_sys::Event::new("pagehide").unwrap())
        .unwrap();
    assert_eq!(sent.get(), after_destroy, "no listener survives destroy()");
    assert_eq!(field(&h.snapshot(), "view_id"), field(&last, "view_id"));
    // The element can be monitored afresh.
    let (opts, _hook2) = options(sent.clone());
    let h2 = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    assert_ne!(field(&h2.snapshot(), "view_id"), field(&last, "view_id"));
    h2.destroy();
}

#[wasm_bindgen_test]
fn monitoring_an_element_twice_returns_the_same_monitor() {
    let el = video();
    let sent = Rc::new(Cell::new(0));
    let (opts, _hook) = options(sent.clone());
    let h1 = vidpulse_plugin::monitor(el.clone().into(), opts.clone()).unwrap();
    dispatch(&el, "play");
    let h2 = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "loadstart");
    assert_eq!(
        field(&h1.snapshot(), "view_id"),
        field(&h2.snapshot(), "view_id")
    );
    assert_eq!(
        sent.get(),
        1,
        "one view, one start beacon, no double listeners"
    );
    h2.destroy();
    assert_eq!(field(&h1.snapshot(), "view_ended").as_bool(), Some(true));
}

#[wasm_bindgen_test]
fn bad_options_are_rejected_naming_the_field() {
    let el = video();
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"collector".into(), &"http://x".into()).unwrap();
    let err = vidpulse_plugin::monitor(el.clone().into(), opts.clone().into())
        .err()
        .map(JsValue::from)
        .unwrap();
    let msg = js_sys::Reflect::get(&err, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(msg.contains("options.property"), "{msg}");
    js_sys::Reflect::set(&opts, &"property".into(), &"p".into()).unwrap();
    js_sys::Reflect::set(&opts, &"beaconIntervalMs".into(), &JsValue::from(5.0)).unwrap();
    let err = vidpulse_plugin::monitor(el.clone().into(), opts.into())
        .err()
        .map(JsValue::from)
        .unwrap();
    let msg = js_sys::Reflect::get(&err, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(msg.contains("options.beaconIntervalMs"), "{msg}");
    let not_video = vidpulse_plugin::monitor(JsValue::from(3), JsValue::NULL)
        .err()
        .map(JsValue::from)
        .unwrap();
    let msg = js_sys::Reflect::get(&not_video, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert!(msg.contains("HTMLMediaElement"), "{msg}");
}

#[wasm_bindgen_test]
fn a_debug_trace_replays_to_the_beacons_sent() {
    use vidpulse_plugin::engine::trace::{replay, Trace};
    let el = video();
    let batches = Rc::new(RefCell::new(Vec::<String>::new()));
    let b2 = batches.clone();
    let hook = Closure::<dyn FnMut(JsValue)>::new(move |batch: JsValue| {
        b2.borrow_mut()
            .push(js_sys::JSON::stringify(&batch).unwrap().into());
    });
    let opts = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&opts, &k.into(), v).unwrap();
    set("collector", &"http://127.0.0.1:9".into());
    set("property", &"test".into());
    set("debug", &JsValue::TRUE);
    set("onBeacon", hook.as_ref());
    let h = vidpulse_plugin::monitor(el.clone().into(), opts.into()).unwrap();
    for name in ["play", "waiting", "playing", "timeupdate", "pause", "play"] {
        dispatch(&el, name);
    }
    h.flush();
    h.destroy();
    let trace: Trace = serde_json::from_str(&h.trace().expect("debug records a trace")).unwrap();
    assert!(trace.records.len() >= 8, "{}", trace.records.len());
    let replayed = replay(&trace);
    let sent: Vec<vidpulse_plugin::wire::Beacon> = batches
        .borrow()
        .iter()
        .flat_map(|b| {
            serde_json::from_str::<vidpulse_plugin::wire::Batch>(b)
                .unwrap()
                .beacons
        })
        .collect();
    assert_eq!(replayed, sent);
}
