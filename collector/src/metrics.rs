//! `GET /metrics`: Prometheus text format, written by hand (a few counters and
//! one histogram need no crate).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::routes::AppState;
use crate::writer::COMMIT_BUCKETS_MS;

/// Counters of the HTTP layer.
#[derive(Default)]
pub struct HttpStats {
    /// `POST /v1/beacons` requests.
    pub ingest_requests: AtomicU64,
    /// Of those, refused with a 4xx.
    pub ingest_rejected: AtomicU64,
    /// Of those, failed with a 5xx.
    pub ingest_failed: AtomicU64,
}

/// The metrics page.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let w = &state.writer.stats;
    let h = &state.http;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    };
    counter(
        "vidpulse_ingest_requests_total",
        "POST /v1/beacons requests.",
        get(&h.ingest_requests),
    );
    counter(
        "vidpulse_ingest_rejected_total",
        "Ingest requests refused with a 4xx.",
        get(&h.ingest_rejected),
    );
    counter(
        "vidpulse_ingest_errors_total",
        "Ingest requests failed with a 5xx.",
        get(&h.ingest_failed),
    );
    counter(
        "vidpulse_batches_committed_total",
        "Batches acknowledged after commit.",
        get(&w.batches),
    );
    counter(
        "vidpulse_beacons_accepted_total",
        "Beacons that became their view's latest snapshot.",
        get(&w.accepted),
    );
    counter(
        "vidpulse_beacons_stale_total",
        "Beacons not newer than the stored snapshot.",
        get(&w.stale),
    );
    counter(
        "vidpulse_commits_total",
        "Write transactions committed (group commit).",
        get(&w.commits),
    );
    counter(
        "vidpulse_commit_errors_total",
        "Write transactions that failed.",
        get(&w.errors),
    );
    let _ = writeln!(
        out,
        "# HELP vidpulse_queue_depth Operations waiting for the writer.\n# TYPE vidpulse_queue_depth gauge\nvidpulse_queue_depth {}",
        state.writer.queue_depth()
    );
    let _ = writeln!(
        out,
        "# HELP vidpulse_commit_seconds Write transaction latency (apply + commit).\n# TYPE vidpulse_commit_seconds histogram"
    );
    let mut cumulative = 0;
    for (i, le) in COMMIT_BUCKETS_MS.iter().enumerate() {
        cumulative += get(&w.commit_buckets[i]);
        let _ = writeln!(
            out,
            "vidpulse_commit_seconds_bucket{{le=\"{}\"}} {cumulative}",
            le / 1000.0
        );
    }
    cumulative += get(&w.commit_buckets[COMMIT_BUCKETS_MS.len()]);
    let _ = writeln!(
        out,
        "vidpulse_commit_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        out,
        "vidpulse_commit_seconds_sum {}",
        get(&w.commit_us_sum) as f64 / 1e6
    );
    let _ = writeln!(out, "vidpulse_commit_seconds_count {cumulative}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
