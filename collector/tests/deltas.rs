//! Delta beacons over real HTTP against a real redb file: a delta is stored as
//! the whole beacon it stands for (rollups included), a delta on another base
//! is a 409 that changes nothing, a stale one changes nothing, a bad one is a
//! 400 naming its member. The deltas are written by the plugin's own writer
//! (`player-plugin/js/outbox.js`, run by node).

mod common;
#[path = "../../player-plugin/tests/node/mod.rs"]
mod node;

use common::{batch, batch_of, beacon, Harness, T0};
use vidpulse_plugin::wire::{Beacon, NotableEvent, Reason, WIRE_VERSION};

/// A body of deltas only, as the plugin's outbox writes it.
fn deltas_body(property: &str, deltas: &[String]) -> Vec<u8> {
    format!(
        r#"{{"v":{WIRE_VERSION},"p":{property:?},"d":[{}]}}"#,
        deltas.join(",")
    )
    .into_bytes()
}

/// `cur` as the plugin's delta from `base`.
fn delta(base: &Beacon, cur: &Beacon) -> Option<String> {
    node::Node::start().delta(base, cur)
}

/// `seq` of view `id` a steady 10 s after `base`, with a stall event.
fn next(base: &Beacon, seq: u32) -> Beacon {
    let mut b = base.clone();
    b.seq = seq;
    b.reason = Reason::Interval;
    b.at_ms += 10_000;
    b.metrics.watch_ms += 10_000;
    b.metrics.playing_ms += 9_000;
    b.metrics.total_frames += 270;
    b.metrics.rebuffer_count += 1;
    b.metrics.rebuffer_ms += 1_000;
    b.metrics.rebuffer_max_ms = b.metrics.rebuffer_max_ms.max(1_000);
    b.metrics.first_frame = true;
    b.metrics.startup_ms = Some(120);
    b.events = vec![NotableEvent::Stall {
        at_ms: b.at_ms - 2_000,
        dur_ms: 1_000,
    }];
    b
}

async fn stored(h: &Harness, id: &str) -> Beacon {
    let detail = h.get_ok(&format!("/v1/views/{id}")).await;
    serde_json::from_value(detail["beacon"].clone()).expect("a stored beacon")
}

#[tokio::test]
async fn a_delta_is_stored_as_the_whole_beacon_it_stands_for() {
    let h = Harness::start().await;
    let first = beacon("v1", 0, T0);
    assert_eq!(
        h.post(&batch_of("viewer-9", vec![first.clone()])).await.0,
        200
    );
    let second = next(&first, 1);
    let d = delta(&first, &second).unwrap();
    let (status, reply) = h
        .post_raw(deltas_body("demo", &[d]), Some("text/plain"))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (reply["accepted"].as_u64(), reply["stale"].as_u64()),
        (Some(1), Some(0))
    );
    let mut want = second.clone();
    want.events.clear();
    assert_eq!(stored(&h, "v1").await, want);
    let detail = h.get_ok("/v1/views/v1").await;
    assert_eq!(
        detail["viewer_id"], "viewer-9",
        "the stored viewer: {detail}"
    );
    assert_eq!(
        detail["events"].as_array().map(Vec::len),
        Some(1),
        "{detail}"
    );
    // The rollups moved by new − previous, as for a whole beacon.
    let k = h.get_ok("/v1/kpis?from=0&to=4000000000000").await;
    assert_eq!(k["totals"]["views"], 1, "{k}");
    assert_eq!(k["totals"]["watch_ms"], second.metrics.watch_ms, "{k}");
    assert_eq!(k["totals"]["playing_ms"], second.metrics.playing_ms, "{k}");
    assert_eq!(k["totals"]["startup_p50_ms"], 120, "{k}");

    // A second delta builds on the first resolved one; a batch may mix forms.
    let third = next(&second, 2);
    let other = beacon("v2", 0, T0);
    let body = format!(
        r#"{{"v":{WIRE_VERSION},"property":"demo","viewer_id":"viewer-9","beacons":[{}],"d":[{}]}}"#,
        serde_json::to_string(&other).unwrap(),
        delta(&want, &third).unwrap()
    )
    .into_bytes();
    let (status, reply) = h.post_raw(body, Some("text/plain")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], 2, "{reply}");
    let mut want = third.clone();
    want.events.clear();
    assert_eq!(stored(&h, "v1").await, want);
    let k = h.get_ok("/v1/kpis?from=0&to=4000000000000").await;
    assert_eq!(k["totals"]["views"], 2, "{k}");
    assert_eq!(k["totals"]["watch_ms"], third.metrics.watch_ms, "{k}");
}

