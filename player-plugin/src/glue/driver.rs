//! Driving the engine from the page: the one path every input takes.
//!
//! Each DOM callback (media event, timer, frame callback, page hide) goes through
//! [`deliver`]: read a quantised clock and element state, [`Inner::feed`] the
//! engine (recording the input when tracing), re-arm the engine's timer and frame
//! requests, and send the beacons it queued. Because every input passes through
//! `feed`, a recorded trace is complete by construction and replays exactly.
//!
//! Borrow discipline: no `RefCell` borrow is held while page code runs (the
//! `onBeacon` hook is called after the borrow ends), so a hook that calls back
//! into the handle cannot trip a double borrow.

use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlMediaElement;

use super::element::{self, call_method, media_event, read_state, MEDIA_EVENTS};
use super::listener::EventListener;
use super::transport::{self, notify, Sender, Via};
use crate::engine::trace::{self, Trace, TraceElement, TraceInput, TraceRecord};
use crate::engine::{ElementState, Engine, MediaEvent};
use crate::fmath::round;

pub(super) struct Inner {
    pub engine: Engine,
    pub video: HtmlMediaElement,
    pub perf: web_sys::Performance,
    /// Last time fed to the engine: the engine's clock never goes backwards.
    pub last_now: f64,
    pub sender: Rc<RefCell<Sender>>,
    pub listeners: Vec<EventListener>,
    pub timer: Option<(i32, f64)>,
    /// `FnMut(JsValue)` like every other callback, so wasm-bindgen emits one invoker.
    pub on_timer: Closure<dyn FnMut(JsValue)>,
    pub frame_request: Option<u32>,
    pub on_frame: Closure<dyn FnMut(f64, JsValue)>,
    /// Last displayed size given to the engine.
    pub display: (u32, u32),
    /// The recorded inputs, with the `debug` option.
    pub trace: Option<Trace>,
}

impl Inner {
    /// A monotonic, quantised time from `t` (`performance.now()` ms).
    fn clock_at(&mut self, t: f64) -> f64 {
        let (_, q) = trace::quantize_ms(t.max(self.last_now));
        self.last_now = q;
        q
    }

    /// Gives the engine one input (recording it when tracing).
    pub fn feed(&mut self, now: f64, el: &ElementState, input: TraceInput) {
        if let Some(t) = self.trace.as_mut() {
            if t.records.len() < trace::MAX_TRACE_RECORDS {
                t.records.push(TraceRecord {
                    at: trace::quantize_ms(now).0,
                    input: input.clone(),
                    el: TraceElement::quantize(el).0,
                });
            }
        }
        trace::apply(&mut self.engine, now, &input, el);
    }

    pub fn event(&mut self, now: f64, el: &ElementState, ev: MediaEvent) {
        self.feed(now, el, TraceInput::Event { ev });
    }

    /// Feeds the measurements no event carries: displayed size, frame counters,
    /// throughput. Called on timers and around beacons, not per `timeupdate`.
    pub fn measure(&mut self, now: f64, el: &ElementState) {
        let (w, h) = element::display_size(&self.video);
        let size = (round(w) as u32, round(h) as u32);
        if size != self.display {
            self.display = size;
            let ev = MediaEvent::DisplaySize {
                width: size.0,
                height: size.1,
            };
            self.event(now, el, ev);
        }
        if let Some((dropped, total)) = element::frame_counts(&self.video) {
            self.feed(now, el, TraceInput::Frames { dropped, total });
        }
        if let Some(bps) = element::throughput_bps(&self.perf, &self.video) {
            let bps = round(bps) as u64;
            self.feed(now, el, TraceInput::Throughput { bps });
        }
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
                // Re-arm only for an earlier deadline; a timer that fires early
                // just re-arms itself.
                Some(at) if self.timer.is_none_or(|(_, armed)| at < armed) => {
                    if let Some((handle, _)) = self.timer.take() {
                        window.clear_timeout_with_handle(handle);
                    }
                    let delay = (at - now).clamp(0.0, 2.0e9) as i32 + 1;
                    let f = self.on_timer.as_ref().unchecked_ref();
                    if let Ok(h) =
                        window.set_timeout_with_callback_and_timeout_and_arguments_0(f, delay)
                    {
                        self.timer = Some((h, at));
                    }
                }
                Some(_) => {}
            }
        }
        if self.engine.wants_frames() && self.frame_request.is_none() {
            let f: &JsValue = self.on_frame.as_ref();
            if let Some(req) = call_method(&self.video, "requestVideoFrameCallback", f) {
                self.frame_request = req.as_f64().map(|r| r as u32);
            }
        }
        core::iter::from_fn(|| self.engine.poll_beacon()).collect()
    }

    /// Stops every listener, timer and frame callback.
    pub fn detach(&mut self) {
        self.listeners.clear();
        if let (Some(window), Some((handle, _))) = (web_sys::window(), self.timer.take()) {
            window.clear_timeout_with_handle(handle);
        }
        if let Some(req) = self.frame_request.take() {
            let _ = call_method(&self.video, "cancelVideoFrameCallback", &JsValue::from(req));
        }
    }
}

