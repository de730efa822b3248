//! The browser glue in a real (headless) Chromium: listener wiring, `destroy()`
//! exactness, one monitor per element, option errors, trace replay, the saved
//! outbox. Run by `cargo xtask test` through wasm-bindgen-test-runner; media events
//! are dispatched synthetically so each test is fast and exact (real playback is the
//! end-to-end suite's job). Each test uses its own property, hence its own sender
//! and saved queue. The collector URL points at a closed port: delivery fails and
//! beacons stay queued, which is what the outbox test looks at.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use vidpulse_plugin::engine::trace::{replay, Trace};
use vidpulse_plugin::wire::Beacon;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DEAD_COLLECTOR: &str = "http://127.0.0.1:9";

/// Bodies the `onBeacon` hook saw.
type Batches = Rc<RefCell<Vec<String>>>;

fn video() -> web_sys::HtmlMediaElement {
    let doc = web_sys::window().unwrap().document().unwrap();
    doc.create_element("video").unwrap().dyn_into().unwrap()
}

fn dispatch(target: &web_sys::EventTarget, name: &str) {
    target
        .dispatch_event(&web_sys::Event::new(name).unwrap())
        .unwrap();
}

/// Options for `property`, recording a trace, with a hook collecting batches sent.
fn options(property: &str) -> (JsValue, Batches, Closure<dyn FnMut(JsValue)>) {
    let batches = Rc::new(RefCell::new(Vec::new()));
    let b2 = batches.clone();
    let hook = Closure::<dyn FnMut(JsValue)>::new(move |batch: JsValue| {
        b2.borrow_mut()
            .push(js_sys::JSON::stringify(&batch).unwrap().into());
    });
    let opts = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&opts, &k.into(), v).unwrap();
    set("collector", &DEAD_COLLECTOR.into());
    set("property", &property.into());
    set("debug", &JsValue::TRUE);
    set("onBeacon", hook.as_ref());
    (opts.into(), batches, hook)
}

fn field(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap()
}

fn trace(h: &vidpulse_plugin::Monitor) -> Trace {
    serde_json::from_str(&h.trace().expect("debug records a trace")).unwrap()
}

fn message(err: JsError) -> String {
    let v = JsValue::from(err);
    js_sys::Reflect::get(&v, &"message".into())
        .unwrap()
        .as_string()
        .unwrap()
}

#[wasm_bindgen_test]
fn play_starts_a_view_and_snapshot_is_a_plain_object() {
    let el = video();
    let (opts, sent, _hook) = options("t-play");
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    let before = h.snapshot();
    assert!(field(&before, "view_id").is_null());
    assert!(field(&before, "startup_ms").is_null());
    assert!(field(&before, "error").is_null());
    dispatch(&el, "play");
    let s = h.snapshot();
    let id = field(&s, "view_id").as_string().unwrap();
    assert_eq!(id.len(), 11);
    assert_eq!(field(&s, "rebuffer_count").as_f64(), Some(0.0));
    // The view-start beacon went out at once (nothing was in flight).
    assert_eq!(sent.borrow().len(), 1);
    assert!(sent.borrow()[0].contains("\"reason\":\"view_start\""));
    h.destroy();
}

#[wasm_bindgen_test]
fn destroy_removes_every_listener() {
    let el = video();
    let (opts, _sent, _hook) = options("t-destroy");
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    dispatch(&el, "timeupdate");
    h.destroy();
    let inputs = trace(&h).records.len();
    let last = h.snapshot();
    assert_eq!(field(&last, "view_ended").as_bool(), Some(true));
    for name in vidpulse_plugin::MEDIA_EVENTS {
        dispatch(&el, name);
    }
    let window = web_sys::window().unwrap();
    dispatch(&window, "pagehide");
    let doc = window.document().unwrap();
    dispatch(&doc, "visibilitychange");
    dispatch(&doc, "fullscreenchange");
    assert_eq!(
        trace(&h).records.len(),
        inputs,
        "no listener survives destroy()"
    );
    assert_eq!(field(&h.snapshot(), "view_id"), field(&last, "view_id"));
    // The element can be monitored afresh.
    let (opts, _sent2, _hook2) = options("t-destroy-2");
    let h2 = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    assert_ne!(field(&h2.snapshot(), "view_id"), field(&last, "view_id"));
    h2.destroy();
}

