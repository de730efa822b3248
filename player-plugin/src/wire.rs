//! The beacon wire format: the one definition of what the plugin sends and the
//! collector accepts.
//!
//! Both sides compile this module (the collector depends on this crate natively), so
//! the format can never drift between them. A beacon is a *cumulative snapshot* of one
//! view: totals as of now, never deltas, plus a per-view sequence number. Applying the
//! newest snapshot is therefore idempotent: a retried or reordered beacon cannot
//! double-count (DESIGN.md, principle 2).
//!
//! All durations are whole milliseconds and all positions whole milliseconds of
//! media time: integers keep the JSON small and spare the wasm the float formatter.

use serde::{Deserialize, Serialize};

/// Version of this format; the collector rejects versions it does not know.
pub const WIRE_VERSION: u32 = 1;

/// One HTTP request body: `POST /v1/beacons`, `Content-Type: text/plain` JSON.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Batch {
    /// [`WIRE_VERSION`] of the sender.
    pub v: u32,
    /// Property key: which site or app of the operator this data belongs to.
    pub property: String,
    /// Anonymous viewer id (random, kept in `localStorage`).
    pub viewer_id: String,
    /// Snapshots of one or more views, oldest first.
    pub beacons: Vec<Beacon>,
}

/// A cumulative snapshot of one view.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Beacon {
    /// Random id of the view, unique per play attempt.
    pub view_id: String,
    /// Per-view sequence number, starting at 0, +1 per beacon. The collector keeps
    /// the snapshot with the highest `seq` it has seen.
    pub seq: u32,
    /// Why this beacon was sent.
    pub reason: Reason,
    /// Wall-clock time of the view's play intent, Unix epoch milliseconds.
    pub started_at_ms: u64,
    /// Milliseconds from play intent to the moment this snapshot was taken.
    pub at_ms: u64,
    /// Version of the plugin that measured this view.
    pub plugin_version: String,
    /// What was watched.
    pub video: VideoMeta,
    /// The view's metrics as of `at_ms`.
    pub metrics: ViewMetrics,
}

/// Why a beacon was sent.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The view just started (play intent).
    ViewStart,
    /// The first frame was shown: startup time is known.
    FirstFrame,
    /// A fatal playback error.
    Error,
    /// The `ended` event fired.
    Ended,
    /// Periodic heartbeat while the view is active.
    Interval,
    /// The page asked (`flush()`).
    Flush,
    /// The view is over (source change, replay, `destroy()`, page hidden for good,
    /// idle timeout). This is the view's final snapshot.
    ViewEnd,
}

/// Content metadata, as given by the page.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct VideoMeta {
    /// The page's id for the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The element's `currentSrc` when the view started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
}

/// The metrics of one view, cumulative. Definitions: `METRICS.md` / the README.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ViewMetrics {
    /// Video startup time: play intent to first frame. `None` before the first frame
    /// and when invalid (a seek or pause came first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_ms: Option<u64>,
    /// A seek or pause happened between play intent and first frame, so the
    /// startup time is not reported.
    #[serde(default)]
    pub startup_invalid: bool,
    /// The first frame has been shown.
    #[serde(default)]
    pub first_frame: bool,
    /// Number of rebuffers (stalls of at least the minimum length after first frame).
    #[serde(default)]
    pub rebuffer_count: u32,
    /// Total rebuffering time.
    #[serde(default)]
    pub rebuffer_ms: u64,
    /// Longest single rebuffer.
    #[serde(default)]
    pub rebuffer_max_ms: u64,
    /// Play intent to view end (or now), minus paused time.
    #[serde(default)]
    pub watch_ms: u64,
    /// Time the playhead actually advanced.
    #[serde(default)]
    pub playing_ms: u64,
    /// The fatal error that ended playback, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<PlaybackError>,
    /// The `ended` event fired during this view.
    #[serde(default)]
    pub ended: bool,
    /// This view is over; no later snapshot will change it.
    #[serde(default)]
    pub view_ended: bool,
}

/// A fatal playback error (`MediaError`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PlaybackError {
    /// `MediaError.code`: 1 aborted, 2 network, 3 decode, 4 source not supported.
    pub code: u16,
    /// `MediaError.message` (may be empty).
    pub message: String,
    /// The error came before the first frame: a video start failure.
    pub before_first_frame: bool,
}
