//! The plugin's JSON writer: beacons, snapshots and traces.
//!
//! Why not serde_json: in the wasm build its serializer, with `core::fmt` for the
//! numbers, was about a third of the plugin that every viewer downloads. The plugin
//! only ever *writes* JSON, of a few known shapes, with integer numbers only (wire
//! rule: whole milliseconds), so it writes them directly. The output is
//! byte-for-byte what serde_json writes for the same values (same field order, same
//! skipped fields, same string escapes): `tests/json.rs` checks that natively on
//! many generated values, and parses it back with serde into the same value. The
//! serde derives in `wire` stay the one definition the collector decodes with.

mod trace;

pub use trace::trace;

use alloc::string::String;

use crate::push_ascii;

use crate::wire::{
    Beacon, NotableEvent, PlaybackError, Reason, StreamType, VideoMeta, ViewContext, ViewMetrics,
};

/// A JSON text being written; commas are placed automatically.
#[derive(Default)]
pub struct Json {
    /// The text so far.
    pub out: String,
    /// The next member or element is the first of its object or array.
    first: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Json {
    pub(crate) fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// One ASCII character (`c` must be ASCII: every caller passes a literal or
    /// a digit). Pushing bytes spares the wasm `String::push`'s UTF-8 encoder.
    pub(crate) fn byte(&mut self, c: u8) {
        push_ascii(&mut self.out, c);
    }

    /// `{` or `[`.
    pub fn open(&mut self, c: u8) {
        self.byte(c);
        self.first = true;
    }

    /// `}` or `]`.
    pub fn close(&mut self, c: u8) {
        self.byte(c);
        self.first = false;
    }

    /// The separator before a member or an element.
    pub fn sep(&mut self) {
        if !self.first {
            self.byte(b',');
        }
        self.first = false;
    }

    /// `"k":` (keys are plain ASCII identifiers: no escaping needed).
    pub fn key(&mut self, k: &str) {
        self.sep();
        self.byte(b'"');
        self.raw(k);
        self.raw("\":");
    }

    /// A string value, escaped as serde_json escapes it: runs of bytes that need
    /// no escape are copied whole (multi-byte characters never contain an ASCII
    /// byte, so every cut falls between characters).
    pub fn str(&mut self, s: &str) {
        self.byte(b'"');
        let mut start = 0;
        for (i, &c) in s.as_bytes().iter().enumerate() {
            let esc: &str = match c {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                8 => "\\b",
                12 => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            // SAFETY: `start` and `i` are at ASCII bytes (or 0), so on character
            // boundaries.
            self.raw(unsafe { s.get_unchecked(start..i) });
            start = i + 1;
            if esc.is_empty() {
                self.raw("\\u00");
                self.byte(HEX[usize::from(c >> 4)]);
                self.byte(HEX[usize::from(c & 0xf)]);
            } else {
                self.raw(esc);
            }
        }
        // SAFETY: as above; `s.len()` is a boundary.
        self.raw(unsafe { s.get_unchecked(start..) });
        self.byte(b'"');
    }

    /// An unsigned integer value.
    pub fn uint(&mut self, mut n: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &buf[i..] {
            self.byte(d);
        }
    }

    /// A signed integer value.
    pub fn int(&mut self, n: i64) {
        if n < 0 {
            self.byte(b'-');
        }
        self.uint(n.unsigned_abs());
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, v: bool) {
        self.raw(if v { "true" } else { "false" });
    }

    /// `"k":"v"`.
    pub fn s(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    /// `"k":n`.
    pub fn n(&mut self, k: &str, v: u64) {
        self.key(k);
        self.uint(v);
    }

    /// `"k":n` (signed).
    pub fn i(&mut self, k: &str, v: i64) {
        self.key(k);
        self.int(v);
    }

    /// `"k":true|false`.
    pub fn b(&mut self, k: &str, v: bool) {
        self.key(k);
        self.boolean(v);
    }

    /// `"k":"v"`, or nothing when `None` (serde's `skip_serializing_if`).
    pub fn opt_s(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.s(k, v);
        }
    }

    /// `"k":n`, or nothing when `None`.
    pub fn opt_n(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.n(k, v);
        }
    }

    /// `"k":n`, or `"k":null` when `None` (an `Option` serde does not skip).
    pub(crate) fn null_i(&mut self, k: &str, v: Option<i64>) {
        match v {
            Some(v) => self.i(k, v),
            None => {
                self.key(k);
                self.raw("null");
            }
        }
    }
}

/// Lowercase hex of `n`, always 16 digits.
pub fn hex16(n: u64) -> String {
    let mut s = String::new();
    for i in 0..16 {
        push_ascii(&mut s, HEX[((n >> (60 - 4 * i)) & 0xF) as usize]);
    }
    s
}

/// One beacon as JSON (the persisted form, and an element of a batch).
pub fn beacon(b: &Beacon) -> String {
    let mut j = Json::default();
    j.open(b'{');
    j.s("view_id", &b.view_id);
    j.n("seq", b.seq.into());
    j.s("reason", reason(b.reason));
    j.n("started_at_ms", b.started_at_ms);
    j.n("at_ms", b.at_ms);
    j.s("plugin_version", &b.plugin_version);
    if b.same {
        j.b("same", true);
    }
    j.key("video");
    video(&mut j, &b.video);
    j.key("context");
    context(&mut j, &b.context);
    j.key("metrics");
    metrics(&mut j, &b.metrics, Shape::Wire);
    events(&mut j, "events", &b.events);
    j.close(b'}');
    j.out
}

/// What `Monitor.snapshot()` returns: `view_id`, `seq` and the metrics in one
/// object, with `view_id`, `startup_ms` and `error` written as `null` when absent.
pub fn snapshot(view_id: Option<&str>, seq: u32, m: &ViewMetrics) -> String {
    let mut j = Json::default();
    j.open(b'{');
    j.key("view_id");
    match view_id {
        Some(id) => j.str(id),
        None => j.raw("null"),
    }
    j.n("seq", seq.into());
    metrics_fields(&mut j, m, Shape::Snapshot);
    j.close(b'}');
    j.out
}

fn reason(r: Reason) -> &'static str {
    match r {
        Reason::ViewStart => "view_start",
        Reason::FirstFrame => "first_frame",
        Reason::Error => "error",
        Reason::Ended => "ended",
        Reason::Interval => "interval",
        Reason::Flush => "flush",
        Reason::ViewEnd => "view_end",
    }
}

