//! Throttled media: `GET /media/{*path}` serves test clips with HTTP Range support
//! and optional pacing, so a headless browser test can provoke real stalls.
//!
//! Query parameters: `rate` (bytes/s; absent = full speed), `burst` (bytes sent at
//! full speed before pacing starts, default [`DEFAULT_BURST`]) and `delay_ms` (wait
//! before answering, default 0). Every response (Chromium sends several range
//! requests per video) is throttled on its own.

use std::ops::RangeInclusive;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, SeekFrom};

use crate::error::ApiError;

/// Bytes sent at full speed before pacing starts, unless `burst` says otherwise.
pub const DEFAULT_BURST: u64 = 200_000;
/// Longest accepted `delay_ms`.
pub const MAX_DELAY_MS: u64 = 60_000;
/// Pacing granularity: a chunk of `rate / TICKS_PER_SECOND` bytes per tick.
const TICKS_PER_SECOND: u64 = 10;
/// Read size for unthrottled parts of the body.
const FULL_SPEED_CHUNK: u64 = 64 * 1024;

/// Throttling options from the query string.
#[derive(Deserialize, Debug, Default, Clone, Copy)]
pub struct Throttle {
    /// Pace the body to this many bytes per second.
    pub rate: Option<u64>,
    /// Bytes sent at full speed first.
    pub burst: Option<u64>,
    /// Wait this long before answering.
    pub delay_ms: Option<u64>,
}

/// The media directory, as router state.
#[derive(Clone)]
pub struct MediaDir(pub PathBuf);

/// Handler for `GET /media/{*path}`.
pub async fn serve(
    State(MediaDir(root)): State<MediaDir>,
    UrlPath(path): UrlPath<String>,
    throttle: Result<Query<Throttle>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(throttle) =
        throttle.map_err(|rej| ApiError::new(StatusCode::BAD_REQUEST, rej.body_text(), None))?;
    if throttle.rate == Some(0) {
        return Err(ApiError::bad_request("rate must be positive", "rate"));
    }
    let delay = throttle.delay_ms.unwrap_or(0);
    if delay > MAX_DELAY_MS {
        return Err(ApiError::bad_request(
            format!("delay_ms is at most {MAX_DELAY_MS}"),
            "delay_ms",
        ));
    }
    let file_path = resolve(&root, &path)?;
    let mut file = File::open(&file_path)
        .await
        .map_err(|_| ApiError::not_found("no such media file"))?;
    let meta = file.metadata().await.map_err(ApiError::internal)?;
    if !meta.is_file() {
        return Err(ApiError::not_found("no such media file"));
    }
    let size = meta.len();
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) => match requested_range(value, size) {
            RangeRequest::Satisfiable(r) => Some(r),
            RangeRequest::Ignore => None,
            RangeRequest::Unsatisfiable => return Ok(unsatisfiable(size)),
        },
        None => None,
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    let (status, start, len) = match &range {
        Some(r) => (
            StatusCode::PARTIAL_CONTENT,
            *r.start(),
            r.end() - r.start() + 1,
        ),
        None => (StatusCode::OK, 0, size),
    };
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(ApiError::internal)?;
    let body = Body::from_stream(paced_body(file, len, throttle));

    let mime = mime_guess::from_path(&file_path).first_or_octet_stream();
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(r) = range {
        let v = format!("bytes {}-{}/{size}", r.start(), r.end());
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&v).expect("ascii"),
        );
    }
    Ok(response)
}

/// Joins a URL path to the media root, refusing anything but plain names
/// (no `..`, no absolute paths, no hidden files).
fn resolve(root: &Path, path: &str) -> Result<PathBuf, ApiError> {
    let rel = Path::new(path);
    let plain = !path.is_empty()
        && !path.contains('\\')
        && rel.components().all(|c| match c {
            Component::Normal(name) => !name.to_string_lossy().starts_with('.'),
            _ => false,
        });
    if !plain {
        return Err(ApiError::bad_request("invalid media path", "path"));
    }
    Ok(root.join(rel))
}

enum RangeRequest {
    Satisfiable(RangeInclusive<u64>),
    /// Malformed or multi-range: answer the whole file (RFC 9110 allows ignoring).
    Ignore,
    Unsatisfiable,
}

fn requested_range(value: &str, size: u64) -> RangeRequest {
    let Ok(parsed) = http_range_header::parse_range_header(value) else {
        return RangeRequest::Ignore;
    };
    if size == 0 {
        return RangeRequest::Unsatisfiable;
    }
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => {
            RangeRequest::Satisfiable(ranges.into_iter().next().expect("one range"))
        }
        Ok(_) => RangeRequest::Ignore,
        Err(_) => RangeRequest::Unsatisfiable,
    }
}

fn unsatisfiable(size: u64) -> Response {
    let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    let v = format!("bytes */{size}");
    response.headers_mut().insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&v).expect("ascii"),
    );
    response
}

struct Pacer {
    file: File,
    remaining: u64,
    sent: u64,
    burst: u64,
    rate: Option<u64>,
}

/// The body as a stream: the first `burst` bytes at once, then (with `rate`)
/// `rate / 10` bytes every 100 ms.
fn paced_body(
    file: File,
    len: u64,
    throttle: Throttle,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    let pacer = Pacer {
        file,
        remaining: len,
        sent: 0,
        burst: throttle.burst.unwrap_or(DEFAULT_BURST),
        rate: throttle.rate,
    };
    futures_util::stream::try_unfold(pacer, |mut p| async move {
        if p.remaining == 0 {
            return Ok(None);
        }
        let want = match p.rate {
            Some(rate) if p.sent >= p.burst => {
                let chunk = (rate / TICKS_PER_SECOND).max(1);
                let pause = Duration::from_secs_f64(chunk as f64 / rate as f64);
                tokio::time::sleep(pause).await;
                chunk
            }
            Some(_) => (p.burst - p.sent).min(FULL_SPEED_CHUNK),
            None => FULL_SPEED_CHUNK,
        };
        let want = want.min(p.remaining) as usize;
        let mut buf = vec![0u8; want];
        p.file.read_exact(&mut buf).await?;
        p.remaining -= want as u64;
        p.sent += want as u64;
        Ok(Some((Bytes::from(buf), p)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused() {
        let root = Path::new("/srv/media");
        assert!(resolve(root, "clip.webm").is_ok());
        assert!(resolve(root, "sub/clip.webm").is_ok());
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            ".hidden",
            "",
            "a\\b",
        ] {
            assert!(resolve(root, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert!(
            matches!(requested_range("bytes=0-9", 100), RangeRequest::Satisfiable(r) if r == (0..=9))
        );
        assert!(
            matches!(requested_range("bytes=90-", 100), RangeRequest::Satisfiable(r) if r == (90..=99))
        );
        assert!(
            matches!(requested_range("bytes=90-200", 100), RangeRequest::Satisfiable(r) if r == (90..=99))
        );
        assert!(matches!(
            requested_range("bytes=100-", 100),
            RangeRequest::Unsatisfiable
        ));
        assert!(matches!(
            requested_range("lines=1-2", 100),
            RangeRequest::Ignore
        ));
    }
}
