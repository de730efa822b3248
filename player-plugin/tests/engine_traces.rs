//! The engine driven by scripted event traces, natively: view lifecycle, startup,
//! rebuffering, watch and playing time, and beacon emission. Each test is one
//! playback story told as `(time, event, element state)` and the metrics it must
//! produce.

mod common;

use common::{start_slowly, Player};
use vidpulse_plugin::engine::{Config, ElementState, Engine, MediaEvent};
use vidpulse_plugin::wire::{Beacon, Reason, VideoMeta};

#[test]
fn waiting_before_first_frame_is_startup_not_rebuffering() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 5820.0);
    let m = p.end(5820.0);
    assert_eq!(m.startup_ms, Some(820));
    assert!(!m.startup_invalid);
    assert!(m.first_frame);
    assert_eq!(m.rebuffer_count, 0);
    assert_eq!(m.rebuffer_ms, 0);
    assert_eq!(m.watch_ms, 5820);
    assert_eq!(m.playing_ms, 5000);
    assert!(m.view_ended);
    let reasons: Vec<Reason> = p.sent.iter().map(|b| b.reason).collect();
    assert_eq!(
        reasons,
        [Reason::ViewStart, Reason::FirstFrame, Reason::ViewEnd]
    );
    let seqs: Vec<u32> = p.sent.iter().map(|b| b.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(p.sent[0].video.src.as_deref(), Some("a.webm"));
    assert_eq!(p.sent[0].started_at_ms, 1_700_000_000_000);
}

#[test]
fn timeupdate_marks_first_frame_without_frame_callbacks() {
    let mut p = Player::new();
    p.play(0.0).ev(400.0, MediaEvent::Playing);
    p.advance(400.0, 650.0);
    let m = p.metrics();
    assert_eq!(m.startup_ms, Some(650));
}

#[test]
fn a_stall_after_first_frame_is_a_rebuffer() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 3070.0);
    p.el.ready_state = 2;
    p.ev(3070.0, MediaEvent::Waiting).wait_until(5070.0);
    // Live: the open stall already counts.
    assert_eq!(p.metrics().rebuffer_count, 1);
    assert_eq!(p.metrics().rebuffer_ms, 2000);
    p.el.ready_state = 4;
    p.ev(5070.0, MediaEvent::Playing).advance(5070.0, 6070.0);
    let m = p.end(6070.0);
    assert_eq!(m.rebuffer_count, 1);
    assert_eq!(m.rebuffer_ms, 2000);
    assert_eq!(m.rebuffer_max_ms, 2000);
    assert_eq!(m.watch_ms, 6070);
    assert_eq!(m.playing_ms, 2250 + 1000);
}

#[test]
fn a_stall_shorter_than_250ms_is_ignored() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 2070.0);
    p.ev(2070.0, MediaEvent::Waiting)
        .ev(2270.0, MediaEvent::Playing);
    p.advance(2270.0, 3270.0);
    let m = p.end(3270.0);
    assert_eq!(m.rebuffer_count, 0);
    assert_eq!(m.rebuffer_ms, 0);
}

#[test]
fn waiting_caused_by_a_seek_is_not_rebuffering() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 2070.0);
    p.el.seeking = true;
    p.el.current_time = 8.0;
    p.ev(2070.0, MediaEvent::Seeking);
    p.el.ready_state = 1;
    p.ev(2080.0, MediaEvent::Waiting)
        .ev(2100.0, MediaEvent::TimeUpdate);
    p.wait_until(3600.0);
    p.el.seeking = false;
    p.el.ready_state = 4;
    p.ev(3600.0, MediaEvent::Seeked)
        .ev(3610.0, MediaEvent::Playing);
    p.advance(3610.0, 4610.0);
    let m = p.end(4610.0);
    assert_eq!(m.rebuffer_count, 0, "{m:?}");
    assert_eq!(m.rebuffer_ms, 0);
    // The jump from 1.25 s to 8 s is not playing time.
    assert_eq!(m.playing_ms, 1250 + 1000);
    assert_eq!(m.watch_ms, 4610);
}

