//! Recorded engine inputs, and their replay.
//!
//! Every input the browser glue gives the engine can be recorded (the `debug`
//! option) as a [`Trace`]; [`replay`] feeds the same inputs to a fresh engine
//! anywhere (tests, `cargo xtask replay`, a server) and must produce exactly the
//! beacons the browser produced: one definition of every metric.
//!
//! Exactness comes from quantisation: times are whole microseconds and the glue
//! rounds its inputs to them *before* the engine sees them, so the engine computes
//! on the very values the trace stores. Storing integers also spares the plugin a
//! float formatter and keeps NaN and infinity representable in JSON.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::fmath::round;

use super::{Config, ElementState, Engine, MediaEvent};
use crate::wire::{Beacon, VideoMeta, ViewContext};

/// Most records one trace keeps; later inputs are not recorded.
pub const MAX_TRACE_RECORDS: usize = 200_000;

/// Microseconds for a millisecond time, and the quantised time itself.
pub fn quantize_ms(ms: f64) -> (i64, f64) {
    let us = if ms.is_finite() {
        round(ms * 1000.0) as i64
    } else {
        0
    };
    (us, us as f64 / 1000.0)
}

/// Microseconds for seconds of media time; NaN is `i64::MIN`, infinity `i64::MAX`.
fn secs_to_us(s: f64) -> i64 {
    if s.is_nan() {
        i64::MIN
    } else if s.is_infinite() {
        i64::MAX
    } else {
        round(s * 1e6) as i64
    }
}

fn us_to_secs(us: i64) -> f64 {
    match us {
        i64::MIN => f64::NAN,
        i64::MAX => f64::INFINITY,
        _ => us as f64 / 1e6,
    }
}

/// The element state as stored in a trace (integers only).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceElement {
    /// `currentTime`, µs.
    pub t: i64,
    /// `paused`, `seeking`, `ended`.
    pub p: bool,
    /// `seeking`.
    pub s: bool,
    /// `ended`.
    pub e: bool,
    /// `readyState`.
    pub r: u8,
    /// `playbackRate` × 10⁶.
    pub rate: i64,
    /// `duration`, µs (`i64::MIN` unknown, `i64::MAX` infinite).
    pub d: i64,
}

impl TraceElement {
    /// Quantises a live element state; returns the stored form and the state the
    /// engine must be given.
    pub fn quantize(el: &ElementState) -> (TraceElement, ElementState) {
        let t = TraceElement {
            t: secs_to_us(el.current_time),
            p: el.paused,
            s: el.seeking,
            e: el.ended,
            r: el.ready_state,
            rate: secs_to_us(el.playback_rate),
            d: secs_to_us(el.duration),
        };
        (t, t.state())
    }

    /// The element state this record stands for.
    pub fn state(&self) -> ElementState {
        ElementState {
            current_time: us_to_secs(self.t),
            paused: self.p,
            seeking: self.s,
            ended: self.e,
            ready_state: self.r,
            playback_rate: us_to_secs(self.rate),
            duration: us_to_secs(self.d),
        }
    }
}

/// One engine input.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum TraceInput {
    /// [`Engine::handle_event`].
    Event {
        /// The event.
        ev: MediaEvent,
    },
    /// [`Engine::handle_timeout`].
    Timeout,
    /// [`Engine::flush`].
    Flush,
    /// [`Engine::end_view`].
    EndView,
    /// [`Engine::set_frame_counts`].
    Frames {
        /// Dropped frames.
        dropped: u32,
        /// Total frames.
        total: u32,
    },
    /// [`Engine::set_throughput`].
    Throughput {
        /// bit/s.
        bps: u64,
    },
}

/// One recorded input: when (µs of `performance.now()`), what, and the element.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TraceRecord {
    /// Time, µs.
    pub at: i64,
    /// The input.
    #[serde(flatten)]
    pub input: TraceInput,
    /// The element's state.
    pub el: TraceElement,
}

/// How the engine was set up.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TraceHeader {
    /// View id seed, hex (JSON numbers cannot hold 64 bits everywhere).
    pub seed: String,
    /// `performance.timeOrigin`, µs.
    pub time_origin_us: i64,
    /// Heartbeat period, ms.
    pub beacon_interval_ms: u64,
    /// Player init, µs of `performance.now()`.
    pub player_init_us: Option<i64>,
    /// Page load, µs.
    pub page_load_us: Option<i64>,
    /// Autoplay.
    pub autoplay: bool,
    /// Content metadata.
    pub video: VideoMeta,
    /// Page and player context.
    pub context: ViewContext,
    /// `currentSrc` at start.
    pub src: Option<String>,
}

/// A recorded session of one engine.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Trace {
    /// Set-up.
    pub header: TraceHeader,
    /// Inputs in order.
    pub records: Vec<TraceRecord>,
}

impl TraceHeader {
    /// Builds the engine this header describes.
    pub fn engine(&self) -> Engine {
        self.clone().into_engine()
    }

    /// Builds the engine this header describes, from the header itself.
    pub fn into_engine(self) -> Engine {
        let seed = u64::from_str_radix(&self.seed, 16).unwrap_or(0);
        self.into_engine_with(seed)
    }

    /// As [`TraceHeader::into_engine`], with the seed as a number (`self.seed`
    /// is not read): the shipped core has no hex parser to carry.
    pub fn into_engine_with(self, seed: u64) -> Engine {
        let ms = |us: i64| us as f64 / 1000.0;
        let cfg = Config {
            beacon_interval_ms: self.beacon_interval_ms as f64,
            player_init_at: self.player_init_us.map(ms),
            page_load_ms: self.page_load_us.map(ms),
            autoplay: self.autoplay,
            ..Config::default()
        };
        let mut engine = Engine::new(cfg, seed, ms(self.time_origin_us), self.video, self.src);
        engine.set_context(self.context);
        engine
    }
}

/// Applies one input to an engine at quantised time `now`.
pub fn apply(engine: &mut Engine, now: f64, input: TraceInput, el: &ElementState) {
    match input {
        TraceInput::Event { ev } => engine.handle_event(now, ev, el),
        TraceInput::Timeout => engine.handle_timeout(now, el),
        TraceInput::Flush => engine.flush(now, el),
        TraceInput::EndView => engine.end_view(now, el),
        TraceInput::Frames { dropped, total } => engine.set_frame_counts(dropped, total),
        TraceInput::Throughput { bps } => engine.set_throughput(bps as f64),
    }
}

/// Replays a trace through a fresh engine; returns every beacon it queued.
pub fn replay(trace: &Trace) -> Vec<Beacon> {
    let mut engine = trace.header.engine();
    let mut out = Vec::new();
    for r in &trace.records {
        apply(
            &mut engine,
            r.at as f64 / 1000.0,
            r.input.clone(),
            &r.el.state(),
        );
        while let Some(b) = engine.poll_beacon() {
            out.push(b);
        }
    }
    out
}
