//! One view's state and its time accounting.
//!
//! A [`View`] lives from play intent to view end. Every input first *advances* the
//! view to the input's timestamp ([`View::advance`]): the interval since the last
//! input is charged to watch time, playing time or an open stall according to the
//! state the view was in during that interval. Only then does the event change the
//! state. This keeps every total a pure function of the timestamped inputs.

use alloc::string::String;
use alloc::vec::Vec;

use super::coverage::Coverage;
use super::input::ElementState;
use super::quality::Quality;
use super::seek::{Seek, Seeks};
use super::Config;
use crate::wire::{NotableEvent, PlaybackError, VideoMeta, ViewContext, ViewMetrics};

/// Most timeline events held for one beacon; later ones are dropped (the totals
/// still count them).
pub const MAX_PENDING_EVENTS: usize = 64;

/// Startup figures that belong to the player or page, reported on a view.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StartupExtras {
    pub player_startup_ms: Option<f64>,
    pub page_load_ms: Option<f64>,
    /// First view on the page and started by autoplay: report the aggregate.
    pub aggregate: bool,
    /// The player's first view: player startup belongs to it.
    pub first_of_player: bool,
}

/// One view: what it is about, what it has to send, and its state ([`ViewState`],
/// which [`View`] dereferences to).
#[derive(Debug)]
pub(crate) struct View {
    pub id: String,
    pub video: VideoMeta,
    pub context: ViewContext,
    /// The fatal error, once one came.
    pub error: Option<PlaybackError>,
    /// Timeline events not yet in a beacon.
    pub events: Vec<NotableEvent>,
    /// The metrics of the last beacon as their wire text
    /// ([`crate::json::metrics_text`]), to tell whether a heartbeat has news:
    /// comparing texts is much less code in the wasm than comparing 33 members.
    pub last_sent: String,
    /// Everything the time accounting and the metrics read and write, apart from
    /// the error and the pending events: plain values, so a snapshot copies it
    /// in one move.
    pub st: ViewState,
}

/// The part of a [`View`] that is plain values (`Copy`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewState {
    /// Play intent, `performance.now()` milliseconds.
    pub started_at: f64,
    pub extras: StartupExtras,

    // State during the interval since `last_ts`.
    pub paused: bool,
    /// `ended` fired.
    pub ended: bool,
    pub first_frame_at: Option<f64>,
    pub startup_invalid: bool,
    stall_start: Option<f64>,
    pub seeks: Seeks,
    fullscreen_since: Option<f64>,

    // Observation bookkeeping.
    last_ts: f64,
    last_pos: f64,
    /// `last_pos` before the latest advance: where a seek jumped from.
    prev_pos: f64,
    /// Last time the playhead was seen advancing, or playback (re)started.
    pub last_progress_at: f64,
    /// Last sign of life (progress, play, seek): for the idle timeout.
    pub last_activity_at: f64,
    /// The last [`View::advance`] saw the playhead advance.
    pub progressed: bool,

    // Totals (milliseconds, kept as f64 and rounded on output).
    watch_ms: f64,
    playing_ms: f64,
    rebuffer_count: u32,
    rebuffer_ms: f64,
    rebuffer_max_ms: f64,
    fullscreen_ms: f64,
    pub pause_count: u32,
    pub rate_changes: u32,
    pub volume_changes: u32,
    pub coverage: Coverage,
    pub quality: Quality,
    /// Element frame counters (dropped, total) when the view started, and now.
    frames_base: Option<(u32, u32)>,
    frames_now: (u32, u32),
    pub throughput_bps: Option<f64>,
    pub view_ended: bool,
    pub seq: u32,
    pub last_beacon_at: f64,
}

impl core::ops::Deref for View {
    type Target = ViewState;
    fn deref(&self) -> &ViewState {
        &self.st
    }
}

