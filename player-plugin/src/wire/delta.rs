//! Delta beacons: a view's snapshot written as its difference from an earlier
//! snapshot of the same view that the collector acknowledged (its *base*).
//!
//! Why: a steady heartbeat changes a handful of numbers (times, position, frames,
//! coverage), yet a whole beacon repeats every member with its long name. A delta
//! carries the view id, `seq` and only what changed, under short names, and
//! numbers as differences from the base, so a heartbeat is about a fifth of a
//! whole beacon.
//!
//! Still cumulative and idempotent: the collector resolves a delta against the
//! stored beacon *only when that beacon is exactly the base* (`seq == base`), so
//! the result is the same whole [`Beacon`] the plugin would have sent; any other
//! stored `seq` below the delta's is a conflict (409: the plugin sends the beacon
//! whole), one at or above it makes the delta stale, as for a whole beacon.
//!
//! Rules, per member (absent always means "as in the base", with one exception):
//! - integers (totals, counts, means): the difference from the base, signed;
//! - `w` (watch time), `p` (playing time) and `x` (furthest position) absent:
//!   each advanced as much as `t` (at_ms). That is steady playback at normal
//!   rate, so a steady heartbeat names few of them;
//! - optional members and flags: the new value, `null` for none;
//! - coverage: `ca` lists the buckets newly played (`"3-7,12"`) when the layout
//!   is unchanged, else `c` is the whole new hex (or `null`);
//! - `vd` / `cx`: the whole new `video` / `context`, only when they changed;
//! - `e`: the timeline events since the previous beacon, as in [`Beacon::events`].

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Deserializer, Serialize};

use super::{Beacon, NotableEvent, PlaybackError, Reason, VideoMeta, ViewContext, ViewMetrics};

/// Most coverage buckets a delta can express (the bitmap is a `u128`); the
/// collector's own limit is lower.
pub const MAX_COVERAGE_BITS: u16 = 128;

/// A beacon as its difference from the acknowledged beacon `base` of its view.
/// Field names on the wire are the short ones in `rename`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct Delta {
    /// [`Beacon::view_id`].
    #[serde(rename = "i")]
    pub view_id: String,
    /// [`Beacon::seq`].
    #[serde(rename = "s")]
    pub seq: u32,
    /// `seq` of the base; absent: `seq - 1`.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub base: Option<u32>,
    /// [`Beacon::reason`]; absent: `interval`.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// [`Beacon::at_ms`] minus the base's.
    #[serde(rename = "t", default, skip_serializing_if = "is_zero")]
    pub at_ms: i64,
    /// The whole new [`Beacon::video`], when it changed.
    #[serde(rename = "vd", default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoMeta>,
    /// The whole new [`Beacon::context`], when it changed.
    #[serde(rename = "cx", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ViewContext>,
    /// [`Beacon::events`].
    #[serde(rename = "e", default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotableEvent>,
    // The metrics that changed: integers as differences, the rest as values
    // (`Some(None)` is an explicit `null`).
    #[serde(
        rename = "su",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub startup_ms: Option<Option<u64>>,
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    pub startup_invalid: Option<bool>,
    #[serde(rename = "ff", default, skip_serializing_if = "Option::is_none")]
    pub first_frame: Option<bool>,
    #[serde(rename = "rc", default, skip_serializing_if = "is_zero")]
    pub rebuffer_count: i64,
    #[serde(rename = "rb", default, skip_serializing_if = "is_zero")]
    pub rebuffer_ms: i64,
    #[serde(rename = "rm", default, skip_serializing_if = "is_zero")]
    pub rebuffer_max_ms: i64,
    /// Absent: advanced as much as `t`.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub watch_ms: Option<i64>,
    /// Absent: advanced as much as `t`.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub playing_ms: Option<i64>,
    #[serde(rename = "kc", default, skip_serializing_if = "is_zero")]
    pub seek_count: i64,
    #[serde(rename = "k", default, skip_serializing_if = "is_zero")]
    pub seek_ms: i64,
    #[serde(rename = "km", default, skip_serializing_if = "is_zero")]
    pub seek_max_ms: i64,
    #[serde(rename = "pc", default, skip_serializing_if = "is_zero")]
    pub pause_count: i64,
    #[serde(rename = "rt", default, skip_serializing_if = "is_zero")]
    pub rate_changes: i64,
    #[serde(rename = "vc", default, skip_serializing_if = "is_zero")]
    pub volume_changes: i64,
    #[serde(rename = "fs", default, skip_serializing_if = "is_zero")]
    pub fullscreen_ms: i64,
    #[serde(
        rename = "ps",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub player_startup_ms: Option<Option<u64>>,
    #[serde(
        rename = "pl",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_load_ms: Option<Option<u64>>,
    #[serde(
        rename = "as",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub aggregate_startup_ms: Option<Option<u64>>,
    /// Absent: advanced as much as `t`.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub max_position_ms: Option<i64>,
    /// The whole new coverage hex (`null`: none).
    #[serde(
        rename = "c",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub coverage: Option<Option<String>>,
    /// Buckets newly played, as ranges of bucket indices: `"0-4,9,12-13"`.
    #[serde(rename = "ca", default, skip_serializing_if = "Option::is_none")]
    pub coverage_added: Option<String>,
    #[serde(rename = "cb", default, skip_serializing_if = "is_zero")]
    pub coverage_buckets: i64,
    #[serde(rename = "cp", default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    #[serde(
        rename = "h",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub mean_height: Option<Option<u32>>,
    #[serde(rename = "rn", default, skip_serializing_if = "is_zero")]
    pub rendition_changes: i64,
    #[serde(rename = "up", default, skip_serializing_if = "is_zero")]
    pub upscale_permille: i64,
    #[serde(rename = "dn", default, skip_serializing_if = "is_zero")]
    pub downscale_permille: i64,
    #[serde(rename = "mu", default, skip_serializing_if = "is_zero")]
    pub max_upscale_permille: i64,
    #[serde(rename = "d", default, skip_serializing_if = "is_zero")]
    pub dropped_frames: i64,
    #[serde(rename = "f", default, skip_serializing_if = "is_zero")]
    pub total_frames: i64,
    #[serde(
        rename = "tp",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub throughput_bps: Option<Option<u64>>,
    #[serde(
        rename = "er",
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<Option<PlaybackError>>,
    #[serde(rename = "en", default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<bool>,
    #[serde(rename = "ve", default, skip_serializing_if = "Option::is_none")]
    pub view_ended: Option<bool>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A present member, `null` included, is `Some` (absent is the `default`, `None`).
