//! Who may send beacons: the configured property keys and, per property, the
//! page origins allowed to send for it (CORS for `POST /v1/beacons`).
//!
//! A collector on the open internet should only store data for the sites it
//! serves. With no `--property` configured it runs in *open mode*: every
//! well-formed key is accepted (the demo and the tests rely on it) and a warning
//! is logged at start. Origins only constrain browsers: a request without an
//! `Origin` header (a server, `curl`) is judged by its property key alone.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderValue, Method, StatusCode};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;

/// The origins allowed to send for one property.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origins {
    /// Any page (the key alone decides).
    Any,
    /// Only these, normalised (`https://a.example:8443`, lowercase, no `/`).
    List(Vec<String>),
}

/// Accepted property keys and their origins.
#[derive(Debug, Clone, Default)]
pub struct Access {
    properties: HashMap<String, Origins>,
}

impl Access {
    /// Parses `--property` entries: `KEY` or `KEY=ORIGIN,ORIGIN` (`*`: any).
    pub fn parse(entries: &[String]) -> Result<Access, String> {
        let mut properties = HashMap::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (key, origins) = match entry.split_once('=') {
                None => (entry, Origins::Any),
                Some((key, list)) => {
                    let mut origins = Vec::new();
                    let mut any = false;
                    for o in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                        if o == "*" {
                            any = true;
                        } else {
                            origins.push(normalise_configured(o).ok_or_else(|| {
                                format!("--property {key}: {o:?} is not an origin like https://site.example")
                            })?);
                        }
                    }
                    let origins = if any || origins.is_empty() {
                        Origins::Any
                    } else {
                        Origins::List(origins)
                    };
                    (key.trim(), origins)
                }
            };
            let well_formed = !key.is_empty()
                && key.len() <= crate::ingest::MAX_PROPERTY_LEN
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !well_formed {
                return Err(format!("--property: {key:?} is not a valid property key"));
            }
            properties.insert(key.to_owned(), origins);
        }
        Ok(Access { properties })
    }

    /// No keys configured: every well-formed key is accepted.
    pub fn is_open(&self) -> bool {
        self.properties.is_empty()
    }

    /// Number of configured keys.
    pub fn len(&self) -> usize {
        self.properties.len()
    }

    /// Whether no key is configured (same as [`Access::is_open`]).
    pub fn is_empty(&self) -> bool {
        self.properties.is_empty()
    }

    /// May a request with this `Origin` header send for `property`? 403 naming
    /// `property` (unknown key) or `origin` (not allowed for it) if not.
    pub fn check(&self, property: &str, origin: Option<&HeaderValue>) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        let Some(origins) = self.properties.get(property) else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "unknown property key",
                Some("property".to_owned()),
            ));
        };
        match (origins, origin) {
            (Origins::Any, _) | (Origins::List(_), None) => Ok(()),
            (Origins::List(list), Some(o)) => {
                if origin_in(list, o) {
                    Ok(())
                } else {
                    Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "this page origin may not send for this property",
                        Some("origin".to_owned()),
                    ))
                }
            }
        }
    }

    /// For CORS (the property is in the body, so a preflight cannot know it):
    /// is `origin` allowed for at least one property?
    pub fn any_property_allows(&self, origin: &HeaderValue) -> bool {
        self.is_open()
            || self.properties.values().any(|o| match o {
                Origins::Any => true,
                Origins::List(list) => origin_in(list, origin),
            })
    }

    /// The CORS layer of `POST /v1/beacons`: `*` in open mode or when some
    /// property takes any origin; else the origin is echoed only when some
    /// property allows it (the handler then checks it against the batch's key).
    pub fn cors_layer(self: &Arc<Self>) -> CorsLayer {
        let open = self.properties.values().any(|o| matches!(o, Origins::Any)) || self.is_open();
        let allow = if open {
            AllowOrigin::any()
        } else {
            let access = Arc::clone(self);
            AllowOrigin::predicate(move |origin, _| access.any_property_allows(origin))
        };
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::POST])
            .allow_headers([header::CONTENT_TYPE])
    }
}

fn origin_in(list: &[String], origin: &HeaderValue) -> bool {
    let Ok(o) = origin.to_str() else {
        return false;
    };
    let o = o.trim_end_matches('/');
    list.iter().any(|allowed| allowed.eq_ignore_ascii_case(o))
}

/// `https://Site.example/` → `https://site.example`; `None` if not an origin.
fn normalise_configured(o: &str) -> Option<String> {
    let o = o.trim_end_matches('/').to_ascii_lowercase();
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))?;
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    ok.then_some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn open_mode_accepts_everything() {
        let a = Access::parse(&[]).unwrap();
        assert!(a.is_open());
        assert!(a.check("anything", Some(&hv("https://x.example"))).is_ok());
    }

    #[test]
    fn keys_and_origins() {
        let a = Access::parse(&[
            "shop=https://Shop.example/,http://localhost:8080".into(),
            "blog".into(),
        ])
        .unwrap();
        assert_eq!(a.len(), 2);
        let err = a.check("other", None).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("property"));
        assert!(a.check("shop", Some(&hv("https://shop.example"))).is_ok());
        assert!(a.check("shop", Some(&hv("http://localhost:8080"))).is_ok());
        assert!(a.check("shop", None).is_ok());
        let err = a
            .check("shop", Some(&hv("https://evil.example")))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("origin"));
        assert!(a.check("blog", Some(&hv("https://evil.example"))).is_ok());
        assert!(a.any_property_allows(&hv("https://evil.example")));
        let strict = Access::parse(&["shop=https://shop.example".into()]).unwrap();
        assert!(!strict.any_property_allows(&hv("https://evil.example")));
        assert!(strict.any_property_allows(&hv("https://shop.example")));
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(Access::parse(&["has space".into()]).is_err());
        assert!(Access::parse(&["k=ftp://x".into()]).is_err());
        assert!(Access::parse(&["k=https://x/path".into()]).is_err());
        assert!(Access::parse(&["=https://x".into()]).is_err());
    }
}
