//! The plugin's own JSON writer against serde_json, natively: for many generated
//! beacons, batches and traces (every variant, every optional field present and
//! absent, edge integers, strings with quotes, control characters and non-ASCII),
//! the writer's text is byte-for-byte serde_json's, and serde parses it back into
//! the same value, so the collector's decoding cannot tell the difference.

use vidpulse_plugin::engine::trace::{Trace, TraceElement, TraceHeader, TraceInput, TraceRecord};
use vidpulse_plugin::engine::MediaEvent;
use vidpulse_plugin::json;
use vidpulse_plugin::wire::delta::coverage_hex;
use vidpulse_plugin::wire::{
    Batch, Beacon, Delta, NotableEvent, PlaybackError, Reason, StreamType, VideoMeta, ViewContext,
    ViewMetrics, WIRE_VERSION,
};

/// SplitMix64: a reproducible source of cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn flag(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn u64(&mut self) -> u64 {
        match self.below(5) {
            0 => 0,
            1 => u64::MAX,
            2 => self.below(10),
            3 => self.below(100_000),
            _ => self.next() >> self.below(64),
        }
    }
    fn u32(&mut self) -> u32 {
        match self.below(4) {
            0 => u32::MAX,
            _ => self.u64() as u32,
        }
    }
    fn u16(&mut self) -> u16 {
        self.u64() as u16
    }
    fn i64(&mut self) -> i64 {
        match self.below(6) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -(self.below(1_000_000) as i64),
            _ => self.u64() as i64,
        }
    }
    fn string(&mut self) -> String {
        const PIECES: [&str; 16] = [
            "",
            "a",
            "movie-1",
            "\"",
            "\\",
            "/",
            "\n\r\t",
            "\u{8}\u{c}",
            "\u{0}\u{1}\u{1f}",
            "\u{7f}",
            "é",
            "日本語",
            "🎬",
            "\u{2028}",
            "https://cdn.example.com/v.mp4?x=1&y=2",
            " ",
        ];
        (0..self.below(5))
            .map(|_| PIECES[self.below(16) as usize])
            .collect()
    }
    fn opt_string(&mut self) -> Option<String> {
        self.flag().then(|| self.string())
    }
    fn opt_u64(&mut self) -> Option<u64> {
        self.flag().then(|| self.u64())
    }
}

fn video(r: &mut Rng) -> VideoMeta {
    VideoMeta {
        id: r.opt_string(),
        title: r.opt_string(),
        series: r.opt_string(),
        duration_ms: r.opt_u64(),
        stream_type: match r.below(3) {
            0 => None,
            1 => Some(StreamType::OnDemand),
            _ => Some(StreamType::Live),
        },
        src: r.opt_string(),
        cdn: r.opt_string(),
    }
}

fn context(r: &mut Rng) -> ViewContext {
    ViewContext {
        page_host: r.opt_string(),
        page_path: r.opt_string(),
        player_name: r.opt_string(),
        player_version: r.opt_string(),
        autoplay: r.flag(),
        experiment: r.opt_string(),
    }
}

fn metrics(r: &mut Rng) -> ViewMetrics {
    ViewMetrics {
        startup_ms: r.opt_u64(),
        startup_invalid: r.flag(),
        first_frame: r.flag(),
        rebuffer_count: r.u32(),
        rebuffer_ms: r.u64(),
        rebuffer_max_ms: r.u64(),
        watch_ms: r.u64(),
        playing_ms: r.u64(),
        seek_count: r.u32(),
        seek_ms: r.u64(),
        seek_max_ms: r.u64(),
        pause_count: r.u32(),
        rate_changes: r.u32(),
        volume_changes: r.u32(),
        fullscreen_ms: r.u64(),
        player_startup_ms: r.opt_u64(),
        page_load_ms: r.opt_u64(),
        aggregate_startup_ms: r.opt_u64(),
        max_position_ms: r.u64(),
        coverage: r.opt_string(),
        coverage_buckets: r.u16(),
        completed: r.flag(),
        mean_height: r.flag().then(|| r.u32()),
        rendition_changes: r.u32(),
        upscale_permille: r.u32(),
        downscale_permille: r.u32(),
        max_upscale_permille: r.u32(),
        dropped_frames: r.u32(),
        total_frames: r.u32(),
        throughput_bps: r.opt_u64(),
        error: r.flag().then(|| PlaybackError {
            code: r.u16(),
            message: r.string(),
            before_first_frame: r.flag(),
        }),
        ended: r.flag(),
        view_ended: r.flag(),
    }
}

