//! The playback engine: a pure state machine from media events to QoE metrics.
//!
//! Sans-IO, in the manner of quinn-proto: the engine never reads a clock, touches
//! the DOM or sends anything. The caller feeds it `(now, event, element state)`
//! through [`Engine::handle_event`], wakes it at [`Engine::poll_timeout`] through
//! [`Engine::handle_timeout`], and drains the beacons it wants sent with
//! [`Engine::poll_beacon`]. The browser glue, native tests and trace replays all
//! drive this same code, so every metric has one definition.
//!
//! View lifecycle, startup, rebuffering, watch and playing time follow
//! `METRICS.md`; the README lists the rules as implemented.

mod config;
mod coverage;
mod ids;
mod input;
mod quality;
mod seek;
pub mod trace;
mod view;

use alloc::string::String;
use alloc::vec::Vec;

pub use config::Config;
pub use input::{ElementState, MediaEvent, HAVE_FUTURE_DATA};

use crate::wire::{
    Beacon, NotableEvent, PlaybackError, Reason, StreamType, VideoMeta, ViewContext, ViewMetrics,
};
use ids::IdGen;
use view::{ms, StartupExtras, View};

/// The engine for one media element.
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    ids: IdGen,
    /// `performance.timeOrigin`: turns monotonic time into calendar time.
    time_origin_ms: f64,
    video: VideoMeta,
    context: ViewContext,
    /// Player init to first `canplay`, once known.
    player_startup_ms: Option<f64>,
    /// Views started so far by this engine.
    views_started: u32,
    /// The element's last known `duration`.
    duration: f64,
    /// The element's last known intrinsic size, for views that start later.
    rendition: Option<(u32, u32)>,
    /// The element's last known displayed size.
    display: Option<(u32, u32)>,
    /// The element's `currentSrc` as of the last `loadstart`.
    src: Option<String>,
    /// `emptied` seen and its `loadstart` not yet: a play intent now belongs to the
    /// source being loaded.
    reloading: bool,
    /// A play intent that arrived while reloading.
    pending_play_at: Option<f64>,
    view: Option<View>,
    /// The last view that ended and when, kept for [`Engine::snapshot`] (its
    /// metrics are recomputed there: cheaper in wasm than a copy of them).
    last_view: Option<(View, f64)>,
    /// Beacons made and not yet taken by [`Engine::poll_beacon`], oldest first.
    beacons: Vec<Beacon>,
}

/// What [`Engine::snapshot`] returns: the current (or last) view's metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// The view's id; `None` before the first play intent.
    pub view_id: Option<String>,
    /// Sequence number of the last beacon queued for this view.
    pub seq: u32,
    /// The metrics as of the snapshot.
    pub metrics: ViewMetrics,
}

impl Engine {
    /// A new engine. `seed` makes view ids (the glue passes crypto-random bits);
    /// `src` is the element's `currentSrc` when monitoring starts.
    pub fn new(
        cfg: Config,
        seed: u64,
        time_origin_ms: f64,
        video: VideoMeta,
        src: Option<String>,
    ) -> Engine {
        Engine {
            cfg,
            ids: IdGen::new(seed),
            time_origin_ms,
            video,
            context: ViewContext::default(),
            player_startup_ms: None,
            views_started: 0,
            duration: f64::NAN,
            rendition: None,
            display: None,
            src: src.filter(|s| !s.is_empty()),
            reloading: false,
            pending_play_at: None,
            view: None,
            last_view: None,
            beacons: Vec::new(),
        }
    }

    /// The engine's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Whether a view is in progress.
    pub fn view_active(&self) -> bool {
        self.view.is_some()
    }

    /// True between play intent and first frame: the glue should report presented
    /// frames ([`MediaEvent::Frame`]) then.
    pub fn wants_frames(&self) -> bool {
        self.view
            .as_ref()
            .is_some_and(|v| v.first_frame_at.is_none() && v.error.is_none())
    }