#[test]
fn seek_while_playing_ends_when_the_playhead_moves_again() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    p.el.seeking = true;
    p.el.current_time = 5.0;
    p.ev(1820.0, MediaEvent::Seeking);
    p.el.seeking = false;
    p.ev(1900.0, MediaEvent::Seeked);
    // No `playing` event (data was buffered): the next advance ends the seek, and
    // a later stall is a rebuffer again.
    p.advance(1900.0, 2900.0);
    p.el.ready_state = 2;
    p.ev(2900.0, MediaEvent::Waiting)
        .ev(3400.0, MediaEvent::Playing);
    p.advance(3400.0, 3650.0);
    let m = p.end(3650.0);
    assert_eq!(m.rebuffer_count, 1);
    assert_eq!(m.rebuffer_ms, 500);
}

#[test]
fn pause_during_a_stall_ends_the_rebuffer_and_stops_watch_time() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 3070.0);
    p.el.ready_state = 2;
    p.ev(3070.0, MediaEvent::Waiting);
    p.pause(3670.0);
    p.wait_until(10_000.0);
    let m = p.metrics();
    assert_eq!(m.rebuffer_count, 1);
    assert_eq!(m.rebuffer_ms, 600);
    assert_eq!(m.watch_ms, 3670);
    // Resume with data: no new rebuffer, watch time runs again.
    p.el.ready_state = 4;
    p.play(10_000.0).ev(10_010.0, MediaEvent::Playing);
    p.advance(10_010.0, 11_010.0);
    let m = p.end(11_010.0);
    assert_eq!(m.rebuffer_count, 1);
    assert_eq!(m.rebuffer_ms, 600);
    assert_eq!(m.watch_ms, 3670 + 1010);
}

#[test]
fn the_watchdog_catches_a_stall_without_waiting_event() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 2070.0);
    // The playhead freezes at 2070 and no event says so.
    p.wait_until(4070.0);
    let m = p.metrics();
    assert_eq!(m.rebuffer_count, 1);
    assert_eq!(m.rebuffer_ms, 2000);
    p.advance(4070.0, 4320.0);
    let m = p.end(4320.0);
    assert_eq!(m.rebuffer_count, 1);
    // Resumed about 250 ms of media before the timeupdate at 4320.
    assert_eq!(m.rebuffer_ms, 2000);
}

#[test]
fn ended_then_replay_starts_a_new_view() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 2820.0);
    p.reach_end(2820.0);
    let first = p.metrics();
    assert!(first.ended);
    assert!(!first.startup_invalid);
    assert_eq!(first.watch_ms, 2820);
    // Replay.
    p.el.ended = false;
    p.el.seeking = true;
    p.el.current_time = 0.0;
    p.ev(5000.0, MediaEvent::Seeking);
    p.el.seeking = false;
    p.ev(5010.0, MediaEvent::Seeked);
    p.play(5020.0)
        .ev(5030.0, MediaEvent::Playing)
        .ev(5050.0, MediaEvent::Frame);
    p.advance(5050.0, 6050.0);
    let second = p.end(6050.0);
    let ids = p.view_ids();
    assert_eq!(ids.len(), 2);
    let first_final = p.sent.iter().rfind(|b| b.view_id == ids[0]).unwrap();
    assert_eq!(first_final.reason, Reason::ViewEnd);
    assert!(first_final.metrics.view_ended && first_final.metrics.ended);
    assert_eq!(first_final.metrics.watch_ms, 2820);
    assert_eq!(second.startup_ms, Some(30));
    assert!(!second.ended);
}

