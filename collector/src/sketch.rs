//! Mergeable sketches kept in each rollup row: a quantile sketch of video startup
//! time and a distinct-count sketch of viewer ids.
//!
//! Rollups must merge across minutes and dimension values, so exact percentiles
//! and exact distinct counts are out; these two crates give bounded error instead:
//!
//! - startup time: `sketches-ddsketch` (DDSketch) with relative accuracy
//!   [`STARTUP_RELATIVE_ERROR`] (1 %): any reported quantile is within ±1 % of
//!   the value of the true rank;
//! - unique viewers: Cloudflare's `cardinality-estimator` (HyperLogLog++ with
//!   precision 12, exact while a sketch holds at most 128 hashed ids), standard
//!   error `1.04 / sqrt(4096)` ≈ 1.6 % above that ([`VIEWERS_STD_ERROR`]).
//!
//! A startup sketch holding at most [`EXACT_STARTUPS`] values keeps the values
//! themselves instead ([`Startup::Exact`]: exact quantiles, a few bytes): most
//! minute rows of a dimension value hold one or two views, and an empty
//! DDSketch alone encodes to ~200 bytes. Past that it becomes a DDSketch.
//!
//! Both are stored with postcard. Neither can forget: erasing a viewer removes
//! their views and counters, but not their trace in these sketches.

use cardinality_estimator::CardinalityEstimator;
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

/// DDSketch relative accuracy (α).
pub const STARTUP_RELATIVE_ERROR: f64 = 0.01;
/// HyperLogLog++ standard error at precision 12, above the exact range.
pub const VIEWERS_STD_ERROR: f64 = 0.01625;
/// Most bins a startup sketch grows to (2048 bins at 1 % cover 1 ms … years).
const STARTUP_MAX_BINS: u32 = 2048;
/// Most startup times a row keeps exactly before it becomes a DDSketch.
pub const EXACT_STARTUPS: usize = 16;

fn new_ddsketch() -> DDSketch {
    DDSketch::new(Config::new(STARTUP_RELATIVE_ERROR, STARTUP_MAX_BINS, 1.0))
}

/// Startup times of a row: the values while few, else a DDSketch.
#[derive(Serialize, Deserialize, Clone)]
pub enum Startup {
    /// At most [`EXACT_STARTUPS`] values, ms, unordered.
    Exact(Vec<u64>),
    /// A DDSketch of more values.
    Sketch(Box<DDSketch>),
}

impl Default for Startup {
    fn default() -> Self {
        Startup::Exact(Vec::new())
    }
}

impl Startup {
    fn add(&mut self, ms: u64) {
        match self {
            Startup::Exact(v) if v.len() < EXACT_STARTUPS => v.push(ms),
            Startup::Exact(v) => {
                let mut dd = new_ddsketch();
                for x in v.iter().chain([&ms]) {
                    dd.add(*x as f64);
                }
                *self = Startup::Sketch(Box::new(dd));
            }
            Startup::Sketch(dd) => dd.add(ms as f64),
        }
    }

    fn merge(&mut self, other: &Startup) {
        match other {
            Startup::Exact(values) => values.iter().for_each(|&x| self.add(x)),
            Startup::Sketch(theirs) => {
                if let Startup::Exact(mine) = self {
                    let mut dd = new_ddsketch();
                    mine.iter().for_each(|&x| dd.add(x as f64));
                    *self = Startup::Sketch(Box::new(dd));
                }
                if let Startup::Sketch(dd) = self {
                    // Same config on both sides: merge cannot fail.
                    let _ = dd.merge(theirs);
                }
            }
        }
    }
}

/// The sketches of one rollup row.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct Sketches {
    /// Video startup times, ms.
    pub startup: Startup,
    /// Viewer ids.
    pub viewers: CardinalityEstimator<str>,
}

/// A rollup row's sketches as schema v2 stored them (always a DDSketch), read
/// by the v2 → v3 migration.
#[derive(Serialize, Deserialize)]
pub struct SketchesV2 {
    /// Video startup times, ms.
    pub startup: DDSketch,
    /// Viewer ids.
    pub viewers: CardinalityEstimator<str>,
}

impl SketchesV2 {
    /// Empty, as v2 made them.
    pub fn new() -> SketchesV2 {
        SketchesV2 {
            startup: new_ddsketch(),
            viewers: CardinalityEstimator::new(),
        }
    }

    /// The same sketches in the current form.
    pub fn upgrade(self) -> Sketches {
        Sketches {
            startup: Startup::Sketch(Box::new(self.startup)),
            viewers: self.viewers,
        }
    }
}

impl Default for SketchesV2 {
    fn default() -> Self {
        SketchesV2::new()
    }
}

impl Sketches {
    /// Adds one view's startup time.
    pub fn add_startup(&mut self, ms: u64) {
        self.startup.add(ms);
    }

    /// Adds one viewer id (adding the same id again changes nothing).
    pub fn add_viewer(&mut self, viewer_id: &str) {
        self.viewers.insert(viewer_id);
    }

    /// Adds a viewer id hashed once by [`viewer_hash`] (a view adds its viewer
    /// to 36 rows: one hash instead of 36).
    pub fn add_viewer_hash(&mut self, hash: u64) {
        self.viewers.insert_hash(hash);
    }