fn video(j: &mut Json, v: &VideoMeta) {
    j.open(b'{');
    j.opt_s("id", &v.id);
    j.opt_s("title", &v.title);
    j.opt_s("series", &v.series);
    j.opt_n("duration_ms", v.duration_ms);
    if let Some(t) = v.stream_type {
        j.s(
            "stream_type",
            match t {
                StreamType::OnDemand => "on_demand",
                StreamType::Live => "live",
            },
        );
    }
    j.opt_s("src", &v.src);
    j.opt_s("cdn", &v.cdn);
    j.close(b'}');
}

fn context(j: &mut Json, c: &ViewContext) {
    j.open(b'{');
    j.opt_s("page_host", &c.page_host);
    j.opt_s("page_path", &c.page_path);
    j.opt_s("player_name", &c.player_name);
    j.opt_s("player_version", &c.player_version);
    j.b("autoplay", c.autoplay);
    j.opt_s("experiment", &c.experiment);
    j.close(b'}');
}

/// How `ViewMetrics` is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// In a beacon: members at their default (0, `false`, absent) are left out;
    /// the collector reads a missing member as its default (`#[serde(default)]` on
    /// every member of `wire::ViewMetrics`), so the snapshot means the same and a
    /// steady-state beacon is about half the bytes.
    Wire,
    /// `Monitor.snapshot()`: every member, `startup_ms` and `error` as `null` when
    /// absent, so pages can read any key.
    Snapshot,
}

/// The metrics as their wire JSON: what the engine compares to tell whether a
/// heartbeat has news. Two metrics are equal exactly when their texts are: every
/// member is written unless at its default, and always as its exact value.
pub fn metrics_text(m: &ViewMetrics) -> String {
    let mut j = Json::default();
    metrics(&mut j, m, Shape::Wire);
    j.out
}

fn metrics(j: &mut Json, m: &ViewMetrics, shape: Shape) {
    j.open(b'{');
    metrics_fields(j, m, shape);
    j.close(b'}');
}