impl core::ops::DerefMut for View {
    fn deref_mut(&mut self) -> &mut ViewState {
        &mut self.st
    }
}

impl View {
    /// A copy to advance for a snapshot: everything [`View::advance`] and
    /// [`View::metrics`] read (the state, in one move, and the error), without
    /// the parts they never read (id, content, context, pending events, last
    /// beacon), which cost a viewer's download to copy. A new member of `View`
    /// must be added here (the compiler says so); one of `ViewState` comes along.
    pub fn for_snapshot(&self) -> View {
        View {
            id: String::new(),
            video: VideoMeta::default(),
            context: ViewContext::default(),
            error: self.error.clone(),
            events: Vec::new(),
            last_sent: String::new(),
            st: self.st,
        }
    }

    pub fn new(id: String, video: VideoMeta, now: f64, el: &ElementState) -> View {
        View {
            id,
            video,
            context: ViewContext::default(),
            error: None,
            events: Vec::new(),
            last_sent: String::new(),
            st: ViewState {
                started_at: now,
                extras: StartupExtras::default(),
                paused: false,
                ended: false,
                first_frame_at: None,
                startup_invalid: false,
                stall_start: None,
                seeks: Seeks::default(),
                fullscreen_since: None,
                last_ts: now,
                last_pos: el.current_time,
                prev_pos: el.current_time,
                last_progress_at: now,
                last_activity_at: now,
                progressed: false,
                watch_ms: 0.0,
                playing_ms: 0.0,
                rebuffer_count: 0,
                rebuffer_ms: 0.0,
                rebuffer_max_ms: 0.0,
                fullscreen_ms: 0.0,
                pause_count: 0,
                rate_changes: 0,
                volume_changes: 0,
                coverage: Coverage::default(),
                quality: Quality::default(),
                frames_base: None,
                frames_now: (0, 0),
                throughput_bps: None,
                view_ended: false,
                seq: 0,
                last_beacon_at: now,
            },
        }
    }

    /// Milliseconds since play intent, for timeline events.
    fn rel(&self, at: f64) -> u64 {
        ms(at - self.st.started_at)
    }

    pub fn push_event(&mut self, e: NotableEvent) {
        if self.events.len() < MAX_PENDING_EVENTS {
            self.events.push(e);
        }
    }

    pub fn seeking(&self) -> bool {
        self.st.seeks.in_progress()
    }

    /// The viewer wants the playhead to move and nothing explains why it would not.
    pub fn wants_playback(&self, el: &ElementState) -> bool {
        self.st.first_frame_at.is_some()
            && !self.st.paused
            && !self.seeking()
            && !self.st.ended
            && !self.st.view_ended
            && self.error.is_none()
            && el.playback_rate > 0.0
    }

    pub fn stall_open(&self) -> bool {
        self.st.stall_start.is_some()
    }

