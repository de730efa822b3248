//! The HTTP surface: the shared state, the router, and the ingest handler.
//!
//! Handlers stay thin: ingest decodes and validates with [`crate::ingest`], then
//! hands the batch to the group-commit writer ([`crate::writer`]) and answers
//! once it is committed; reads run their blocking redb work on `spawn_blocking`
//! ([`crate::api`], [`crate::videos`], [`crate::export`], [`crate::ops`]).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::ApiError;
use crate::geo::Geo;
use crate::ingest::{self, Limits};
use crate::live::Live;
use crate::media::{self, MediaDir};
use crate::metrics::HttpStats;
use crate::store::{Received, Store};
use crate::writer::Writer;
use crate::{api, export, openapi, ops, videos};

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database (reads).
    pub store: Store,
    /// The single writer (all writes).
    pub writer: Writer,
    /// Validation limits.
    pub limits: Limits,
    /// Live view.
    pub live: Live,
    /// Optional GeoIP database.
    pub geo: Geo,
    /// Most views a query may scan when rollups cannot answer it.
    pub max_scan_views: usize,
    /// Request counters for `/metrics`.
    pub http: Arc<HttpStats>,
    /// Operator endpoint settings.
    pub admin: crate::ops::Admin,
    /// The day's salt for cookieless viewer ids.
    pub salt: Arc<crate::cookieless::DailySalt>,
    /// Accepted property keys and their origins.
    pub access: Arc<crate::access::Access>,
    /// Ingest rate limits.
    pub rate: Arc<crate::ratelimit::RateLimits>,
}

/// Every API route as `(method, path)`, for the OpenAPI document and its test.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/beacons"),
    ("get", "/v1/views"),
    ("get", "/v1/views/{id}"),
    ("get", "/v1/summary"),
    ("get", "/v1/kpis"),
    ("get", "/v1/timeseries"),
    ("get", "/v1/videos"),
    ("get", "/v1/videos/{id}/retention"),
    ("get", "/v1/live"),
    ("get", "/v1/export"),
    ("delete", "/v1/viewers/{id}"),
    ("post", "/v1/backup"),
    ("get", "/v1/openapi.json"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/v1/plugin.js"),
    ("get", "/v1/errors"),
];

/// Builds the whole router for a configuration and its running parts.
pub fn router(config: &Config, state: AppState) -> Router {
    // Beacons have their own CORS: origins per property (crate::access).
    let beacons = Router::new()
        .route(
            "/v1/beacons",
            post(post_beacons).layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .layer(state.access.cors_layer());
    // Everything that reads the data or acts on it needs the operator (crate::auth).
    let operator = crate::auth::Operator::new(config.admin_token.clone()).with_guesses(
        crate::guesses::Guesses::new(config.max_token_failures, config.rate_limit_loopback),
    );
    let protected = Router::new()
        .route("/v1/views", get(api::list_views))
        .route("/v1/views/{id}", get(api::get_view))
        .route("/v1/summary", get(api::summary))
        .route("/v1/kpis", get(api::kpis))
        .route("/v1/timeseries", get(api::timeseries))
        .route("/v1/videos", get(videos::list))
        .route("/v1/videos/{id}/retention", get(videos::retention))
        .route("/v1/errors", get(crate::playback_errors::list))
        .route("/v1/export", get(export::export))
        .route("/v1/viewers/{id}", delete(ops::erase_viewer))
        .route("/v1/backup", post(ops::backup))
        .route("/metrics", get(crate::metrics::render))
        .with_state(state.clone())
        .route(
            "/v1/live",
            get(crate::live::sse).with_state(state.live.clone()),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            operator.clone(),
            crate::auth::require_operator,
        ));
    let api = Router::new()
        .merge(protected)
        .route("/v1/openapi.json", get(openapi::document))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE]),
        );

    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/plugin.js", get(loader_js))
        .merge(beacons)
        .merge(api)
        .merge(crate::dashboard::router(operator));
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
        app = app.merge(crate::dashboard::demo_router(dir));
    }
    app.layer(TraceLayer::new_for_http())
}

/// 405 as JSON naming the method (axum's default has an empty body).
async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed here"),
        Some("method".to_owned()),
    )
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
struct IngestReply {
    accepted: usize,
    stale: usize,
}

async fn post_beacons(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    state.http.ingest_requests.fetch_add(1, Ordering::Relaxed);
    if let Err(limited) = state.rate.check_ip(peer.ip()) {
        state.http.ingest_rejected.fetch_add(1, Ordering::Relaxed);
        return limited.into_response();
    }
    match ingest_one(&state, peer, &headers, body).await {
        Ok(reply) => reply.into_response(),
        Err(Refused::Limited(limited)) => {
            state.http.ingest_rejected.fetch_add(1, Ordering::Relaxed);
            limited.into_response()
        }
        Err(Refused::Error(err)) => {
            let counter = if err.status.is_client_error() {
                &state.http.ingest_rejected
            } else {
                &state.http.ingest_failed
            };
            counter.fetch_add(1, Ordering::Relaxed);
            err.into_response()
        }
    }
}

/// Why an ingest request was not stored.
enum Refused {
    Error(ApiError),
    Limited(crate::ratelimit::Limited),
}

impl<E: Into<ApiError>> From<E> for Refused {
    fn from(err: E) -> Self {
        Refused::Error(err.into())
    }
}

async fn ingest_one(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReply>, Refused> {
    ingest::check_content_type(headers)?;
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
    let mut batch = ingest::decode_with(&body, state.limits.unknown_fields)?;
    ingest::validate(&batch, &state.limits)?;
    state
        .access
        .check(&batch.property, headers.get(header::ORIGIN))?;
    state
        .rate
        .check_property(
            peer.ip(),
            &batch.property,
            batch.beacons.len() + batch.d.len(),
        )
        .map_err(Refused::Limited)?;
    let mut stale = 0;
    if !batch.d.is_empty() {
        let (store, limits) = (state.store.clone(), state.limits);
        let resolved = tokio::task::spawn_blocking(move || {
            crate::deltas::resolve(&store, &mut batch, &limits).map(|stale| (batch, stale))
        })
        .await
        .map_err(ApiError::internal)??;
        (batch, stale) = resolved;
        if batch.beacons.is_empty() {
            return Ok(Json(IngestReply { accepted: 0, stale }));
        }
    }
    let received = Received {
        user_agent: headers.get(header::USER_AGENT).map(|v| {
            truncate(
                &String::from_utf8_lossy(v.as_bytes()),
                state.limits.max_string_len,
            )
        }),
        country: state.geo.country(peer.ip()),
        now_ms: crate::now_ms(),
    };
    if batch.cookieless {
        let ua = received.user_agent.as_deref().unwrap_or("");
        batch.viewer_id = state
            .salt
            .viewer_id(received.now_ms, &batch.property, peer.ip(), ua);
    }
    let applied = state.writer.ingest(batch, received).await?;
    Ok(Json(IngestReply {
        accepted: applied.accepted,
        stale: applied.stale + stale,
    }))
}

/// The drop-in script: `<script src=".../v1/plugin.js" data-property="KEY" defer>`.
/// It loads the plugin from `/plugin/` of this collector (`--plugin-dir`).
async fn loader_js() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        vidpulse_plugin::LOADER_JS,
    )
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