/// The members of `ViewMetrics` in `shape`.
fn metrics_fields(j: &mut Json, m: &ViewMetrics, shape: Shape) {
    let full = shape == Shape::Snapshot;
    let null = |j: &mut Json, k: &str| {
        if full {
            j.key(k);
            j.raw("null");
        }
    };
    let n = |j: &mut Json, k: &str, v: u64| {
        if full || v != 0 {
            j.n(k, v);
        }
    };
    let b = |j: &mut Json, k: &str, v: bool| {
        if full || v {
            j.b(k, v);
        }
    };
    match m.startup_ms {
        Some(v) => j.n("startup_ms", v),
        None => null(j, "startup_ms"),
    }
    b(j, "startup_invalid", m.startup_invalid);
    b(j, "first_frame", m.first_frame);
    n(j, "rebuffer_count", m.rebuffer_count.into());
    n(j, "rebuffer_ms", m.rebuffer_ms);
    n(j, "rebuffer_max_ms", m.rebuffer_max_ms);
    n(j, "watch_ms", m.watch_ms);
    n(j, "playing_ms", m.playing_ms);
    n(j, "seek_count", m.seek_count.into());
    n(j, "seek_ms", m.seek_ms);
    n(j, "seek_max_ms", m.seek_max_ms);
    n(j, "pause_count", m.pause_count.into());
    n(j, "rate_changes", m.rate_changes.into());
    n(j, "volume_changes", m.volume_changes.into());
    n(j, "fullscreen_ms", m.fullscreen_ms);
    j.opt_n("player_startup_ms", m.player_startup_ms);
    j.opt_n("page_load_ms", m.page_load_ms);
    j.opt_n("aggregate_startup_ms", m.aggregate_startup_ms);
    n(j, "max_position_ms", m.max_position_ms);
    j.opt_s("coverage", &m.coverage);
    n(j, "coverage_buckets", m.coverage_buckets.into());
    b(j, "completed", m.completed);
    j.opt_n("mean_height", m.mean_height.map(u64::from));
    n(j, "rendition_changes", m.rendition_changes.into());
    n(j, "upscale_permille", m.upscale_permille.into());
    n(j, "downscale_permille", m.downscale_permille.into());
    n(j, "max_upscale_permille", m.max_upscale_permille.into());
    n(j, "dropped_frames", m.dropped_frames.into());
    n(j, "total_frames", m.total_frames.into());
    j.opt_n("throughput_bps", m.throughput_bps);
    match &m.error {
        Some(e) => {
            j.key("error");
            playback_error(j, e);
        }
        None => null(j, "error"),
    }
    b(j, "ended", m.ended);
    b(j, "view_ended", m.view_ended);
}

fn playback_error(j: &mut Json, e: &PlaybackError) {
    j.open(b'{');
    j.n("code", e.code.into());
    j.s("message", &e.message);
    j.b("before_first_frame", e.before_first_frame);
    j.close(b'}');
}

/// `"k":[…]` of timeline events, or nothing when there are none.
fn events(j: &mut Json, k: &str, es: &[NotableEvent]) {
    if !es.is_empty() {
        j.key(k);
        j.open(b'[');
        for e in es {
            j.sep();
            event(j, e);
        }
        j.close(b']');
    }
}

fn event(j: &mut Json, e: &NotableEvent) {
    j.open(b'{');
    match e {
        NotableEvent::Stall { at_ms, dur_ms } => {
            j.s("kind", "stall");
            j.n("at_ms", *at_ms);
            j.n("dur_ms", *dur_ms);
        }
        NotableEvent::Seek {
            at_ms,
            dur_ms,
            from_ms,
            to_ms,
        } => {
            j.s("kind", "seek");
            j.n("at_ms", *at_ms);
            j.n("dur_ms", *dur_ms);
            j.n("from_ms", *from_ms);
            j.n("to_ms", *to_ms);
        }
        NotableEvent::Rendition {
            at_ms,
            width,
            height,
            bitrate,
        } => {
            j.s("kind", "rendition");
            j.n("at_ms", *at_ms);
            j.n("width", (*width).into());
            j.n("height", (*height).into());
            j.opt_n("bitrate", *bitrate);
        }
        NotableEvent::Error {
            at_ms,
            code,
            message,
            fatal,
        } => {
            j.s("kind", "error");
            j.n("at_ms", *at_ms);
            j.n("code", (*code).into());
            j.s("message", message);
            j.b("fatal", *fatal);
        }
    }
    j.close(b'}');
}
