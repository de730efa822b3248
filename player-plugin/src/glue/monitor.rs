//! One monitored element, as the JS shell drives it.
//!
//! Every input takes the same path: `b` (begin) quantises the clock and the
//! element state the shell read, `i`/`m` feed the engine (recording the input
//! when tracing), then `e` hands the engine's beacons to the shell (as JSON, for
//! the delivery queue, `js/outbox.js`) and `d`/`f` say which timer and frame
//! callback the shell should arm. Because every input
//! passes through [`Monitor::feed`], a recorded trace is complete by
//! construction and replays exactly. Recording is in the debug build only (the
//! `trace` feature): every viewer would otherwise pay for a developer's tool.

use alloc::vec::Vec;
use core::cell::RefCell;

use super::{answer, delay_ms, opt, take_args, whole, Global};
use crate::engine::trace::{self, TraceElement, TraceHeader, TraceInput};
#[cfg(feature = "trace")]
use crate::engine::trace::{Trace, TraceRecord};
use crate::engine::{ElementState, Engine, MediaEvent};
use crate::fmath::round;
use crate::wire::{VideoMeta, ViewContext};

struct Monitor {
    engine: Engine,
    /// The input's quantised time: the engine's clock never goes backwards.
    now: f64,
    /// The input's quantised element state.
    el: ElementState,
    /// Last displayed size given to the engine.
    display: (u32, u32),
    /// The deadline of the timer the shell has armed.
    timer_at: Option<f64>,
    /// The recorded inputs, with the `debug` option.
    #[cfg(feature = "trace")]
    trace: Option<Trace>,
}

/// The page's monitors, by handle. A destroyed monitor stays while its JS handle
/// lives (it still answers `snapshot()` and `trace()`); `x` frees the slot when
/// the page has dropped the handle, and `c` reuses free slots.
static MONITORS: Global<RefCell<Vec<Option<Monitor>>>> = Global(RefCell::new(Vec::new()));

fn with<R>(h: usize, f: impl FnOnce(&mut Monitor) -> R) -> Option<R> {
    MONITORS.0.borrow_mut().get_mut(h)?.as_mut().map(f)
}

/// The element state the shell read (`flags`: 1 paused, 2 seeking, 4 ended),
/// quantised as the engine must see it.
fn state(time: f64, flags: u32, ready: u32, rate: f64, dur: f64) -> ElementState {
    let el = ElementState {
        current_time: time,
        paused: flags & 1 != 0,
        seeking: flags & 2 != 0,
        ended: flags & 4 != 0,
        ready_state: ready as u8,
        playback_rate: rate,
        duration: dur,
    };
    TraceElement::quantize(&el).1
}

/// Media inputs by number: the shell's list of DOM event names gives 0–15.
fn media_event(kind: u32, x: f64, y: f64, z: f64, args: &mut super::Args) -> Option<MediaEvent> {
    let text = |a: &mut super::Args| a.next().unwrap_or_default();
    Some(match kind {
        0 => MediaEvent::Emptied,
        1 => MediaEvent::LoadStart { src: text(args) },
        2 => MediaEvent::Play,
        3 => MediaEvent::Playing,
        4 => MediaEvent::Pause,
        5 => MediaEvent::Waiting,
        6 => MediaEvent::Stalled,
        7 => MediaEvent::TimeUpdate,
        8 => MediaEvent::Seeking,
        9 => MediaEvent::Seeked,
        10 => MediaEvent::Ended,
        11 => MediaEvent::Error {
            code: x as u16,
            message: text(args),
        },
        12 => MediaEvent::CanPlay,
        13 => MediaEvent::RateChange,
        14 => MediaEvent::VolumeChange,
        15 => MediaEvent::Rendition {
            width: x as u32,
            height: y as u32,
            bitrate: opt(z).map(whole),
        },
        16 => MediaEvent::Frame,
        17 => MediaEvent::PageHide,
        18 => MediaEvent::Fullscreen { on: x > 0.0 },
        19 => MediaEvent::ReportedError {
            code: x.min(f64::from(u16::MAX)) as u16,
            message: text(args),
            fatal: y > 0.0,
        },
        20 => MediaEvent::VideoChange {
            video: video_meta(args, z),
        },
        _ => return None,
    })
}

