//! The delivery queue (`js/outbox.js`, run by node): merging per view,
//! batching, backoff, persistence, deltas; every body parsed as a `wire::Batch`
//! and every delta resolved as the collector resolves it.

mod node;

use node::JsOutbox;
use vidpulse_plugin::wire::{Batch, Beacon, NotableEvent, Reason, VideoMeta, ViewMetrics};

/// Statuses by what the outbox makes of them.
const STORED: u16 = 200;
const REJECTED: u16 = 400;
const RETRY: u16 = 503;
const CONFLICT: u16 = 409;

fn outbox() -> JsOutbox {
    JsOutbox::new("p", "v", "{}")
}

fn beacon(view: &str, seq: u32, watch_ms: u64, events: Vec<NotableEvent>) -> Beacon {
    Beacon {
        view_id: view.into(),
        seq,
        reason: Reason::Interval,
        started_at_ms: 1_700_000_000_000,
        at_ms: watch_ms,
        plugin_version: "0.1.0".into(),
        same: false,
        video: VideoMeta::default(),
        context: Default::default(),
        metrics: ViewMetrics {
            watch_ms,
            ..ViewMetrics::default()
        },
        events,
    }
}

fn stall(at_ms: u64) -> NotableEvent {
    NotableEvent::Stall { at_ms, dur_ms: 500 }
}

fn parse(body: &str) -> Batch {
    serde_json::from_str(body).expect("the envelope is a wire::Batch")
}

#[test]
fn a_newer_beacon_replaces_the_queued_one_and_keeps_its_events() {
    let mut o = JsOutbox::new("demo", "viewer-1", "{}");
    o.push(&beacon("a", 0, 0, vec![]));
    o.push(&beacon("a", 1, 10_000, vec![stall(3000)]));
    o.push(&beacon("b", 0, 0, vec![]));
    o.push(&beacon("a", 2, 20_000, vec![stall(15_000)]));
    assert_eq!(o.len(), 2);
    let batch = parse(&o.batch(0.0).unwrap());
    assert_eq!(batch.property, "demo");
    assert_eq!(batch.viewer_id, "viewer-1");
    let a = &batch.beacons[0];
    assert_eq!(
        (a.view_id.as_str(), a.seq, a.metrics.watch_ms),
        ("a", 2, 20_000)
    );
    assert_eq!(a.events, [stall(3000), stall(15_000)]);
}

#[test]
fn merged_events_keep_the_newest_up_to_the_limit() {
    let mut o = JsOutbox::new("p", "v", r#"{"maxEvents":3}"#);
    o.push(&beacon("a", 0, 0, vec![stall(1), stall(2)]));
    o.push(&beacon("a", 1, 10, vec![stall(3)]));
    o.push(&beacon("a", 2, 20, vec![stall(4), stall(5)]));
    let batch = parse(&o.batch(0.0).unwrap());
    assert_eq!(batch.beacons[0].events, [stall(3), stall(4), stall(5)]);
}

#[test]
fn in_flight_entries_are_not_merged_into_and_leave_on_success() {
    let mut o = outbox();
    o.push(&beacon("a", 0, 0, vec![stall(1)]));
    assert!(o.batch(0.0).is_some());
    assert!(o.batch(0.0).is_none(), "one request at a time");
    o.push(&beacon("a", 1, 10_000, vec![stall(2)]));
    assert_eq!(o.len(), 2);
    o.finish(STORED, 100.0, 0.5);
    let mut collector = Collector::default();
    collector
        .stored
        .insert("a".into(), beacon("a", 0, 0, vec![]));
    let sent = collector.receive(&o.batch(100.0).unwrap());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].seq, 1);
    assert_eq!(sent[0].events, [stall(2)], "no event sent twice");
}

