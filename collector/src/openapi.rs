//! `GET /v1/openapi.json`: a hand-written OpenAPI 3.1 description of the API.
//!
//! Hand-written (no macro crate) to keep handlers plain; a test checks that
//! every route of [`crate::routes::API_ROUTES`] is described here and that every
//! described route answers.

use axum::Json;
use serde_json::{json, Map, Value};

use crate::dims::Dim;
use crate::kpis::METRIC_NAMES;

/// `(method, path, summary, query parameters as (name, description))`.
pub type Operation = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Every route.
pub const OPERATIONS: &[Operation] = &[
    (
        "post",
        "/v1/beacons",
        "Ingest a batch of cumulative view snapshots (text/plain JSON): whole beacons, and deltas (d) resolved against the stored beacon of their view. 200 only after commit; 400 names the field; 409 when a delta's base is not the stored beacon (send it whole).",
        &[],
    ),
    (
        "get",
        "/v1/views",
        "Views, newest first; next page cursor in the x-next-cursor header.",
        &[
            ("limit", "1..1000, default 50"),
            ("cursor", "from x-next-cursor"),
            ("from", "started at or after, Unix ms"),
            ("to", "started before, Unix ms"),
            ("filter", "dim:value, repeatable"),
        ],
    ),
    (
        "get",
        "/v1/views/{id}",
        "One view: record, timeline events, dimension values.",
        &[],
    ),
    (
        "get",
        "/v1/summary",
        "Exact KPIs over all stored views (first-release keys).",
        &[],
    ),
    (
        "get",
        "/v1/kpis",
        "KPIs over a range, filtered and grouped.",
        &[
            ("from", "Unix ms"),
            ("to", "Unix ms"),
            ("filter", "dim:value, repeatable"),
            ("group_by", "a dimension"),
        ],
    ),
    (
        "get",
        "/v1/timeseries",
        "KPIs per minute, hour or day.",
        &[
            ("metric", "comma-separated metric names"),
            ("interval", "minute | hour | day"),
            ("from", "Unix ms"),
            ("to", "Unix ms"),
            ("filter", "dim:value, repeatable"),
        ],
    ),
    (
        "get",
        "/v1/videos",
        "KPIs per video id.",
        &[
            ("from", "Unix ms"),
            ("to", "Unix ms"),
            ("limit", "1..10000"),
            ("filter", "dim:value, repeatable"),
        ],
    ),
    (
        "get",
        "/v1/videos/{id}/retention",
        "Retention curve and heatmap from coverage bitmaps, of the views started in the UTC days from/to touch (all time without from/to).",
        &[("from", "Unix ms"), ("to", "Unix ms")],
    ),
    (
        "get",
        "/v1/live",
        "Server-sent events every second: concurrent viewers, last-minute KPIs.",
        &[],
    ),
    (
        "get",
        "/v1/export",
        "All selected views streamed as NDJSON or CSV.",
        &[
            ("format", "ndjson | csv"),
            ("from", "Unix ms"),
            ("to", "Unix ms"),
            ("filter", "dim:value, repeatable"),
        ],
    ),
    (
        "delete",
        "/v1/viewers/{id}",
        "Erase a viewer's views (operator).",
        &[],
    ),
    (
        "post",
        "/v1/backup",
        "Write a consistent copy of the database to the backup directory (operator).",
        &[],
    ),
    ("get", "/v1/openapi.json", "This document.", &[]),
    ("get", "/metrics", "Prometheus text format.", &[]),
    ("get", "/healthz", "Liveness.", &[]),
    (
        "get",
        "/v1/plugin.js",
        "Drop-in script: monitors every video[data-vidpulse] of the page that includes it with data-property=KEY.",
        &[],
    ),
    (
        "get",
        "/v1/errors",
        "Playback errors of the views started in the range, grouped by code, message and fatality: occurrences, affected views, a few view ids.",
        &[
            ("from", "Unix ms"),
            ("to", "Unix ms"),
            ("filter", "dim:value, repeatable"),
        ],
    ),
];

/// The document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, params) in OPERATIONS {
        let mut parameters: Vec<Value> = params
            .iter()
            .map(|(name, desc)| json!({"name": name, "in": "query", "description": desc, "schema": {"type": "string"}}))
            .collect();
        if path.contains("{id}") {
            parameters.push(
                json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
        let op = json!({
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK"},
                "400": {"description": "bad parameter: {\"error\", \"field\"} names it",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        let entry = paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[*method] = op;
    }
    let dims: Vec<&str> = Dim::EVERY.iter().map(|d| d.name()).collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "vidpulse collector", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}}},
            "Dimension": {"type": "string", "enum": dims},
            "Metric": {"type": "string", "enum": METRIC_NAMES},
        }, "securitySchemes": {
            "operator": {"type": "http", "scheme": "bearer",
                         "description": "The admin token (--admin-token). Every route but /v1/beacons, /v1/plugin.js, /v1/openapi.json and /healthz needs it, or the dashboard's session cookie; with no token configured they answer loopback clients only."}
        }}
    })
}

/// `GET /v1/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_described() {
        let doc = super::build();
        for (method, path) in crate::routes::API_ROUTES {
            assert!(doc["paths"][*path][*method].is_object(), "{method} {path}");
        }
        let described: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(described, crate::routes::API_ROUTES.len());
    }
}