fn some<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A delta that does not apply to its base: the member (short name) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaError {
    /// Short name of the member, as on the wire.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> DeltaError {
    DeltaError {
        field,
        message: message.into(),
    }
}

/// `base + diff` in `T`, or an error naming `field`.
fn add<T: Copy + Into<u64> + TryFrom<u64>>(
    field: &'static str,
    base: T,
    diff: i64,
) -> Result<T, DeltaError> {
    base.into()
        .checked_add_signed(diff)
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| {
            err(
                field,
                format!("{field}: base value plus difference {diff} is out of range"),
            )
        })
}

impl Delta {
    /// `seq` of the beacon this delta is the difference from.
    pub fn base_seq(&self) -> u32 {
        self.base.unwrap_or(self.seq.wrapping_sub(1))
    }

    /// The whole beacon: `base` (the stored beacon, whose `seq` must be
    /// [`Delta::base_seq`]) with this delta applied. Events are this delta's.
    pub fn resolve(&self, base: &Beacon) -> Result<Beacon, DeltaError> {
        if base.view_id != self.view_id || base.seq != self.base_seq() {
            return Err(err("b", "the base is not the stored beacon of this view"));
        }
        let t = self.at_ms;
        let mut b = base.clone();
        b.seq = self.seq;
        b.same = false;
        b.reason = self.reason.unwrap_or(Reason::Interval);
        b.at_ms = add("t", base.at_ms, t)?;
        if let Some(v) = &self.video {
            b.video = v.clone();
        }
        if let Some(c) = &self.context {
            b.context = c.clone();
        }
        b.events = self.events.clone();
        b.metrics = self.metrics(&base.metrics)?;
        Ok(b)
    }

