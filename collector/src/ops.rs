//! Operations: erasure of a viewer, retention, and online backup.
//!
//! - `DELETE /v1/viewers/{id}` deletes every view of a viewer and removes its
//!   counters from the rollups. The HyperLogLog viewer sketches and startup
//!   sketches cannot forget: the viewer's id hash stays in the unique-viewer
//!   estimates of the buckets it appeared in until those rows age out.
//! - `--retention-days N`: a background task deletes, every
//!   [`RETENTION_PERIOD`], the views started more than N days ago and the rollup
//!   rows whose bucket ended by then, in chunks through the writer.
//! - `POST /v1/backup`: copies every table, in one read transaction (a consistent
//!   snapshot, while ingest goes on), into a new redb file in `--backup-dir`;
//!   the copy opens like any data file (`--data` it).
//!
//! Erasure and backup are operator actions: the router puts them behind
//! [`crate::auth::require_operator`] (the admin token, or loopback without one).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::Json;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::rollup::{RETENTION, ROLLUP_COUNTERS, ROLLUP_SKETCHES};
use crate::routes::AppState;
use crate::store::{Store, StoreError, VIEWS, VIEWS_BY_STARTED_AT, VIEWS_BY_VIEWER, VIEW_EVENTS};
use crate::writer::{Writer, PURGE_CHUNK};

/// How often the retention task runs.
pub const RETENTION_PERIOD: Duration = Duration::from_secs(3600);

/// Who may call the operator endpoints.
#[derive(Clone, Debug, Default)]
pub struct Admin {
    /// Where backups go.
    pub backup_dir: PathBuf,
}

/// `DELETE /v1/viewers/{id}`.
pub async fn erase_viewer(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let deleted = state.writer.erase_viewer(id.clone()).await?;
    tracing::info!(viewer = %id, deleted, "viewer erased");
    Ok(Json(json!({
        "viewer_id": id,
        "deleted_views": deleted,
        "note": "unique-viewer sketches cannot forget an id; counters and views are gone",
    })))
}

/// `POST /v1/backup`.
pub async fn backup(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let dir = state.admin.backup_dir.clone();
    let store = state.store.clone();
    let path = dir.join(format!("vidpulse-{}.redb", crate::now_ms()));
    let target = path.clone();
    let views = tokio::task::spawn_blocking(move || backup_to(&store, &target)).await??;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    tracing::info!(path = %path.display(), views, bytes, "backup written");
    Ok(Json(json!({"path": path, "views": views, "bytes": bytes})))
}

fn copy<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &redb::ReadTransaction,
    dst: &redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<u64, StoreError> {
    let from = src.open_table(def)?;
    let mut to = dst.open_table(def)?;
    let mut n = 0;
    for entry in from.iter()? {
        let (k, v) = entry?;
        to.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

/// Copies a consistent snapshot of every table into a new database at `path`;
/// returns the number of views copied.
pub fn backup_to(store: &Store, path: &Path) -> Result<u64, StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let src = store.db().begin_read()?;
    let tmp = path.with_extension("partial");
    let db = Database::create(&tmp)?;
    let dst = db.begin_write()?;
    let views = copy(&src, &dst, VIEWS)?;
    copy(&src, &dst, VIEWS_BY_STARTED_AT)?;
    copy(&src, &dst, VIEWS_BY_VIEWER)?;
    copy(&src, &dst, VIEW_EVENTS)?;
    copy(&src, &dst, ROLLUP_COUNTERS)?;
    copy(&src, &dst, ROLLUP_SKETCHES)?;
    copy(&src, &dst, RETENTION)?;
    copy(&src, &dst, crate::store::META)?;
    dst.commit()?;
    drop(db);
    std::fs::rename(&tmp, path)?;
    Ok(views)
}

/// Runs retention forever: every [`RETENTION_PERIOD`], purge what is older
/// than `days`.
pub async fn retention_task(writer: Writer, days: u64) {
    let mut tick = tokio::time::interval(RETENTION_PERIOD);
    loop {
        tick.tick().await;
        let cutoff = crate::now_ms().saturating_sub(days * 86_400_000);
        match purge_all(&writer, cutoff).await {
            Ok(n) => tracing::info!(deleted_views = n, cutoff, "retention run"),
            Err(err) => tracing::error!(%err, "retention run failed"),
        }
    }
}

/// Purges everything before `cutoff_ms`, chunk by chunk; returns the views deleted.
pub async fn purge_all(writer: &Writer, cutoff_ms: u64) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = writer.purge_before(cutoff_ms).await?;
        total += n;
        if n < PURGE_CHUNK {
            return Ok(total);
        }
    }
}
