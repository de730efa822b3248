//! The plugin's own JSON writer against serde_json, natively: for many generated
//! beacons and traces (every variant, every optional field present and
//! absent, edge integers, strings with quotes, control characters and non-ASCII),
//! the writer's text is byte-for-byte serde_json's, and serde parses it back into
//! the same value, so the collector's decoding cannot tell the difference.

use vidpulse_plugin::engine::trace::{Trace, TraceElement, TraceHeader, TraceInput, TraceRecord};
use vidpulse_plugin::engine::MediaEvent;
use vidpulse_plugin::json;
use vidpulse_plugin::wire::{Beacon, ViewMetrics};

mod gen;

use gen::{beacon, context, metrics, video, Rng};

fn media_event(r: &mut Rng) -> MediaEvent {
    match r.below(22) {
        0 => MediaEvent::Emptied,
        1 => MediaEvent::LoadStart { src: r.string() },
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
            code: r.u16(),
            message: r.string(),
        },
        12 => MediaEvent::ReportedError {
            code: r.u16(),
            message: r.string(),
            fatal: r.flag(),
        },
        13 => MediaEvent::VideoChange { video: video(r) },
        14 => MediaEvent::Frame,
        15 => MediaEvent::CanPlay,
        16 => MediaEvent::RateChange,
        17 => MediaEvent::VolumeChange,
        18 => MediaEvent::Rendition {
            width: r.u32(),
            height: r.u32(),
            bitrate: r.opt_u64(),
        },
        19 => MediaEvent::DisplaySize {
            width: r.u32(),
            height: r.u32(),
        },
        20 => MediaEvent::Fullscreen { on: r.flag() },
        _ => MediaEvent::PageHide,
    }
}

fn trace(r: &mut Rng) -> Trace {
    let header = TraceHeader {
        seed: r.string(),
        time_origin_us: r.i64(),
        beacon_interval_ms: r.u64(),
        player_init_us: r.flag().then(|| r.i64()),
        page_load_us: r.flag().then(|| r.i64()),
        autoplay: r.flag(),
        video: video(r),
        context: context(r),
        src: r.opt_string(),
    };
    let records = (0..r.below(30))
        .map(|_| TraceRecord {
            at: r.i64(),
            input: match r.below(6) {
                0 => TraceInput::Timeout,
                1 => TraceInput::Flush,
                2 => TraceInput::EndView,
                3 => TraceInput::Frames {
                    dropped: r.u32(),
                    total: r.u32(),
                },
                4 => TraceInput::Throughput { bps: r.u64() },
                _ => TraceInput::Event { ev: media_event(r) },
            },
            el: TraceElement {
                t: r.i64(),
                p: r.flag(),
                s: r.flag(),
                e: r.flag(),
                r: r.below(5) as u8,
                rate: r.i64(),
                d: r.i64(),
            },
        })
        .collect();
    Trace { header, records }
}

/// The non-`Option` members of `ViewMetrics`, which the writer leaves out of a
/// beacon at their default (an `Option` is left out only when `None`, as serde does).
const DEFAULTED: &[&str] = &[
    "startup_invalid",
    "first_frame",
    "rebuffer_count",
    "rebuffer_ms",
    "rebuffer_max_ms",
    "watch_ms",
    "playing_ms",
    "seek_count",
    "seek_ms",
    "seek_max_ms",
    "pause_count",
    "rate_changes",
    "volume_changes",
    "fullscreen_ms",
    "max_position_ms",
    "coverage_buckets",
    "completed",
    "rendition_changes",
    "upscale_permille",
    "downscale_permille",
    "max_upscale_permille",
    "dropped_frames",
    "total_frames",
    "ended",
    "view_ended",
];

/// What serde writes for `value`, minus the `metrics` members at their default
/// (0 or `false`), which the plugin's writer leaves out of beacons.
fn serde_without_default_metrics<T: serde::Serialize>(value: &T) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(serde_json::Value::Object(m)) = o.get_mut("metrics") {
                    m.retain(|k, x| {
                        !DEFAULTED.contains(&k.as_str())
                            || (*x != serde_json::json!(0) && *x != serde_json::json!(false))
                    });
                }
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(value).unwrap();
    strip(&mut v);
    v
}

#[test]
fn beacons_are_written_as_serde_writes_them_without_default_metrics() {
    let mut r = Rng(1);
    let mut omitted = 0;
    for _ in 0..3000 {
        let b = beacon(&mut r);
        let ours = json::beacon(&b);
        let full = serde_json::to_string(&b).unwrap();
        omitted += usize::from(ours.len() < full.len());
        let parsed: serde_json::Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(parsed, serde_without_default_metrics(&b), "{ours}");
        // What the collector decodes is the very beacon.
        let back: Beacon = serde_json::from_str(&ours).unwrap();
        assert_eq!(back, b);
    }
    assert!(
        omitted > 100,
        "the generator made too few default members ({omitted})"
    );
}

#[test]
fn a_steady_beacon_leaves_out_its_zero_metrics() {
    let mut b = beacon(&mut Rng(7));
    b.metrics = ViewMetrics {
        watch_ms: 10_000,
        playing_ms: 9_800,
        first_frame: true,
        ..ViewMetrics::default()
    };
    let ours = json::beacon(&b);
    assert!(
        ours.contains(r#""metrics":{"first_frame":true,"watch_ms":10000,"playing_ms":9800"#),
        "{ours}"
    );
    assert!(!ours.contains("rebuffer_count"), "{ours}");
}

#[test]
fn traces_are_written_exactly_as_serde_writes_them() {
    let mut r = Rng(3);
    for _ in 0..500 {
        let t = trace(&mut r);
        let ours = json::trace(&t);
        assert_eq!(ours, serde_json::to_string(&t).unwrap());
        let back: Trace = serde_json::from_str(&ours).unwrap();
        assert_eq!(back, t);
    }
}

#[test]
fn a_snapshot_is_the_metrics_plus_id_and_seq_with_explicit_nulls() {
    let mut r = Rng(4);
    for _ in 0..500 {
        let m = metrics(&mut r);
        let id = r.opt_string();
        let seq = r.u32();
        let v: serde_json::Value =
            serde_json::from_str(&json::snapshot(id.as_deref(), seq, &m)).unwrap();
        let mut want = serde_json::to_value(&m).unwrap();
        let obj = want.as_object_mut().unwrap();
        obj.insert("view_id".into(), serde_json::json!(id));
        obj.insert("seq".into(), seq.into());
        obj.entry("startup_ms").or_insert(serde_json::Value::Null);
        obj.entry("error").or_insert(serde_json::Value::Null);
        assert_eq!(v, want);
    }
}

#[test]
fn hex16_is_sixteen_lowercase_digits() {
    assert_eq!(json::hex16(0), "0000000000000000");
    assert_eq!(json::hex16(u64::MAX), "ffffffffffffffff");
    assert_eq!(json::hex16(0x0123_4567_89ab_cdef), "0123456789abcdef");
}

#[test]
fn the_metrics_text_the_engine_compares_decodes_to_the_same_metrics() {
    // Equal texts hence mean equal metrics: the engine's heartbeat test is exact.
    let mut r = Rng(11);
    for _ in 0..2000 {
        let m = beacon(&mut r).metrics;
        let text = json::metrics_text(&m);
        let back: ViewMetrics = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m, "{text}");
    }
}