fn event(r: &mut Rng) -> NotableEvent {
    match r.below(4) {
        0 => NotableEvent::Stall {
            at_ms: r.u64(),
            dur_ms: r.u64(),
        },
        1 => NotableEvent::Seek {
            at_ms: r.u64(),
            dur_ms: r.u64(),
            from_ms: r.u64(),
            to_ms: r.u64(),
        },
        2 => NotableEvent::Rendition {
            at_ms: r.u64(),
            width: r.u32(),
            height: r.u32(),
            bitrate: r.opt_u64(),
        },
        _ => NotableEvent::Error {
            at_ms: r.u64(),
            code: r.u16(),
            message: r.string(),
            fatal: r.flag(),
        },
    }
}

const REASONS: [Reason; 7] = [
    Reason::ViewStart,
    Reason::FirstFrame,
    Reason::Error,
    Reason::Ended,
    Reason::Interval,
    Reason::Flush,
    Reason::ViewEnd,
];

fn beacon(r: &mut Rng) -> Beacon {
    Beacon {
        view_id: r.string(),
        seq: r.u32(),
        reason: REASONS[r.below(7) as usize],
        started_at_ms: r.u64(),
        at_ms: r.u64(),
        plugin_version: r.string(),
        same: false,
        video: video(r),
        context: context(r),
        metrics: metrics(r),
        events: (0..r.below(4)).map(|_| event(r)).collect(),
    }
}

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
fn batches_are_written_as_serde_writes_them_without_default_metrics() {
    let mut r = Rng(2);
    for _ in 0..300 {
        let beacons: Vec<Beacon> = (0..r.below(4)).map(|_| beacon(&mut r)).collect();
        let viewer_id = if r.flag() { String::new() } else { r.string() };
        let batch = Batch {
            v: WIRE_VERSION,
            property: r.string(),
            cookieless: viewer_id.is_empty(),
            viewer_id,
            beacons,
            d: Vec::new(),
        };
        let parts: Vec<String> = batch.beacons.iter().map(json::beacon).collect();
        let ours = json::batch(
            batch.v,
            &batch.property,
            &batch.viewer_id,
            parts.iter().map(String::as_str),
            std::iter::empty(),
        );
        let parsed: serde_json::Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(parsed, serde_without_default_metrics(&batch), "{ours}");
        let back: Batch = serde_json::from_str(&ours).unwrap();
        assert_eq!(back, batch);
    }
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

/// A newer snapshot of `base`'s view: each member kept or changed at random,
/// coverage often a growing bitmap of the same layout (the `ca` form).
fn later(r: &mut Rng, base: &Beacon) -> (Beacon, Beacon) {
    let mut b = base.clone();
    let fresh = beacon(r);
    b.seq = base.seq + 1 + if r.flag() { 0 } else { r.below(5) as u32 };
    b.same = false;
    b.events = fresh.events;
    macro_rules! maybe {
        ($($field:ident).+) => {
            if r.below(3) == 0 {
                b.$($field).+ = fresh.$($field).+.clone();
            }
        };
    }
    maybe!(reason);
    maybe!(at_ms);
    maybe!(video);
    maybe!(context);
    maybe!(metrics.startup_ms);
    maybe!(metrics.startup_invalid);
    maybe!(metrics.first_frame);
    maybe!(metrics.rebuffer_count);
    maybe!(metrics.rebuffer_ms);
    maybe!(metrics.rebuffer_max_ms);
    maybe!(metrics.watch_ms);
    maybe!(metrics.playing_ms);
    maybe!(metrics.seek_count);
    maybe!(metrics.seek_ms);
    maybe!(metrics.seek_max_ms);
    maybe!(metrics.pause_count);
    maybe!(metrics.rate_changes);
    maybe!(metrics.volume_changes);
    maybe!(metrics.fullscreen_ms);
    maybe!(metrics.player_startup_ms);
    maybe!(metrics.page_load_ms);
    maybe!(metrics.aggregate_startup_ms);
    maybe!(metrics.max_position_ms);
    maybe!(metrics.coverage);
    maybe!(metrics.coverage_buckets);
    maybe!(metrics.completed);
    maybe!(metrics.mean_height);
    maybe!(metrics.rendition_changes);
    maybe!(metrics.upscale_permille);
    maybe!(metrics.downscale_permille);
    maybe!(metrics.max_upscale_permille);
    maybe!(metrics.dropped_frames);
    maybe!(metrics.total_frames);
    maybe!(metrics.throughput_bps);
    maybe!(metrics.error);
    maybe!(metrics.ended);
    maybe!(metrics.view_ended);
    if r.flag() {
        // Steady playback: the three clocks advance together.
        let step = r.below(20_000);
        b.at_ms = base.at_ms.saturating_add(step);
        b.metrics.watch_ms = base.metrics.watch_ms.saturating_add(step);
        b.metrics.playing_ms = base.metrics.playing_ms.saturating_add(step);
        b.metrics.max_position_ms = base.metrics.max_position_ms.saturating_add(step);
    }
    if r.flag() {
        let buckets = 1 + r.below(100) as u16;
        let mask = if buckets == 128 {
            u128::MAX
        } else {
            (1u128 << buckets) - 1
        };
        let old = (u128::from(r.next()) << 64 | u128::from(r.next())) & mask;
        let new = old
            | ((u128::from(r.next()) << 64 | u128::from(r.next())) & mask & u128::from(r.next()));
        let mut base = base.clone();
        base.metrics.coverage_buckets = buckets;
        base.metrics.coverage = Some(coverage_hex(old, buckets));
        b.metrics.coverage_buckets = buckets;
        b.metrics.coverage = Some(coverage_hex(new, buckets));
        return (base, b);
    }
    (base.clone(), b)
}

/// Whether every integer member's difference from `a` to `b` fits in an `i64`.
fn differences_fit(a: &Beacon, b: &Beacon) -> bool {
    let (x, y) = (&a.metrics, &b.metrics);
    let pairs = [
        (a.at_ms, b.at_ms),
        (x.rebuffer_ms, y.rebuffer_ms),
        (x.rebuffer_max_ms, y.rebuffer_max_ms),
        (x.watch_ms, y.watch_ms),
        (x.playing_ms, y.playing_ms),
        (x.seek_ms, y.seek_ms),
        (x.seek_max_ms, y.seek_max_ms),
        (x.fullscreen_ms, y.fullscreen_ms),
        (x.max_position_ms, y.max_position_ms),
    ];
    pairs.iter().all(|&(p, q)| p.abs_diff(q) <= i64::MAX as u64)
}

#[test]
fn a_delta_resolves_against_its_base_into_the_beacon_itself() {
    let mut r = Rng(11);
    let (mut whole, mut ranges) = (0, 0);
    for _ in 0..5_000 {
        let mut base = beacon(&mut r);
        base.seq %= 1_000_000;
        base.events.clear();
        let (base, cur) = later(&mut r, &base);
        let Some(ours) = json::delta(&base, &cur) else {
            // Only when a number's difference does not fit in an i64.
            assert!(!differences_fit(&base, &cur), "no delta for {cur:?}");
            continue;
        };
        let delta: Delta = serde_json::from_str(&ours).unwrap_or_else(|e| panic!("{e}: {ours}"));
        assert_eq!(
            serde_json::to_string(&delta).unwrap(),
            ours,
            "written as serde writes it"
        );
        assert_eq!(delta.resolve(&base), Ok(cur.clone()), "{ours}");
        whole += 1;
        ranges += usize::from(ours.contains(r#""ca":"#));
    }
    assert!(
        whole > 1_500 && ranges > 500,
        "{whole} deltas, {ranges} with ranges"
    );
}

#[test]
fn a_steady_heartbeat_names_only_what_moved() {
    let base = Beacon {
        view_id: "0123456789abcdef".into(),
        seq: 8,
        reason: Reason::Interval,
        started_at_ms: 1_764_000_000_000,
        at_ms: 80_004,
        plugin_version: "0.1.0".into(),
        same: false,
        video: VideoMeta {
            id: Some("clip".into()),
            ..VideoMeta::default()
        },
        context: ViewContext::default(),
        metrics: ViewMetrics {
            startup_ms: Some(130),
            first_frame: true,
            watch_ms: 80_004,
            playing_ms: 79_874,
            max_position_ms: 79_850,
            coverage: Some(coverage_hex((1 << 40) - 1, 100)),
            coverage_buckets: 100,
            mean_height: Some(360),
            total_frames: 2_396,
            ..ViewMetrics::default()
        },
        events: Vec::new(),
    };
    let mut next = base.clone();
    next.seq = 9;
    next.at_ms += 10_001;
    next.metrics.watch_ms += 10_001;
    next.metrics.playing_ms += 10_001;
    next.metrics.max_position_ms += 10_001;
    next.metrics.playing_ms -= 2;
    next.metrics.coverage = Some(coverage_hex((1 << 45) - 1, 100));
    next.metrics.total_frames += 300;
    let d = json::delta(&base, &next).unwrap();
    assert_eq!(
        d,
        r#"{"i":"0123456789abcdef","s":9,"t":10001,"p":9999,"ca":"40-44","f":300}"#
    );
    let body = json::batch(
        WIRE_VERSION,
        "demo",
        "v",
        std::iter::empty(),
        std::iter::once(d.as_str()),
    );
    assert_eq!(body.len(), 95, "{body}");
    let batch: Batch = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (batch.property.as_str(), batch.viewer_id.as_str()),
        ("demo", "")
    );
    assert_eq!(batch.d[0].resolve(&base), Ok(next));
}
