//! Decoding and validation of a beacon batch, before anything touches the store.
//!
//! The whole batch is checked up front so that a bad value rejects the request and
//! changes nothing (DESIGN.md, principle 6). Only checks that honest data from the
//! plugin always passes belong here; each failure names the offending field with a
//! path such as `beacons[0].view_id`.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use vidpulse_plugin::wire::{Batch, Beacon, WIRE_VERSION};

use crate::error::ApiError;

/// Longest accepted duration or offset in a beacon: 7 days, in milliseconds.
pub const MAX_DURATION_MS: u64 = 7 * 24 * 60 * 60 * 1000;
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
pub fn decode(body: &[u8]) -> Result<Batch, Invalid> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let batch: Batch = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        // Segments serde could not name print as `?`; drop them from the end.
        let mut field = err.path().to_string();
        while let Some(rest) = field.strip_suffix(".?").or_else(|| field.strip_suffix('?')) {
            field = rest.to_owned();
        }
        if field == "." {
            field.clear();
        }
        invalid(field, format!("malformed JSON: {}", err.inner()))
    })?;
    de.end()
        .map_err(|err| invalid("", format!("malformed JSON: {err}")))?;
    Ok(batch)
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
    } else {
        check_len("viewer_id", &batch.viewer_id, 1, MAX_ID_LEN)?;
    }
    let n = batch.beacons.len();
    if n == 0 || n > limits.max_beacons_per_batch {
        return Err(invalid(
            "beacons",
            format!(
                "a batch holds 1 to {} beacons, got {n}",
                limits.max_beacons_per_batch
            ),
        ));
    }
    for (i, beacon) in batch.beacons.iter().enumerate() {
        validate_beacon(&format!("beacons[{i}]"), beacon, limits)?;
    }
    Ok(())
}

fn validate_beacon(at: &str, b: &Beacon, limits: &Limits) -> Result<(), Invalid> {
    let max = limits.max_string_len;
    check_len(&format!("{at}.view_id"), &b.view_id, 1, MAX_ID_LEN)?;
    check_len(&format!("{at}.plugin_version"), &b.plugin_version, 0, max)?;
    check_duration(&format!("{at}.at_ms"), b.at_ms)?;
    let video = [
        ("id", &b.video.id),
        ("title", &b.video.title),
        ("src", &b.video.src),
    ];
    for (name, value) in video {
        if let Some(value) = value {
            check_len(&format!("{at}.video.{name}"), value, 0, max)?;
        }
    }
    let m = &b.metrics;
    let durations = [
        ("startup_ms", m.startup_ms.unwrap_or(0)),
        ("rebuffer_ms", m.rebuffer_ms),
        ("rebuffer_max_ms", m.rebuffer_max_ms),
        ("watch_ms", m.watch_ms),
        ("playing_ms", m.playing_ms),
    ];
    for (name, value) in durations {
        check_duration(&format!("{at}.metrics.{name}"), value)?;
    }
    if m.rebuffer_max_ms > m.rebuffer_ms {
        return Err(invalid(
            format!("{at}.metrics.rebuffer_max_ms"),
            "rebuffer_max_ms exceeds rebuffer_ms",
        ));
    }
    if let Some(error) = &m.error {
        check_len(
            &format!("{at}.metrics.error.message"),
            &error.message,
            0,
            max,
        )?;
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
mod tests {
    use super::*;
    use vidpulse_plugin::wire::{Reason, VideoMeta, ViewMetrics};

    const LIMITS: Limits = Limits {
        max_beacons_per_batch: 3,
        max_string_len: 10,
    };

    fn batch() -> Batch {
        Batch {
            v: WIRE_VERSION,
            property: "demo.site-1".into(),
            viewer_id: "viewer".into(),
            cookieless: false,
            beacons: vec![Beacon {
                view_id: "view".into(),
                seq: 0,
                reason: Reason::ViewStart,
                started_at_ms: 1_700_000_000_000,
                at_ms: 0,
                plugin_version: "0.1.0".into(),
                video: VideoMeta::default(),
                context: Default::default(),
                metrics: ViewMetrics::default(),
                events: Vec::new(),
            }],
        }
    }

    fn field_of(b: &Batch) -> String {
        validate(b, &LIMITS).unwrap_err().field
    }

    #[test]
    fn valid_batch_passes() {
        validate(&batch(), &LIMITS).unwrap();
    }

    #[test]
    fn each_rule_names_its_field() {
        let mut b = batch();
        b.v = 99;
        assert_eq!(field_of(&b), "v");
        let mut b = batch();
        b.property = "has space".into();
        assert_eq!(field_of(&b), "property");
        let mut b = batch();
        b.viewer_id = "x".repeat(65);
        assert_eq!(field_of(&b), "viewer_id");
        let mut b = batch();
        b.beacons.clear();
        assert_eq!(field_of(&b), "beacons");
        let mut b = batch();
        b.beacons = vec![b.beacons[0].clone(); 4];
        assert_eq!(field_of(&b), "beacons");
        let mut b = batch();
        b.beacons[0].view_id.clear();
        assert_eq!(field_of(&b), "beacons[0].view_id");
        let mut b = batch();
        b.beacons[0].video.title = Some("x".repeat(11));
        assert_eq!(field_of(&b), "beacons[0].video.title");
        let mut b = batch();
        b.beacons[0].at_ms = MAX_DURATION_MS + 1;
        assert_eq!(field_of(&b), "beacons[0].at_ms");
        let mut b = batch();
        b.beacons[0].metrics.rebuffer_max_ms = 5;
        assert_eq!(field_of(&b), "beacons[0].metrics.rebuffer_max_ms");
    }

    #[test]
    fn decode_names_the_path() {
        let err = decode(br#"{"v":1,"property":"p","viewer_id":"v","beacons":[{"view_id":5}]}"#)
            .unwrap_err();
        assert_eq!(err.field, "beacons[0].view_id");
        assert_eq!(decode(b"{not json").unwrap_err().field, "");
        let err =
            decode(br#"{"v":1,"property":"p","viewer_id":"v","beacons":[{"view_id":"#).unwrap_err();
        assert_eq!(err.field, "beacons[0].view_id");
        assert!(decode(b"{} trailing").is_err());
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_ok());
        h.insert(CONTENT_TYPE, "text/plain;charset=UTF-8".parse().unwrap());
        assert!(check_content_type(&h).is_ok());
        h.insert(CONTENT_TYPE, "application/xml".parse().unwrap());
        let err = check_content_type(&h).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
