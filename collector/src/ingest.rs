//! Decoding and validation of a beacon batch, before anything touches the store.
//!
//! The whole batch is checked up front so that a bad value rejects the request and
//! changes nothing (DESIGN.md, principle 6). Only checks that honest data from the
//! plugin always passes belong here; each failure names the offending field with a
//! path such as `beacons[0].view_id`.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use vidpulse_plugin::wire::{Batch, Beacon, NotableEvent, ViewMetrics, WIRE_VERSION};

use crate::config::UnknownFields;
use crate::error::ApiError;

/// Longest accepted duration or offset in a beacon: 7 days, in milliseconds.
pub const MAX_DURATION_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Largest accepted media position or content duration: 100 years, in ms (a
/// live stream's playhead can run for weeks; this only stops absurd values).
pub const MAX_POSITION_MS: u64 = 100 * 365 * 24 * 60 * 60 * 1000;
/// Latest accepted `started_at_ms`: 2200-01-01 (keeps time arithmetic far from
/// overflow; a clock that far off is not data).
pub const MAX_STARTED_AT_MS: u64 = 7_258_118_400_000;
/// Most coverage buckets (the plugin never uses more than 100).
pub const MAX_COVERAGE_BUCKETS: u16 = 100;
/// Largest accepted per-mille ratio (scaling): a 1000× size difference.
pub const MAX_PERMILLE: u32 = 1_000_000;
/// Longest property key, in characters.
pub const MAX_PROPERTY_LEN: usize = 64;
/// Longest viewer or view id, in characters.
pub const MAX_ID_LEN: usize = 64;

/// The configurable limits validation applies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most beacons in one batch.
    pub max_beacons_per_batch: usize,
    /// Longest free-form string, in characters.
    pub max_string_len: usize,
    /// Most timeline events in one beacon.
    pub max_events_per_beacon: usize,
    /// Unknown JSON fields: skipped or refused.
    pub unknown_fields: UnknownFields,
}

/// A validation failure: a message and the path of the refused value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong.
    pub message: String,
    /// Where (`beacons[2].metrics.rebuffer_max_ms`).
    pub field: String,
}

impl From<Invalid> for ApiError {
    fn from(inv: Invalid) -> Self {
        let field = (!inv.field.is_empty()).then_some(inv.field);
        ApiError::new(StatusCode::BAD_REQUEST, inv.message, field)
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        message: message.into(),
        field: field.into(),
    }
}

/// Accepts `text/plain` (what `sendBeacon` and the plugin send, no CORS
/// preflight), `application/json`, or no content type; anything else is 415.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("text/plain") | Some("application/json") => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type must be text/plain or application/json",
            Some("content-type".to_owned()),
        )),
    }
}

/// Parses a JSON batch; a failure names the path where decoding stopped.
/// Unknown fields are skipped (a newer plugin may send more).
pub fn decode(body: &[u8]) -> Result<Batch, Invalid> {
    decode_with(body, UnknownFields::Ignore)
}

/// [`decode`] with an unknown-fields policy: `Reject` refuses the first field
/// the wire format does not know, naming its path.
pub fn decode_with(body: &[u8], unknown: UnknownFields) -> Result<Batch, Invalid> {
    // Fast path: most bodies are valid, and tracking the path costs about half of
    // decoding (callgrind); the tracked decode below runs only to name the field.
    if unknown == UnknownFields::Ignore {
        if let Ok(batch) = serde_json::from_slice::<Batch>(body) {
            return Ok(batch);
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut first_unknown: Option<String> = None;
    let mut note = |path: serde_ignored::Path<'_>| {
        first_unknown.get_or_insert_with(|| ignored_path(&path));
    };
    let result = match unknown {
        UnknownFields::Ignore => serde_path_to_error::deserialize(&mut de),
        UnknownFields::Reject => {
            serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&mut de, &mut note))
        }
    };
    let batch: Batch = result.map_err(|err| {
        // Segments serde could not name print as `?`; drop them from the end.
        let mut field = err.path().to_string();
        while let Some(rest) = field.strip_suffix(".?").or_else(|| field.strip_suffix('?')) {
            field = rest.to_owned();
        }
        if field == "." {
            field.clear();
        }
        let message = err.inner().to_string();
        // A missing key: name it, not the object that lacks it.
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            field = if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
        }
        if field.is_empty() {
            field = "body".to_owned();
        }
        invalid(field, format!("malformed JSON: {message}"))
    })?;
    de.end()
        .map_err(|err| invalid("body", format!("malformed JSON: {err}")))?;
    if let Some(field) = first_unknown {
        return Err(invalid(field, "unknown field (--unknown-fields reject)"));
    }
    Ok(batch)
}

