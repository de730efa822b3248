//! Unit tests of [`crate::ingest`]: each rule names its field.

use super::*;
use vidpulse_plugin::wire::{Reason, VideoMeta, ViewMetrics};

const LIMITS: Limits = Limits {
    max_beacons_per_batch: 3,
    max_string_len: 10,
    max_events_per_beacon: 2,
    unknown_fields: UnknownFields::Ignore,
};

fn batch() -> Batch {
    Batch {
        v: WIRE_VERSION,
        property: "demo.site-1".into(),
        viewer_id: "viewer".into(),
        cookieless: false,
        beacons: vec![Beacon {
            view_id: "view".into(),
            seq: 0,
            reason: Reason::ViewStart,
            started_at_ms: 1_700_000_000_000,
            at_ms: 0,
            plugin_version: "0.1.0".into(),
            same: false,
            video: VideoMeta::default(),
            context: Default::default(),
            metrics: ViewMetrics::default(),
            events: Vec::new(),
        }],
        d: Vec::new(),
    }
}

fn field_of(b: &Batch) -> String {
    validate(b, &LIMITS).unwrap_err().field
}

#[test]
fn valid_batch_passes() {
    validate(&batch(), &LIMITS).unwrap();
}

#[test]
fn each_rule_names_its_field() {
    let mut b = batch();
    b.v = 99;
    assert_eq!(field_of(&b), "v");
    let mut b = batch();
    b.property = "has space".into();
    assert_eq!(field_of(&b), "property");
    let mut b = batch();
    b.viewer_id = "x".repeat(65);
    assert_eq!(field_of(&b), "viewer_id");
    let mut b = batch();
    b.beacons.clear();
    assert_eq!(field_of(&b), "beacons");
    let mut b = batch();
    b.beacons = vec![b.beacons[0].clone(); 4];
    assert_eq!(field_of(&b), "beacons");
    let mut b = batch();
    b.beacons[0].view_id.clear();
    assert_eq!(field_of(&b), "beacons[0].view_id");
    let mut b = batch();
    b.beacons[0].video.title = Some("x".repeat(11));
    assert_eq!(field_of(&b), "beacons[0].video.title");
    let mut b = batch();
    b.beacons[0].at_ms = MAX_DURATION_MS + 1;
    assert_eq!(field_of(&b), "beacons[0].at_ms");
    let mut b = batch();
    b.beacons[0].metrics.rebuffer_max_ms = 5;
    assert_eq!(field_of(&b), "beacons[0].metrics.rebuffer_max_ms");
    let mut b = batch();
    b.beacons[0].metrics.seek_max_ms = 5;
    assert_eq!(field_of(&b), "beacons[0].metrics.seek_max_ms");
    let mut b = batch();
    b.beacons[0].context.experiment = Some("x".repeat(11));
    assert_eq!(field_of(&b), "beacons[0].context.experiment");
    let mut b = batch();
    b.beacons[0].metrics.coverage_buckets = 8;
    b.beacons[0].metrics.coverage = Some("fff".into());
    assert_eq!(field_of(&b), "beacons[0].metrics.coverage");
    let stall = NotableEvent::Stall {
        at_ms: 0,
        dur_ms: MAX_DURATION_MS + 1,
    };
    let mut b = batch();
    b.beacons[0].events = vec![stall.clone()];
    assert_eq!(field_of(&b), "beacons[0].events[0].dur_ms");
    let mut b = batch();
    b.beacons[0].events = vec![stall; 3];
    assert_eq!(field_of(&b), "beacons[0].events");
    let mut b = batch();
    b.viewer_id = "a\u{0}b".into();
    assert_eq!(field_of(&b), "viewer_id");
    let mut b = batch();
    b.beacons[0].started_at_ms = u64::MAX;
    assert_eq!(field_of(&b), "beacons[0].started_at_ms");
}

#[test]
fn unknown_fields_policy() {
    let body = br#"{"v":1,"property":"p","viewer_id":"v","beacons":[{"view_id":"a","seq":0,"reason":"view_start","started_at_ms":1,"at_ms":0,"plugin_version":"x","video":{},"metrics":{"bogus":1}}]}"#;
    assert!(decode(body).is_ok());
    let err = decode_with(body, UnknownFields::Reject).unwrap_err();
    assert_eq!(err.field, "beacons[0].metrics.bogus");
}

#[test]
fn decode_names_the_path() {
    let err =
        decode(br#"{"v":1,"property":"p","viewer_id":"v","beacons":[{"view_id":5}]}"#).unwrap_err();
    assert_eq!(err.field, "beacons[0].view_id");
    assert_eq!(decode(b"{not json").unwrap_err().field, "body");
    let err = decode(br#"{"property":"p","viewer_id":"v","beacons":[]}"#).unwrap_err();
    assert_eq!(err.field, "v");
    let err =
        decode(br#"{"v":1,"property":"p","viewer_id":"v","beacons":[{"view_id":"#).unwrap_err();
    assert_eq!(err.field, "beacons[0].view_id");
    assert!(decode(b"{} trailing").is_err());
}

#[test]
fn content_types() {
    let mut h = HeaderMap::new();
    assert!(check_content_type(&h).is_ok());
    h.insert(CONTENT_TYPE, "text/plain;charset=UTF-8".parse().unwrap());
    assert!(check_content_type(&h).is_ok());
    h.insert(CONTENT_TYPE, "application/xml".parse().unwrap());
    let err = check_content_type(&h).unwrap_err();
    assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
