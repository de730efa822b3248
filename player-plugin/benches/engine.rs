//! Engine cost per input, natively: replays a synthetic 10-minute playback trace
//! (timeupdates every 250 ms, frames, timers, stalls, seeks, pauses) many times and
//! reports nanoseconds per input. Run by `cargo xtask bench engine` (release
//! build); writes `target/bench/engine.json` with `engine_ns_per_event`.

use std::hint::black_box;
use std::time::Instant;

use vidpulse_plugin::engine::trace::{
    replay, Trace, TraceElement, TraceHeader, TraceInput, TraceRecord,
};
use vidpulse_plugin::engine::{ElementState, MediaEvent};
use vidpulse_plugin::wire::VideoMeta;

fn synthetic_trace() -> Trace {
    let mut records = Vec::new();
    let mut el = ElementState {
        ready_state: 4,
        duration: 900.0,
        ..ElementState::default()
    };
    let mut push = |t: f64, el: &ElementState, input: TraceInput| {
        records.push(TraceRecord {
            at: (t * 1000.0) as i64,
            input,
            el: TraceElement::quantize(el).0,
        });
    };
    let ev = |ev| TraceInput::Event { ev };
    el.paused = false;
    push(0.0, &el, ev(MediaEvent::Play));
    push(400.0, &el, ev(MediaEvent::Playing));
    push(420.0, &el, ev(MediaEvent::Frame));
    let mut t = 420.0;
    for i in 0..2400u32 {
        t += 250.0;
        match i % 400 {
            100 => {
                push(t, &el, ev(MediaEvent::Waiting));
                t += 1500.0;
                push(t, &el, ev(MediaEvent::Playing));
            }
            200 => {
                el.seeking = true;
                el.current_time += 30.0;
                push(t, &el, ev(MediaEvent::Seeking));
                el.seeking = false;
                push(t + 200.0, &el, ev(MediaEvent::Seeked));
                t += 300.0;
            }
            300 => {
                el.paused = true;
                push(t, &el, ev(MediaEvent::Pause));
                t += 2000.0;
                el.paused = false;
                push(t, &el, ev(MediaEvent::Play));
            }
            _ => {}
        }
        el.current_time += 0.25;
        push(t, &el, ev(MediaEvent::TimeUpdate));
        if i % 4 == 0 {
            push(t + 1.0, &el, TraceInput::Timeout);
        }
    }
    push(t + 10.0, &el, TraceInput::EndView);
    Trace {
        header: TraceHeader {
            seed: "1".into(),
            time_origin_us: 1_700_000_000_000_000,
            beacon_interval_ms: 10_000,
            player_init_us: None,
            page_load_us: None,
            autoplay: false,
            video: VideoMeta::default(),
            context: Default::default(),
            src: Some("https://cdn.example.com/v.mp4".into()),
        },
        records,
    }
}

fn main() {
    let trace = synthetic_trace();
    let inputs = trace.records.len();
    // Warm up, then measure the best of several rounds (least disturbed by the OS).
    for _ in 0..20 {
        black_box(replay(black_box(&trace)));
    }
    let rounds = 200;
    let mut best = f64::INFINITY;
    let mut beacons = 0;
    for _ in 0..10 {
        let start = Instant::now();
        for _ in 0..rounds {
            beacons = black_box(replay(black_box(&trace))).len();
        }
        let ns = start.elapsed().as_nanos() as f64 / (rounds * inputs) as f64;
        best = best.min(ns);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let json = format!(
        "{{\n  \"engine_ns_per_event\": {best:.1},\n  \"inputs_per_replay\": {inputs},\n  \"beacons_per_replay\": {beacons},\n  \"note\": \"best of 10 rounds of {rounds} replays of a synthetic 10-minute view, release build, includes building beacons\"\n}}\n"
    );
    std::fs::write(dir.join("engine.json"), &json).expect("write engine.json");
    print!("{json}");
}
