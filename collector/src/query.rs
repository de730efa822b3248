//! KPI and time-series queries, answered from the rollups ([`crate::rollup`]).
//!
//! A range `[from, to)` is widened to whole minutes and covered by the fewest
//! rows: minute rows up to the first hour boundary, hour rows up to the first
//! day, day rows, then back down ([`cover`]). One filter, one group-by, or a
//! filter and a group-by on the same dimension read rollups (`source:
//! "rollups"`); other combinations (several filters, a filter on one dimension
//! grouped by another) scan the views of the range instead (`source: "views"`),
//! up to a named limit.

use std::collections::BTreeMap;

use redb::{ReadTransaction, ReadableDatabase};
use serde::Serialize;

use crate::dims::{self, Dim};
use crate::kpis::Kpis;
use crate::rollup::{bucket_start, Counters, LEVEL_MS, ROLLUP_COUNTERS, ROLLUP_SKETCHES};
use crate::sketch::Sketches;
use crate::store::{Store, StoreError, ViewSelection};

/// Counters and sketches of a set of views.
#[derive(Default, Clone)]
pub struct Agg {
    /// Summed counters.
    pub counters: Counters,
    /// Merged sketches.
    pub sketches: Sketches,
}

impl Agg {
    fn add(&mut self, c: &Counters, s: Option<&Sketches>) {
        self.counters.add(c);
        if let Some(s) = s {
            self.sketches.merge(s);
        }
    }

    fn add_view(&mut self, r: &crate::store::ViewRecord) {
        self.counters.add(&Counters::of_view(&r.beacon.metrics));
        self.sketches.add_viewer(&r.viewer_id);
        if let Some(ms) = r.beacon.metrics.startup_ms {
            self.sketches.add_startup(ms);
        }
    }

    /// The KPIs.
    pub fn kpis(&self) -> Kpis {
        Kpis::compute(&self.counters, Some(&self.sketches))
    }
}

