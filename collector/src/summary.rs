//! The KPI summary over stored views, as a pure function.
//!
//! For now `GET /v1/summary` scans every view and feeds its latest metrics here;
//! per-minute rollups will replace the scan later (DESIGN.md, principle 4), and the
//! definitions (METRICS.md) stay in this one place either way.

use serde::{Deserialize, Serialize};
use vidpulse_plugin::wire::ViewMetrics;

/// KPIs over a set of views.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// Number of views.
    pub views: u64,
    /// Median video startup time (nearest rank) over views with a startup time.
    pub startup_p50_ms: Option<u64>,
    /// 95th percentile video startup time (nearest rank).
    pub startup_p95_ms: Option<u64>,
    /// Mean video startup time.
    pub startup_mean_ms: Option<f64>,
    /// Total rebuffer time / total watch time × 100; null when watch time is 0.
    pub rebuffer_pct: Option<f64>,
    /// Views with a fatal error / views × 100; null when there are no views.
    pub failure_pct: Option<f64>,
    /// Exits before video start / views × 100; null when there are no views.
    pub ebvs_pct: Option<f64>,
    /// Total watch time.
    pub watch_ms: u64,
    /// Total playing time.
    pub playing_ms: u64,
}

/// Computes the summary of the given views' metrics.
pub fn summarize<'a>(views: impl IntoIterator<Item = &'a ViewMetrics>) -> Summary {
    let mut count = 0u64;
    let mut startups = Vec::new();
    let mut rebuffer_ms = 0u64;
    let mut watch_ms = 0u64;
    let mut playing_ms = 0u64;
    let mut failures = 0u64;
    let mut ebvs = 0u64;
    for m in views {
        count += 1;
        if let Some(s) = m.startup_ms {
            startups.push(s);
        }
        rebuffer_ms = rebuffer_ms.saturating_add(m.rebuffer_ms);
        watch_ms = watch_ms.saturating_add(m.watch_ms);
        playing_ms = playing_ms.saturating_add(m.playing_ms);
        if m.error.is_some() {
            failures += 1;
        } else if m.view_ended && !m.first_frame {
            ebvs += 1;
        }
    }
    startups.sort_unstable();
    let pct_of_views = |n: u64| (count > 0).then(|| n as f64 * 100.0 / count as f64);
    Summary {
        views: count,
        startup_p50_ms: nearest_rank(&startups, 50),
        startup_p95_ms: nearest_rank(&startups, 95),
        startup_mean_ms: (!startups.is_empty())
            .then(|| startups.iter().map(|&s| s as f64).sum::<f64>() / startups.len() as f64),
        rebuffer_pct: (watch_ms > 0).then(|| rebuffer_ms as f64 * 100.0 / watch_ms as f64),
        failure_pct: pct_of_views(failures),
        ebvs_pct: pct_of_views(ebvs),
        watch_ms,
        playing_ms,
    }
}

/// Nearest-rank percentile `p` (0..=100) of sorted values: the smallest value
/// such that at least p % of the values are at or below it.
pub fn nearest_rank(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(p) * n).div_ceil(100).max(1);
    Some(sorted[(rank - 1) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidpulse_plugin::wire::PlaybackError;

    fn metrics(startup: Option<u64>, rebuffer: u64, watch: u64) -> ViewMetrics {
        ViewMetrics {
            startup_ms: startup,
            first_frame: startup.is_some(),
            rebuffer_ms: rebuffer,
            rebuffer_max_ms: rebuffer,
            watch_ms: watch,
            playing_ms: watch.saturating_sub(rebuffer),
            ..ViewMetrics::default()
        }
    }

    #[test]
    fn empty_is_all_null() {
        let s = summarize([]);
        assert_eq!(s, Summary::default());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=20).map(|i| i * 10).collect();
        assert_eq!(nearest_rank(&v, 50), Some(100));
        assert_eq!(nearest_rank(&v, 95), Some(190));
        assert_eq!(nearest_rank(&v, 100), Some(200));
        assert_eq!(nearest_rank(&v, 0), Some(10));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
    }

    #[test]
    fn kpis_on_known_views() {
        let mut failed = metrics(None, 0, 500);
        failed.view_ended = true;
        failed.error = Some(PlaybackError {
            code: 4,
            message: String::new(),
            before_first_frame: true,
        });
        let mut exited = metrics(None, 0, 500);
        exited.view_ended = true;
        let views = [
            metrics(Some(100), 0, 10_000),
            metrics(Some(300), 1_000, 10_000),
            metrics(Some(200), 0, 9_000),
            failed,
            exited,
        ];
        let s = summarize(&views);
        assert_eq!(s.views, 5);
        assert_eq!(s.startup_p50_ms, Some(200));
        assert_eq!(s.startup_p95_ms, Some(300));
        assert_eq!(s.startup_mean_ms, Some(200.0));
        assert_eq!(s.watch_ms, 30_000);
        assert_eq!(s.playing_ms, 29_000);
        assert_eq!(s.rebuffer_pct, Some(1_000.0 * 100.0 / 30_000.0));
        assert_eq!(s.failure_pct, Some(20.0));
        assert_eq!(s.ebvs_pct, Some(20.0));
    }
}