/// `beacons[0].metrics.foo` from serde_ignored's path.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let p = ignored_path(parent);
            if p.is_empty() {
                key.clone()
            } else {
                format!("{p}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// Checks every value of the batch; the first failure is returned.
pub fn validate(batch: &Batch, limits: &Limits) -> Result<(), Invalid> {
    if batch.v != WIRE_VERSION {
        return Err(invalid(
            "v",
            format!(
                "unsupported wire version {} (expected {WIRE_VERSION})",
                batch.v
            ),
        ));
    }
    check_property(&batch.property)?;
    if batch.cookieless {
        if !batch.viewer_id.is_empty() {
            return Err(invalid(
                "viewer_id",
                "viewer_id must be empty in cookieless mode",
            ));
        }
    } else if !(batch.beacons.is_empty() && batch.viewer_id.is_empty()) {
        // A batch of deltas only may leave the viewer out: each view keeps its own.
        check_id("viewer_id", &batch.viewer_id)?;
    }
    let n = batch.beacons.len() + batch.d.len();
    if n == 0 || n > limits.max_beacons_per_batch {
        return Err(invalid(
            "beacons",
            format!(
                "a batch holds 1 to {} beacons (whole and deltas), got {n}",
                limits.max_beacons_per_batch
            ),
        ));
    }
    for (i, d) in batch.d.iter().enumerate() {
        check_id(&format!("d[{i}].i"), &d.view_id)?;
    }
    for (i, beacon) in batch.beacons.iter().enumerate() {
        validate_beacon(&format!("beacons[{i}]"), beacon, limits)?;
    }
    Ok(())
}

/// One whole beacon (`at` is its path, for the field names).
pub fn validate_beacon(at: &str, b: &Beacon, limits: &Limits) -> Result<(), Invalid> {
    let max = limits.max_string_len;
    check_id(&format!("{at}.view_id"), &b.view_id)?;
    check_len(&format!("{at}.plugin_version"), &b.plugin_version, 0, max)?;
    if b.started_at_ms > MAX_STARTED_AT_MS {
        return Err(invalid(
            format!("{at}.started_at_ms"),
            format!("started_at_ms is after 2200-01-01 ({MAX_STARTED_AT_MS})"),
        ));
    }
    check_duration(&format!("{at}.at_ms"), b.at_ms)?;
    let v = &b.video;
    let c = &b.context;
    let strings = [
        ("video.id", &v.id),
        ("video.title", &v.title),
        ("video.series", &v.series),
        ("video.src", &v.src),
        ("video.cdn", &v.cdn),
        ("context.page_host", &c.page_host),
        ("context.page_path", &c.page_path),
        ("context.player_name", &c.player_name),
        ("context.player_version", &c.player_version),
        ("context.experiment", &c.experiment),
    ];
    for (name, value) in strings {
        if let Some(value) = value {
            check_len(&format!("{at}.{name}"), value, 0, max)?;
        }
    }
    if let Some(d) = v.duration_ms {
        check_position(&format!("{at}.video.duration_ms"), d)?;
    }
    validate_metrics(&format!("{at}.metrics"), &b.metrics, max)?;
    if b.events.len() > limits.max_events_per_beacon {
        return Err(invalid(
            format!("{at}.events"),
            format!(
                "a beacon holds at most {} events, got {}",
                limits.max_events_per_beacon,
                b.events.len()
            ),
        ));
    }
    for (i, event) in b.events.iter().enumerate() {
        validate_event(&format!("{at}.events[{i}]"), event, max)?;
    }
    Ok(())
}

fn validate_metrics(at: &str, m: &ViewMetrics, max: usize) -> Result<(), Invalid> {
    let durations = [
        ("startup_ms", m.startup_ms.unwrap_or(0)),
        ("rebuffer_ms", m.rebuffer_ms),
        ("rebuffer_max_ms", m.rebuffer_max_ms),
        ("watch_ms", m.watch_ms),
        ("playing_ms", m.playing_ms),
        ("seek_ms", m.seek_ms),
        ("seek_max_ms", m.seek_max_ms),
        ("fullscreen_ms", m.fullscreen_ms),
        ("player_startup_ms", m.player_startup_ms.unwrap_or(0)),
        ("page_load_ms", m.page_load_ms.unwrap_or(0)),
        ("aggregate_startup_ms", m.aggregate_startup_ms.unwrap_or(0)),
    ];
    for (name, value) in durations {
        check_duration(&format!("{at}.{name}"), value)?;
    }
    check_position(&format!("{at}.max_position_ms"), m.max_position_ms)?;
    if m.rebuffer_max_ms > m.rebuffer_ms {
        return Err(invalid(
            format!("{at}.rebuffer_max_ms"),
            "rebuffer_max_ms exceeds rebuffer_ms",
        ));
    }
    if m.seek_max_ms > m.seek_ms {
        return Err(invalid(
            format!("{at}.seek_max_ms"),
            "seek_max_ms exceeds seek_ms",
        ));
    }
    let permilles = [
        ("upscale_permille", m.upscale_permille),
        ("downscale_permille", m.downscale_permille),
        ("max_upscale_permille", m.max_upscale_permille),
    ];
    for (name, value) in permilles {
        if value > MAX_PERMILLE {
            return Err(invalid(
                format!("{at}.{name}"),
                format!("{name} exceeds {MAX_PERMILLE}"),
            ));
        }
    }
    if m.coverage_buckets > MAX_COVERAGE_BUCKETS {
        return Err(invalid(
            format!("{at}.coverage_buckets"),
            format!("coverage_buckets exceeds {MAX_COVERAGE_BUCKETS}"),
        ));
    }
    if let Some(hex) = &m.coverage {
        let digits = usize::from(m.coverage_buckets.div_ceil(4)).max(1);
        if hex.len() > digits || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid(
                format!("{at}.coverage"),
                format!("coverage must be at most {digits} hex digits"),
            ));
        }
    }
    if let Some(error) = &m.error {
        check_len(&format!("{at}.error.message"), &error.message, 0, max)?;
    }
    Ok(())
}

