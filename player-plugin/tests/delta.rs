//! Delta beacons natively: for many generated pairs of beacons the plugin's delta
//! parses with serde, re-serialises to the same text, and resolves against its
//! base into the newer beacon exactly; a steady heartbeat names only what moved.

mod gen;

use gen::{beacon, Rng};
use vidpulse_plugin::json;
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
    let body = json::batch(WIRE_VERSION, "demo", "v", &[], std::slice::from_ref(&d));
    assert_eq!(body.len(), 95, "{body}");
    let batch: Batch = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (batch.property.as_str(), batch.viewer_id.as_str()),
        ("demo", "")
    );
    assert_eq!(batch.d[0].resolve(&base), Ok(next));
}
