//! The browser binding: `monitor(video, options)` and its handle.
//!
//! This is the only code that touches the DOM. It turns media events into
//! [`MediaEvent`]s with a fresh [`ElementState`] and `performance.now()`, runs the
//! engine's timer and frame-callback requests, and hands the beacons the engine
//! queues to the [`transport`]. Listeners are RAII ([`gloo_events::EventListener`]):
//! dropping them is `destroy()`, so no listener survives it.
//!
//! Borrow discipline: a `RefCell` borrow is never held while page code runs (the
//! `onBeacon` hook is called after the borrow ends), so a hook that calls back into
//! the handle cannot trip a double borrow.

mod element;
mod options;
mod transport;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlMediaElement;

use crate::engine::{ElementState, Engine, MediaEvent, HAVE_FUTURE_DATA};
use element::{call_method, media_event, read_state, MEDIA_EVENTS};
use options::Options;
use transport::{notify, Transport, Via};

thread_local! {
    /// Live monitors by element: `monitor()` on a monitored element returns the same
    /// monitor, and a monitor lives until `destroy()` even if the page drops the handle.
    static MONITORS: RefCell<Vec<(HtmlMediaElement, Rc<RefCell<Inner>>)>> =
        const { RefCell::new(Vec::new()) };
    /// Page load time goes to the first player on the page only.
    static PAGE_LOAD_TAKEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

struct Inner {
    engine: Engine,
    video: HtmlMediaElement,
    perf: web_sys::Performance,
    /// Last timestamp fed to the engine: the engine's clock never goes backwards.
    last_now: f64,
    transport: Transport,
    listeners: Vec<EventListener>,
    timer: Option<(i32, f64)>,
    on_timer: Closure<dyn FnMut()>,
    frame_request: Option<u32>,
    on_frame: Closure<dyn FnMut(f64, JsValue)>,
    /// Last displayed size given to the engine.
    display: (f64, f64),
}

/// The handle `monitor()` returns.
#[wasm_bindgen]
pub struct Monitor {
    inner: Rc<RefCell<Inner>>,
}

/// Starts measuring `video` (any `HTMLMediaElement`). See the README for options.
#[wasm_bindgen]
pub fn monitor(video: JsValue, options: JsValue) -> Result<Monitor, JsError> {
    let video: HtmlMediaElement = video
        .dyn_into()
        .map_err(|_| JsError::new("monitor(video, …): video must be an HTMLMediaElement"))?;
    if let Some(inner) = find(&video) {
        return Ok(Monitor { inner });
    }
    let opts = Options::from_js(&options).map_err(|e| JsError::new(&e))?;
    let window = web_sys::window().ok_or_else(|| JsError::new("no window"))?;
    let perf = window
        .performance()
        .ok_or_else(|| JsError::new("no performance clock"))?;
    let viewer = opts.viewer_id.clone().unwrap_or_else(transport::viewer_id);
    let mut cfg = opts.engine_config();
    // Player startup is measurable only if the element was not ready before init.
    cfg.player_init_at = match opts.player_init_time {
        Some(epoch_ms) => Some(epoch_ms - perf.time_origin()),
        None => (video.ready_state() < u16::from(HAVE_FUTURE_DATA)).then(|| perf.now()),
    };
    if !PAGE_LOAD_TAKEN.with(|t| t.replace(true)) {
        cfg.page_load_ms = cfg.player_init_at;
    }
    cfg.autoplay = opts.autoplay.unwrap_or_else(|| video.autoplay());
    let mut engine = Engine::new(
        cfg,
        transport::random_u64(),
        perf.time_origin(),
        opts.video.clone(),
        Some(video.current_src()),
    );
    engine.set_context(opts.context(&window));
    let inner = Rc::new_cyclic(|weak: &Weak<RefCell<Inner>>| {
        let (w1, w2) = (weak.clone(), weak.clone());
        RefCell::new(Inner {
            engine,
            video: video.clone(),
            perf,
            last_now: 0.0,
            transport: Transport::new(
                opts.beacons_url(),
                opts.property.clone(),
                viewer,
                opts.on_beacon.clone(),
            ),
            listeners: Vec::new(),
            timer: None,
            on_timer: Closure::new(move || on_timer(&w1)),
            frame_request: None,
            on_frame: Closure::new(move |now: f64, meta: JsValue| on_frame(&w2, now, meta)),
            display: (0.0, 0.0),
        })
    });
    let listeners = listen(&inner, &video, &window);
    inner.borrow_mut().listeners = listeners;
    MONITORS.with(|m| m.borrow_mut().push((video.clone(), inner.clone())));
    // Monitoring may start on an element that is already playing.
    if !video.paused() {
        deliver(&inner, Via::Fetch, |i, now, el| {
            i.engine.handle_event(now, MediaEvent::Play, el)
        });
    }
    Ok(Monitor { inner })
}

#[wasm_bindgen]
impl Monitor {
    /// The current (or last) view's metrics as a plain object.
    pub fn snapshot(&self) -> JsValue {
        let json = {
            let Ok(mut i) = self.inner.try_borrow_mut() else {
                return JsValue::NULL;
            };
            let (now, el) = i.clock_and_state();
            let s = i.engine.snapshot(now, &el);
            let out = SnapshotOut {
                view_id: s.view_id.as_deref(),
                seq: s.seq,
                metrics: &s.metrics,
            };
            serde_json::to_string(&out).unwrap_or_default()
        };
        let obj = js_sys::JSON::parse(&json).unwrap_or(JsValue::NULL);
        // Absent optional fields read as `null`, not `undefined`.
        for key in ["view_id", "startup_ms", "error"] {
            let k = JsValue::from_str(key);
            if js_sys::Reflect::get(&obj, &k).is_ok_and(|v| v.is_undefined()) {
                let _ = js_sys::Reflect::set(&obj, &k, &JsValue::NULL);
            }
        }
        obj
    }

    /// Sends the current state now.
    pub fn flush(&self) {
        deliver(&self.inner, Via::Fetch, |i, now, el| {
            i.engine.flush(now, el)
        });
    }

    /// Ends the view, sends its final beacon and removes every listener and timer.
    pub fn destroy(&self) {
        deliver(&self.inner, Via::Fetch, |i, now, el| {
            i.engine.end_view(now, el)
        });
        let Ok(mut i) = self.inner.try_borrow_mut() else {
            return;
        };
        i.listeners.clear();
        if let Some(window) = web_sys::window() {
            if let Some((handle, _)) = i.timer.take() {
                window.clear_timeout_with_handle(handle);
            }
        }
        if let Some(req) = i.frame_request.take() {
            let _ = call_method(&i.video, "cancelVideoFrameCallback", &JsValue::from(req));
        }
        let video = i.video.clone();
        drop(i);
        MONITORS.with(|m| {
            m.borrow_mut()
                .retain(|(el, _)| !js_sys::Object::is(el, &video))
        });
    }
}

#[derive(serde::Serialize)]
struct SnapshotOut<'a> {
    view_id: Option<&'a str>,
    seq: u32,
    #[serde(flatten)]
    metrics: &'a crate::wire::ViewMetrics,
}