fn validate_event(at: &str, e: &NotableEvent, max: usize) -> Result<(), Invalid> {
    let spans: &[(&str, u64)] = match e {
        NotableEvent::Stall { at_ms, dur_ms } => &[("at_ms", *at_ms), ("dur_ms", *dur_ms)],
        NotableEvent::Seek {
            at_ms,
            dur_ms,
            from_ms,
            to_ms,
        } => {
            check_position(&format!("{at}.from_ms"), *from_ms)?;
            check_position(&format!("{at}.to_ms"), *to_ms)?;
            &[("at_ms", *at_ms), ("dur_ms", *dur_ms)]
        }
        NotableEvent::Rendition { at_ms, .. } => &[("at_ms", *at_ms)],
        NotableEvent::Error { at_ms, message, .. } => {
            check_len(&format!("{at}.message"), message, 0, max)?;
            &[("at_ms", *at_ms)]
        }
    };
    for (name, value) in spans {
        check_duration(&format!("{at}.{name}"), *value)?;
    }
    Ok(())
}

fn check_property(property: &str) -> Result<(), Invalid> {
    check_len("property", property, 1, MAX_PROPERTY_LEN)?;
    let ok = property
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(invalid(
            "property",
            "property may only hold A-Z, a-z, 0-9, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// An id: 1 to [`MAX_ID_LEN`] characters, no control characters.
fn check_id(field: &str, value: &str) -> Result<(), Invalid> {
    check_len(field, value, 1, MAX_ID_LEN)?;
    if value.chars().any(char::is_control) {
        return Err(invalid(field, format!("{field} holds a control character")));
    }
    Ok(())
}

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let len = value.chars().count();
    if len < min {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    if len > max {
        return Err(invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

fn check_position(field: &str, ms: u64) -> Result<(), Invalid> {
    if ms > MAX_POSITION_MS {
        return Err(invalid(
            field,
            format!("{field} exceeds 100 years ({MAX_POSITION_MS} ms)"),
        ));
    }
    Ok(())
}

fn check_duration(field: &str, ms: u64) -> Result<(), Invalid> {
    if ms > MAX_DURATION_MS {
        return Err(invalid(
            field,
            format!("{field} exceeds 7 days ({MAX_DURATION_MS} ms)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
