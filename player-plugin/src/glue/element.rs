//! Reading the `<video>` element: its state, what an event means, and the
//! measurements the engine takes as plain numbers (display size, frame counts,
//! throughput, fullscreen).
//!
//! Kept apart from the monitor plumbing so that every DOM read is in one place;
//! members web-sys keeps behind unstable flags are read through `Reflect`.

use alloc::string::String;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlMediaElement;

use crate::engine::{ElementState, MediaEvent};

/// Media events the engine needs, by DOM name.
pub const MEDIA_EVENTS: [&str; 16] = [
    "emptied",
    "loadstart",
    "play",
    "playing",
    "pause",
    "waiting",
    "stalled",
    "timeupdate",
    "seeking",
    "seeked",
    "ended",
    "error",
    "canplay",
    "ratechange",
    "volumechange",
    "resize",
];

fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn num(target: &JsValue, key: &str) -> f64 {
    get(target, key).as_f64().unwrap_or(0.0)
}

/// Calls `target[name](arg)` if the browser has that method.
pub fn call_method(target: &JsValue, name: &str, arg: &JsValue) -> Option<JsValue> {
    let f: js_sys::Function = get(target, name).dyn_into().ok()?;
    f.call1(target, arg).ok()
}

pub fn read_state(v: &HtmlMediaElement) -> ElementState {
    ElementState {
        current_time: v.current_time(),
        paused: v.paused(),
        seeking: v.seeking(),
        ended: v.ended(),
        ready_state: v.ready_state() as u8,
        playback_rate: v.playback_rate(),
        duration: v.duration(),
    }
}

/// The engine event for a DOM event name.
pub fn media_event(name: &str, video: &HtmlMediaElement) -> MediaEvent {
    match name {
        "emptied" => MediaEvent::Emptied,
        "loadstart" => MediaEvent::LoadStart {
            src: video.current_src(),
        },
        "play" => MediaEvent::Play,
        "playing" => MediaEvent::Playing,
        "pause" => MediaEvent::Pause,
        "waiting" => MediaEvent::Waiting,
        "stalled" => MediaEvent::Stalled,
        "seeking" => MediaEvent::Seeking,
        "seeked" => MediaEvent::Seeked,
        "ended" => MediaEvent::Ended,
        "canplay" => MediaEvent::CanPlay,
        "ratechange" => MediaEvent::RateChange,
        "volumechange" => MediaEvent::VolumeChange,
        "resize" => MediaEvent::Rendition {
            width: num(video, "videoWidth") as u32,
            height: num(video, "videoHeight") as u32,
            bitrate: None,
        },
        "error" => {
            let (code, message) = video
                .error()
                .map(|e| (e.code(), e.message()))
                .unwrap_or((0, String::new()));
            MediaEvent::Error { code, message }
        }
        _ => MediaEvent::TimeUpdate,
    }
}

/// The element's box in device pixels (CSS px × devicePixelRatio).
pub fn display_size(video: &HtmlMediaElement) -> (f64, f64) {
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    (
        f64::from(video.client_width()) * dpr,
        f64::from(video.client_height()) * dpr,
    )
}

/// `getVideoPlaybackQuality()`: (dropped, total) frames, where supported.
pub fn frame_counts(video: &HtmlMediaElement) -> Option<(u32, u32)> {
    let q = call_method(video, "getVideoPlaybackQuality", &JsValue::UNDEFINED)?;
    Some((
        num(&q, "droppedVideoFrames") as u32,
        num(&q, "totalVideoFrames") as u32,
    ))
}

/// Whether `video` is (or is inside) the fullscreen element.
pub fn in_fullscreen(video: &HtmlMediaElement) -> bool {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return false;
    };
    match get(&doc, "fullscreenElement").dyn_into::<web_sys::Node>() {
        Ok(fs) => fs.contains(Some(video)),
        Err(_) => false,
    }
}

/// Media throughput from Resource Timing entries for the current source, bit/s:
/// bytes transferred over time spent, where the server allows timing details.
pub fn throughput_bps(perf: &web_sys::Performance, video: &HtmlMediaElement) -> Option<f64> {
    let src = video.current_src();
    if src.is_empty() {
        return None;
    }
    let entries = perf.get_entries_by_name(&src);
    let (mut bytes, mut ms) = (0.0, 0.0);
    for e in entries.iter() {
        let size = num(&e, "transferSize");
        let dur = num(&e, "responseEnd") - num(&e, "responseStart");
        if size > 0.0 && dur > 0.0 {
            bytes += size;
            ms += dur;
        }
    }
    (ms > 0.0).then(|| bytes * 8.0 * 1000.0 / ms)
}
