//! Watched-position coverage: which parts of the content timeline were played.
//!
//! The timeline is cut into buckets of 1 s, or into 100 equal buckets when the
//! content is longer than 100 s, so a view's coverage always fits in 100 bits and
//! travels as 25 hex digits. A bucket counts as watched when playback advanced
//! through any part of it.

use alloc::string::String;

use crate::fmath::ceil;

/// Most buckets a timeline is cut into.
pub const MAX_BUCKETS: u16 = 100;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Coverage {
    /// Bucket count and length, fixed at the first played stretch with a known,
    /// finite duration.
    layout: Option<(u16, f64)>,
    bits: u128,
    max_pos_ms: f64,
}

impl Coverage {
    /// Playback advanced from `from_s` to `to_s` (seconds of media time).
    pub fn played(&mut self, from_s: f64, to_s: f64, duration_s: f64) {
        self.max_pos_ms = self.max_pos_ms.max(to_s * 1000.0);
        if self.layout.is_none() && duration_s.is_finite() && duration_s > 0.0 {
            let n = (ceil(duration_s) as u16).clamp(1, MAX_BUCKETS);
            self.layout = Some((n, duration_s * 1000.0 / f64::from(n)));
        }
        let Some((n, len)) = self.layout else { return };
        let first = ((from_s.max(0.0) * 1000.0 / len) as u16).min(n - 1);
        // The bucket the playhead ends in, not the next one when it stops exactly
        // on a boundary.
        let last = ((ceil(to_s.max(0.0) * 1000.0 / len) as u16).saturating_sub(1)).min(n - 1);
        for b in first..=last.max(first) {
            self.bits |= 1u128 << b;
        }
    }

    pub fn max_pos_ms(&self) -> f64 {
        self.max_pos_ms
    }

    pub fn buckets(&self) -> u16 {
        self.layout.map_or(0, |(n, _)| n)
    }

    /// Share of buckets watched, 0.0 to 1.0.
    pub fn fraction(&self) -> f64 {
        match self.layout {
            Some((n, _)) => f64::from(self.bits.count_ones()) / f64::from(n),
            None => 0.0,
        }
    }

    /// Lowercase hex of the bitmap, bucket 0 in the lowest bit of the last digit
    /// (the wire's form, which deltas resolve to as well).
    pub fn hex(&self) -> Option<String> {
        let (n, _) = self.layout?;
        Some(crate::wire::delta::coverage_hex(self.bits, n))
    }
}

#[cfg(test)]
mod tests {
    use super::Coverage;

    #[test]
    fn short_content_has_one_second_buckets() {
        let mut c = Coverage::default();
        c.played(0.0, 2.5, 12.0);
        assert_eq!(c.buckets(), 12);
        assert_eq!(c.hex().as_deref(), Some("007"));
        assert!((c.fraction() - 0.25).abs() < 1e-9);
        assert_eq!(c.max_pos_ms(), 2500.0);
    }

    #[test]
    fn long_content_has_a_hundred_buckets() {
        let mut c = Coverage::default();
        c.played(0.0, 3600.0, 3600.0);
        assert_eq!(c.buckets(), 100);
        assert_eq!(c.hex().unwrap(), "f".repeat(25));
        assert_eq!(c.fraction(), 1.0);
    }

    #[test]
    fn unknown_or_live_duration_has_no_layout() {
        let mut c = Coverage::default();
        c.played(0.0, 5.0, f64::INFINITY);
        c.played(5.0, 6.0, f64::NAN);
        assert_eq!(c.hex(), None);
        assert_eq!(c.max_pos_ms(), 6000.0);
    }
}