impl Inner {
    /// Feeds the engine the measurements it cannot get from events: displayed
    /// size, frame counters, throughput. Called on timers and before final beacons,
    /// not per `timeupdate`.
    fn measure(&mut self, now: f64, el: &ElementState) {
        let (w, h) = element::display_size(&self.video);
        if (w, h) != self.display {
            self.display = (w, h);
            let ev = MediaEvent::DisplaySize {
                width: w,
                height: h,
            };
            self.engine.handle_event(now, ev, el);
        }
        if let Some((dropped, total)) = element::frame_counts(&self.video) {
            self.engine.set_frame_counts(dropped, total);
        }
        if let Some(bps) = element::throughput_bps(&self.perf, &self.video) {
            self.engine.set_throughput(bps);
        }
    }

    /// A monotonic `performance.now()` and the element's state.
    fn clock_and_state(&mut self) -> (f64, ElementState) {
        self.last_now = self.perf.now().max(self.last_now);
        (self.last_now, read_state(&self.video))
    }

    /// After the engine ran: arm its timer, ask for frames it wants, take its beacons.
    fn after(&mut self, now: f64, el: &ElementState) -> Vec<crate::wire::Beacon> {
        if let Some(window) = web_sys::window() {
            match self.engine.poll_timeout(el) {
                None => {
                    if let Some((handle, _)) = self.timer.take() {
                        window.clear_timeout_with_handle(handle);
                    }
                }
                Some(at) => {
                    // Re-arm only for an earlier deadline; a timer that fires early
                    // just re-arms itself.
                    if self.timer.is_none_or(|(_, armed)| at < armed) {
                        if let Some((handle, _)) = self.timer.take() {
                            window.clear_timeout_with_handle(handle);
                        }
                        let delay = (at - now).clamp(0.0, 2.0e9) as i32 + 1;
                        if let Ok(handle) = window
                            .set_timeout_with_callback_and_timeout_and_arguments_0(
                                self.on_timer.as_ref().unchecked_ref(),
                                delay,
                            )
                        {
                            self.timer = Some((handle, at));
                        }
                    }
                }
            }
        }
        if self.engine.wants_frames() && self.frame_request.is_none() {
            let f: &JsValue = self.on_frame.as_ref();
            if let Some(req) = call_method(&self.video, "requestVideoFrameCallback", f) {
                self.frame_request = req.as_f64().map(|r| r as u32);
            }
        }
        std::iter::from_fn(|| self.engine.poll_beacon()).collect()
    }
}

