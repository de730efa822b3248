//! Delta beacons: for many generated pairs of beacons the delta `js/outbox.js`
//! writes (run by node) parses with serde, re-serialises to the same text, and
//! resolves against its base into the newer beacon exactly, as the collector
//! resolves it; a steady heartbeat names only what moved.

mod gen;
mod node;

use gen::{beacon, Rng};
use node::{JsOutbox, Node};
use vidpulse_plugin::wire::delta::coverage_hex;
use vidpulse_plugin::wire::{
    Batch, Beacon, Delta, Reason, VideoMeta, ViewContext, ViewMetrics, WIRE_VERSION,
};

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

/// Largest number a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: u64 = (1 << 53) - 1;

/// `b` with every number above [`MAX_SAFE`] shifted into range (keeping its
/// variety): the JS reads beacons as JSON numbers, and the collector refuses
/// anything that large anyway (its limits are far below).
fn js_safe(b: &Beacon) -> Beacon {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) => {
                if let Some(x) = n.as_u64().filter(|&x| x > MAX_SAFE) {
                    *v = (x >> 11).into();
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            serde_json::Value::Object(o) => o.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(b).unwrap();
    walk(&mut v);
    serde_json::from_value(v).unwrap()
}

#[test]
fn a_delta_resolves_against_its_base_into_the_beacon_itself() {
    let mut r = Rng(11);
    let mut node = Node::start();
    let mut ranges = 0;
    for _ in 0..5_000 {
        let mut base = js_safe(&beacon(&mut r));
        base.seq %= 1_000_000;
        base.events.clear();
        let (base, cur) = later(&mut r, &base);
        let (base, cur) = (js_safe(&base), js_safe(&cur));
        let ours = node
            .delta(&base, &cur)
            .unwrap_or_else(|| panic!("no delta for {cur:?}"));
        let delta: Delta = serde_json::from_str(&ours).unwrap_or_else(|e| panic!("{e}: {ours}"));
        assert_eq!(
            serde_json::to_string(&delta).unwrap(),
            ours,
            "written as serde writes it"
        );
        assert_eq!(delta.resolve(&base), Ok(cur.clone()), "{ours}");
        ranges += usize::from(ours.contains(r#""ca":"#));
    }
    assert!(ranges > 500, "{ranges} deltas with ranges");
}

#[test]
fn coverage_goes_whole_unless_buckets_are_only_added() {
    let mut node = Node::start();
    let mut base = js_safe(&beacon(&mut Rng(5)));
    base.seq = 7;
    base.events.clear();
    base.metrics.coverage_buckets = 100;
    base.metrics.coverage = Some(coverage_hex(0b1011 << 40, 100));
    let cases = [
        (0b1111 << 40, 100, r#""ca":"42""#),
        (0b1111 << 40 | 1, 100, r#""ca":"0,42""#),
        (0b0011 << 40, 100, r#""c":""#),
        (0b0111 << 40, 100, r#""c":""#),
        (0b1111 << 40, 99, r#""ca":"42""#),
        (0b1111 << 40, 60, r#""c":""#),
        (0b1011 << 40, 100, ""),
    ];
    for (bits, buckets, member) in cases {
        let mut next = base.clone();
        next.seq += 1;
        next.metrics.coverage_buckets = buckets;
        next.metrics.coverage = Some(coverage_hex(bits, buckets));
        let d = node.delta(&base, &next).unwrap();
        if member.is_empty() {
            assert!(!d.contains(r#""c":"#) && !d.contains(r#""ca":"#), "{d}");
        } else {
            assert!(d.contains(member), "{member} in {d}");
        }
        let delta: Delta = serde_json::from_str(&d).unwrap();
        assert_eq!(delta.resolve(&base), Ok(next), "{d}");
    }
    let mut gone = base.clone();
    gone.seq += 1;
    gone.metrics.coverage = None;
    let d = node.delta(&base, &gone).unwrap();
    assert!(d.contains(r#""c":null"#), "{d}");
}

#[test]
fn no_delta_across_views_starts_or_versions() {
    let mut node = Node::start();
    let mut base = js_safe(&beacon(&mut Rng(3)));
    base.seq = 7;
    let mut next = base.clone();
    next.seq += 1;
    assert!(node.delta(&base, &next).is_some());
    for change in [
        |b: &mut Beacon| b.view_id.push('x'),
        |b: &mut Beacon| b.seq -= 1,
        |b: &mut Beacon| b.started_at_ms += 1,
        |b: &mut Beacon| b.plugin_version.push('x'),
    ] {
        let mut other = next.clone();
        change(&mut other);
        assert_eq!(node.delta(&base, &other), None, "{other:?}");
    }
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
    let mut o = JsOutbox::new("demo", "v", "{}");
    o.push(&base);
    o.batch(0.0).unwrap();
    o.finish(200, 0.0, 0.0);
    o.push(&next);
    let body = o.batch(0.0).unwrap();
    assert_eq!(
        body,
        r#"{"v":1,"p":"demo","d":[{"i":"0123456789abcdef","s":9,"t":10001,"p":9999,"ca":"40-44","f":300}]}"#
    );
    let batch: Batch = serde_json::from_str(&body).unwrap();
    assert_eq!(batch.v, WIRE_VERSION);
    assert_eq!(
        (batch.property.as_str(), batch.viewer_id.as_str()),
        ("demo", "")
    );
    assert_eq!(batch.d[0].resolve(&base), Ok(next));
}
