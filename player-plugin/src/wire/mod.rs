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
//!
//! Once the collector has acknowledged a beacon of a view, the plugin sends that
//! view's later snapshots as [`Delta`]s (`delta.rs`): only what changed, with short
//! names, which the collector resolves against the stored beacon into the same
//! whole [`Beacon`] before anything else sees it.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

pub mod delta;

pub use delta::{Delta, DeltaError, MAX_COVERAGE_BITS};

/// Version of this format; the collector rejects versions it does not know.
pub const WIRE_VERSION: u32 = 1;

/// One HTTP request body: `POST /v1/beacons`, `Content-Type: text/plain` JSON.
///
/// A batch of [`Delta`]s only may use the short names `p`, `u` and `b` and leave
/// out `viewer_id`: each view keeps the viewer the collector stored for it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Batch {
    /// [`WIRE_VERSION`] of the sender.
    pub v: u32,
    /// Property key: which site or app of the operator this data belongs to.
    #[serde(alias = "p")]
    pub property: String,
    /// Anonymous viewer id (random, kept in `localStorage`); empty in cookieless
    /// mode, and when the batch holds deltas only.
    #[serde(alias = "u", default)]
    pub viewer_id: String,
    /// Cookieless mode: the page stores nothing, and the collector derives a daily
    /// viewer id from a salted hash of (day, property, IP, user agent).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub cookieless: bool,
    /// Snapshots of one or more views, oldest first.
    #[serde(alias = "b", default)]
    pub beacons: Vec<Beacon>,
    /// Snapshots written as their difference from one the collector stored
    /// ([`Delta`]); the collector turns each back into its whole [`Beacon`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub d: Vec<Delta>,
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
    #[serde(default)]
    pub plugin_version: String,
    /// `video`, `context` and `plugin_version` are as in this view's beacons the
    /// collector already acknowledged, and left out (`video` is sent as `{}`):
    /// the collector keeps its stored ones. The plugin no longer sets it (deltas
    /// do its job, smaller); the collector still accepts it.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub same: bool,
    /// What was watched.
    pub video: VideoMeta,
    /// Where and how it was watched.
    #[serde(default)]
    pub context: ViewContext,
    /// The view's metrics as of `at_ms`.
    pub metrics: ViewMetrics,
    /// Notable events since the previous beacon of this view (stalls, seeks,
    /// rendition changes, errors), for the view's timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotableEvent>,
}

/// The page and player a view happened in: dimensions to filter and group by.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ViewContext {
    /// `location.host` of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_host: Option<String>,
    /// `location.pathname` of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_path: Option<String>,
    /// Player name as the integration reports it (e.g. `hls.js`), else `html5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player_name: Option<String>,
    /// Player version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player_version: Option<String>,
    /// The view was started by autoplay.
    #[serde(default)]
    pub autoplay: bool,
    /// A/B experiment name given by the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
}

/// A point or span on a view's timeline. `at_ms` counts from play intent.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotableEvent {
    /// A rebuffer (only those of at least the minimum length).
    Stall {
        /// Start.
        at_ms: u64,
        /// Length.
        dur_ms: u64,
    },
    /// A seek (merged with seeks less than 2 s apart).
    Seek {
        /// Start.
        at_ms: u64,
        /// Latency: `seeking` to playback resuming.
        dur_ms: u64,
        /// Playhead before, ms of media time.
        from_ms: u64,
        /// Playhead after, ms of media time.
        to_ms: u64,
    },
    /// The rendition changed (`resize`, or reported by the integration).
    Rendition {
        /// When.
        at_ms: u64,
        /// Intrinsic width.
        width: u32,
        /// Intrinsic height.
        height: u32,
        /// Bitrate in bit/s, when the player knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bitrate: Option<u64>,
    },
    /// An error, fatal or not.
    Error {
        /// When.
        at_ms: u64,
        /// `MediaError.code` or the integration's code.
        code: u16,
        /// Message.
        message: String,
        /// Whether it ended playback.
        fatal: bool,
    },
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
    /// Series or show the content belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Content duration (from the page, else the element), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// On demand or live (from the element's `duration`: infinite is live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_type: Option<StreamType>,
    /// The element's `currentSrc` when the view started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// CDN as the integration reports it (else the collector uses the host of `src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdn: Option<String>,
}

/// On demand or live.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StreamType {
    /// Finite duration.
    OnDemand,
    /// Infinite duration.
    Live,
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
    /// Number of seeks (seeks less than 2 s apart count as one).
    #[serde(default)]
    pub seek_count: u32,
    /// Total seek latency: `seeking` to playback resuming (or `seeked` when paused).
    #[serde(default)]
    pub seek_ms: u64,
    /// Longest seek latency.
    #[serde(default)]
    pub seek_max_ms: u64,
    /// Pauses by the viewer (not the one that comes with `ended`).
    #[serde(default)]
    pub pause_count: u32,
    /// `ratechange` events.
    #[serde(default)]
    pub rate_changes: u32,
    /// `volumechange` events (volume or mute).
    #[serde(default)]
    pub volume_changes: u32,
    /// Time in fullscreen during the view.
    #[serde(default)]
    pub fullscreen_ms: u64,
    /// Player init to the element first reaching `HAVE_FUTURE_DATA` (first view of
    /// a player only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player_startup_ms: Option<u64>,
    /// Navigation start to player init (first view on a page only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_load_ms: Option<u64>,
    /// Page load + player startup + video startup (first view on a page, autoplay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate_startup_ms: Option<u64>,
    /// Furthest playhead position reached by playback, ms of media time.
    #[serde(default)]
    pub max_position_ms: u64,
    /// Watched-position coverage: bit `i` set when bucket `i` of the content
    /// timeline was played, as lowercase hex, bucket 0 in the lowest bit of the
    /// last digit. `None` while the duration is unknown or infinite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<String>,
    /// Number of coverage buckets (1 s each, at most 100 of equal length).
    #[serde(default)]
    pub coverage_buckets: u16,
    /// `ended` fired or at least 95 % of the buckets were played.
    #[serde(default)]
    pub completed: bool,
    /// Mean intrinsic video height, weighted by playing time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_height: Option<u32>,
    /// Rendition changes after the first.
    #[serde(default)]
    pub rendition_changes: u32,
    /// How far the displayed size exceeds the intrinsic size, mean over playing
    /// time, per mille (0 when never upscaled).
    #[serde(default)]
    pub upscale_permille: u32,
    /// How far the displayed size falls below the intrinsic size, mean over
    /// playing time, per mille.
    #[serde(default)]
    pub downscale_permille: u32,
    /// Largest upscale seen, per mille.
    #[serde(default)]
    pub max_upscale_permille: u32,
    /// Frames dropped (`getVideoPlaybackQuality`).
    #[serde(default)]
    pub dropped_frames: u32,
    /// Frames decoded or dropped in total (`getVideoPlaybackQuality`).
    #[serde(default)]
    pub total_frames: u32,
    /// Media download throughput from Resource Timing, bit/s, when measurable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_bps: Option<u64>,
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
