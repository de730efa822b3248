//! Per-video answers: KPIs per video (`GET /v1/videos`) and the retention curve
//! and heatmap of one video (`GET /v1/videos/{id}/retention`).
//!
//! Retention comes from the per-day, per-video coverage counts of
//! [`crate::rollup`]: the views started in the days that `from`/`to` touch (UTC
//! days, widened outward; all time when neither is given). `retention[i]` is the
//! share of views with a coverage bitmap that played bucket `i`, `heatmap[i]`
//! the count. Views of one video may report different bucket counts (a
//! different duration); the answer uses the bucket count most views reported
//! and says which.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use redb::ReadableDatabase;
use serde_json::{json, Value};

use crate::dims::Dim;
use crate::error::ApiError;
use crate::params::{Params, DEFAULT_SPAN_MS};
use crate::query::{self, KpiQuery};
use crate::rollup::{bucket_start, Retention, LEVEL_MS, RETENTION};
use crate::routes::AppState;
use crate::store::StoreError;

/// `GET /v1/videos?from=&to=&limit=`: KPIs per video id, most views first.
pub async fn list(
    State(state): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q, &["from", "to", "limit", "filter"])?;
    let (from_ms, to_ms) = p.range(crate::now_ms(), DEFAULT_SPAN_MS)?;
    let limit = p.int("limit", 1..=10_000)?.unwrap_or(100) as usize;
    let mut filters = p.filters()?;
    filters.retain(|(d, _)| *d != Dim::Video);
    let query = KpiQuery {
        from_ms,
        to_ms,
        filters,
        group_by: Some(Dim::Video),
    };
    let store = state.store.clone();
    let max = state.max_scan_views;
    let answer = tokio::task::spawn_blocking(move || query::kpis(&store, &query, max)).await??;
    let videos: Vec<Value> = answer
        .groups
        .unwrap_or_default()
        .into_iter()
        .take(limit)
        .map(|g| json!({"video_id": g.value, "kpis": g.kpis}))
        .collect();
    Ok(Json(json!({
        "from": answer.from,
        "to": answer.to,
        "source": answer.source,
        "videos": videos,
    })))
}

/// `GET /v1/videos/{id}/retention?from=&to=`.
pub async fn retention(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q, &["from", "to"])?;
    let all_time = p.one("from")?.is_none() && p.one("to")?.is_none();
    let (from_ms, to_ms) = if all_time {
        (0, u64::MAX)
    } else {
        p.range(crate::now_ms(), DEFAULT_SPAN_MS)?
    };
    let day = LEVEL_MS[2];
    let (first_day, end_day) = (
        bucket_start(2, from_ms),
        to_ms.div_ceil(day).saturating_mul(day),
    );
    let store = state.store.clone();
    let video = id.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let txn = store.db().begin_read()?;
        let table = txn.open_table(RETENTION)?;
        // Per bucket count, the sum over the days.
        let mut rows: std::collections::BTreeMap<u16, Retention> = Default::default();
        let mut d = first_day;
        while d < end_day {
            // The next day holding any row (days without views are skipped).
            let Some(next) = table.range((d, "", 0u16)..(end_day, "", 0u16))?.next() else {
                break;
            };
            d = next?.0.value().0;
            for entry in table.range((d, video.as_str(), 0u16)..=(d, video.as_str(), u16::MAX))? {
                let (k, v) = entry?;
                let row: Retention = postcard::from_bytes(v.value())?;
                let sum = rows.entry(k.value().2).or_default();
                sum.views += row.views;
                sum.counts.resize(row.counts.len().max(sum.counts.len()), 0);
                for (s, c) in sum.counts.iter_mut().zip(&row.counts) {
                    *s += c;
                }
            }
            d += day;
        }
        Ok::<_, StoreError>(rows.into_iter().collect::<Vec<_>>())
    })
    .await??;
    // A video nobody has played (or whose views have no known duration) has an
    // empty curve: a valid answer, not a missing resource.
    let empty = (0, Retention::default());
    let (buckets, best) = rows.iter().max_by_key(|(_, r)| r.views).unwrap_or(&empty);
    let share: Vec<f64> = best
        .counts
        .iter()
        .map(|&c| c as f64 / best.views.max(1) as f64)
        .collect();
    let others: Vec<Value> = rows
        .iter()
        .filter(|(b, _)| b != buckets)
        .map(|(b, r)| json!({"coverage_buckets": b, "views": r.views}))
        .collect();
    Ok(Json(json!({
        "video_id": id,
        "from": (!all_time).then_some(first_day),
        "to": (!all_time).then_some(end_day),
        "coverage_buckets": buckets,
        "views": best.views,
        "retention": share,
        "heatmap": best.counts,
        "other_bucket_counts": others,
    })))
}
