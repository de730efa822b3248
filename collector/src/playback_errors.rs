//! `GET /v1/errors`: playback errors grouped by code and message, for the
//! dashboard's Errors page (the rollups count failed views but keep no
//! messages).
//!
//! It scans the views started in the range (bounded by `--max-scan-views`, like
//! the KPI queries that cannot use rollups): a view's fatal error comes from its
//! metrics, non-fatal ones from its stored timeline. Each group counts its
//! occurrences and the distinct views it affected, and lists a few of them.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;
use vidpulse_plugin::wire::NotableEvent;

use crate::error::ApiError;
use crate::params::{Params, DEFAULT_SPAN_MS};
use crate::routes::AppState;
use crate::store::{Store, StoreError, ViewSelection};

/// View ids listed per group.
pub const SAMPLE_VIEWS: usize = 5;

/// One group of errors with the same code, message and fatality.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ErrorGroup {
    /// `MediaError.code` or the integration's code.
    pub code: u16,
    /// The message as reported.
    pub message: String,
    /// Whether it ended playback.
    pub fatal: bool,
    /// Times it happened (a fatal error once per view).
    pub occurrences: u64,
    /// Distinct views it happened in.
    pub views: u64,
    /// Up to [`SAMPLE_VIEWS`] of those views, newest first.
    pub sample_view_ids: Vec<String>,
    /// When the latest affected view started, Unix ms.
    pub last_seen_ms: u64,
}

/// The answer.
#[derive(Serialize, Debug)]
pub struct ErrorsAnswer {
    /// Range start, Unix ms.
    pub from: u64,
    /// Range end, exclusive.
    pub to: u64,
    /// Views scanned.
    pub views_scanned: u64,
    /// Views with at least one error.
    pub views_with_errors: u64,
    /// Groups, most affected views first.
    pub errors: Vec<ErrorGroup>,
}

/// Groups the errors of the selected views.
pub fn group(
    store: &Store,
    sel: &ViewSelection,
    max_scan: usize,
) -> Result<ErrorsAnswer, ApiError> {
    let mut groups: BTreeMap<(u16, String, bool), ErrorGroup> = BTreeMap::new();
    let mut scanned = 0u64;
    let mut with_errors = 0u64;
    let mut failed: Option<StoreError> = None;
    store.scan_views(sel, |r| {
        scanned += 1;
        let mut found: Vec<(u16, String, bool)> = Vec::new();
        if let Some(e) = &r.beacon.metrics.error {
            found.push((e.code, e.message.clone(), true));
        }
        if r.event_count > 0 {
            match store.view_events(&r.beacon.view_id) {
                Ok(events) => found.extend(events.into_iter().filter_map(|e| match e {
                    NotableEvent::Error {
                        code,
                        message,
                        fatal: false,
                        ..
                    } => Some((code, message, false)),
                    _ => None,
                })),
                Err(e) => {
                    failed = Some(e);
                    return false;
                }
            }
        }
        if !found.is_empty() {
            with_errors += 1;
        }
        let mut counted: Vec<(u16, String, bool)> = Vec::new();
        for key in found {
            let g = groups.entry(key.clone()).or_insert_with(|| ErrorGroup {
                code: key.0,
                message: key.1.clone(),
                fatal: key.2,
                occurrences: 0,
                views: 0,
                sample_view_ids: Vec::new(),
                last_seen_ms: 0,
            });
            g.occurrences += 1;
            if !counted.contains(&key) {
                g.views += 1;
                // Oldest first in the scan: keep the newest few.
                g.sample_view_ids.insert(0, r.beacon.view_id.clone());
                g.sample_view_ids.truncate(SAMPLE_VIEWS);
                g.last_seen_ms = g.last_seen_ms.max(r.beacon.started_at_ms);
                counted.push(key);
            }
        }
        scanned as usize <= max_scan
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if scanned as usize > max_scan {
        return Err(ApiError::bad_request(
            format!("the range holds more than {max_scan} views; narrow from/to"),
            "from",
        ));
    }
    let mut errors: Vec<ErrorGroup> = groups.into_values().collect();
    errors.sort_by(|a, b| {
        (b.views, b.occurrences)
            .cmp(&(a.views, a.occurrences))
            .then(a.code.cmp(&b.code))
            .then(a.message.cmp(&b.message))
    });
    Ok(ErrorsAnswer {
        from: sel.from_ms,
        to: sel.to_ms.unwrap_or(u64::MAX),
        views_scanned: scanned,
        views_with_errors: with_errors,
        errors,
    })
}

/// `GET /v1/errors?from=&to=&filter=`.
pub async fn list(
    State(state): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<ErrorsAnswer>, ApiError> {
    let p = Params::parse(q, &["from", "to", "filter"])?;
    let (from_ms, to_ms) = p.range(crate::now_ms(), DEFAULT_SPAN_MS)?;
    let sel = ViewSelection {
        from_ms,
        to_ms: Some(to_ms),
        filters: p.filters()?,
    };
    let store = state.store.clone();
    let max = state.max_scan_views;
    let answer = tokio::task::spawn_blocking(move || group(&store, &sel, max)).await??;
    Ok(Json(answer))
}