    /// Feeds one media event that happened at `now` (`performance.now()` ms).
    pub fn handle_event(&mut self, now: f64, event: MediaEvent, el: &ElementState) {
        let cfg = self.cfg;
        if let Some(v) = self.view.as_mut() {
            v.advance(now, el, &cfg);
        }
        if el.duration.is_finite() || el.duration.is_infinite() {
            self.duration = el.duration;
        }
        match event {
            MediaEvent::Emptied => self.reloading = true,
            MediaEvent::LoadStart { src } => self.on_load_start(now, src, el),
            MediaEvent::Play => self.on_play(now, el),
            MediaEvent::Playing => self.on_playing(now, el),
            MediaEvent::Pause => {
                if let Some(v) = self.view.as_mut() {
                    v.end_stall(now, &cfg);
                    v.paused = true;
                    // The pause that comes with reaching the end is not the viewer's.
                    if !el.ended {
                        v.pause_count += 1;
                        if v.first_frame_at.is_none() {
                            v.startup_invalid = true;
                        }
                    }
                    if v.seeking() && !el.seeking {
                        // Past `seeked` already: a paused seek is over.
                        v.end_seek(now, el);
                    }
                }
            }
            MediaEvent::Waiting | MediaEvent::Stalled => {
                let stalled_for_data =
                    matches!(event, MediaEvent::Waiting) || el.ready_state < HAVE_FUTURE_DATA;
                if let Some(v) = self.view.as_mut() {
                    if stalled_for_data && v.wants_playback(el) {
                        v.start_stall(now);
                    }
                }
            }
            MediaEvent::Seeking => {
                // After `ended`, a seek (the rewind of a replay) belongs to the next
                // view, which the coming `play` starts.
                if let Some(v) = self.view.as_mut().filter(|v| !v.ended) {
                    v.end_stall(now, &cfg);
                    v.start_seek(now, &cfg);
                    if v.first_frame_at.is_none() {
                        v.startup_invalid = true;
                    }
                    v.rebase_position(el);
                }
            }
            MediaEvent::Seeked => {
                if let Some(v) = self.view.as_mut() {
                    v.rebase_position(el);
                    if v.paused {
                        v.end_seek(now, el);
                    }
                }
            }
            MediaEvent::TimeUpdate | MediaEvent::Frame => self.on_progress_hint(now, &event, el),
            MediaEvent::CanPlay => {
                if self.player_startup_ms.is_none() {
                    if let Some(init) = cfg.player_init_at {
                        let d = (now - init).max(0.0);
                        self.player_startup_ms = Some(d);
                        if let Some(v) = self.view.as_mut() {
                            if v.extras.first_of_player {
                                v.extras.player_startup_ms = Some(d);
                            }
                        }
                    }
                }
            }
            MediaEvent::RateChange => {
                if let Some(v) = self.view.as_mut() {
                    v.rate_changes += 1;
                }
            }
            MediaEvent::VolumeChange => {
                if let Some(v) = self.view.as_mut() {
                    v.volume_changes += 1;
                }
            }
            MediaEvent::Rendition {
                width,
                height,
                bitrate,
            } => {
                self.rendition = Some((width, height));
                if let Some(v) = self.view.as_mut() {
                    if v.quality.rendition(width, height) {
                        let at_ms = ms(now - v.started_at);
                        v.push_event(NotableEvent::Rendition {
                            at_ms,
                            width,
                            height,
                            bitrate,
                        });
                    }
                }
            }
            MediaEvent::DisplaySize { width, height } => {
                self.display = Some((width, height));
                if let Some(v) = self.view.as_mut() {
                    v.quality.display(f64::from(width), f64::from(height));
                }
            }
            MediaEvent::Fullscreen { on } => {
                if let Some(v) = self.view.as_mut() {
                    v.set_fullscreen(on, now);
                }
            }
            MediaEvent::Ended => {
                if let Some(v) = self.view.as_mut() {
                    v.end_stall(now, &cfg);
                    if v.seeking() {
                        v.end_seek(now, el);
                    }
                    v.ended = true;
                }
                self.emit(now, Reason::Ended);
            }
            MediaEvent::Error { code, message } => self.on_error(now, code, message, true),
            MediaEvent::ReportedError {
                code,
                message,
                fatal,
            } => self.on_error(now, code, message, fatal),
            MediaEvent::VideoChange { video } => {
                self.video = video;
                if self.view.is_some() {
                    self.end_view(now, el);
                    if !el.paused {
                        self.start_view(now, el);
                    }
                }
            }
            MediaEvent::PageHide => self.end_view(now, el),
        }
        self.check_first_frame_fallback(now, el);
    }

    /// Wakes the engine at (or after) the instant [`Engine::poll_timeout`] named.
    pub fn handle_timeout(&mut self, now: f64, el: &ElementState) {
        let cfg = self.cfg;
        let Some(v) = self.view.as_mut() else { return };
        v.advance(now, el, &cfg);
        if now - v.last_activity_at >= cfg.idle_timeout_ms {
            self.end_view(now, el);
            return;
        }
        if !v.stall_open() && v.wants_playback(el) && now - v.last_progress_at >= cfg.watchdog_ms {
            // The playhead has not moved since its last observed advance.
            let since = v.last_progress_at;
            v.start_stall(since);
        }
        if now - v.last_beacon_at >= cfg.beacon_interval_ms {
            let changed = v.last_sent != crate::json::metrics_text(&v.metrics(now, &cfg));
            if changed {
                self.emit(now, Reason::Interval);
            } else {
                v.last_beacon_at = now;
            }
        }
    }