    /// Charges the interval `(last_ts, now]` and looks at the playhead.
    pub fn advance(&mut self, now: f64, el: &ElementState, cfg: &Config) {
        let dt = (now - self.st.last_ts).max(0.0);
        if !self.st.paused && !self.st.ended && !self.st.view_ended {
            self.st.watch_ms += dt;
        }
        if let Some(since) = self.st.fullscreen_since {
            self.st.fullscreen_ms += (now - since.max(self.st.last_ts)).max(0.0);
        }
        let moved_ms = (el.current_time - self.st.last_pos) * 1000.0;
        self.st.progressed = false;
        let jumped = (el.seeking && !self.seeking()) || (moved_ms < 0.0 && !self.seeking());
        if jumped && self.wants_playback(el) && !self.stall_open() {
            // A seek starts, or the element reloaded (`currentTime` reset): until
            // then the playhead was advancing, and its position before the jump is
            // gone, so the interval counts as played.
            let inc = dt.min(cfg.playing_increment_cap_ms);
            self.st.playing_ms += inc;
            self.st.quality.playing(inc);
        } else if el.seeking || (self.seeking() && moved_ms <= 0.0) {
            // A jump, not playback; or a seek waiting for playback to resume.
        } else if moved_ms > 0.0 && !self.st.view_ended {
            let rate = if el.playback_rate > 0.0 {
                el.playback_rate
            } else {
                1.0
            };
            let media_wall_ms = moved_ms / rate;
            // Playback resumed about `media_wall_ms` before now.
            let resumed_at = (now - media_wall_ms).max(self.st.last_ts);
            if self.seeking() {
                self.st.seeks.end(resumed_at, self.st.last_pos);
            }
            if self.st.stall_start.is_some() {
                self.end_stall(resumed_at, cfg);
            }
            let inc = dt.min(media_wall_ms).min(cfg.playing_increment_cap_ms);
            self.st.playing_ms += inc;
            self.st.quality.playing(inc);
            self.st
                .coverage
                .played(self.st.last_pos, el.current_time, el.duration);
            self.st.last_progress_at = now;
            self.st.last_activity_at = now;
            self.st.progressed = true;
        }
        if let Some(s) = self.st.seeks.settle(now, cfg.seek_merge_ms, false) {
            self.push_seek(s);
        }
        self.st.prev_pos = self.st.last_pos;
        self.st.last_pos = el.current_time;
        self.st.last_ts = now;
    }

    /// Resets the playhead reference without charging the move (after a seek).
    pub fn rebase_position(&mut self, el: &ElementState) {
        self.st.last_pos = el.current_time;
    }

    /// `seeking`: a seek starts (or continues a recent one).
    pub fn start_seek(&mut self, now: f64, cfg: &Config) {
        if let Some(s) = self
            .st
            .seeks
            .start(now, self.st.prev_pos, cfg.seek_merge_ms)
        {
            self.push_seek(s);
        }
        self.st.last_activity_at = now;
    }

    /// The seek is over at `at` (paused seek: `seeked`; resumed: `playing`).
    pub fn end_seek(&mut self, at: f64, el: &ElementState) {
        self.st.seeks.end(at, el.current_time);
    }

    fn push_seek(&mut self, s: Seek) {
        let e = NotableEvent::Seek {
            at_ms: self.rel(s.start),
            dur_ms: ms(s.end - s.start),
            from_ms: ms(s.from_pos * 1000.0),
            to_ms: ms(s.to_pos * 1000.0),
        };
        self.push_event(e);
    }

    pub fn start_stall(&mut self, at: f64) {
        if self.st.stall_start.is_none() {
            self.st.stall_start = Some(at);
        }
    }

    /// Closes an open stall at `at`; stalls shorter than the minimum are dropped.
    pub fn end_stall(&mut self, at: f64, cfg: &Config) {
        if let Some(start) = self.st.stall_start.take() {
            let d = (at - start).max(0.0);
            if d >= cfg.rebuffer_min_ms {
                self.st.rebuffer_count += 1;
                self.st.rebuffer_ms += d;
                self.st.rebuffer_max_ms = self.st.rebuffer_max_ms.max(d);
                let e = NotableEvent::Stall {
                    at_ms: self.rel(start),
                    dur_ms: ms(d),
                };
                self.push_event(e);
            }
        }
    }

    pub fn set_fullscreen(&mut self, on: bool, now: f64) {
        match (on, self.st.fullscreen_since) {
            (true, None) => self.st.fullscreen_since = Some(now),
            (false, Some(since)) => {
                self.st.fullscreen_ms += (now - since.max(self.st.last_ts)).max(0.0);
                self.st.fullscreen_since = None;
            }
            _ => {}
        }
    }

    /// The element's cumulative frame counters; the view reports its own share.
    pub fn set_frames(&mut self, dropped: u32, total: u32) {
        match self.st.frames_base {
            // Counters restart when the element loads a new source.
            Some((_, t)) if total < t => self.st.frames_base = Some((0, 0)),
            None => self.st.frames_base = Some((dropped, total)),
            _ => {}
        }
        self.st.frames_now = (dropped, total);
    }