    /// Merges another row's sketches into this one.
    pub fn merge(&mut self, other: &Sketches) {
        self.startup.merge(&other.startup);
        self.viewers.merge(&other.viewers);
    }

    /// Startup percentile `q` (0..=1) by nearest rank (the smallest value with at
    /// least `q` of the values at or below it, as `/v1/summary` defines it),
    /// within the sketch's relative error, rounded to whole ms.
    pub fn startup_quantile(&self, q: f64) -> Option<u64> {
        let dd = match &self.startup {
            Startup::Exact(values) => {
                let mut sorted = values.clone();
                sorted.sort_unstable();
                let n = sorted.len() as u64;
                let rank = ((q * n as f64).ceil() as u64).clamp(1, n.max(1));
                return sorted.get(rank as usize - 1).copied();
            }
            Startup::Sketch(dd) => dd,
        };
        let n = dd.count() as u64;
        if n == 0 {
            return None;
        }
        // DDSketch's rank is floor(q' × (n − 1)); pick q' so it is the nearest rank.
        let k = ((q * n as f64).ceil() as u64).clamp(1, n) - 1;
        let q = if k + 1 == n {
            1.0
        } else {
            (k as f64 + 0.5) / (n - 1) as f64
        };
        dd.quantile(q)
            .ok()
            .flatten()
            .map(|v| v.max(0.0).round() as u64)
    }

    /// Estimated number of distinct viewers.
    pub fn unique_viewers(&self) -> u64 {
        self.viewers.estimate() as u64
    }

    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes a stored value.
    pub fn decode(bytes: &[u8]) -> Result<Sketches, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// The hash [`Sketches::add_viewer`] computes for an id (the estimator's own
/// hasher, WyHash, over the `str`), for [`Sketches::add_viewer_hash`].
pub fn viewer_hash(viewer_id: &str) -> u64 {
    use std::hash::BuildHasher;
    std::hash::BuildHasherDefault::<wyhash::WyHash>::default().hash_one(viewer_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_startups_are_exact_and_small() {
        let mut a = Sketches::default();
        for v in [300, 100, 200] {
            a.add_startup(v);
        }
        assert_eq!(a.startup_quantile(0.5), Some(200));
        assert_eq!(a.startup_quantile(0.95), Some(300));
        a.add_viewer("x");
        assert!(a.encode().len() < 24, "{}", a.encode().len());
        let mut v2 = SketchesV2::new();
        v2.startup.add(300.0);
        v2.viewers.insert("x");
        let v2 = v2.upgrade().encode().len();
        assert!(a.encode().len() * 3 < v2, "{} vs {v2}", a.encode().len());
        assert_eq!(Sketches::default().startup_quantile(0.5), None);
        // Past EXACT_STARTUPS values (added or merged) it is a DDSketch.
        let mut b = Sketches::default();
        for v in 0..EXACT_STARTUPS as u64 {
            b.add_startup(1000 + v);
        }
        assert!(matches!(b.startup, Startup::Exact(_)));
        b.merge(&a);
        assert!(matches!(b.startup, Startup::Sketch(_)));
        let p50 = b.startup_quantile(0.5).unwrap() as f64;
        assert!((p50 - 1005.0).abs() <= 1005.0 * 0.011, "{p50}");
        let mut c = a.clone();
        c.merge(&b);
        assert_eq!(c.startup_quantile(0.0), b.startup_quantile(0.0));
    }

    #[test]
    fn hashed_viewer_is_the_same_viewer() {
        let mut a = Sketches::default();
        a.add_viewer("viewer-1");
        a.add_viewer_hash(viewer_hash("viewer-1"));
        assert_eq!(a.unique_viewers(), 1);
        let mut b = Sketches::default();
        b.add_viewer_hash(viewer_hash("viewer-1"));
        assert_eq!(a.encode(), b.encode());
    }

    #[test]
    fn startup_quantiles_within_relative_error() {
        let mut a = Sketches::default();
        let mut b = Sketches::default();
        for v in 1..=1000u64 {
            if v % 2 == 0 {
                a.add_startup(v * 10);
            } else {
                b.add_startup(v * 10);
            }
        }
        a.merge(&b);
        let a = Sketches::decode(&a.encode()).unwrap();
        for (q, exact) in [(0.5, 5000.0), (0.95, 9500.0)] {
            let got = a.startup_quantile(q).unwrap() as f64;
            assert!(
                (got - exact).abs() <= exact * 0.011,
                "q{q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn viewers_distinct_and_mergeable() {
        let mut a = Sketches::default();
        let mut b = Sketches::default();
        for i in 0..50 {
            a.add_viewer(&format!("v{i}"));
            a.add_viewer(&format!("v{i}"));
            b.add_viewer(&format!("v{}", i + 25));
        }
        a.merge(&b);
        let a = Sketches::decode(&a.encode()).unwrap();
        // Exact while at most 128 distinct ids.
        assert_eq!(a.unique_viewers(), 75);
        let mut big = Sketches::default();
        for i in 0..20_000 {
            big.add_viewer(&format!("viewer-{i}"));
        }
        let est = big.unique_viewers() as f64;
        assert!((est - 20_000.0).abs() < 20_000.0 * 4.0 * VIEWERS_STD_ERROR);
    }
}