#[wasm_bindgen_test]
fn monitoring_an_element_twice_returns_the_same_monitor() {
    let el = video();
    let (opts, _sent, _hook) = options("t-twice");
    let h1 = vidpulse_plugin::monitor(el.clone().into(), opts.clone()).unwrap();
    dispatch(&el, "play");
    let h2 = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    let before = trace(&h2).records.len();
    dispatch(&el, "timeupdate");
    assert_eq!(
        trace(&h1).records.len(),
        before + 1,
        "one listener per event"
    );
    dispatch(&el, "loadstart");
    assert_eq!(
        field(&h1.snapshot(), "view_id"),
        field(&h2.snapshot(), "view_id")
    );
    h2.destroy();
    assert_eq!(field(&h1.snapshot(), "view_ended").as_bool(), Some(true));
}

#[wasm_bindgen_test]
fn bad_options_are_rejected_naming_the_field() {
    let el = video();
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"collector".into(), &"http://x".into()).unwrap();
    let err = vidpulse_plugin::monitor(el.clone().into(), opts.clone().into()).err();
    assert!(message(err.unwrap()).contains("options.property"));
    js_sys::Reflect::set(&opts, &"property".into(), &"p".into()).unwrap();
    js_sys::Reflect::set(&opts, &"beaconIntervalMs".into(), &JsValue::from(5.0)).unwrap();
    let err = vidpulse_plugin::monitor(el.clone().into(), opts.into()).err();
    assert!(message(err.unwrap()).contains("options.beaconIntervalMs"));
    let err = vidpulse_plugin::monitor(JsValue::from(3), JsValue::NULL).err();
    assert!(message(err.unwrap()).contains("HTMLMediaElement"));
}

#[wasm_bindgen_test]
fn a_debug_trace_replays_to_the_browser_s_numbers() {
    let el = video();
    let (opts, _sent, _hook) = options("t-replay");
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    for name in ["play", "waiting", "playing", "timeupdate", "pause", "play"] {
        dispatch(&el, name);
    }
    h.flush();
    h.destroy();
    let t = trace(&h);
    assert!(t.records.len() >= 8, "{}", t.records.len());
    let replayed = replay(&t);
    let last = replayed.last().expect("beacons");
    assert!(last.metrics.view_ended);
    let browser = js_sys::JSON::stringify(&h.snapshot()).unwrap();
    let browser: serde_json::Value = serde_json::from_str(&String::from(browser)).unwrap();
    let replay_json = serde_json::to_value(&last.metrics).unwrap();
    for (k, v) in replay_json.as_object().unwrap() {
        assert_eq!(&browser[k], v, "metric {k}");
    }
}

#[wasm_bindgen_test]
fn undelivered_beacons_are_saved_for_the_next_page() {
    let el = video();
    let (opts, _sent, _hook) = options("t-outbox");
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    h.destroy();
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let key = (0..storage.length().unwrap())
        .filter_map(|i| storage.key(i).unwrap())
        .find(|k| k.contains("|t-outbox|"))
        .expect("a saved queue for this collector and property");
    let saved = storage.get_item(&key).unwrap().unwrap();
    let beacons: Vec<Beacon> = saved
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The start beacon is in flight (or failed) and the final one waits; both are
    // saved until the collector confirms them.
    assert!(!beacons.is_empty());
    assert!(beacons.iter().any(|b| b.metrics.view_ended), "{saved}");
}

