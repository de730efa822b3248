//! The trace half of the JSON writer: `Monitor.trace()` writes the recorded engine
//! inputs as serde writes `engine::trace::Trace`, so `cargo xtask replay` reads them
//! back with serde (checked byte for byte by `tests/json.rs`).

use alloc::string::String;

use super::{context, video, Json};
use crate::engine::trace::{Trace, TraceElement, TraceInput};
use crate::engine::MediaEvent;

/// A recorded trace (`Monitor.trace()`), as serde writes `engine::trace::Trace`
/// (so `cargo xtask replay` reads it with serde).
pub fn trace(t: &Trace) -> String {
    let mut j = Json::default();
    let h = &t.header;
    j.open(b'{');
    j.key("header");
    j.open(b'{');
    j.s("seed", &h.seed);
    j.i("time_origin_us", h.time_origin_us);
    j.n("beacon_interval_ms", h.beacon_interval_ms);
    j.null_i("player_init_us", h.player_init_us);
    j.null_i("page_load_us", h.page_load_us);
    j.b("autoplay", h.autoplay);
    j.key("video");
    video(&mut j, &h.video);
    j.key("context");
    context(&mut j, &h.context);
    j.key("src");
    match &h.src {
        Some(s) => j.str(s),
        None => j.raw("null"),
    }
    j.close(b'}');
    j.key("records");
    j.open(b'[');
    for r in &t.records {
        j.sep();
        j.open(b'{');
        j.i("at", r.at);
        trace_input(&mut j, &r.input);
        j.key("el");
        trace_element(&mut j, &r.el);
        j.close(b'}');
    }
    j.close(b']');
    j.close(b'}');
    j.out
}

fn trace_input(j: &mut Json, input: &TraceInput) {
    match input {
        TraceInput::Event { ev } => {
            j.s("in", "event");
            j.key("ev");
            media_event(j, ev);
        }
        TraceInput::Timeout => j.s("in", "timeout"),
        TraceInput::Flush => j.s("in", "flush"),
        TraceInput::EndView => j.s("in", "end_view"),
        TraceInput::Frames { dropped, total } => {
            j.s("in", "frames");
            j.n("dropped", (*dropped).into());
            j.n("total", (*total).into());
        }
        TraceInput::Throughput { bps } => {
            j.s("in", "throughput");
            j.n("bps", *bps);
        }
    }
}

fn trace_element(j: &mut Json, e: &TraceElement) {
    j.open(b'{');
    j.i("t", e.t);
    j.b("p", e.p);
    j.b("s", e.s);
    j.b("e", e.e);
    j.n("r", e.r.into());
    j.i("rate", e.rate);
    j.i("d", e.d);
    j.close(b'}');
}

fn media_event(j: &mut Json, ev: &MediaEvent) {
    j.open(b'{');
    let name = match ev {
        MediaEvent::Emptied => "emptied",
        MediaEvent::LoadStart { .. } => "load_start",
        MediaEvent::Play => "play",
        MediaEvent::Playing => "playing",
        MediaEvent::Pause => "pause",
        MediaEvent::Waiting => "waiting",
        MediaEvent::Stalled => "stalled",
        MediaEvent::TimeUpdate => "time_update",
        MediaEvent::Seeking => "seeking",
        MediaEvent::Seeked => "seeked",
        MediaEvent::Ended => "ended",
        MediaEvent::Error { .. } => "error",
        MediaEvent::ReportedError { .. } => "reported_error",
        MediaEvent::VideoChange { .. } => "video_change",
        MediaEvent::Frame => "frame",
        MediaEvent::CanPlay => "can_play",
        MediaEvent::RateChange => "rate_change",
        MediaEvent::VolumeChange => "volume_change",
        MediaEvent::Rendition { .. } => "rendition",
        MediaEvent::DisplaySize { .. } => "display_size",
        MediaEvent::Fullscreen { .. } => "fullscreen",
        MediaEvent::PageHide => "page_hide",
    };
    j.s("type", name);
    match ev {
        MediaEvent::LoadStart { src } => j.s("src", src),
        MediaEvent::Error { code, message } => {
            j.n("code", (*code).into());
            j.s("message", message);
        }
        MediaEvent::ReportedError {
            code,
            message,
            fatal,
        } => {
            j.n("code", (*code).into());
            j.s("message", message);
            j.b("fatal", *fatal);
        }
        MediaEvent::VideoChange { video: v } => {
            j.key("video");
            video(j, v);
        }
        MediaEvent::Rendition {
            width,
            height,
            bitrate,
        } => {
            j.n("width", (*width).into());
            j.n("height", (*height).into());
            j.key("bitrate");
            match bitrate {
                Some(b) => j.uint(*b),
                None => j.raw("null"),
            }
        }
        MediaEvent::DisplaySize { width, height } => {
            j.n("width", (*width).into());
            j.n("height", (*height).into());
        }
        MediaEvent::Fullscreen { on } => j.b("on", *on),
        _ => {}
    }
    j.close(b'}');
}