    /// Ends everything still open, for the view's final snapshot.
    pub fn close(&mut self, now: f64, cfg: &Config) {
        self.end_stall(now, cfg);
        self.set_fullscreen(false, now);
        if let Some(s) = self.st.seeks.settle(now, cfg.seek_merge_ms, true) {
            self.push_seek(s);
        }
        self.st.view_ended = true;
    }

    /// The metrics as of `now` (the view must have been advanced to `now`). An open
    /// stall already past the minimum counts, so a long stall shows up live and the
    /// totals never go down.
    pub fn metrics(&self, now: f64, cfg: &Config) -> ViewMetrics {
        let (mut count, mut total, mut max) = (
            self.st.rebuffer_count,
            self.st.rebuffer_ms,
            self.st.rebuffer_max_ms,
        );
        if let Some(start) = self.st.stall_start {
            let d = (now - start).max(0.0);
            if d >= cfg.rebuffer_min_ms {
                count += 1;
                total += d;
                max = max.max(d);
            }
        }
        let (seek_count, seek_total, seek_max) = self.st.seeks.totals(now);
        let startup_ms = match (self.st.first_frame_at, self.st.startup_invalid) {
            (Some(at), false) => Some(at - self.st.started_at),
            _ => None,
        };
        let x = self.st.extras;
        let aggregate = match (x.aggregate, x.page_load_ms, x.player_startup_ms, startup_ms) {
            (true, Some(page), Some(player), Some(video)) => Some(ms(page + player + video)),
            _ => None,
        };
        let (up, down, max_up) = self.st.quality.scaling_permille();
        let (base_dropped, base_total) = self.st.frames_base.unwrap_or((0, 0));
        let completed = self.st.ended || self.st.coverage.fraction() >= cfg.completed_fraction;
        ViewMetrics {
            startup_ms: startup_ms.map(ms),
            startup_invalid: self.st.startup_invalid,
            first_frame: self.st.first_frame_at.is_some(),
            rebuffer_count: count,
            rebuffer_ms: ms(total),
            rebuffer_max_ms: ms(max),
            watch_ms: ms(self.st.watch_ms),
            playing_ms: ms(self.st.playing_ms),
            seek_count,
            seek_ms: ms(seek_total),
            seek_max_ms: ms(seek_max),
            pause_count: self.st.pause_count,
            rate_changes: self.st.rate_changes,
            volume_changes: self.st.volume_changes,
            fullscreen_ms: ms(self.st.fullscreen_ms),
            player_startup_ms: x.player_startup_ms.map(ms),
            page_load_ms: x.page_load_ms.map(ms),
            aggregate_startup_ms: aggregate,
            max_position_ms: ms(self.st.coverage.max_pos_ms()),
            coverage: self.st.coverage.hex(),
            coverage_buckets: self.st.coverage.buckets(),
            completed,
            mean_height: self.st.quality.mean_height(),
            rendition_changes: self.st.quality.changes(),
            upscale_permille: up,
            downscale_permille: down,
            max_upscale_permille: max_up,
            dropped_frames: self.st.frames_now.0.saturating_sub(base_dropped),
            total_frames: self.st.frames_now.1.saturating_sub(base_total),
            throughput_bps: self.st.throughput_bps.map(ms),
            error: self.error.clone(),
            ended: self.st.ended,
            view_ended: self.st.view_ended,
        }
    }
}

/// Milliseconds (or any non-negative quantity) as sent on the wire: rounded,
/// never negative. Not inlined: it is called in twenty places, and each inlined
/// copy cost the shipped wasm more than the call (222 B gzip in all, measured).
#[inline(never)]
pub(crate) fn ms(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        (v + 0.5) as u64
    } else {
        0
    }
}
