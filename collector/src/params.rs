//! Query-string parameters of the read API, parsed strictly: an unknown, repeated
//! or malformed parameter is a 400 that names it (DESIGN.md, principle 6).

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;

use crate::dims::{self, Dim};
use crate::error::ApiError;

/// Default span of a range with no `from`: the last 24 hours.
pub const DEFAULT_SPAN_MS: u64 = 24 * 3_600_000;
/// Most `filter` parameters in one request.
pub const MAX_FILTERS: usize = 8;

/// The parameters of one request, in order.
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses the query string; `allowed` are the names this endpoint knows.
    pub fn parse(
        q: Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Params, ApiError> {
        let Query(pairs) = q.map_err(|rej| ApiError::bad_request(rej.body_text(), "query"))?;
        for (name, _) in &pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(
                    format!(
                        "unknown parameter (this endpoint takes {})",
                        allowed.join(", ")
                    ),
                    name.clone(),
                ));
            }
        }
        Ok(Params(pairs))
    }

    /// The single value of `name`, if given.
    pub fn one(&self, name: &'static str) -> Result<Option<&str>, ApiError> {
        let mut it = self.0.iter().filter(|(n, _)| n == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(ApiError::bad_request("given more than once", name));
        }
        Ok(first)
    }

    /// An unsigned integer parameter within `range`.
    pub fn int(
        &self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some(s) => match s.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::bad_request(
                    format!(
                        "{name} must be an integer from {} to {}",
                        range.start(),
                        range.end()
                    ),
                    name,
                )),
            },
        }
    }

    /// `from` and `to` (Unix ms; `to` defaults to now, `from` to
    /// `to − default_span`); `from` must be before `to`.
    pub fn range(&self, now_ms: u64, default_span: u64) -> Result<(u64, u64), ApiError> {
        let to = self.int("to", 0..=u64::MAX / 2)?.unwrap_or(now_ms);
        let from = self
            .int("from", 0..=u64::MAX / 2)?
            .unwrap_or(to.saturating_sub(default_span));
        if from >= to {
            return Err(ApiError::bad_request("from must be before to", "from"));
        }
        Ok((from, to))
    }

    /// Every `filter=dim:value`.
    pub fn filters(&self) -> Result<Vec<(Dim, String)>, ApiError> {
        let mut out = Vec::new();
        for (_, v) in self.0.iter().filter(|(n, _)| n == "filter") {
            let Some((d, value)) = v.split_once(':') else {
                return Err(ApiError::bad_request(
                    "filter must be dim:value, e.g. browser:Chrome",
                    "filter",
                ));
            };
            let dim = Dim::parse(d).ok_or_else(|| {
                ApiError::bad_request(
                    format!("unknown dimension {d:?} (known: {})", dims::names()),
                    "filter",
                )
            })?;
            out.push((dim, value.to_owned()));
        }
        if out.len() > MAX_FILTERS {
            return Err(ApiError::bad_request(
                format!("at most {MAX_FILTERS} filters"),
                "filter",
            ));
        }
        Ok(out)
    }

    /// A dimension-name parameter.
    pub fn dim(&self, name: &'static str) -> Result<Option<Dim>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some(d) => Dim::parse(d).map(Some).ok_or_else(|| {
                ApiError::bad_request(
                    format!("unknown dimension {d:?} (known: {})", dims::names()),
                    name,
                )
            }),
        }
    }
}
