//! `GET /v1/export?from=&to=&format=ndjson|csv&filter=`: every selected view,
//! oldest first, streamed.
//!
//! A blocking task walks the views in one read transaction (a consistent
//! snapshot) and sends chunks through a small bounded channel, so memory stays
//! flat and a slow client slows the scan instead of buffering it.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::dims;
use crate::error::ApiError;
use crate::params::Params;
use crate::routes::AppState;
use crate::store::{ViewRecord, ViewSelection};

/// Columns of the CSV export, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "view_id",
    "property",
    "viewer_id",
    "started_at_ms",
    "video_id",
    "video_title",
    "stream_type",
    "player_name",
    "page_host",
    "browser",
    "os",
    "device_type",
    "country",
    "cdn",
    "seq",
    "startup_ms",
    "watch_ms",
    "playing_ms",
    "rebuffer_count",
    "rebuffer_ms",
    "seek_count",
    "seek_ms",
    "error_code",
    "completed",
    "view_ended",
    "last_received_ms",
];

/// Bytes buffered before a chunk is sent.
const CHUNK_BYTES: usize = 64 * 1024;

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv_row(r: &ViewRecord, out: &mut String) {
    let m = &r.beacon.metrics;
    let d = dims::values(r);
    let dv = |dim: dims::Dim| d[dim.code() as usize].1.as_str();
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let fields: [String; 26] = [
        r.beacon.view_id.clone(),
        r.property.clone(),
        r.viewer_id.clone(),
        r.beacon.started_at_ms.to_string(),
        r.beacon.video.id.clone().unwrap_or_default(),
        r.beacon.video.title.clone().unwrap_or_default(),
        dv(dims::Dim::StreamType).to_owned(),
        dv(dims::Dim::Player).to_owned(),
        dv(dims::Dim::PageHost).to_owned(),
        dv(dims::Dim::Browser).to_owned(),
        dv(dims::Dim::Os).to_owned(),
        dv(dims::Dim::DeviceType).to_owned(),
        dv(dims::Dim::Country).to_owned(),
        dv(dims::Dim::Cdn).to_owned(),
        r.beacon.seq.to_string(),
        opt(m.startup_ms),
        m.watch_ms.to_string(),
        m.playing_ms.to_string(),
        m.rebuffer_count.to_string(),
        m.rebuffer_ms.to_string(),
        m.seek_count.to_string(),
        m.seek_ms.to_string(),
        opt(m.error.as_ref().map(|e| u64::from(e.code))),
        m.completed.to_string(),
        m.view_ended.to_string(),
        r.last_received_ms.to_string(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push('\n');
}

/// `GET /v1/export`.
pub async fn export(
    State(state): State<AppState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = Params::parse(q, &["from", "to", "format", "filter"])?;
    let csv = match p.one("format")?.unwrap_or("ndjson") {
        "ndjson" => false,
        "csv" => true,
        _ => {
            return Err(ApiError::bad_request(
                "format must be ndjson or csv",
                "format",
            ))
        }
    };
    let (from_ms, to_ms) = p.range(crate::now_ms().saturating_add(1), u64::MAX / 4)?;
    let sel = ViewSelection {
        from_ms,
        to_ms: Some(to_ms),
        filters: p.filters()?,
    };
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = String::new();
        if csv {
            buf.push_str(&CSV_COLUMNS.join(","));
            buf.push('\n');
        }
        let mut open = true;
        let result = store.scan_views(&sel, |r| {
            if csv {
                csv_row(&r, &mut buf);
            } else {
                let item = crate::store::ViewListItem::from(r);
                if let Ok(line) = serde_json::to_string(&item) {
                    buf.push_str(&line);
                    buf.push('\n');
                }
            }
            if buf.len() >= CHUNK_BYTES {
                open = tx
                    .blocking_send(Ok(Bytes::from(std::mem::take(&mut buf))))
                    .is_ok();
            }
            open
        });
        let last = match result {
            Ok(()) => Ok(Bytes::from(buf)),
            Err(err) => {
                tracing::error!(%err, "export failed");
                Err(std::io::Error::other(err.to_string()))
            }
        };
        let _ = tx.blocking_send(last);
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let content_type = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}