#[test]
fn failures_back_off_exponentially_with_jitter_and_keep_everything() {
    let mut o = JsOutbox::new("p", "v", r#"{"backoffBaseMs":1000,"backoffMaxMs":8000}"#);
    o.push(&beacon("a", 0, 0, vec![]));
    let mut now = 0.0;
    let mut delays = Vec::new();
    for _ in 0..6 {
        assert!(o.batch(now).is_some());
        o.finish(RETRY, now, 1.0);
        let at = o.retry_at().unwrap();
        assert!(o.batch(at - 1.0).is_none(), "not before the retry time");
        delays.push(at - now);
        now = at;
    }
    assert_eq!(delays, [1000.0, 2000.0, 4000.0, 8000.0, 8000.0, 8000.0]);
    o.finish(RETRY, now, 0.0);
    assert_eq!(
        o.retry_at().unwrap() - now,
        4000.0,
        "jitter halves at worst"
    );
    assert_eq!(o.len(), 1);
    // Back up: delivered, and the backoff resets.
    let now = o.retry_at().unwrap();
    assert!(o.batch(now).is_some());
    o.finish(STORED, now, 0.5);
    assert_eq!(o.len(), 0);
    assert_eq!(o.retry_at(), None);
}

#[test]
fn rejected_batches_are_dropped_not_retried_forever() {
    for (status, kept) in [
        (200, false),
        (204, false),
        (400, false),
        (413, false),
        (408, true),
        (429, true),
        (500, true),
        (503, true),
        (0, true),
    ] {
        let mut o = outbox();
        o.push(&beacon("a", 0, 0, vec![]));
        o.batch(0.0).unwrap();
        o.finish(status, 0.0, 0.5);
        assert_eq!(o.len(), usize::from(kept), "status {status}");
        assert_eq!(o.retry_at().is_some(), kept, "status {status}");
    }
}

#[test]
fn saved_entries_survive_a_reload_and_are_sent_as_they_were() {
    let mut o = outbox();
    o.push(&beacon("a", 3, 30_000, vec![stall(9)]));
    o.push(&beacon("b", 1, 5_000, vec![]));
    let saved = o.save();
    assert_eq!(saved.lines().count(), 2);
    let mut next_page = outbox();
    next_page.restore(&saved);
    next_page.push(&beacon("c", 0, 0, vec![]));
    let batch = parse(&next_page.batch(0.0).unwrap());
    let seen: Vec<(&str, u32)> = batch
        .beacons
        .iter()
        .map(|b| (b.view_id.as_str(), b.seq))
        .collect();
    assert_eq!(seen, [("a", 3), ("b", 1), ("c", 0)]);
    assert_eq!(batch.beacons[0].events, [stall(9)]);
    // The page-hide body carries everything and removes nothing.
    let all = parse(&next_page.all().unwrap());
    assert_eq!(all.beacons.len(), 3);
    assert_eq!(next_page.len(), 3);
}

#[test]
fn the_queue_is_bounded() {
    let mut o = JsOutbox::new("p", "v", r#"{"maxEntries":3,"maxBatch":2}"#);
    for v in ["a", "b", "c", "d"] {
        o.push(&beacon(v, 0, 0, vec![]));
    }
    assert_eq!(o.len(), 3);
    assert_eq!(o.dropped(), 1);
    let batch = parse(&o.batch(0.0).unwrap());
    let ids: Vec<&str> = batch.beacons.iter().map(|b| b.view_id.as_str()).collect();
    assert_eq!(
        ids,
        ["b", "c"],
        "oldest dropped, at most max_batch per request"
    );
}

#[test]
fn an_empty_viewer_id_marks_the_batch_cookieless() {
    let mut o = JsOutbox::new("p", "", "{}");
    o.push(&beacon("a", 0, 0, vec![]));
    let batch = parse(&o.batch(0.0).unwrap());
    assert!(batch.cookieless);
    assert_eq!(batch.viewer_id, "");
    let mut o = outbox();
    o.push(&beacon("a", 0, 0, vec![]));
    assert!(!parse(&o.batch(0.0).unwrap()).cookieless);
}

/// Sends `b` alone and has the collector store it: its view's later beacons go
/// as deltas from it.
fn stored(o: &mut JsOutbox, b: &Beacon) {
    o.push(b);
    o.batch(0.0).unwrap();
    o.finish(STORED, 0.0, 0.0);
}

fn titled(view: &str, seq: u32) -> Beacon {
    let mut b = beacon(view, seq, u64::from(seq) * 10_000, vec![]);
    b.video = VideoMeta {
        id: Some("clip-1".into()),
        title: Some("Clip 1".into()),
        ..VideoMeta::default()
    };
    b.context.player_name = Some("html5".into());
    b
}

/// What the collector makes of a body: whole beacons as they are, deltas
/// resolved against the stored beacon of their view (which must be their base),
/// as `collector::ingest` does. Remembers what it stored.
#[derive(Default)]
struct Collector {
    stored: std::collections::HashMap<String, Beacon>,
}

impl Collector {
    fn receive(&mut self, body: &str) -> Vec<Beacon> {
        let batch = parse(body);
        let mut out = batch.beacons.clone();
        for d in &batch.d {
            let base = self
                .stored
                .get(&d.view_id)
                .expect("a delta of a stored view");
            out.push(d.resolve(base).unwrap_or_else(|e| panic!("{e:?}: {body}")));
        }
        // The collector keeps the highest `seq` of each view.
        for b in &out {
            if self.stored.get(&b.view_id).is_some_and(|s| s.seq >= b.seq) {
                continue;
            }
            let mut kept = b.clone();
            kept.events.clear();
            self.stored.insert(b.view_id.clone(), kept);
        }
        out
    }
}

#[test]
fn once_a_view_is_stored_its_beacons_go_as_deltas() {
    let mut o = outbox();
    let mut c = Collector::default();
    o.push(&titled("a", 0));
    let first = o.batch(0.0).unwrap();
    assert!(first.contains(r#""title":"Clip 1""#), "{first}");
    assert!(parse(&first).d.is_empty(), "{first}");
    // A failed request proves nothing: still whole.
    o.finish(RETRY, 0.0, 0.0);
    let again = o.batch(10_000.0).unwrap();
    assert!(parse(&again).d.is_empty(), "{again}");
    assert_eq!(c.receive(&again), [titled("a", 0)]);
    o.finish(STORED, 10_000.0, 0.0);

    o.push(&titled("a", 1));
    o.push(&titled("b", 0));
    let next = o.batch(10_000.0).unwrap();
    let batch = parse(&next);
    assert_eq!((batch.beacons.len(), batch.d.len()), (1, 1), "{next}");
    assert_eq!(
        batch.beacons[0].view_id, "b",
        "another view is still sent whole"
    );
    assert_eq!(
        next.matches("Clip 1").count(),
        1,
        "only b's beacon names it: {next}"
    );
    assert_eq!(c.receive(&next), [titled("b", 0), titled("a", 1)]);
    o.finish(STORED, 10_000.0, 0.0);
    o.push(&titled("a", 2));
    o.push(&titled("b", 1));
    let steady = o.batch(20_000.0).unwrap();
    assert!(
        steady.starts_with(r#"{"v":1,"p":"p","d":["#),
        "deltas only: short, no viewer: {steady}"
    );
    assert!(steady.len() * 3 < first.len() * 2, "{steady} vs {first}");
    assert_eq!(c.receive(&steady), [titled("a", 2), titled("b", 1)]);
    // What is saved for the next page stays whole: that page knows nothing.
    let saved = o.save();
    for line in saved.lines() {
        let b: Beacon = serde_json::from_str(line).unwrap();
        assert_eq!(b.video.title.as_deref(), Some("Clip 1"), "{line}");
    }
}

#[test]
fn a_conflict_sends_the_views_whole_at_once() {
    let mut o = outbox();
    stored(&mut o, &titled("a", 0));
    o.push(&titled("a", 1));
    let delta = o.batch(0.0).unwrap();
    assert_eq!(parse(&delta).d.len(), 1, "{delta}");
    o.finish(CONFLICT, 5.0, 0.0);
    let whole = o.batch(5.0).expect("no backoff after a conflict");
    assert_eq!(parse(&whole).beacons, [titled("a", 1)], "{whole}");
}

#[test]
fn after_send_beacon_the_views_go_whole_next_time() {
    let mut o = outbox();
    stored(&mut o, &titled("a", 0));
    o.push(&titled("a", 1));
    let hidden = o.all().unwrap();
    assert_eq!(parse(&hidden).d.len(), 1, "a delta on page hide: {hidden}");
    // No answer comes back: the collector may hold seq 1 now, so the next
    // request does not build on seq 0.
    let next = o.batch(0.0).unwrap();
    assert_eq!(parse(&next).beacons, [titled("a", 1)], "{next}");
}

#[test]
fn a_rejected_view_is_not_taken_as_stored() {
    let mut o = outbox();
    o.push(&titled("a", 0));
    o.batch(0.0).unwrap();
    o.finish(REJECTED, 0.0, 0.0);
    o.push(&titled("a", 1));
    let body = o.batch(0.0).unwrap();
    assert!(parse(&body).d.is_empty(), "{body}");
}

#[test]
fn a_view_that_learns_its_source_later_sends_the_new_video() {
    let mut o = outbox();
    let mut c = Collector::default();
    let mut start = titled("a", 0);
    start.video.src = None;
    o.push(&start.clone());
    c.receive(&o.batch(0.0).unwrap());
    o.finish(STORED, 0.0, 0.0);
    // Metadata arrived: the source and duration are known now.
    let mut next = titled("a", 1);
    next.video.src = Some("https://cdn.example/clip.mp4".into());
    next.video.duration_ms = Some(12_000);
    o.push(&next.clone());
    let body = o.batch(0.0).unwrap();
    assert!(body.contains(r#""vd":{"#), "{body}");
    assert_eq!(c.receive(&body), [next.clone()]);
    o.finish(STORED, 0.0, 0.0);
    o.push(&titled_like(&next, 2));
    let body = o.batch(0.0).unwrap();
    assert!(!body.contains(r#""vd""#), "unchanged since stored: {body}");
    assert_eq!(c.receive(&body), [titled_like(&next, 2)]);
}

fn titled_like(b: &Beacon, seq: u32) -> Beacon {
    Beacon { seq, ..b.clone() }
}

#[test]
fn restoring_skips_lines_that_are_not_beacons() {
    let mut o = outbox();
    let good = serde_json::to_string(&beacon("a", 2, 20_000, vec![])).unwrap();
    o.restore(&format!(
        "{good}\n{{\"view_id\":\"b\"}}\n{{\"view_id\":\"c\",\"metrics\":{{}}}}\nnot json\n[1,2]\nnull\n{{\"view_id\":7,\"seq\":1,\"metrics\":{{}}}}\n"
    ));
    assert_eq!(o.len(), 1);
    let batch = parse(&o.batch(0.0).unwrap());
    assert_eq!(batch.beacons, [beacon("a", 2, 20_000, vec![])]);
}

#[test]
fn no_retry_is_due_while_a_request_is_in_flight() {
    let mut o = outbox();
    o.push(&beacon("a", 0, 0, vec![]));
    o.batch(0.0).unwrap();
    o.finish(RETRY, 0.0, 1.0);
    let at = o.retry_at().unwrap();
    o.batch(at).unwrap();
    assert_eq!(o.retry_at(), None, "the answer comes first");
    o.finish(RETRY, at, 1.0);
    assert_eq!(o.retry_at(), Some(at + 2000.0));
}

#[test]
fn the_newest_beacon_of_a_view_in_a_batch_is_the_base() {
    let mut o = outbox();
    let mut c = Collector::default();
    o.push(&titled("a", 0));
    c.receive(&o.batch(0.0).unwrap());
    o.finish(STORED, 0.0, 0.0);
    o.push(&titled("a", 1));
    o.batch(0.0).unwrap();
    // a1 in flight: a2 queues behind it; after the failure a3 merges into the
    // first idle entry of the view, a1's, so the batch holds a3 before a2.
    o.push(&titled("a", 2));
    o.finish(RETRY, 0.0, 0.0);
    o.push(&titled("a", 3));
    let both = o.batch(1_000_000.0).unwrap();
    let seqs: Vec<u32> = parse(&both).d.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, [3, 2], "{both}");
    c.receive(&both);
    o.finish(STORED, 1_000_000.0, 0.0);
    // The collector holds a3 (the highest seq), and so must the base of a4.
    o.push(&titled("a", 4));
    let next = o.batch(1_000_000.0).unwrap();
    let batch = parse(&next);
    assert_eq!(
        (batch.d.len(), batch.d[0].base),
        (1, None),
        "a3 is the base: {next}"
    );
    assert_eq!(c.receive(&next), [titled("a", 4)]);
}