    /// The next instant the engine wants [`Engine::handle_timeout`] called, if any.
    pub fn poll_timeout(&self, el: &ElementState) -> Option<f64> {
        let v = self.view.as_ref()?;
        let mut at = (v.last_beacon_at + self.cfg.beacon_interval_ms)
            .min(v.last_activity_at + self.cfg.idle_timeout_ms);
        if !v.stall_open() && v.wants_playback(el) {
            at = at.min(v.last_progress_at + self.cfg.watchdog_ms);
        }
        Some(at)
    }

    /// Queues a beacon with the current state now (`flush()`).
    pub fn flush(&mut self, now: f64, el: &ElementState) {
        let cfg = self.cfg;
        if let Some(v) = self.view.as_mut() {
            v.advance(now, el, &cfg);
            self.emit(now, Reason::Flush);
        }
    }

    /// Ends the current view (`destroy()`, page unload): queues its final beacon.
    pub fn end_view(&mut self, now: f64, el: &ElementState) {
        let cfg = self.cfg;
        if let Some(v) = self.view.as_mut() {
            v.advance(now, el, &cfg);
            v.close(now, &cfg);
        }
        self.emit(now, Reason::ViewEnd);
        // Only a view that was in progress replaces the last one: ending twice
        // (`destroy()` after the idle timeout, a second `pagehide`) keeps it.
        if let Some(v) = self.view.take() {
            self.last_view = Some((v, now));
        }
    }

    /// Sets the page and player context; applies to views that start from now on.
    pub fn set_context(&mut self, context: ViewContext) {
        self.context = context;
    }

    /// The element's cumulative frame counters (`getVideoPlaybackQuality()`).
    pub fn set_frame_counts(&mut self, dropped: u32, total: u32) {
        if let Some(v) = self.view.as_mut() {
            v.set_frames(dropped, total);
        }
    }

    /// Media download throughput measured by the glue (Resource Timing), bit/s.
    pub fn set_throughput(&mut self, bps: f64) {
        if let Some(v) = self.view.as_mut() {
            if bps.is_finite() && bps > 0.0 {
                v.throughput_bps = Some(bps);
            }
        }
    }

    /// The next beacon to send, oldest first. (A `Vec`, not a `VecDeque`: an
    /// input queues at most a few beacons, and `VecDeque`'s ring buffer cost the
    /// shipped wasm 447 B gzip.)
    pub fn poll_beacon(&mut self) -> Option<Beacon> {
        (!self.beacons.is_empty()).then(|| self.beacons.remove(0))
    }

    /// The current view's metrics as of `now` (or the last view's final ones).
    /// Reading does not change the engine: a snapshot is not an input.
    pub fn snapshot(&self, now: f64, el: &ElementState) -> Snapshot {
        match self.view.as_ref() {
            Some(view) => {
                let mut v = view.for_snapshot();
                v.advance(now, el, &self.cfg);
                Snapshot {
                    view_id: Some(view.id.clone()),
                    seq: v.seq,
                    metrics: v.metrics(now, &self.cfg),
                }
            }
            None => match &self.last_view {
                Some((v, ended_at)) => Snapshot {
                    view_id: Some(v.id.clone()),
                    seq: v.seq,
                    metrics: v.metrics(*ended_at, &self.cfg),
                },
                None => Snapshot::default(),
            },
        }
    }

    fn on_load_start(&mut self, now: f64, src: String, el: &ElementState) {
        self.reloading = false;
        let pending = self.pending_play_at.take();
        // A change needs a known previous source: the first source an element
        // gets (`video.src = x; video.play()` on an empty element fires `play`
        // before `loadstart`) belongs to the view already started.
        let changed = !src.is_empty() && self.src.as_deref().is_some_and(|old| old != src);
        if !src.is_empty() {
            if let Some(v) = self.view.as_mut().filter(|v| v.video.src.is_none()) {
                v.video.src = Some(src.clone());
            }
            self.src = Some(src);
        }
        if changed && self.view.is_some() {
            self.end_view(now, el);
        }
        // A play intent that raced ahead of this `loadstart` belongs to this source.
        if let Some(at) = pending {
            self.on_play(at.min(now), el);
        } else if changed && !el.paused && self.view.is_none() {
            self.start_view(now, el);
        }
    }

    fn on_play(&mut self, now: f64, el: &ElementState) {
        if self.reloading {
            self.pending_play_at = Some(now);
            return;
        }
        match self.view.as_mut() {
            Some(v) if v.ended => {
                // Replay after `ended`: the next view.
                self.end_view(now, el);
                self.start_view(now, el);
            }
            Some(v) => {
                v.paused = false;
                v.last_progress_at = now;
                v.last_activity_at = now;
            }
            None => self.start_view(now, el),
        }
    }

