//! One view's state and its time accounting.
//!
//! A [`View`] lives from play intent to view end. Every input first *advances* the
//! view to the input's timestamp ([`View::advance`]): the interval since the last
//! input is charged to watch time, playing time or an open stall according to the
//! state the view was in during that interval. Only then does the event change the
//! state. This keeps every total a pure function of the timestamped inputs.

use super::input::ElementState;
use super::Config;
use crate::wire::{PlaybackError, VideoMeta, ViewMetrics};

/// An open stall: the playhead stopped while the viewer wanted playback.
#[derive(Debug, Clone, Copy)]
struct Stall {
    start: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct View {
    pub id: String,
    pub video: VideoMeta,
    /// Play intent, `performance.now()` milliseconds.
    pub started_at: f64,

    // State during the interval since `last_ts`.
    pub paused: bool,
    /// A seek is in progress: from `seeking` until playback resumes (or `seeked`
    /// when paused).
    pub seeking: bool,
    /// `ended` fired.
    pub ended: bool,
    pub first_frame_at: Option<f64>,
    pub startup_invalid: bool,
    stall: Option<Stall>,

    // Observation bookkeeping.
    last_ts: f64,
    last_pos: f64,
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
    pub error: Option<PlaybackError>,
    pub view_ended: bool,

    // Delivery.
    pub seq: u32,
    pub last_beacon_at: f64,
    pub last_sent: Option<ViewMetrics>,
}

impl View {
    pub fn new(id: String, video: VideoMeta, now: f64, el: &ElementState) -> View {
        View {
            id,
            video,
            started_at: now,
            paused: false,
            seeking: el.seeking,
            ended: false,
            first_frame_at: None,
            startup_invalid: false,
            stall: None,
            last_ts: now,
            last_pos: el.current_time,
            last_progress_at: now,
            last_activity_at: now,
            progressed: false,
            watch_ms: 0.0,
            playing_ms: 0.0,
            rebuffer_count: 0,
            rebuffer_ms: 0.0,
            rebuffer_max_ms: 0.0,
            error: None,
            view_ended: false,
            seq: 0,
            last_beacon_at: now,
            last_sent: None,
        }
    }

    /// The viewer wants the playhead to move and nothing explains why it would not.
    pub fn wants_playback(&self, el: &ElementState) -> bool {
        self.first_frame_at.is_some()
            && !self.paused
            && !self.seeking
            && !self.ended
            && !self.view_ended
            && self.error.is_none()
            && el.playback_rate > 0.0
    }

    pub fn stall_open(&self) -> bool {
        self.stall.is_some()
    }

    /// Charges the interval `(last_ts, now]` and looks at the playhead.
    pub fn advance(&mut self, now: f64, el: &ElementState, cfg: &Config) {
        let dt = (now - self.last_ts).max(0.0);
        if !self.paused && !self.ended && !self.view_ended {
            self.watch_ms += dt;
        }
        let moved_ms = (el.current_time - self.last_pos) * 1000.0;
        self.progressed = false;
        if el.seeking || (self.seeking && moved_ms <= 0.0) {
            // A jump, not playback; or a seek waiting for playback to resume.
        } else if moved_ms > 0.0 && !self.view_ended {
            // Playback resumed after a seek, or simply goes on.
            self.seeking = false;
            let rate = if el.playback_rate > 0.0 {
                el.playback_rate
            } else {
                1.0
            };
            let media_wall_ms = moved_ms / rate;
            self.playing_ms += dt.min(media_wall_ms).min(cfg.playing_increment_cap_ms);
            if self.stall.is_some() {
                // The playhead resumed somewhere in the interval: about
                // `media_wall_ms` before now.
                self.end_stall((now - media_wall_ms).max(self.last_ts), cfg);
            }
            self.last_progress_at = now;
            self.last_activity_at = now;
            self.progressed = true;
        }
        self.last_pos = el.current_time;
        self.last_ts = now;
    }

    /// Resets the playhead reference without charging the move (after a seek).
    pub fn rebase_position(&mut self, el: &ElementState) {
        self.last_pos = el.current_time;
    }

    pub fn start_stall(&mut self, at: f64) {
        if self.stall.is_none() {
            self.stall = Some(Stall { start: at });
        }
    }

    /// Closes an open stall at `at`; stalls shorter than the minimum are dropped.
    pub fn end_stall(&mut self, at: f64, cfg: &Config) {
        if let Some(stall) = self.stall.take() {
            let d = (at - stall.start).max(0.0);
            if d >= cfg.rebuffer_min_ms {
                self.rebuffer_count += 1;
                self.rebuffer_ms += d;
                self.rebuffer_max_ms = self.rebuffer_max_ms.max(d);
            }
        }
    }

    /// The metrics as of `now` (the view must have been advanced to `now`). An open
    /// stall already past the minimum counts, so a long stall shows up live and the
    /// totals never go down.
    pub fn metrics(&self, now: f64, cfg: &Config) -> ViewMetrics {
        let (mut count, mut total, mut max) =
            (self.rebuffer_count, self.rebuffer_ms, self.rebuffer_max_ms);
        if let Some(stall) = self.stall {
            let d = (now - stall.start).max(0.0);
            if d >= cfg.rebuffer_min_ms {
                count += 1;
                total += d;
                max = max.max(d);
            }
        }
        ViewMetrics {
            startup_ms: match (self.first_frame_at, self.startup_invalid) {
                (Some(at), false) => Some(ms(at - self.started_at)),
                _ => None,
            },
            startup_invalid: self.startup_invalid,
            first_frame: self.first_frame_at.is_some(),
            rebuffer_count: count,
            rebuffer_ms: ms(total),
            rebuffer_max_ms: ms(max),
            watch_ms: ms(self.watch_ms),
            playing_ms: ms(self.playing_ms),
            error: self.error.clone(),
            ended: self.ended,
            view_ended: self.view_ended,
            ..ViewMetrics::default()
        }
    }
}

/// Milliseconds as sent on the wire: rounded, never negative.
fn ms(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        (v + 0.5) as u64
    } else {
        0
    }
}