#[wasm_bindgen_test]
fn set_video_report_error_and_rendition_reach_the_engine() {
    let el = video();
    let (opts, _sent, _hook) = options("t-api");
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    let first = field(&h.snapshot(), "view_id");
    let r = js_sys::JSON::parse(r#"{"width":1280,"height":720,"bitrate":2500000}"#).unwrap();
    h.report_rendition(r).unwrap();
    let e = js_sys::JSON::parse(r#"{"code":7,"message":"manifest","fatal":true}"#).unwrap();
    h.report_error(e).unwrap();
    let s = h.snapshot();
    assert_eq!(field(&field(&s, "error"), "code").as_f64(), Some(7.0));
    let bad = js_sys::JSON::parse(r#"{"width":"wide"}"#).unwrap();
    assert!(message(h.report_rendition(bad).unwrap_err()).contains("rendition.width"));
    // New content: the view ends (the element is paused: no new view yet).
    let v = js_sys::JSON::parse(r#"{"id":"clip-2","title":"Two"}"#).unwrap();
    h.set_video(v).unwrap();
    assert_eq!(field(&h.snapshot(), "view_id"), first);
    assert_eq!(field(&h.snapshot(), "view_ended").as_bool(), Some(true));
    dispatch(&el, "play");
    assert_ne!(field(&h.snapshot(), "view_id"), first);
    let t = trace(&h);
    let last = replay(&t).pop().unwrap();
    assert_eq!(last.video.id.as_deref(), Some("clip-2"));
    h.destroy();
}

#[wasm_bindgen_test]
fn without_consent_nothing_is_stored_or_sent() {
    let el = video();
    let (opts, sent, _hook) = options("t-consent");
    js_sys::Reflect::set(&opts, &"consent".into(), &JsValue::FALSE).unwrap();
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    h.flush();
    assert!(sent.borrow().is_empty(), "nothing sent without consent");
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let saved = (0..storage.length().unwrap())
        .filter_map(|i| storage.key(i).unwrap())
        .any(|k| k.contains("|t-consent|"));
    assert!(!saved, "nothing saved without consent");
    h.set_consent(true);
    h.flush();
    assert_eq!(sent.borrow().len(), 1, "sent once consent is given");
    h.destroy();
}

#[wasm_bindgen_test]
fn a_sampled_out_viewer_is_not_measured() {
    let el = video();
    let (opts, sent, _hook) = options("t-sample");
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&opts, &k.into(), v).unwrap();
    set("sampleRate", &JsValue::from(0.000_001));
    set("viewerId", &"some-viewer".into());
    let h = vidpulse_plugin::monitor(el.clone().into(), opts.clone()).unwrap();
    dispatch(&el, "play");
    assert!(field(&h.snapshot(), "view_id").is_null());
    assert!(sent.borrow().is_empty());
    assert!(trace(&h).records.is_empty());
    h.destroy();
    set("sampleRate", &JsValue::from(0.0));
    let err = vidpulse_plugin::monitor(el.clone().into(), opts).err();
    assert!(message(err.unwrap()).contains("options.sampleRate"));
}

#[wasm_bindgen_test]
fn cookieless_mode_stores_nothing_and_says_so() {
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    storage.remove_item("vidpulse.viewer").unwrap();
    let el = video();
    let (opts, sent, _hook) = options("t-cookieless");
    js_sys::Reflect::set(&opts, &"cookieless".into(), &JsValue::TRUE).unwrap();
    let h = vidpulse_plugin::monitor(el.clone().into(), opts).unwrap();
    dispatch(&el, "play");
    h.destroy();
    let keys: Vec<String> = (0..storage.length().unwrap())
        .filter_map(|i| storage.key(i).unwrap())
        .filter(|k| k == "vidpulse.viewer" || k.contains("|t-cookieless|"))
        .collect();
    assert!(keys.is_empty(), "{keys:?}");
    let first = sent.borrow()[0].clone();
    assert!(first.contains("\"cookieless\":true"), "{first}");
    assert!(first.contains("\"viewer_id\":\"\""), "{first}");
}
