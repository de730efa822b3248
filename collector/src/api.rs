//! The JSON read handlers: views, one view, KPIs, time series, summary.
//!
//! Each parses its parameters with [`crate::params`], runs the blocking query on
//! `spawn_blocking`, and answers JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use vidpulse_plugin::wire::NotableEvent;

use crate::error::ApiError;
use crate::kpis::METRIC_NAMES;
use crate::params::{Params, DEFAULT_SPAN_MS};
use crate::query::{self, KpiQuery, QueryError, SeriesQuery};
use crate::routes::AppState;
use crate::store::{StoreError, ViewRecord, ViewSelection};
use crate::summary::{self, Summary};

/// Default number of views listed.
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// Most views one listing request may ask for.
pub const MAX_LIST_LIMIT: usize = 1000;

type Q = Result<Query<Vec<(String, String)>>, QueryRejection>;

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Param(name, msg) => ApiError::bad_request(msg, name),
            QueryError::Store(e) => ApiError::internal(e),
        }
    }
}

/// `GET /v1/views?limit=&cursor=&from=&to=&filter=`: newest first; the next
/// page's cursor is in the `x-next-cursor` header.
pub async fn list_views(State(state): State<AppState>, q: Q) -> Result<Response, ApiError> {
    let p = Params::parse(q, &["limit", "cursor", "from", "to", "filter"])?;
    let limit = p
        .int("limit", 1..=MAX_LIST_LIMIT as u64)?
        .map_or(DEFAULT_LIST_LIMIT, |n| n as usize);
    let cursor = match p.one("cursor")? {
        None => None,
        Some(c) => Some(
            c.split_once(':')
                .and_then(|(t, id)| Some((t.parse::<u64>().ok()?, id.to_owned())))
                .ok_or_else(|| {
                    ApiError::bad_request("cursor must come from x-next-cursor", "cursor")
                })?,
        ),
    };
    let sel = ViewSelection {
        from_ms: p.int("from", 0..=u64::MAX / 2)?.unwrap_or(0),
        to_ms: p.int("to", 0..=u64::MAX / 2)?,
        filters: p.filters()?,
    };
    let store = state.store.clone();
    let (views, next) =
        tokio::task::spawn_blocking(move || store.list_views(&sel, cursor, limit)).await??;
    let mut headers = HeaderMap::new();
    if let Some((t, id)) = next {
        if let Ok(v) = format!("{t}:{id}").parse() {
            headers.insert("x-next-cursor", v);
        }
    }
    Ok((headers, Json(views)).into_response())
}

/// One view with its timeline and dimension values.
#[derive(Serialize)]
pub struct ViewDetail {
    #[serde(flatten)]
    record: ViewRecord,
    /// Notable events, oldest first (at most `--max-view-events`).
    events: Vec<NotableEvent>,
    /// Every dimension's value for this view.
    dims: serde_json::Map<String, serde_json::Value>,
}

/// `GET /v1/views/{id}`.
pub async fn get_view(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ViewDetail>, ApiError> {
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        let Some(record) = store.get_view(&id)? else {
            return Ok::<_, StoreError>(None);
        };
        let events = store.view_events(&id)?;
        Ok(Some((record, events)))
    })
    .await??;
    let (record, events) = found.ok_or_else(|| ApiError::not_found("no such view"))?;
    let dims = crate::dims::values(&record)
        .into_iter()
        .map(|(d, v)| (d.name().to_owned(), v.into()))
        .collect();
    Ok(Json(ViewDetail {
        record,
        events,
        dims,
    }))
}

/// `GET /v1/kpis?from=&to=&filter=dim:value&group_by=dim`.
pub async fn kpis(State(state): State<AppState>, q: Q) -> Result<Response, ApiError> {
    let p = Params::parse(q, &["from", "to", "filter", "group_by"])?;
    let (from_ms, to_ms) = p.range(crate::now_ms(), DEFAULT_SPAN_MS)?;
    let query = KpiQuery {
        from_ms,
        to_ms,
        filters: p.filters()?,
        group_by: p.dim("group_by")?,
    };
    let store = state.store.clone();
    let max = state.max_scan_views;
    let answer = tokio::task::spawn_blocking(move || query::kpis(&store, &query, max)).await??;
    Ok(Json(answer).into_response())
}

/// `GET /v1/timeseries?metric=a,b&interval=minute|hour|day&from=&to=&filter=`.
pub async fn timeseries(State(state): State<AppState>, q: Q) -> Result<Response, ApiError> {
    let p = Params::parse(q, &["from", "to", "filter", "metric", "interval"])?;
    let level = match p.one("interval")?.unwrap_or("hour") {
        "minute" => 0,
        "hour" => 1,
        "day" => 2,
        _ => {
            return Err(ApiError::bad_request(
                "interval must be minute, hour or day",
                "interval",
            ))
        }
    };
    let metrics: Vec<String> = p
        .one("metric")?
        .unwrap_or("views")
        .split(',')
        .map(str::to_owned)
        .collect();
    if let Some(bad) = metrics.iter().find(|m| !METRIC_NAMES.contains(&m.as_str())) {
        return Err(ApiError::bad_request(
            format!(
                "unknown metric {bad:?} (known: {})",
                METRIC_NAMES.join(", ")
            ),
            "metric",
        ));
    }
    let (from_ms, to_ms) = p.range(crate::now_ms(), DEFAULT_SPAN_MS)?;
    let query = SeriesQuery {
        from_ms,
        to_ms,
        level,
        filters: p.filters()?,
        metrics,
    };
    let store = state.store.clone();
    let max = state.max_scan_views;
    let answer =
        tokio::task::spawn_blocking(move || query::timeseries(&store, &query, max)).await??;
    Ok(Json(answer).into_response())
}

/// `GET /v1/summary`: exact KPIs over every stored view (nearest-rank
/// percentiles), the keys of the first release. `/v1/kpis` is the rollup-backed
/// query for ranges, filters and groups.
pub async fn summary(State(state): State<AppState>) -> Result<Json<Summary>, ApiError> {
    let store = state.store.clone();
    let summary = tokio::task::spawn_blocking(move || {
        let mut metrics = Vec::new();
        store.for_each_view(|r| metrics.push(r.beacon.metrics.clone()))?;
        Ok::<_, StoreError>(summary::summarize(&metrics))
    })
    .await??;
    Ok(Json(summary))
}
