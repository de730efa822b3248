//! The KPI definitions of METRICS.md, computed from additive counters and
//! mergeable sketches: the one place the aggregate formulas live.

use serde::{Deserialize, Serialize};

use crate::rollup::Counters;
use crate::sketch::Sketches;

/// Every aggregate a set of views allows. Percentages are 0–100; a ratio whose
/// denominator is zero is `null`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Kpis {
    /// Views.
    pub views: u64,
    /// Distinct viewer ids (HyperLogLog++ estimate; `null` when not tracked).
    pub unique_viewers: Option<u64>,
    /// Σ watch time.
    pub watch_ms: u64,
    /// Σ playing time.
    pub playing_ms: u64,
    /// Median video startup time (DDSketch, ±1 %).
    pub startup_p50_ms: Option<u64>,
    /// 95th percentile video startup time (DDSketch, ±1 %).
    pub startup_p95_ms: Option<u64>,
    /// Mean video startup time (exact).
    pub startup_mean_ms: Option<f64>,
    /// Exits before video start / views.
    pub ebvs_pct: Option<f64>,
    /// Video start failures / views.
    pub vsf_pct: Option<f64>,
    /// Failed views / views.
    pub failure_pct: Option<f64>,
    /// Σ rebuffer time / Σ watch time.
    pub rebuffer_pct: Option<f64>,
    /// Rebuffers per minute of watch time.
    pub rebuffer_per_min: Option<f64>,
    /// Σ seek latency / seeks.
    pub seek_latency_mean_ms: Option<f64>,
    /// Mean upscale, weighted by playing time.
    pub upscale_pct: Option<f64>,
    /// Mean downscale, weighted by playing time.
    pub downscale_pct: Option<f64>,
    /// Σ dropped frames / Σ frames.
    pub dropped_frame_pct: Option<f64>,
    /// Completed views / views.
    pub completion_pct: Option<f64>,
}

/// Names of the [`Kpis`] fields, for `metric=` validation and the OpenAPI doc.
pub const METRIC_NAMES: &[&str] = &[
    "views",
    "unique_viewers",
    "watch_ms",
    "playing_ms",
    "startup_p50_ms",
    "startup_p95_ms",
    "startup_mean_ms",
    "ebvs_pct",
    "vsf_pct",
    "failure_pct",
    "rebuffer_pct",
    "rebuffer_per_min",
    "seek_latency_mean_ms",
    "upscale_pct",
    "downscale_pct",
    "dropped_frame_pct",
    "completion_pct",
];

fn ratio(num: u64, den: u64, scale: f64) -> Option<f64> {
    (den > 0).then(|| num as f64 * scale / den as f64)
}

impl Kpis {
    /// KPIs of views whose counters sum to `c` and sketches merge to `s`.
    pub fn compute(c: &Counters, s: Option<&Sketches>) -> Kpis {
        Kpis {
            views: c.views,
            unique_viewers: s.map(Sketches::unique_viewers),
            watch_ms: c.watch_ms,
            playing_ms: c.playing_ms,
            startup_p50_ms: s.and_then(|s| s.startup_quantile(0.5)),
            startup_p95_ms: s.and_then(|s| s.startup_quantile(0.95)),
            startup_mean_ms: ratio(c.startup_sum_ms, c.startup_count, 1.0),
            ebvs_pct: ratio(c.ebvs, c.views, 100.0),
            vsf_pct: ratio(c.vsf, c.views, 100.0),
            failure_pct: ratio(c.failures, c.views, 100.0),
            rebuffer_pct: ratio(c.rebuffer_ms, c.watch_ms, 100.0),
            rebuffer_per_min: ratio(c.rebuffer_count, c.watch_ms, 60_000.0),
            seek_latency_mean_ms: ratio(c.seek_ms, c.seek_count, 1.0),
            // Weighted sums are per mille × ms: / 10 for percent.
            upscale_pct: ratio(c.upscale_weighted, c.playing_ms, 0.1),
            downscale_pct: ratio(c.downscale_weighted, c.playing_ms, 0.1),
            dropped_frame_pct: ratio(c.dropped_frames, c.total_frames, 100.0),
            completion_pct: ratio(c.completed, c.views, 100.0),
        }
    }

    /// One metric by name, as JSON.
    pub fn metric(&self, name: &str) -> serde_json::Value {
        serde_json::to_value(self)
            .ok()
            .and_then(|mut v| v.get_mut(name).map(serde_json::Value::take))
            .unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_fields() {
        let v = serde_json::to_value(Kpis::default()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut names = METRIC_NAMES.to_vec();
        names.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, names);
    }

    #[test]
    fn formulas() {
        let c = Counters {
            views: 4,
            watch_ms: 120_000,
            playing_ms: 100_000,
            rebuffer_count: 3,
            rebuffer_ms: 6_000,
            seek_count: 2,
            seek_ms: 500,
            failures: 1,
            vsf: 1,
            ebvs: 1,
            completed: 2,
            startup_count: 2,
            startup_sum_ms: 300,
            upscale_weighted: 250 * 100_000,
            dropped_frames: 5,
            total_frames: 500,
            ..Counters::default()
        };
        let k = Kpis::compute(&c, None);
        assert_eq!(k.rebuffer_pct, Some(5.0));
        assert_eq!(k.rebuffer_per_min, Some(1.5));
        assert_eq!(k.seek_latency_mean_ms, Some(250.0));
        assert_eq!(k.upscale_pct, Some(25.0));
        assert_eq!(k.downscale_pct, Some(0.0));
        assert_eq!(k.dropped_frame_pct, Some(1.0));
        assert_eq!(k.completion_pct, Some(50.0));
        assert_eq!(k.failure_pct, Some(25.0));
        assert_eq!(k.startup_mean_ms, Some(150.0));
        assert_eq!(k.unique_viewers, None);
        assert_eq!(k.metric("views"), serde_json::json!(4));
    }
}