#[test]
fn same_source_loadstart_does_not_split_a_view_but_a_new_source_does() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    p.ev(
        1900.0,
        MediaEvent::LoadStart {
            src: "a.webm".into(),
        },
    );
    assert_eq!(p.view_ids().len(), 1);
    // `video.src = b; video.play()`: emptied, then play, then loadstart.
    p.ev(2000.0, MediaEvent::Emptied);
    p.el.current_time = 0.0;
    p.play(2001.0);
    p.ev(
        2010.0,
        MediaEvent::LoadStart {
            src: "b.webm".into(),
        },
    );
    p.ev(2500.0, MediaEvent::Playing)
        .ev(2520.0, MediaEvent::Frame);
    let ids = p.view_ids();
    assert_eq!(ids.len(), 2, "{:?}", p.sent);
    let second = p.sent.iter().find(|b| b.view_id == ids[1]).unwrap();
    assert_eq!(second.video.src.as_deref(), Some("b.webm"));
    assert_eq!(p.metrics().startup_ms, Some(519));
}

#[test]
fn pause_or_seek_before_first_frame_invalidates_startup() {
    let mut p = Player::new();
    p.play(0.0);
    p.pause(300.0);
    p.play(900.0)
        .ev(1000.0, MediaEvent::Playing)
        .ev(1020.0, MediaEvent::Frame);
    let m = p.metrics();
    assert!(m.first_frame);
    assert!(m.startup_invalid);
    assert_eq!(m.startup_ms, None);
}

#[test]
fn error_before_first_frame_is_a_start_failure() {
    let mut p = Player::new();
    p.play(0.0).ev(
        150.0,
        MediaEvent::Error {
            code: 4,
            message: "MEDIA_ELEMENT_ERROR: Format error".into(),
        },
    );
    let m = p.end(400.0);
    let e = m.error.expect("error recorded");
    assert_eq!(e.code, 4);
    assert!(e.before_first_frame);
    assert!(!m.first_frame);
    assert_eq!(m.startup_ms, None);
    assert!(p.sent.iter().any(|b| b.reason == Reason::Error));
}

#[test]
fn playing_time_increments_are_capped() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    // The tab slept: one timeupdate 5 s later with the playhead 5 s further.
    p.el.current_time += 5.0;
    p.ev(6820.0, MediaEvent::TimeUpdate);
    let m = p.metrics();
    assert_eq!(m.playing_ms, 1000 + 1000);
}