/// Runs `f` with a fresh quantised clock and element state (`at`: a time the
/// browser gave, else `performance.now()`), then sends what the engine queued,
/// calling the page's hook after the borrow ends.
pub(super) fn deliver_at(
    inner: &Rc<RefCell<Inner>>,
    via: Via,
    at: Option<f64>,
    f: impl FnOnce(&mut Inner, f64, &ElementState),
) {
    let sent = {
        let Ok(mut i) = inner.try_borrow_mut() else {
            return;
        };
        let t = at.unwrap_or_else(|| i.perf.now());
        let now = i.clock_at(t);
        let (_, el) = TraceElement::quantize(&read_state(&i.video));
        f(&mut i, now, &el);
        let beacons = i.after(now, &el);
        transport::send(&i.sender, beacons, via)
    };
    notify(sent);
}

pub(super) fn deliver(
    inner: &Rc<RefCell<Inner>>,
    via: Via,
    f: impl FnOnce(&mut Inner, f64, &ElementState),
) {
    deliver_at(inner, via, None, f);
}

pub(super) fn on_timer(weak: &Weak<RefCell<Inner>>) {
    let Some(inner) = weak.upgrade() else { return };
    if let Ok(mut i) = inner.try_borrow_mut() {
        i.timer = None;
    }
    deliver(&inner, Via::Fetch, |i, now, el| {
        i.measure(now, el);
        i.feed(now, el, TraceInput::Timeout);
    });
}

pub(super) fn on_frame(weak: &Weak<RefCell<Inner>>, now: f64, meta: JsValue) {
    let Some(inner) = weak.upgrade() else { return };
    // When the frame is expected on screen, on the same clock as performance.now().
    let shown = js_sys::Reflect::get(&meta, &JsValue::from_str("expectedDisplayTime"))
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(now);
    deliver_at(&inner, Via::Fetch, Some(shown), |i, now, el| {
        i.frame_request = None;
        i.event(now, el, MediaEvent::Frame);
    });
}

/// Attaches the media, fullscreen, page-hide and visibility listeners.
pub(super) fn listen(
    inner: &Rc<RefCell<Inner>>,
    video: &HtmlMediaElement,
    window: &web_sys::Window,
) -> Vec<EventListener> {
    let mut out = Vec::with_capacity(MEDIA_EVENTS.len() + 3);
    for name in MEDIA_EVENTS {
        let weak = Rc::downgrade(inner);
        out.push(EventListener::new(video, name, move |_| {
            let Some(inner) = weak.upgrade() else { return };
            deliver(&inner, Via::Fetch, |i, now, el| {
                let event = media_event(name, &i.video);
                // Measure where the numbers matter: at play intent, on a new
                // rendition, and before the beacons `ended` and `error` send.
                if matches!(
                    event,
                    MediaEvent::Play
                        | MediaEvent::Rendition { .. }
                        | MediaEvent::Ended
                        | MediaEvent::Error { .. }
                ) {
                    i.measure(now, el);
                }
                i.event(now, el, event);
            });
        }));
    }
    let on_page = |via: Via, weak: Weak<RefCell<Inner>>, input: TraceInput| {
        move |_: JsValue| {
            if let Some(inner) = weak.upgrade() {
                deliver(&inner, via, |i, now, el| {
                    i.measure(now, el);
                    i.feed(now, el, input.clone());
                });
            }
        }
    };
    let pagehide = TraceInput::Event {
        ev: MediaEvent::PageHide,
    };
    let weak = Rc::downgrade(inner);
    out.push(EventListener::new(
        window,
        "pagehide",
        on_page(Via::Beacon, weak, pagehide),
    ));
    let Some(document) = window.document() else {
        return out;
    };
    let weak = Rc::downgrade(inner);
    out.push(EventListener::new(
        &document,
        "fullscreenchange",
        move |_| {
            if let Some(inner) = weak.upgrade() {
                deliver(&inner, Via::Fetch, |i, now, el| {
                    let on = element::in_fullscreen(&i.video);
                    i.event(now, el, MediaEvent::Fullscreen { on });
                    i.measure(now, el);
                });
            }
        },
    ));
    // The tab may never come back: send what we have while we can.
    let weak = Rc::downgrade(inner);
    let flush = on_page(Via::Beacon, weak, TraceInput::Flush);
    let doc = document.clone();
    out.push(EventListener::new(
        &document,
        "visibilitychange",
        move |e| {
            if doc.visibility_state() == web_sys::VisibilityState::Hidden {
                flush(e);
            }
        },
    ));
    out
}