/// Why a query could not be answered: a message and the parameter to change.
#[derive(Debug)]
pub enum QueryError {
    /// The parameter and what is wrong with it.
    Param(&'static str, String),
    /// Storage failed.
    Store(StoreError),
}

impl<E: Into<StoreError>> From<E> for QueryError {
    fn from(e: E) -> Self {
        QueryError::Store(e.into())
    }
}

/// The rows covering `[from, to)` (both whole minutes): `(level, start, end)`.
pub fn cover(from: u64, to: u64) -> Vec<(u8, u64, u64)> {
    fn go(level: u8, from: u64, to: u64, out: &mut Vec<(u8, u64, u64)>) {
        if from >= to {
            return;
        }
        if level as usize + 1 == LEVEL_MS.len() {
            out.push((level, from, to));
            return;
        }
        let w = LEVEL_MS[level as usize + 1];
        let a = from.div_ceil(w) * w;
        let b = to - to % w;
        if a >= b {
            out.push((level, from, to));
            return;
        }
        if from < a {
            out.push((level, from, a));
        }
        go(level + 1, a, b, out);
        if b < to {
            out.push((level, b, to));
        }
    }
    let mut out = Vec::new();
    go(0, from, to, &mut out);
    out
}

/// Calls `f(bucket, value, counters, sketches)` for the rows of `(level, dim)`
/// with bucket in `[from, to)`, optionally only those of one value.
fn scan(
    txn: &ReadTransaction,
    (level, dim): (u8, Dim),
    (from, to): (u64, u64),
    value: Option<&str>,
    with_sketches: bool,
    mut f: impl FnMut(u64, &str, Counters, Option<Sketches>),
) -> Result<(), QueryError> {
    let counters = txn.open_table(ROLLUP_COUNTERS)?;
    let sketches = txn.open_table(ROLLUP_SKETCHES)?;
    let d = dim.code();
    for entry in counters.range((level, d, from, "")..(level, d, to, ""))? {
        let (key, bytes) = entry?;
        let (_, _, bucket, v) = key.value();
        if value.is_some_and(|want| want != v) {
            continue;
        }
        let c = Counters::decode(bytes.value())?;
        let s = if with_sketches {
            match sketches.get((level, d, bucket, v))? {
                Some(b) => Some(Sketches::decode(b.value())?),
                None => None,
            }
        } else {
            None
        };
        f(bucket, v, c, s);
    }
    Ok(())
}

/// A KPI query.
#[derive(Debug, Clone)]
pub struct KpiQuery {
    /// Range start, Unix ms (widened to the minute).
    pub from_ms: u64,
    /// Range end, exclusive (widened to the minute).
    pub to_ms: u64,
    /// `dim:value` filters (all must match).
    pub filters: Vec<(Dim, String)>,
    /// Group by this dimension.
    pub group_by: Option<Dim>,
}

/// One group of a grouped answer.
#[derive(Serialize, Debug)]
pub struct Group {
    /// The dimension value.
    pub value: String,
    /// Its KPIs.
    pub kpis: Kpis,
}

/// The answer of `GET /v1/kpis`.
#[derive(Serialize, Debug)]
pub struct KpiAnswer {
    /// Effective range start.
    pub from: u64,
    /// Effective range end (exclusive).
    pub to: u64,
    /// `rollups` or `views`.
    pub source: &'static str,
    /// KPIs over everything selected.
    pub totals: Kpis,
    /// Per value of `group_by`, most views first (absent without `group_by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
}

fn widen(from: u64, to: u64) -> (u64, u64) {
    let m = LEVEL_MS[0];
    (from - from % m, to.div_ceil(m).saturating_mul(m))
}

/// Whether rollups can answer these filters and group-by; the dimension and
/// value to read.
fn rollup_plan(filters: &[(Dim, String)], group_by: Option<Dim>) -> Option<(Dim, Option<String>)> {
    match (filters, group_by) {
        ([], None) => Some((Dim::All, None)),
        ([], Some(g)) => Some((g, None)),
        ([(d, v)], None) => Some((*d, Some(v.clone()))),
        ([(d, v)], Some(g)) if *d == g => Some((g, Some(v.clone()))),
        _ => None,
    }
}

/// Answers a KPI query; `max_scan` bounds the views a scan may read.
pub fn kpis(store: &Store, q: &KpiQuery, max_scan: usize) -> Result<KpiAnswer, QueryError> {
    let (from, to) = widen(q.from_ms, q.to_ms);
    let mut groups: BTreeMap<String, Agg> = BTreeMap::new();
    let source = match rollup_plan(&q.filters, q.group_by) {
        Some((dim, value)) => {
            let txn = store.db().begin_read()?;
            for (level, a, b) in cover(from, to) {
                scan(
                    &txn,
                    (level, dim),
                    (a, b),
                    value.as_deref(),
                    true,
                    |_, v, c, s| {
                        groups.entry(v.to_owned()).or_default().add(&c, s.as_ref());
                    },
                )?;
            }
            "rollups"
        }
        None => {
            let sel = ViewSelection {
                from_ms: from,
                to_ms: Some(to),
                filters: q.filters.clone(),
            };
            let mut seen = 0usize;
            store.scan_views(&sel, |r| {
                seen += 1;
                let key = q
                    .group_by
                    .map_or_else(|| "all".to_owned(), |g| dims::value(&r, g));
                groups.entry(key).or_default().add_view(&r);
                seen <= max_scan
            })?;
            if seen > max_scan {
                return Err(QueryError::Param(
                    "filter",
                    format!(
                        "this filter and group_by combination scans views, and the range holds more than {max_scan}; narrow from/to"
                    ),
                ));
            }
            "views"
        }
    };
    let mut total = Agg::default();
    for agg in groups.values() {
        total.add(&agg.counters, Some(&agg.sketches));
    }
    let groups = q.group_by.map(|_| {
        let mut gs: Vec<Group> = groups
            .iter()
            .map(|(v, a)| Group {
                value: v.clone(),
                kpis: a.kpis(),
            })
            .collect();
        gs.sort_by(|a, b| b.kpis.views.cmp(&a.kpis.views).then(a.value.cmp(&b.value)));
        gs
    });
    Ok(KpiAnswer {
        from,
        to,
        source,
        totals: total.kpis(),
        groups,
    })
}

/// A time-series query.
#[derive(Debug, Clone)]
pub struct SeriesQuery {
    /// Range start, Unix ms.
    pub from_ms: u64,
    /// Range end, exclusive.
    pub to_ms: u64,
    /// Rollup level of one point (0 minute, 1 hour, 2 day).
    pub level: u8,
    /// `dim:value` filters.
    pub filters: Vec<(Dim, String)>,
    /// Metric names ([`crate::kpis::METRIC_NAMES`]).
    pub metrics: Vec<String>,
}

/// Most points one series answer may hold.
pub const MAX_POINTS: u64 = 10_000;

/// Answers a time-series query: one point per interval, empty ones included.
pub fn timeseries(
    store: &Store,
    q: &SeriesQuery,
    max_scan: usize,
) -> Result<serde_json::Value, QueryError> {
    let w = LEVEL_MS[q.level as usize];
    let from = bucket_start(q.level, q.from_ms);
    let to = q.to_ms.div_ceil(w).saturating_mul(w);
    if (to - from) / w > MAX_POINTS {
        return Err(QueryError::Param(
            "interval",
            format!("the range holds more than {MAX_POINTS} intervals; use a coarser interval"),
        ));
    }
    let sketches = q
        .metrics
        .iter()
        .any(|m| m.starts_with("startup_p") || m == "unique_viewers");
    let mut points: BTreeMap<u64, Agg> = (0..(to - from) / w)
        .map(|i| (from + i * w, Agg::default()))
        .collect();
    let source = match rollup_plan(&q.filters, None) {
        Some((dim, value)) => {
            let txn = store.db().begin_read()?;
            scan(
                &txn,
                (q.level, dim),
                (from, to),
                value.as_deref(),
                sketches,
                |t, _, c, s| {
                    points.entry(t).or_default().add(&c, s.as_ref());
                },
            )?;
            "rollups"
        }
        None => {
            let sel = ViewSelection {
                from_ms: from,
                to_ms: Some(to),
                filters: q.filters.clone(),
            };
            let mut seen = 0usize;
            store.scan_views(&sel, |r| {
                seen += 1;
                let t = bucket_start(q.level, r.beacon.started_at_ms);
                points.entry(t).or_default().add_view(&r);
                seen <= max_scan
            })?;
            if seen > max_scan {
                return Err(QueryError::Param(
                    "filter",
                    format!("several filters scan views, and the range holds more than {max_scan}; narrow from/to"),
                ));
            }
            "views"
        }
    };
    let points: Vec<serde_json::Value> = points
        .into_iter()
        .map(|(t, agg)| {
            let k = if sketches {
                agg.kpis()
            } else {
                Kpis::compute(&agg.counters, None)
            };
            let mut p = serde_json::Map::new();
            p.insert("t".into(), t.into());
            for m in &q.metrics {
                p.insert(m.clone(), k.metric(m));
            }
            serde_json::Value::Object(p)
        })
        .collect();
    let interval = ["minute", "hour", "day"][q.level as usize];
    Ok(serde_json::json!({
        "from": from,
        "to": to,
        "interval": interval,
        "source": source,
        "points": points,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 60_000;
    const H: u64 = 3_600_000;
    const D: u64 = 86_400_000;

    #[test]
    fn cover_uses_coarse_rows_inside() {
        assert_eq!(cover(0, 5 * M), [(0, 0, 5 * M)]);
        assert_eq!(cover(0, 2 * H), [(1, 0, 2 * H)]);
        assert_eq!(
            cover(10 * M, D + H + 3 * M),
            [(0, 10 * M, H), (1, H, D + H), (0, D + H, D + H + 3 * M)]
        );
        assert_eq!(cover(D, 3 * D), [(2, D, 3 * D)]);
        assert_eq!(cover(5 * M, 5 * M), []);
        // Every minute covered exactly once.
        let (a, b) = (7 * M, 2 * D + 5 * H + 9 * M);
        let total: u64 = cover(a, b).iter().map(|(_, s, e)| e - s).sum();
        assert_eq!(total, b - a);
    }
}
