//! Durable storage of views in redb.
//!
//! Tables: `views` (view id → JSON [`ViewRecord`], the latest snapshot of each
//! view), `views_by_started_at` (`(started_at_ms, view_id)` → `()`, for
//! newest-first listing) and `meta` (`schema_version`). Writes go through
//! [`apply_batch_in`], which works inside a caller-provided write transaction, so
//! a group-commit writer task can later apply many requests and commit once.
//! All methods block: call them from `spawn_blocking`, never on the executor.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use vidpulse_plugin::wire::{Batch, Beacon, Reason, VideoMeta, ViewMetrics};

/// The on-disk layout version this code reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

const VIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("views");
const VIEWS_BY_STARTED_AT: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("views_by_started_at");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// A record could not be (de)serialized.
    #[error("record encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    /// The file was written by an incompatible version.
    #[error("unsupported schema version {0} (this build reads {SCHEMA_VERSION})")]
    Schema(u64),
    /// Creating the data directory failed.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(err: $t) -> Self {
                StoreError::Db(err.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Everything stored about one view.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ViewRecord {
    /// Property key of the batch that carried the latest beacon.
    pub property: String,
    /// Viewer id of that batch.
    pub viewer_id: String,
    /// `User-Agent` of that request, truncated to the string limit.
    pub user_agent: Option<String>,
    /// Server time the view was first received, Unix ms.
    pub first_received_ms: u64,
    /// Server time the latest beacon was received, Unix ms.
    pub last_received_ms: u64,
    /// The beacon with the highest `seq` seen for this view.
    pub beacon: Beacon,
}

/// One line of the views listing.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ViewListItem {
    pub view_id: String,
    pub property: String,
    pub viewer_id: String,
    pub started_at_ms: u64,
    pub video: VideoMeta,
    pub seq: u32,
    pub reason: Reason,
    pub metrics: ViewMetrics,
    pub last_received_ms: u64,
}

impl From<ViewRecord> for ViewListItem {
    fn from(r: ViewRecord) -> Self {
        ViewListItem {
            view_id: r.beacon.view_id,
            property: r.property,
            viewer_id: r.viewer_id,
            started_at_ms: r.beacon.started_at_ms,
            video: r.beacon.video,
            seq: r.beacon.seq,
            reason: r.beacon.reason,
            metrics: r.beacon.metrics,
            last_received_ms: r.last_received_ms,
        }
    }
}

/// What applying a batch did.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// Beacons that became their view's latest snapshot.
    pub accepted: usize,
    /// Beacons whose `seq` was not above the stored one; they changed nothing.
    pub stale: usize,
}

/// Request context stored alongside the beacons of one batch.
#[derive(Debug, Clone)]
pub struct Received {
    /// `User-Agent` header, already truncated.
    pub user_agent: Option<String>,
    /// Server clock, Unix ms.
    pub now_ms: u64,
}

/// The collector's database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens (or creates) the database file and its tables.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        {
            txn.open_table(VIEWS)?;
            txn.open_table(VIEWS_BY_STARTED_AT)?;
            let mut meta = txn.open_table(META)?;
            let existing = meta.get("schema_version")?.map(|v| v.value());
            match existing {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => return Err(StoreError::Schema(other)),
            }
        }
        txn.commit()?;
        Ok(Store { db: Arc::new(db) })
    }

    /// Applies a validated batch in its own durable write transaction.
    pub fn apply_batch(&self, batch: &Batch, received: &Received) -> Result<Applied, StoreError> {
        let txn = self.db.begin_write()?;
        let applied = apply_batch_in(&txn, batch, received)?;
        txn.commit()?;
        Ok(applied)
    }

    /// The `limit` views with the latest `started_at_ms`, newest first.
    pub fn list_views(&self, limit: usize) -> Result<Vec<ViewListItem>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(VIEWS_BY_STARTED_AT)?;
        let views = txn.open_table(VIEWS)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in index.iter()?.rev().take(limit) {
            let (key, _) = entry?;
            let (_, view_id) = key.value();
            if let Some(bytes) = views.get(view_id)? {
                let record: ViewRecord = serde_json::from_slice(bytes.value())?;
                out.push(record.into());
            }
        }
        Ok(out)
    }

    /// One view's full record.
    pub fn get_view(&self, view_id: &str) -> Result<Option<ViewRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let views = txn.open_table(VIEWS)?;
        let found = views.get(view_id)?;
        Ok(match found {
            Some(bytes) => Some(serde_json::from_slice(bytes.value())?),
            None => None,
        })
    }

    /// Calls `f` with the latest metrics of every stored view.
    pub fn for_each_view(&self, mut f: impl FnMut(&ViewRecord)) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        let views = txn.open_table(VIEWS)?;
        for entry in views.iter()? {
            let (_, bytes) = entry?;
            let record: ViewRecord = serde_json::from_slice(bytes.value())?;
            f(&record);
        }
        Ok(())
    }

    /// Closes the database file. Fails if another clone of this store is alive.
    pub fn close(self) -> Result<(), Store> {
        match Arc::try_unwrap(self.db) {
            Ok(db) => {
                if let Err(err) = db.close() {
                    tracing::warn!(%err, "closing the database");
                }
                Ok(())
            }
            Err(db) => Err(Store { db }),
        }
    }
}

/// Applies a batch inside `txn` without committing: per view, a beacon whose
/// `seq` is above the stored one replaces it; otherwise it is stale.
pub fn apply_batch_in(
    txn: &WriteTransaction,
    batch: &Batch,
    received: &Received,
) -> Result<Applied, StoreError> {
    let mut views = txn.open_table(VIEWS)?;
    let mut index = txn.open_table(VIEWS_BY_STARTED_AT)?;
    let mut applied = Applied::default();
    for beacon in &batch.beacons {
        let previous: Option<ViewRecord> = match views.get(beacon.view_id.as_str())? {
            Some(bytes) => Some(serde_json::from_slice(bytes.value())?),
            None => None,
        };
        if let Some(prev) = &previous {
            if beacon.seq <= prev.beacon.seq {
                applied.stale += 1;
                continue;
            }
            if prev.beacon.started_at_ms != beacon.started_at_ms {
                index.remove((prev.beacon.started_at_ms, beacon.view_id.as_str()))?;
            }
        }
        let record = ViewRecord {
            property: batch.property.clone(),
            viewer_id: batch.viewer_id.clone(),
            user_agent: received.user_agent.clone(),
            first_received_ms: previous.map_or(received.now_ms, |p| p.first_received_ms),
            last_received_ms: received.now_ms,
            beacon: beacon.clone(),
        };
        let bytes = serde_json::to_vec(&record)?;
        views.insert(beacon.view_id.as_str(), bytes.as_slice())?;
        index.insert((beacon.started_at_ms, beacon.view_id.as_str()), ())?;
        applied.accepted += 1;
    }
    Ok(applied)
}