/// Runs `f` on the monitor with a fresh clock and element state, then sends what the
/// engine queued, calling the page's hook after the borrow ends.
fn deliver(inner: &Rc<RefCell<Inner>>, via: Via, f: impl FnOnce(&mut Inner, f64, &ElementState)) {
    let sent = {
        let Ok(mut i) = inner.try_borrow_mut() else {
            return;
        };
        let (now, el) = i.clock_and_state();
        f(&mut i, now, &el);
        let beacons = i.after(now, &el);
        i.transport.send(beacons, via)
    };
    notify(sent);
}

fn on_timer(weak: &Weak<RefCell<Inner>>) {
    if let Some(inner) = weak.upgrade() {
        if let Ok(mut i) = inner.try_borrow_mut() {
            i.timer = None;
        }
        deliver(&inner, Via::Fetch, |i, now, el| {
            i.engine.handle_timeout(now, el)
        });
    }
}

fn on_frame(weak: &Weak<RefCell<Inner>>, now: f64, meta: JsValue) {
    let Some(inner) = weak.upgrade() else { return };
    // When the frame is expected on screen, on the same clock as performance.now().
    let shown = js_sys::Reflect::get(&meta, &JsValue::from_str("expectedDisplayTime"))
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(now);
    deliver(&inner, Via::Fetch, |i, _, el| {
        i.frame_request = None;
        let t = shown.max(i.last_now);
        i.last_now = t;
        i.engine.handle_event(t, MediaEvent::Frame, el);
    });
}

/// Attaches the media, page-hide and visibility listeners.
fn listen(
    inner: &Rc<RefCell<Inner>>,
    video: &HtmlMediaElement,
    window: &web_sys::Window,
) -> Vec<EventListener> {
    let mut out = Vec::with_capacity(MEDIA_EVENTS.len() + 2);
    for name in MEDIA_EVENTS {
        let weak = Rc::downgrade(inner);
        out.push(EventListener::new(video, name, move |_| {
            let Some(inner) = weak.upgrade() else { return };
            deliver(&inner, Via::Fetch, |i, now, el| {
                let event = media_event(name, &i.video);
                let last_word = matches!(event, MediaEvent::Ended | MediaEvent::Error { .. });
                if last_word || name == "resize" || name == "play" {
                    i.measure(now, el);
                }
                i.engine.handle_event(now, event, el);
            });
        }));
    }
    let weak = Rc::downgrade(inner);
    out.push(EventListener::new(window, "pagehide", move |_| {
        if let Some(inner) = weak.upgrade() {
            deliver(&inner, Via::Beacon, |i, now, el| {
                i.measure(now, el);
                i.engine.handle_event(now, MediaEvent::PageHide, el)
            });
        }
    }));
    if let Some(document) = window.document() {
        let weak = Rc::downgrade(inner);
        out.push(EventListener::new(
            &document,
            "fullscreenchange",
            move |_| {
                if let Some(inner) = weak.upgrade() {
                    deliver(&inner, Via::Fetch, |i, now, el| {
                        let on = element::in_fullscreen(&i.video);
                        i.engine
                            .handle_event(now, MediaEvent::Fullscreen { on }, el);
                        i.measure(now, el);
                    });
                }
            },
        ));
        let weak = Rc::downgrade(inner);
        let doc = document.clone();
        out.push(EventListener::new(
            &document,
            "visibilitychange",
            move |_| {
                if doc.visibility_state() == web_sys::VisibilityState::Hidden {
                    if let Some(inner) = weak.upgrade() {
                        // The tab may never come back: send what we have while we can.
                        deliver(&inner, Via::Beacon, |i, now, el| {
                            i.measure(now, el);
                            i.engine.flush(now, el)
                        });
                    }
                }
            },
        ));
    }
    out
}

fn find(video: &HtmlMediaElement) -> Option<Rc<RefCell<Inner>>> {
    MONITORS.with(|m| {
        m.borrow()
            .iter()
            .find(|(el, _)| js_sys::Object::is(el, video))
            .map(|(_, inner)| inner.clone())
    })
}
