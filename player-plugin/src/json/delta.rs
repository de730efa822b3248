//! Writing [`crate::wire::Delta`]s: a beacon as its difference from the beacon of
//! its view the collector acknowledged, and the envelope of a batch holding them.
//!
//! The text is what serde_json writes for the `Delta` these differences make
//! (same member order, same names): `tests/delta.rs` parses it with serde,
//! resolves it against the base and requires the original beacon back.

use alloc::string::String;

use super::{context, events, playback_error, reason, video, Json};
use crate::wire::{Beacon, Reason, MAX_COVERAGE_BITS};

/// `cur` as a delta from `base`, or `None` when it cannot be one (another view,
/// not newer, another start or plugin version, a number whose difference does
/// not fit): the outbox then sends it whole.
pub fn delta(base: &Beacon, cur: &Beacon) -> Option<String> {
    if base.view_id != cur.view_id
        || cur.seq <= base.seq
        || base.started_at_ms != cur.started_at_ms
        || base.plugin_version != cur.plugin_version
    {
        return None;
    }
    let mut j = Json::default();
    j.open(b'{');
    j.s("i", &cur.view_id);
    j.n("s", cur.seq.into());
    if cur.seq - 1 != base.seq {
        j.n("b", base.seq.into());
    }
    if cur.reason != Reason::Interval {
        j.s("r", reason(cur.reason));
    }
    let t = diff(base.at_ms, cur.at_ms)?;
    int(&mut j, "t", t);
    if cur.video != base.video {
        j.key("vd");
        video(&mut j, &cur.video);
    }
    if cur.context != base.context {
        j.key("cx");
        context(&mut j, &cur.context);
    }
    events(&mut j, "e", &cur.events);
    metrics(&mut j, base, cur, t)?;
    j.close(b'}');
    Some(j.out)
}

/// `b - a` as a signed number, if `a + (b - a)` gives `b` back.
fn diff(a: u64, b: u64) -> Option<i64> {
    let d = b.wrapping_sub(a) as i64;
    (a.checked_add_signed(d) == Some(b)).then_some(d)
}

/// `"k":d` unless `d` is 0.
fn int(j: &mut Json, k: &str, d: i64) {
    if d != 0 {
        j.i(k, d);
    }
}

/// `"k":n` or `"k":null` when the value changed.
fn opt(j: &mut Json, k: &str, a: Option<u64>, b: Option<u64>) {
    if a != b {
        j.key(k);
        match b {
            Some(v) => j.uint(v),
            None => j.raw("null"),
        }
    }
}

/// `"k":d` unless the difference `d` is `t`, the default of `w`, `p` and `x`.
fn clock(j: &mut Json, k: &str, a: u64, b: u64, t: i64) -> Option<()> {
    let d = diff(a, b)?;
    if d != t {
        j.i(k, d);
    }
    Some(())
}

/// `"k":true|false` when the flag changed.
fn flag(j: &mut Json, k: &str, a: bool, b: bool) {
    if a != b {
        j.b(k, b);
    }
}

