//! The engine driven by scripted event traces, natively: the metrics beyond the core
//! ones (seeks, coverage and completion, player/page/aggregate startup, renditions
//! and scaling, frames, the timeline, reported errors, content changes) and trace
//! replay.

mod common;

use common::{start_slowly, Player};
use vidpulse_plugin::engine::{Config, ElementState, MediaEvent};
use vidpulse_plugin::wire::{NotableEvent, Reason, StreamType, VideoMeta};

#[test]
fn seeks_count_latency_and_merge_with_timeline_events() {
    let mut p = Player::new();
    p.el.duration = 30.0;
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    // Scrub: two seeks 500 ms apart merge into one.
    for (t, to) in [(1820.0, 10.0), (2500.0, 15.0)] {
        p.el.seeking = true;
        p.el.current_time = to;
        p.ev(t, MediaEvent::Seeking);
        p.el.seeking = false;
        p.ev(t + 100.0, MediaEvent::Seeked);
        p.advance(t + 100.0, t + 350.0);
    }
    // The second seek resumed ~100 ms after `seeked` (at 2600) + the 250 ms tick.
    let m = p.metrics();
    assert_eq!(m.seek_count, 1, "{m:?}");
    assert_eq!(m.seek_ms, 2600 - 1820);
    // A seek well after is a second one; paused seeks end at `seeked`.
    p.advance(2850.0, 6850.0);
    p.pause(6850.0);
    p.el.seeking = true;
    p.el.current_time = 2.0;
    p.ev(7000.0, MediaEvent::Seeking);
    p.el.seeking = false;
    p.ev(7400.0, MediaEvent::Seeked);
    let m = p.end(8000.0);
    assert_eq!(m.seek_count, 2);
    assert_eq!(m.seek_ms, 780 + 400);
    assert_eq!(m.seek_max_ms, 780);
    assert_eq!(m.pause_count, 1);
    let seeks: Vec<(u64, u64, u64, u64)> = p
        .sent
        .iter()
        .flat_map(|b| b.events.iter())
        .filter_map(|e| match e {
            NotableEvent::Seek {
                at_ms,
                dur_ms,
                from_ms,
                to_ms,
            } => Some((*at_ms, *dur_ms, *from_ms, *to_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(seeks, [(1820, 780, 1000, 15000), (7000, 400, 19250, 2000)]);
}

#[test]
fn coverage_max_position_and_completion() {
    let mut p = Player::new();
    p.el.duration = 10.0;
    start_slowly(&mut p);
    p.advance(820.0, 5820.0);
    let m = p.metrics();
    assert_eq!(m.coverage_buckets, 10);
    assert_eq!(m.coverage.as_deref(), Some("01f"));
    assert_eq!(m.max_position_ms, 5000);
    assert!(!m.completed);
    p.advance(5820.0, 10_820.0);
    assert!(p.metrics().completed, "95 % covered");
    assert_eq!(p.sent[0].video.stream_type, Some(StreamType::OnDemand));
    assert_eq!(p.sent.last().unwrap().video.duration_ms, Some(10_000));
}

#[test]
fn player_page_and_aggregate_startup_on_the_first_autoplay_view() {
    let mut p = Player::with_config(Config {
        player_init_at: Some(300.0),
        page_load_ms: Some(300.0),
        autoplay: true,
        ..Config::default()
    });
    p.play(400.0);
    p.ev(900.0, MediaEvent::CanPlay)
        .ev(910.0, MediaEvent::Playing);
    p.ev(950.0, MediaEvent::Frame);
    let m = p.metrics();
    assert_eq!(m.player_startup_ms, Some(600));
    assert_eq!(m.page_load_ms, Some(300));
    assert_eq!(m.startup_ms, Some(550));
    assert_eq!(m.aggregate_startup_ms, Some(300 + 600 + 550));
    assert!(p.sent[0].context.autoplay);
    // The next view on the same player carries none of them.
    p.advance(950.0, 1950.0);
    p.reach_end(1949.0);
    p.el.ended = false;
    p.play(3000.0).ev(3100.0, MediaEvent::Frame);
    let m = p.metrics();
    assert_eq!(m.player_startup_ms, None);
    assert_eq!(m.page_load_ms, None);
    assert_eq!(m.aggregate_startup_ms, None);
    assert!(!p.sent.last().unwrap().context.autoplay);
}

#[test]
fn renditions_scaling_frames_and_small_counters() {
    let mut p = Player::new();
    p.ev(
        0.0,
        MediaEvent::Rendition {
            width: 640,
            height: 360,
            bitrate: None,
        },
    );
    p.ev(
        0.0,
        MediaEvent::DisplaySize {
            width: 1280,
            height: 720,
        },
    );
    start_slowly(&mut p);
    p.engine.set_frame_counts(5, 100);
    p.advance(820.0, 1820.0);
    p.ev(
        1820.0,
        MediaEvent::Rendition {
            width: 1280,
            height: 720,
            bitrate: Some(2_500_000),
        },
    );
    p.advance(1820.0, 2820.0);
    p.engine.set_frame_counts(8, 160);
    p.ev(2820.0, MediaEvent::RateChange)
        .ev(2820.0, MediaEvent::VolumeChange)
        .ev(2820.0, MediaEvent::Fullscreen { on: true });
    p.advance(2820.0, 3820.0);
    p.ev(3820.0, MediaEvent::Fullscreen { on: false });
    let m = p.end(3820.0);
    assert_eq!(m.mean_height, Some((360 * 1000 + 720 * 2000) / 3000));
    assert_eq!(m.rendition_changes, 1);
    assert_eq!(m.upscale_permille, 333, "2x for 1 s of 3 s");
    assert_eq!(m.max_upscale_permille, 1000);
    assert_eq!((m.dropped_frames, m.total_frames), (3, 60));
    assert_eq!((m.rate_changes, m.volume_changes), (1, 1));
    assert_eq!(m.fullscreen_ms, 1000);
    let renditions = p
        .sent
        .iter()
        .flat_map(|b| b.events.iter())
        .filter(|e| matches!(e, NotableEvent::Rendition { .. }))
        .count();
    assert_eq!(renditions, 1, "the change during the view");
}

#[test]
fn stalls_and_errors_go_on_the_timeline() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 2070.0);
    p.ev(2070.0, MediaEvent::Waiting)
        .ev(3070.0, MediaEvent::Playing);
    p.ev(
        3100.0,
        MediaEvent::Error {
            code: 3,
            message: "decode".into(),
        },
    );
    let events: Vec<NotableEvent> = p.sent.iter().flat_map(|b| b.events.clone()).collect();
    assert_eq!(
        events,
        [
            NotableEvent::Stall {
                at_ms: 2070,
                dur_ms: 1000
            },
            NotableEvent::Error {
                at_ms: 3100,
                code: 3,
                message: "decode".into(),
                fatal: true
            }
        ]
    );
}

#[test]
fn a_recorded_trace_replays_to_the_same_beacons() {
    use vidpulse_plugin::engine::trace::{self, Trace, TraceElement, TraceHeader, TraceInput};
    let header = TraceHeader {
        seed: "2a".into(),
        time_origin_us: 1_700_000_000_000_123,
        beacon_interval_ms: 1000,
        player_init_us: Some(100_000),
        page_load_us: Some(100_000),
        autoplay: true,
        video: VideoMeta::default(),
        context: Default::default(),
        src: Some("a.webm".into()),
    };
    let mut live = header.engine();
    let mut trace = Trace {
        header: header.clone(),
        records: Vec::new(),
    };
    let mut sent = Vec::new();
    let mut el = ElementState {
        duration: f64::INFINITY,
        ..ElementState::default()
    };
    let mut feed = |t: f64, el: &ElementState, input: TraceInput| {
        let (at, now) = trace::quantize_ms(t);
        let (te, q) = TraceElement::quantize(el);
        trace.records.push(trace::TraceRecord {
            at,
            input: input.clone(),
            el: te,
        });
        trace::apply(&mut live, now, input, &q);
        while let Some(b) = live.poll_beacon() {
            sent.push(b);
        }
    };
    let ev = |ev| TraceInput::Event { ev };
    el.paused = false;
    feed(200.123_4, &el, ev(MediaEvent::Play));
    feed(700.9, &el, ev(MediaEvent::CanPlay));
    feed(733.3, &el, ev(MediaEvent::Frame));
    for i in 1..40 {
        el.current_time += 0.250_000_3;
        feed(
            733.3 + 250.0 * f64::from(i),
            &el,
            ev(MediaEvent::TimeUpdate),
        );
        if i % 4 == 0 {
            feed(733.3 + 250.0 * f64::from(i) + 1.0, &el, TraceInput::Timeout);
        }
    }
    el.duration = f64::NAN;
    feed(
        12_000.0,
        &el,
        TraceInput::Frames {
            dropped: 1,
            total: 300,
        },
    );
    feed(12_000.5, &el, TraceInput::EndView);
    let json = serde_json::to_string(&trace).unwrap();
    let back: Trace = serde_json::from_str(&json).unwrap();
    assert_eq!(back, trace);
    let replayed = trace::replay(&back);
    assert!(sent.len() >= 5, "{}", sent.len());
    assert_eq!(replayed, sent);
}

#[test]
fn reported_errors_fatal_or_not() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    p.ev(
        1820.0,
        MediaEvent::ReportedError {
            code: 2,
            message: "fragment retry".into(),
            fatal: false,
        },
    );
    assert_eq!(
        p.metrics().error,
        None,
        "a non-fatal error is only on the timeline"
    );
    p.ev(
        2000.0,
        MediaEvent::ReportedError {
            code: 3,
            message: "manifest gone".into(),
            fatal: true,
        },
    );
    let m = p.end(2500.0);
    assert_eq!(
        m.error.map(|e| (e.code, e.before_first_frame)),
        Some((3, false))
    );
    let fatal: Vec<bool> = p
        .sent
        .iter()
        .flat_map(|b| b.events.iter())
        .filter_map(|e| match e {
            NotableEvent::Error { fatal, .. } => Some(*fatal),
            _ => None,
        })
        .collect();
    assert_eq!(fatal, [false, true]);
}

#[test]
fn a_video_change_ends_the_view_and_starts_the_next_while_playing() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    let next = VideoMeta {
        id: Some("clip-2".into()),
        ..VideoMeta::default()
    };
    p.ev(1820.0, MediaEvent::VideoChange { video: next });
    let ids = p.view_ids();
    assert_eq!(ids.len(), 2);
    let first_end = p.sent.iter().rfind(|b| b.view_id == ids[0]).unwrap();
    assert_eq!(first_end.reason, Reason::ViewEnd);
    assert_eq!(first_end.video.id.as_deref(), Some("clip-1"));
    let second = p.sent.last().unwrap();
    assert_eq!(second.reason, Reason::ViewStart);
    assert_eq!(second.video.id.as_deref(), Some("clip-2"));
    // Paused: the next view waits for play intent.
    p.pause(2000.0);
    p.ev(
        2100.0,
        MediaEvent::VideoChange {
            video: VideoMeta::default(),
        },
    );
    assert_eq!(p.view_ids().len(), 2);
    assert!(!p.engine.view_active());
}