#[tokio::test]
async fn a_delta_that_cannot_be_resolved_exactly_is_a_conflict_and_changes_nothing() {
    let h = Harness::start().await;
    let first = beacon("v1", 0, T0);
    let second = next(&first, 1);
    assert_eq!(
        h.post(&batch(vec![first.clone(), beacon("v3", 0, T0)]))
            .await
            .0,
        200
    );
    assert_eq!(h.post(&batch(vec![second.clone()])).await.0, 200);
    let before = h.views().await;
    // Built on seq 0 while seq 1 is stored (an acknowledgement was lost).
    let d = delta(&first, &next(&second, 2)).unwrap();
    let (status, reply) = h.post_raw(deltas_body("demo", &[d]), None).await;
    assert_eq!(
        (status, reply["field"].as_str()),
        (409, Some("d[0].b")),
        "{reply}"
    );
    // Of a view the collector does not have (erased, or another collector).
    let ghost = beacon("ghost", 0, T0);
    let d = delta(&ghost, &next(&ghost, 1)).unwrap();
    let (status, reply) = h.post_raw(deltas_body("demo", &[d]), None).await;
    assert_eq!(
        (status, reply["field"].as_str()),
        (409, Some("d[0].i")),
        "{reply}"
    );
    // One conflict refuses the whole batch: the good delta before it is not stored.
    let good = delta(&beacon("v3", 0, T0), &next(&beacon("v3", 0, T0), 1)).unwrap();
    let bad = delta(&first, &next(&second, 2)).unwrap();
    let (status, reply) = h.post_raw(deltas_body("demo", &[good, bad]), None).await;
    assert_eq!(
        (status, reply["field"].as_str()),
        (409, Some("d[1].b")),
        "{reply}"
    );
    assert_eq!(h.views().await, before);
}

#[tokio::test]
async fn a_stale_delta_changes_nothing() {
    let h = Harness::start().await;
    let first = beacon("v1", 0, T0);
    let second = next(&first, 1);
    assert_eq!(
        h.post(&batch(vec![first.clone(), second.clone()])).await.0,
        200
    );
    let before = h.views().await;
    let d = delta(&first, &second).unwrap();
    let (status, reply) = h.post_raw(deltas_body("demo", &[d]), None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (reply["accepted"].as_u64(), reply["stale"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(h.views().await, before);
}

#[tokio::test]
async fn a_bad_delta_is_refused_naming_its_member() {
    let h = Harness::start().await;
    let first = beacon("v1", 0, T0);
    assert_eq!(h.post(&batch(vec![first])).await.0, 200);
    let before = h.views().await;
    let cases: &[(&str, &str)] = &[
        // Below zero.
        (r#"{"i":"v1","s":1,"f":-5}"#, "d[0].f"),
        (r#"{"i":"v1","s":1,"t":-999999999}"#, "d[0].t"),
        // Coverage ranges without a coverage, then out of the layout.
        (r#"{"i":"v1","s":1,"ca":"0-3"}"#, "d[0].ca"),
        (r#"{"i":"v1","s":1,"c":"0","cb":4,"ca":"2-9"}"#, "d[0].ca"),
        (r#"{"i":"v1","s":1,"c":"0","cb":4,"ca":"3-1"}"#, "d[0].ca"),
        // The whole beacon it makes is checked like any other.
        (
            r#"{"i":"v1","s":1,"rm":999999}"#,
            "d[0].metrics.rebuffer_max_ms",
        ),
        (
            r#"{"i":"v1","s":1,"cb":200}"#,
            "d[0].metrics.coverage_buckets",
        ),
        // Wrong types and an empty id.
        (r#"{"i":"v1","s":1,"w":"x"}"#, "d[0].w"),
        (r#"{"i":"","s":1}"#, "d[0].i"),
    ];
    for (delta, field) in cases {
        let body = format!(r#"{{"v":1,"p":"demo","d":[{delta}]}}"#);
        let (status, reply) = h.post_raw(body, None).await;
        assert_eq!(
            (status, reply["field"].as_str()),
            (400, Some(*field)),
            "{delta}: {reply}"
        );
    }
    // A view of another property.
    let body = r#"{"v":1,"p":"other","d":[{"i":"v1","s":1}]}"#;
    let (status, reply) = h.post_raw(body, None).await;
    assert_eq!(
        (status, reply["field"].as_str()),
        (400, Some("d[0].i")),
        "{reply}"
    );
    assert_eq!(h.views().await, before);
}