#[test]
fn interval_beacons_only_while_something_changes() {
    let mut p = Player::with_config(Config {
        beacon_interval_ms: 1000.0,
        ..Config::default()
    });
    start_slowly(&mut p);
    p.advance(820.0, 3820.0);
    let intervals = p
        .sent
        .iter()
        .filter(|b| b.reason == Reason::Interval)
        .count();
    assert_eq!(intervals, 3);
    p.pause(3820.0);
    // One heartbeat carries the pause itself, then nothing changes while paused.
    p.wait_until(6_000.0);
    let intervals = |p: &Player| {
        p.sent
            .iter()
            .filter(|b| b.reason == Reason::Interval)
            .count()
    };
    assert_eq!(intervals(&p), 4);
    p.wait_until(30_000.0);
    assert_eq!(intervals(&p), 4, "nothing changes while paused");
    let seqs: Vec<u32> = p.sent.iter().map(|b| b.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn an_idle_view_ends_after_the_timeout() {
    let mut p = Player::with_config(Config {
        idle_timeout_ms: 60_000.0,
        ..Config::default()
    });
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    p.pause(1820.0);
    p.wait_until(100_000.0);
    let last = p.sent.last().unwrap();
    assert_eq!(last.reason, Reason::ViewEnd);
    assert!(last.metrics.view_ended);
    assert!(!p.engine.view_active());
}

#[test]
fn no_play_intent_no_view() {
    let mut p = Player::new();
    p.ev(
        0.0,
        MediaEvent::LoadStart {
            src: "a.webm".into(),
        },
    );
    p.ev(100.0, MediaEvent::TimeUpdate);
    let el = p.el;
    p.engine.end_view(200.0, &el);
    p.drain();
    assert!(p.sent.is_empty());
    assert_eq!(p.engine.poll_timeout(&ElementState::default()), None);
}

#[test]
fn wire_json_roundtrips() {
    let mut p = Player::new();
    start_slowly(&mut p);
    let b = p.sent.last().unwrap().clone();
    let json = serde_json::to_string(&b).unwrap();
    let back: Beacon = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);
    assert!(json.contains("\"reason\":\"first_frame\""), "{json}");
}

#[test]
fn the_first_source_after_play_does_not_split_the_view() {
    // `monitor()` on an empty element, then `video.src = x; video.play()`: `play`
    // fires before the first `loadstart`, and no `emptied` precedes it.
    let mut engine = Engine::new(Config::default(), 1, 0.0, VideoMeta::default(), None);
    let el = ElementState {
        paused: false,
        ..ElementState::default()
    };
    engine.handle_event(10.0, MediaEvent::Play, &el);
    let src = "http://127.0.0.1/media/clip.webm".to_string();
    engine.handle_event(12.0, MediaEvent::LoadStart { src: src.clone() }, &el);
    let beacons: Vec<Beacon> = std::iter::from_fn(|| engine.poll_beacon()).collect();
    assert_eq!(beacons.len(), 1, "{beacons:?}");
    assert_eq!(beacons[0].reason, Reason::ViewStart);
    assert!(engine.view_active());
    engine.end_view(20.0, &el);
    let last = engine.poll_beacon().unwrap();
    assert_eq!(last.view_id, beacons[0].view_id);
    assert_eq!(last.video.src.as_deref(), Some(src.as_str()));
}

#[test]
fn the_rewind_of_a_replay_is_not_a_seek_of_the_ended_view() {
    // Chromium on `play()` after `ended`: seeking (to 0), play, waiting, seeked, playing.
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 2820.0);
    p.reach_end(2820.0);
    p.el.ended = false;
    p.el.seeking = true;
    p.el.current_time = 0.0;
    p.ev(9000.0, MediaEvent::Seeking);
    p.play(9001.0);
    p.el.ready_state = 1;
    p.ev(9002.0, MediaEvent::Waiting);
    p.el.seeking = false;
    p.el.ready_state = 4;
    p.ev(9030.0, MediaEvent::Seeked)
        .ev(9040.0, MediaEvent::Playing);
    p.ev(9060.0, MediaEvent::Frame);
    let ids = p.view_ids();
    assert_eq!(ids.len(), 2);
    let first = p.sent.iter().rfind(|b| b.view_id == ids[0]).unwrap();
    assert_eq!(first.metrics.seek_count, 0, "{:?}", first.metrics);
    assert_eq!(first.metrics.watch_ms, 2820);
    let second = p.metrics();
    assert_eq!(second.startup_ms, Some(59));
    assert!(!second.startup_invalid);
}

#[test]
fn playing_time_runs_until_a_seek_starts() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    // 200 ms after the last timeupdate the viewer seeks.
    p.el.seeking = true;
    p.el.current_time = 10.0;
    p.ev(2020.0, MediaEvent::Seeking);
    assert_eq!(p.metrics().playing_ms, 1000 + 200);
}

#[test]
fn playing_time_runs_until_a_source_change_resets_the_playhead() {
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 1820.0);
    // 180 ms after the last timeupdate the page sets a new src and plays.
    p.el.current_time = 0.0;
    p.ev(2000.0, MediaEvent::Emptied);
    p.play(2001.0);
    p.ev(
        2010.0,
        MediaEvent::LoadStart {
            src: "b.webm".into(),
        },
    );
    let ids = p.view_ids();
    assert_eq!(ids.len(), 2);
    let first = p.sent.iter().rfind(|b| b.view_id == ids[0]).unwrap();
    assert_eq!(first.metrics.playing_ms, 1000 + 180);
}
