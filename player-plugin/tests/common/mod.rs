//! The scripted player shared by the engine trace tests: it keeps the element state
//! and the clock, feeds the engine, and collects the beacons it queues.
#![allow(dead_code)] // each test binary uses its own subset

use vidpulse_plugin::engine::{Config, ElementState, Engine, MediaEvent};
use vidpulse_plugin::wire::{Beacon, VideoMeta, ViewMetrics};

/// A scripted `<video>`: keeps the element state and the clock, feeds the engine.
pub struct Player {
    pub engine: Engine,
    pub el: ElementState,
    pub now: f64,
    pub sent: Vec<Beacon>,
}

impl Player {
    pub fn new() -> Player {
        Player::with_config(Config::default())
    }

    pub fn with_config(cfg: Config) -> Player {
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

    pub fn drain(&mut self) {
        while let Some(b) = self.engine.poll_beacon() {
            self.sent.push(b);
        }
    }

    /// An event at `t` ms.
    pub fn ev(&mut self, t: f64, event: MediaEvent) -> &mut Self {
        self.now = t;
        self.engine.handle_event(t, event, &self.el);
        self.drain();
        self
    }

    pub fn play(&mut self, t: f64) -> &mut Self {
        self.el.paused = false;
        self.ev(t, MediaEvent::Play)
    }

    pub fn pause(&mut self, t: f64) -> &mut Self {
        self.el.paused = true;
        self.ev(t, MediaEvent::Pause)
    }

    /// The playhead advances in real time from `from` to `to` with a `timeupdate`
    /// every 250 ms (as Chromium fires them), plus the timeouts the engine asks for.
    pub fn advance(&mut self, from: f64, to: f64) -> &mut Self {
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
    pub fn wait_until(&mut self, to: f64) -> &mut Self {
        self.timeouts_until(to);
        self.now = to;
        self
    }

    pub fn timeouts_until(&mut self, to: f64) {
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

    /// Playback reaches the end at `t`: Chromium's `pause`, then `ended`.
    pub fn reach_end(&mut self, t: f64) -> &mut Self {
        self.el.ended = true;
        self.el.paused = true;
        self.ev(t, MediaEvent::Pause).ev(t + 1.0, MediaEvent::Ended)
    }

    pub fn metrics(&mut self) -> ViewMetrics {
        self.engine.snapshot(self.now, &self.el).metrics
    }

    pub fn end(&mut self, t: f64) -> ViewMetrics {
        self.now = t;
        let el = self.el;
        self.engine.end_view(t, &el);
        self.drain();
        self.sent.last().expect("a final beacon").metrics.clone()
    }

    pub fn view_ids(&self) -> Vec<String> {
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
pub fn start_slowly(p: &mut Player) {
    p.el.ready_state = 0;
    p.play(0.0).ev(5.0, MediaEvent::Waiting);
    p.el.ready_state = 4;
    p.ev(800.0, MediaEvent::Playing)
        .ev(820.0, MediaEvent::Frame);
}
