//! The HTTP surface: the router, the API handlers and the static directories.
//!
//! Handlers stay thin: decode and validate with [`crate::ingest`], then hand the
//! blocking redb work to `spawn_blocking` ([`crate::store`]), then answer.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::ApiError;
use crate::ingest::{self, Limits};
use crate::media::{self, MediaDir};
use crate::store::{Received, Store, ViewListItem, ViewRecord};
use crate::summary::{self, Summary};

/// Default number of views listed.
pub const DEFAULT_LIST_LIMIT: usize = 50;
/// Most views one listing request may ask for.
pub const MAX_LIST_LIMIT: usize = 1000;

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Validation limits.
    pub limits: Limits,
}

/// Builds the whole router for a configuration and an open store.
pub fn router(config: &Config, store: Store) -> Router {
    let state = AppState {
        store,
        limits: Limits {
            max_beacons_per_batch: config.max_beacons_per_batch,
            max_string_len: config.max_string_len,
        },
    };
    let api = Router::new()
        .route(
            "/v1/beacons",
            post(post_beacons).layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .route("/v1/views", get(list_views))
        .route("/v1/views/{id}", get(get_view))
        .route("/v1/summary", get(get_summary))
        .with_state(state)
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE]),
        );

    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(api);
    if let Some(dir) = &config.media_dir {
        app = app.route(
            "/media/{*path}",
            get(media::serve).with_state(MediaDir(dir.clone())),
        );
    }
    if let Some(dir) = &config.plugin_dir {
        app = app.nest_service("/plugin", ServeDir::new(dir));
    }
    if let Some(dir) = &config.demo_dir {
        app = app.fallback_service(ServeDir::new(dir));
    }
    app.layer(TraceLayer::new_for_http())
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
struct IngestReply {
    accepted: usize,
    stale: usize,
}

async fn post_beacons(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReply>, ApiError> {
    ingest::check_content_type(&headers)?;
    let body = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body exceeds the size limit",
                Some("body".to_owned()),
            )
        } else {
            ApiError::new(rej.status(), rej.body_text(), Some("body".to_owned()))
        }
    })?;
    let batch = ingest::decode(&body)?;
    ingest::validate(&batch, &state.limits)?;
    let received = Received {
        user_agent: headers.get(header::USER_AGENT).map(|v| {
            truncate(
                &String::from_utf8_lossy(v.as_bytes()),
                state.limits.max_string_len,
            )
        }),
        now_ms: now_ms(),
    };
    let store = state.store.clone();
    let applied =
        tokio::task::spawn_blocking(move || store.apply_batch(&batch, &received)).await??;
    Ok(Json(IngestReply {
        accepted: applied.accepted,
        stale: applied.stale,
    }))
}

#[derive(Deserialize)]
struct ListParams {
    limit: Option<String>,
}

async fn list_views(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<ViewListItem>>, ApiError> {
    let Query(params) = params.map_err(|rej| ApiError::bad_request(rej.body_text(), "limit"))?;
    let limit = match params.limit {
        None => DEFAULT_LIST_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    format!("limit must be an integer from 1 to {MAX_LIST_LIMIT}"),
                    "limit",
                ))
            }
        },
    };
    let store = state.store.clone();
    let views = tokio::task::spawn_blocking(move || store.list_views(limit)).await??;
    Ok(Json(views))
}

async fn get_view(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ViewRecord>, ApiError> {
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.get_view(&id)).await??;
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no such view"))
}

async fn get_summary(State(state): State<AppState>) -> Result<Json<Summary>, ApiError> {
    let store = state.store.clone();
    let summary = tokio::task::spawn_blocking(move || {
        let mut metrics = Vec::new();
        store.for_each_view(|r| metrics.push(r.beacon.metrics.clone()))?;
        Ok::<_, crate::store::StoreError>(summary::summarize(&metrics))
    })
    .await??;
    Ok(Json(summary))
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