/// `{ id, title, series, cdn }` from the string arguments, `duration` (ms) from a number.
fn video_meta(args: &mut super::Args, duration: f64) -> VideoMeta {
    VideoMeta {
        id: args.next(),
        title: args.next(),
        series: args.next(),
        cdn: args.next(),
        duration_ms: opt(duration).map(whole),
        ..VideoMeta::default()
    }
}

impl Monitor {
    /// Gives the engine one input (recording it when tracing).
    fn feed(&mut self, input: TraceInput) {
        #[cfg(feature = "trace")]
        if let Some(t) = self.trace.as_mut() {
            if t.records.len() < trace::MAX_TRACE_RECORDS {
                t.records.push(TraceRecord {
                    at: trace::quantize_ms(self.now).0,
                    input: input.clone(),
                    el: TraceElement::quantize(&self.el).0,
                });
            }
        }
        trace::apply(&mut self.engine, self.now, input, &self.el);
    }
}

/// Creates a monitor and answers its handle. `seed_hi`/`seed_lo`:
/// 64 random bits for view ids, as two 32-bit numbers. Strings: video id,
/// title, series, cdn, page host, page path, player name (the JS says `html5`
/// for the bare element), player version, experiment, source. Absent times are
/// NaN, an absent duration -1.
#[export_name = "c"]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn create(
    seed_hi: u32,
    seed_lo: u32,
    time_origin_ms: f64,
    interval_ms: f64,
    player_init_ms: f64,
    page_load_ms: f64,
    duration_ms: f64,
    autoplay: bool,
    debug: bool,
) -> usize {
    let mut a = take_args();
    let seed = u64::from(seed_hi) << 32 | u64::from(seed_lo);
    let video = video_meta(&mut a, duration_ms);
    // Absent times are NaN (a time may be negative: before the time origin).
    let us = |ms: f64| (!ms.is_nan()).then(|| trace::quantize_ms(ms).0);
    let context = ViewContext {
        page_host: a.next(),
        page_path: a.next(),
        player_name: a.next(),
        player_version: a.next(),
        autoplay: false,
        experiment: a.next(),
    };
    let header = TraceHeader {
        // Only a trace reads the hex; the live engine takes the number.
        seed: if cfg!(feature = "trace") {
            crate::json::hex16(seed)
        } else {
            alloc::string::String::new()
        },
        time_origin_us: trace::quantize_ms(time_origin_ms).0,
        beacon_interval_ms: interval_ms as u64,
        player_init_us: us(player_init_ms),
        page_load_us: us(page_load_ms),
        autoplay,
        video,
        context,
        src: a.next(),
    };
    // The live engine is built from the header, exactly as a replay builds it
    // (the shipped build, with nothing to record, gives the header away).
    #[cfg(not(feature = "trace"))]
    let (engine, _) = (header.into_engine_with(seed), debug);
    #[cfg(feature = "trace")]
    let engine = header.engine();
    let m = Monitor {
        engine,
        now: 0.0,
        el: ElementState::default(),
        display: (0, 0),
        timer_at: None,
        #[cfg(feature = "trace")]
        trace: debug.then(|| Trace {
            header,
            records: Vec::new(),
        }),
    };
    let mut all = MONITORS.0.borrow_mut();
    match all.iter().position(Option::is_none) {
        Some(h) => {
            all[h] = Some(m);
            h
        }
        None => {
            all.push(Some(m));
            all.len() - 1
        }
    }
}

/// Frees a monitor whose JS handle the page has dropped (after `destroy()`).
#[export_name = "x"]
pub extern "C" fn free(h: usize) {
    if let Some(slot) = MONITORS.0.borrow_mut().get_mut(h) {
        *slot = None;
    }
}

/// Begins an input at `now` (`performance.now()` ms) with the element's state;
/// `flags`: 1 paused, 2 seeking, 4 ended.
#[export_name = "b"]
pub extern "C" fn begin(
    h: usize,
    now: f64,
    time: f64,
    flags: u32,
    ready: u32,
    rate: f64,
    dur: f64,
) {
    with(h, |m| {
        m.now = trace::quantize_ms(now.max(m.now)).1;
        m.el = state(time, flags, ready, rate, dur);
    });
}

