//! The engine driven by scripted event traces, natively: each test is one playback
//! story told as `(time, event, element state)` and the metrics it must produce.

use vidpulse_plugin::engine::{Config, ElementState, Engine, MediaEvent};
use vidpulse_plugin::wire::{Beacon, NotableEvent, Reason, StreamType, VideoMeta, ViewMetrics};

/// A scripted `<video>`: keeps the element state and the clock, feeds the engine.
struct Player {
    engine: Engine,
    el: ElementState,
    now: f64,
    sent: Vec<Beacon>,
}

impl Player {
    fn new() -> Player {
        Player::with_config(Config::default())
    }

    fn with_config(cfg: Config) -> Player {
        let video = VideoMeta {
            id: Some("clip-1".into()),
            title: Some("Clip 1".into()),
            ..VideoMeta::default()
        };
        let engine = Engine::new(cfg, 42, 1_700_000_000_000.0, video, Some("a.webm".into()));
        Player {
            engine,
            el: ElementState {
                ready_state: 4,
                ..ElementState::default()
            },
            now: 0.0,
            sent: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(b) = self.engine.poll_beacon() {
            self.sent.push(b);
        }
    }

    /// An event at `t` ms.
    fn ev(&mut self, t: f64, event: MediaEvent) -> &mut Self {
        self.now = t;
        self.engine.handle_event(t, event, &self.el);
        self.drain();
        self
    }

    fn play(&mut self, t: f64) -> &mut Self {
        self.el.paused = false;
        self.ev(t, MediaEvent::Play)
    }

    fn pause(&mut self, t: f64) -> &mut Self {
        self.el.paused = true;
        self.ev(t, MediaEvent::Pause)
    }

    /// The playhead advances in real time from `from` to `to` with a `timeupdate`
    /// every 250 ms (as Chromium fires them), plus the timeouts the engine asks for.
    fn advance(&mut self, from: f64, to: f64) -> &mut Self {
        let mut t = from;
        while t + 250.0 <= to {
            t += 250.0;
            self.el.current_time += 0.25 * self.el.playback_rate;
            self.timeouts_until(t);
            self.ev(t, MediaEvent::TimeUpdate);
        }
        self
    }

    /// The playhead stays put until `to`; the engine's timeouts fire.
    fn wait_until(&mut self, to: f64) -> &mut Self {
        self.timeouts_until(to);
        self.now = to;
        self
    }

    fn timeouts_until(&mut self, to: f64) {
        while let Some(at) = self.engine.poll_timeout(&self.el) {
            if at > to {
                break;
            }
            let at = at.max(self.now);
            self.now = at;
            self.engine.handle_timeout(at, &self.el);
            self.drain();
        }
    }

    fn metrics(&mut self) -> ViewMetrics {
        self.engine.snapshot(self.now, &self.el).metrics
    }

    fn end(&mut self, t: f64) -> ViewMetrics {
        self.now = t;
        let el = self.el;
        self.engine.end_view(t, &el);
        self.drain();
        self.sent.last().expect("a final beacon").metrics.clone()
    }

    fn view_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for b in &self.sent {
            if !ids.contains(&b.view_id) {
                ids.push(b.view_id.clone());
            }
        }
        ids
    }
}

/// play() before data: `waiting` at position 0, then data, first frame at 820 ms.
fn start_slowly(p: &mut Player) {
    p.el.ready_state = 0;
    p.play(0.0).ev(5.0, MediaEvent::Waiting);
    p.el.ready_state = 4;
    p.ev(800.0, MediaEvent::Playing)
        .ev(820.0, MediaEvent::Frame);
}

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
    p.el.ended = true;
    p.el.paused = true;
    p.ev(2820.0, MediaEvent::Pause)
        .ev(2821.0, MediaEvent::Ended);
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
    p.el.ended = true;
    p.el.paused = true;
    p.ev(1950.0, MediaEvent::Ended);
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
        trace::apply(&mut live, now, &input, &q);
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
fn the_rewind_of_a_replay_is_not_a_seek_of_the_ended_view() {
    // Chromium on `play()` after `ended`: seeking (to 0), play, waiting, seeked, playing.
    let mut p = Player::new();
    start_slowly(&mut p);
    p.advance(820.0, 2820.0);
    p.el.ended = true;
    p.el.paused = true;
    p.ev(2820.0, MediaEvent::Pause)
        .ev(2821.0, MediaEvent::Ended);
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