    /// `base` with this delta's metrics applied.
    fn metrics(&self, base: &ViewMetrics) -> Result<ViewMetrics, DeltaError> {
        let (d, t) = (self, self.at_ms);
        let set = |v: &Option<Option<u64>>, old: Option<u64>| v.unwrap_or(old);
        let flag = |v: Option<bool>, old: bool| v.unwrap_or(old);
        let mut out = ViewMetrics {
            startup_ms: set(&d.startup_ms, base.startup_ms),
            startup_invalid: flag(d.startup_invalid, base.startup_invalid),
            first_frame: flag(d.first_frame, base.first_frame),
            rebuffer_count: add("rc", base.rebuffer_count, d.rebuffer_count)?,
            rebuffer_ms: add("rb", base.rebuffer_ms, d.rebuffer_ms)?,
            rebuffer_max_ms: add("rm", base.rebuffer_max_ms, d.rebuffer_max_ms)?,
            watch_ms: add("w", base.watch_ms, d.watch_ms.unwrap_or(t))?,
            playing_ms: add("p", base.playing_ms, d.playing_ms.unwrap_or(t))?,
            seek_count: add("kc", base.seek_count, d.seek_count)?,
            seek_ms: add("k", base.seek_ms, d.seek_ms)?,
            seek_max_ms: add("km", base.seek_max_ms, d.seek_max_ms)?,
            pause_count: add("pc", base.pause_count, d.pause_count)?,
            rate_changes: add("rt", base.rate_changes, d.rate_changes)?,
            volume_changes: add("vc", base.volume_changes, d.volume_changes)?,
            fullscreen_ms: add("fs", base.fullscreen_ms, d.fullscreen_ms)?,
            player_startup_ms: set(&d.player_startup_ms, base.player_startup_ms),
            page_load_ms: set(&d.page_load_ms, base.page_load_ms),
            aggregate_startup_ms: set(&d.aggregate_startup_ms, base.aggregate_startup_ms),
            max_position_ms: add("x", base.max_position_ms, d.max_position_ms.unwrap_or(t))?,
            coverage: d.coverage.clone().unwrap_or_else(|| base.coverage.clone()),
            coverage_buckets: add("cb", base.coverage_buckets, d.coverage_buckets)?,
            completed: flag(d.completed, base.completed),
            mean_height: d.mean_height.unwrap_or(base.mean_height),
            rendition_changes: add("rn", base.rendition_changes, d.rendition_changes)?,
            upscale_permille: add("up", base.upscale_permille, d.upscale_permille)?,
            downscale_permille: add("dn", base.downscale_permille, d.downscale_permille)?,
            max_upscale_permille: add("mu", base.max_upscale_permille, d.max_upscale_permille)?,
            dropped_frames: add("d", base.dropped_frames, d.dropped_frames)?,
            total_frames: add("f", base.total_frames, d.total_frames)?,
            throughput_bps: set(&d.throughput_bps, base.throughput_bps),
            error: d.error.clone().unwrap_or_else(|| base.error.clone()),
            ended: flag(d.ended, base.ended),
            view_ended: flag(d.view_ended, base.view_ended),
        };
        if let Some(ranges) = &d.coverage_added {
            let bits = out
                .coverage
                .as_deref()
                .and_then(coverage_bits)
                .ok_or_else(|| err("ca", "ca: the coverage it adds to is missing or not hex"))?;
            let added = parse_ranges(ranges, out.coverage_buckets).ok_or_else(|| {
                err(
                    "ca",
                    "ca: must be bucket indices or ranges (\"0-4,9\") below coverage_buckets",
                )
            })?;
            out.coverage = Some(coverage_hex(bits | added, out.coverage_buckets));
        }
        Ok(out)
    }
}

/// The coverage bitmap of a hex string (at most 32 digits), bucket 0 in bit 0.
pub fn coverage_bits(hex: &str) -> Option<u128> {
    if hex.is_empty() || hex.len() > 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

/// Lowercase hex of `bits`, `ceil(buckets / 4)` digits: as the engine writes it.
pub fn coverage_hex(bits: u128, buckets: u16) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = usize::from(buckets.min(MAX_COVERAGE_BITS)).div_ceil(4);
    let mut s = String::new();
    for i in (0..digits).rev() {
        crate::push_ascii(&mut s, HEX[((bits >> (4 * i)) & 0xF) as usize]);
    }
    s
}

/// The bits named by `"a-b,c,…"` (each index below `buckets`), or `None`.
fn parse_ranges(s: &str, buckets: u16) -> Option<u128> {
    let limit = u32::from(buckets.min(MAX_COVERAGE_BITS));
    let index = |t: &str| {
        let ok = !t.is_empty() && t.len() <= 3 && t.bytes().all(|c| c.is_ascii_digit());
        t.parse::<u32>().ok().filter(|&i| ok && i < limit)
    };
    let mut bits = 0u128;
    for part in s.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (index(a)?, index(b)?),
            None => (index(part)?, index(part)?),
        };
        if lo > hi {
            return None;
        }
        for i in lo..=hi {
            bits |= 1u128 << i;
        }
    }
    Some(bits)
}