/// Feeds one input: a media event (see [`media_event`]; strings as it says), or
/// 21 timeout, 22 flush, 23 end of view.
#[export_name = "i"]
pub extern "C" fn input(h: usize, kind: u32, x: f64, y: f64, z: f64) {
    let mut args = take_args();
    let input = match kind {
        21 => TraceInput::Timeout,
        22 => TraceInput::Flush,
        23 => TraceInput::EndView,
        _ => match media_event(kind, x, y, z, &mut args) {
            Some(ev) => TraceInput::Event { ev },
            None => return,
        },
    };
    with(h, |m| {
        if kind == 21 {
            m.timer_at = None;
        }
        m.feed(input)
    });
}

/// Feeds the measurements no event carries: the displayed size (device px),
/// frame counters and throughput (bit/s), each negative when unknown.
#[export_name = "m"]
pub extern "C" fn measure(h: usize, w: f64, hgt: f64, dropped: f64, total: f64, bps: f64) {
    with(h, |m| {
        let size = (round(w) as u32, round(hgt) as u32);
        if size != m.display {
            m.display = size;
            let (width, height) = size;
            m.feed(TraceInput::Event {
                ev: MediaEvent::DisplaySize { width, height },
            });
        }
        if let (Some(d), Some(t)) = (opt(dropped), opt(total)) {
            let (dropped, total) = (d as u32, t as u32);
            m.feed(TraceInput::Frames { dropped, total });
        }
        if let Some(bps) = opt(bps) {
            let bps = whole(round(bps));
            m.feed(TraceInput::Throughput { bps });
        }
    });
}

/// Takes the beacons the engine queued: their JSON, one per line (none when
/// there are none). A beacon's JSON has no raw newline (strings escape it).
#[export_name = "e"]
pub extern "C" fn end(h: usize) -> i32 {
    answer(
        with(h, |m| {
            let mut out = None::<alloc::string::String>;
            while let Some(b) = m.engine.poll_beacon() {
                let text = out.get_or_insert_default();
                if !text.is_empty() {
                    crate::push_ascii(text, b'\n');
                }
                text.push_str(&crate::json::beacon(&b));
            }
            out
        })
        .flatten(),
    )
}

/// The timer the engine wants: -1 none (clear it), -2 keep the armed one, else
/// arm one in this many ms. Re-arms only for an earlier deadline; a timer that
/// fires early just re-arms itself.
#[export_name = "d"]
pub extern "C" fn deadline(h: usize) -> f64 {
    with(h, |m| match m.engine.poll_timeout(&m.el) {
        None => {
            m.timer_at = None;
            -1.0
        }
        Some(at) if m.timer_at.is_none_or(|armed| at < armed) => {
            m.timer_at = Some(at);
            delay_ms(at, m.now)
        }
        Some(_) => -2.0,
    })
    .unwrap_or(-1.0)
}

/// Whether the engine wants presented frames reported (`requestVideoFrameCallback`).
#[export_name = "f"]
pub extern "C" fn wants_frames(h: usize) -> bool {
    with(h, |m| m.engine.wants_frames()).unwrap_or(false)
}

/// The current (or last) view's metrics as JSON at the clock and element state
/// the last `b` gave (the shell calls `b` first). Reading is not an input: the
/// engine is not fed, and the next input begins with its own `b`.
#[export_name = "s"]
pub extern "C" fn snapshot(h: usize) -> i32 {
    answer(with(h, |m| {
        let s = m.engine.snapshot(m.now, &m.el);
        crate::json::snapshot(s.view_id.as_deref(), s.seq, &s.metrics)
    }))
}

/// The recorded inputs as JSON (with the `debug` option), else none. Only the
/// debug build exports it.
#[cfg(feature = "trace")]
#[export_name = "r"]
pub extern "C" fn trace(h: usize) -> i32 {
    answer(with(h, |m| m.trace.as_ref().map(crate::json::trace)).flatten())
}