fn metrics(j: &mut Json, base: &Beacon, cur: &Beacon, t: i64) -> Option<()> {
    let (a, m) = (&base.metrics, &cur.metrics);
    let num = |j: &mut Json, k: &str, x: u64, y: u64| -> Option<()> {
        int(j, k, diff(x, y)?);
        Some(())
    };
    opt(j, "su", a.startup_ms, m.startup_ms);
    flag(j, "si", a.startup_invalid, m.startup_invalid);
    flag(j, "ff", a.first_frame, m.first_frame);
    num(j, "rc", a.rebuffer_count.into(), m.rebuffer_count.into())?;
    num(j, "rb", a.rebuffer_ms, m.rebuffer_ms)?;
    num(j, "rm", a.rebuffer_max_ms, m.rebuffer_max_ms)?;
    // Watch and playing time by default advance with `t`.
    clock(j, "w", a.watch_ms, m.watch_ms, t)?;
    clock(j, "p", a.playing_ms, m.playing_ms, t)?;
    num(j, "kc", a.seek_count.into(), m.seek_count.into())?;
    num(j, "k", a.seek_ms, m.seek_ms)?;
    num(j, "km", a.seek_max_ms, m.seek_max_ms)?;
    num(j, "pc", a.pause_count.into(), m.pause_count.into())?;
    num(j, "rt", a.rate_changes.into(), m.rate_changes.into())?;
    num(j, "vc", a.volume_changes.into(), m.volume_changes.into())?;
    num(j, "fs", a.fullscreen_ms, m.fullscreen_ms)?;
    opt(j, "ps", a.player_startup_ms, m.player_startup_ms);
    opt(j, "pl", a.page_load_ms, m.page_load_ms);
    opt(j, "as", a.aggregate_startup_ms, m.aggregate_startup_ms);
    clock(j, "x", a.max_position_ms, m.max_position_ms, t)?;
    if a.coverage != m.coverage {
        coverage(
            j,
            a.coverage.as_deref(),
            m.coverage.as_deref(),
            a.coverage_buckets == m.coverage_buckets,
            m.coverage_buckets,
        );
    }
    num(
        j,
        "cb",
        a.coverage_buckets.into(),
        m.coverage_buckets.into(),
    )?;
    flag(j, "cp", a.completed, m.completed);
    opt(
        j,
        "h",
        a.mean_height.map(u64::from),
        m.mean_height.map(u64::from),
    );
    num(
        j,
        "rn",
        a.rendition_changes.into(),
        m.rendition_changes.into(),
    )?;
    num(
        j,
        "up",
        a.upscale_permille.into(),
        m.upscale_permille.into(),
    )?;
    num(
        j,
        "dn",
        a.downscale_permille.into(),
        m.downscale_permille.into(),
    )?;
    num(
        j,
        "mu",
        a.max_upscale_permille.into(),
        m.max_upscale_permille.into(),
    )?;
    num(j, "d", a.dropped_frames.into(), m.dropped_frames.into())?;
    num(j, "f", a.total_frames.into(), m.total_frames.into())?;
    opt(j, "tp", a.throughput_bps, m.throughput_bps);
    if a.error != m.error {
        j.key("er");
        match &m.error {
            Some(e) => playback_error(j, e),
            None => j.raw("null"),
        }
    }
    flag(j, "en", a.ended, m.ended);
    flag(j, "ve", a.view_ended, m.view_ended);
    Some(())
}

/// `"ca":"3-7,12"` (the buckets newly played) when the layout is the same and
/// nothing was unset, else `"c":` the whole new hex or `null`.
fn coverage(j: &mut Json, a: Option<&str>, b: Option<&str>, same_layout: bool, buckets: u16) {
    let (Some(x), Some(y)) = (a, b) else {
        return whole_coverage(j, b);
    };
    if !same_layout || !only_added(x, y, buckets) {
        return whole_coverage(j, b);
    }
    // Both are hex of the same length now: bucket `i` is bit `i % 4` of digit
    // `i / 4` from the end.
    let digit = |h: &str, i: usize| {
        let c = h.as_bytes().get(h.len() - 1 - i / 4).copied();
        c.and_then(|c| char::from(c).to_digit(16)).unwrap_or(0)
    };
    let added = |i: usize| (digit(y, i) & !digit(x, i)) >> (i % 4) & 1 == 1;
    let n = y.len() * 4;
    j.key("ca");
    j.byte(b'"');
    let mut i = 0;
    while i < n {
        if !added(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && added(i) {
            i += 1;
        }
        if j.out.ends_with(|c: char| c.is_ascii_digit()) {
            j.byte(b',');
        }
        j.uint(start as u64);
        if i - 1 > start {
            j.byte(b'-');
            j.uint((i - 1) as u64);
        }
    }
    j.byte(b'"');
}

/// `"c":` the whole hex, or `null`.
fn whole_coverage(j: &mut Json, b: Option<&str>) {
    j.key("c");
    match b {
        Some(h) => j.str(h),
        None => j.raw("null"),
    }
}

/// Whether `y` only adds buckets to `x`, at least one, and `ca` can say so: `y`
/// is the engine's form of the hex (what `ca` resolves to) and `x` is hex of the
/// same length. Works on the digits: 128-bit arithmetic costs the wasm more.
fn only_added(x: &str, y: &str, buckets: u16) -> bool {
    let canonical = buckets <= MAX_COVERAGE_BITS
        && y.len() == usize::from(buckets).div_ceil(4)
        && y.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    let mut any = false;
    let digits = x.bytes().zip(y.bytes()).all(|(p, q)| {
        match (char::from(p).to_digit(16), char::from(q).to_digit(16)) {
            (Some(p), Some(q)) => {
                any |= q & !p != 0;
                p & !q == 0
            }
            _ => false,
        }
    });
    canonical && x.len() == y.len() && digits && any
}