#[test]
fn after_the_view_ends_the_snapshot_keeps_its_final_metrics() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 5000.0);
    // End the view with a stall and a seek still open and fullscreen on: the
    // final beacon closes them; a later snapshot must say exactly the same.
    p.ev(5000.0, MediaEvent::Fullscreen { on: true });
    p.ev(5100.0, MediaEvent::Waiting);
    p.el.seeking = true;
    p.ev(6000.0, MediaEvent::Seeking);
    let last = p.end(7000.0);
    assert!(last.view_ended && last.rebuffer_count == 1 && last.seek_count == 1);
    assert!(last.fullscreen_ms > 0, "{last:?}");
    p.now = 60_000.0;
    assert_eq!(p.metrics(), last);
    let id = p.sent.last().unwrap().view_id.clone();
    let snap = p.engine.snapshot(90_000.0, &p.el);
    assert_eq!(
        (&snap.view_id, snap.seq),
        (&Some(id.clone()), p.sent.len() as u32)
    );
    // Ending again (a second `destroy()` or `pagehide`) keeps the last view.
    let el = p.el;
    p.engine.end_view(95_000.0, &el);
    p.ev(96_000.0, MediaEvent::PageHide);
    let again = p.engine.snapshot(99_000.0, &p.el);
    assert_eq!(again.view_id, Some(id));
    assert_eq!(again.metrics, last);
}
