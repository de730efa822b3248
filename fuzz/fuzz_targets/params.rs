//! Fuzzes the strict query-string parser of the read API
//! (`collector/src/params.rs`): any query string must give parameters or a 400
//! naming one, never a panic, and accepted ranges must be ordered.
#![no_main]

use axum::extract::Query;
use axum::http::Uri;
use libfuzzer_sys::fuzz_target;
use vidpulse_collector::params::{Params, DEFAULT_SPAN_MS};

const ALLOWED: &[&str] = &[
    "from", "to", "filter", "group_by", "limit", "cursor", "metric", "interval", "format",
];

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = format!("/v1/kpis?{query}").parse::<Uri>() else {
        return;
    };
    let Ok(p) = Params::parse(Query::try_from_uri(&uri), ALLOWED) else {
        return;
    };
    let _ = p.one("format");
    let _ = p.int("limit", 1..=1000);
    if let Ok((from, to)) = p.range(1_700_000_000_000, DEFAULT_SPAN_MS) {
        assert!(from < to, "range out of order: {from} >= {to}");
    }
    if let Ok(filters) = p.filters() {
        assert!(filters.len() <= vidpulse_collector::params::MAX_FILTERS);
    }
    let _ = p.dim("group_by");
});