    fn on_playing(&mut self, now: f64, el: &ElementState) {
        let cfg = self.cfg;
        if let Some(v) = self.view.as_mut() {
            // Playback resumes: a stall or a seek in progress is over.
            v.end_stall(now, &cfg);
            if v.seeking() && !el.seeking {
                v.end_seek(now, el);
            }
            v.paused = false;
            v.last_progress_at = now;
        }
    }

    /// `timeupdate` and presented frames: the playhead may have moved (already
    /// charged by `advance`); a presented frame may be the first.
    fn on_progress_hint(&mut self, now: f64, event: &MediaEvent, el: &ElementState) {
        let Some(v) = self.view.as_mut() else { return };
        if matches!(event, MediaEvent::Frame)
            && v.first_frame_at.is_none()
            && v.error.is_none()
            && !v.paused
            && !el.seeking
        {
            self.first_frame(now);
        }
    }

    /// Without frame callbacks (or before one arrives), the first `timeupdate` with
    /// the playhead beyond its start position marks the first frame.
    fn check_first_frame_fallback(&mut self, now: f64, el: &ElementState) {
        if let Some(v) = self.view.as_ref() {
            if v.first_frame_at.is_none() && v.error.is_none() && !el.paused && v.progressed {
                self.first_frame(now);
            }
        }
    }

    fn first_frame(&mut self, now: f64) {
        if let Some(v) = self.view.as_mut() {
            v.first_frame_at = Some(now);
            v.last_progress_at = now;
            v.last_activity_at = now;
        }
        self.emit(now, Reason::FirstFrame);
    }

    fn on_error(&mut self, now: f64, code: u16, message: String, fatal: bool) {
        let cfg = self.cfg;
        let Some(v) = self.view.as_mut() else { return };
        if v.error.is_some() {
            return;
        }
        let at_ms = ms(now - v.started_at);
        v.push_event(NotableEvent::Error {
            at_ms,
            code,
            message: message.clone(),
            fatal,
        });
        if !fatal {
            return;
        }
        v.end_stall(now, &cfg);
        v.error = Some(PlaybackError {
            code,
            message,
            before_first_frame: v.first_frame_at.is_none(),
        });
        self.emit(now, Reason::Error);
    }

    fn start_view(&mut self, now: f64, el: &ElementState) {
        let mut video = self.video.clone();
        video.src = self.src.clone();
        let id = self.ids.view_id();
        let mut v = View::new(id, video, now, el);
        let first = self.views_started == 0;
        self.views_started += 1;
        let autoplay = first && self.cfg.autoplay;
        v.context = ViewContext {
            autoplay,
            ..self.context.clone()
        };
        v.extras = StartupExtras {
            player_startup_ms: self.player_startup_ms.filter(|_| first),
            page_load_ms: self.cfg.page_load_ms.filter(|_| first),
            aggregate: autoplay && self.cfg.page_load_ms.is_some(),
            first_of_player: first,
        };
        if let Some((w, h)) = self.rendition {
            v.quality.rendition(w, h);
        }
        if let Some((w, h)) = self.display {
            v.quality.display(f64::from(w), f64::from(h));
        }
        self.view = Some(v);
        self.emit(now, Reason::ViewStart);
    }

    /// Queues a beacon with the current view's cumulative state.
    fn emit(&mut self, now: f64, reason: Reason) {
        let cfg = &self.cfg;
        let Some(v) = self.view.as_mut() else { return };
        let metrics = v.metrics(now, cfg);
        v.last_sent = crate::json::metrics_text(&metrics);
        // The element knows duration and stream type when the page did not say.
        if v.video.duration_ms.is_none() && self.duration.is_finite() && self.duration > 0.0 {
            v.video.duration_ms = Some(ms(self.duration * 1000.0));
        }
        if v.video.stream_type.is_none() && !self.duration.is_nan() {
            v.video.stream_type = Some(if self.duration.is_infinite() {
                StreamType::Live
            } else {
                StreamType::OnDemand
            });
        }
        let beacon = Beacon {
            view_id: v.id.clone(),
            seq: v.seq,
            reason,
            started_at_ms: (self.time_origin_ms + v.started_at).max(0.0) as u64,
            at_ms: (now - v.started_at).max(0.0) as u64,
            plugin_version: String::from(env!("CARGO_PKG_VERSION")),
            same: false,
            video: v.video.clone(),
            context: v.context.clone(),
            metrics,
            events: core::mem::take(&mut v.events),
        };
        v.seq += 1;
        v.last_beacon_at = now;
        self.beacons.push(beacon);
    }
}
