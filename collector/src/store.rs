//! Durable storage in redb: the tables, the view record, opening (with schema
//! migration) and the reads of views.
//!
//! Tables: `views` (view id → [`ViewRecord`], the latest snapshot of each view,
//! encoded by [`encode_record`]), `views_by_started_at` (`(started_at_ms, view_id)`, for newest-first
//! listing and time ranges), `views_by_viewer` (`(viewer_id, view_id)`, for
//! erasure), `view_events` (`(view_id, n)` → JSON timeline event), the rollup
//! tables of [`crate::rollup`], and `meta` (`schema_version`). Writes go through
//! [`crate::apply::Apply`] inside the writer's transactions ([`crate::writer`]).
//!
//! Schema history: v1 (views only) → v2 (client dimensions on the record,
//! timeline, viewer index, rollups) → v3 (records as a postcard header and the
//! beacon's JSON without its timeline, written by [`encode_record`]; retention
//! counts per day, `retention_by_day`; startup sketches exact while small). Opening a v1 file rebuilds everything
//! from the stored views; opening a v2 file re-encodes every record and rebuilds
//! retention from them; each in one transaction ([`Store::open`]). Records of
//! every version decode ([`decode_record`]: JSON records start with `{`).
//! All methods block: call them from `spawn_blocking`, never on the executor.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use vidpulse_plugin::wire::{Beacon, NotableEvent, Reason, VideoMeta, ViewMetrics};

use crate::apply::Apply;
use crate::dims::{ClientDims, Dim};
use crate::rollup::{RETENTION, RETENTION_V2, ROLLUP_COUNTERS, ROLLUP_SKETCHES};

/// The on-disk layout version this code reads and writes.
pub const SCHEMA_VERSION: u64 = 3;

pub(crate) const VIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("views");
pub(crate) const VIEWS_BY_STARTED_AT: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("views_by_started_at");
pub(crate) const VIEWS_BY_VIEWER: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("views_by_viewer");
pub(crate) const VIEW_EVENTS: TableDefinition<(&str, u32), &[u8]> =
    TableDefinition::new("view_events");
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// A record could not be (de)serialized.
    #[error("record encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    /// A rollup row could not be (de)serialized.
    #[error("rollup encoding: {0}")]
    Codec(#[from] postcard::Error),
    /// The file was written by an incompatible version.
    #[error("unsupported schema version {0} (this build reads {SCHEMA_VERSION})")]
    Schema(u64),
    /// Creating the data directory failed.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The writer task is gone (the collector is shutting down).
    #[error("the writer has stopped")]
    WriterGone,
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
    redb::CommitError,
    redb::SavepointError,
    redb::CompactionError
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
    /// Browser, OS, device type and country, derived when the view was first
    /// received (absent in schema v1 records until migrated).
    #[serde(default)]
    pub client: Option<ClientDims>,
    /// Server time the view was first received, Unix ms.
    pub first_received_ms: u64,
    /// Server time the latest beacon was received, Unix ms.
    pub last_received_ms: u64,
    /// Timeline events stored for this view (`view_events`).
    #[serde(default)]
    pub event_count: u32,
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
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// `User-Agent` header, already truncated.
    pub user_agent: Option<String>,
    /// Country of the client address, when a GeoIP database knows it.
    pub country: Option<String>,
    /// Server clock, Unix ms.
    pub now_ms: u64,
}

/// A listing position: `(started_at_ms, view_id)` of the last item returned.
pub type Cursor = (u64, String);

/// Which views a listing or a scan wants.
#[derive(Debug, Clone, Default)]
pub struct ViewSelection {
    /// `started_at_ms` at or after this.
    pub from_ms: u64,
    /// `started_at_ms` before this.
    pub to_ms: Option<u64>,
    /// Every `(dimension, value)` must match.
    pub filters: Vec<(Dim, String)>,
}

impl ViewSelection {
    /// Whether a record matches the dimension filters.
    pub fn matches(&self, r: &ViewRecord) -> bool {
        self.filters.is_empty() || {
            let values = crate::dims::values(r);
            self.filters
                .iter()
                .all(|(d, v)| &values[d.code() as usize].1 == v)
        }
    }
}

/// The collector's database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens (or creates) the database file and its tables, migrating older
    /// schemas, with the default page cache ([`crate::config::DEFAULT_CACHE_MB`]).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, (crate::config::DEFAULT_CACHE_MB << 20) as usize)
    }

    /// [`Store::open`] with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let existing = meta.get("schema_version")?.map(|v| v.value());
            let fresh = txn.open_table(VIEWS)?.is_empty()?;
            match existing {
                None if fresh => {}
                None | Some(1) => {
                    tracing::info!(from = ?existing, to = SCHEMA_VERSION, "migrating schema");
                    migrate_v1(&txn)?;
                }
                Some(2) => {
                    tracing::info!(from = 2, to = SCHEMA_VERSION, "migrating schema");
                    migrate_v2(&txn)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => return Err(StoreError::Schema(other)),
            }
            meta.insert("schema_version", SCHEMA_VERSION)?;
            txn.open_table(VIEWS_BY_STARTED_AT)?;
            txn.open_table(VIEWS_BY_VIEWER)?;
            txn.open_table(VIEW_EVENTS)?;
            txn.open_table(ROLLUP_COUNTERS)?;
            txn.open_table(ROLLUP_SKETCHES)?;
            txn.open_table(RETENTION)?;
        }
        txn.commit()?;
        Ok(Store { db: Arc::new(db) })
    }

    /// The database, for the writer and the query modules.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Views newest first, after `cursor` (`(started_at_ms, view_id)` of the
    /// last item of the previous page), at most `limit`. Also returns the cursor
    /// of the next page when there may be one.
    pub fn list_views(
        &self,
        sel: &ViewSelection,
        cursor: Option<(u64, String)>,
        limit: usize,
    ) -> Result<(Vec<ViewListItem>, Option<Cursor>), StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(VIEWS_BY_STARTED_AT)?;
        let views = txn.open_table(VIEWS)?;
        let upper = match (cursor, sel.to_ms) {
            (Some(c), Some(to)) if c.0 >= to => Some((to, String::new())),
            (Some(c), _) => Some(c),
            (None, Some(to)) => Some((to, String::new())),
            (None, None) => None,
        };
        let upper = match &upper {
            Some((t, id)) => Bound::Excluded((*t, id.as_str())),
            None => Bound::Unbounded,
        };
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut next = None;
        for entry in index
            .range::<(u64, &str)>((Bound::Included((sel.from_ms, "")), upper))?
            .rev()
        {
            let (key, _) = entry?;
            let (t, view_id) = key.value();
            let Some(bytes) = views.get(view_id)? else {
                continue;
            };
            let record = decode_record(bytes.value())?;
            if !sel.matches(&record) {
                continue;
            }
            if out.len() == limit {
                break;
            }
            out.push(ViewListItem::from(record));
            if out.len() == limit {
                next = Some((t, view_id.to_owned()));
            }
        }
        Ok((out, next))
    }

    /// One view's full record.
    pub fn get_view(&self, view_id: &str) -> Result<Option<ViewRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let views = txn.open_table(VIEWS)?;
        let found = views.get(view_id)?;
        Ok(match found {
            Some(bytes) => Some(decode_record(bytes.value())?),
            None => None,
        })
    }

    /// One view's timeline, oldest first.
    pub fn view_events(&self, view_id: &str) -> Result<Vec<NotableEvent>, StoreError> {
        let txn = self.db.begin_read()?;
        let events = txn.open_table(VIEW_EVENTS)?;
        let mut out = Vec::new();
        for entry in events.range((view_id, 0)..=(view_id, u32::MAX))? {
            let (_, bytes) = entry?;
            out.push(serde_json::from_slice(bytes.value())?);
        }
        Ok(out)
    }

    /// Calls `f` with every selected view, oldest first; stops when `f` says so.
    pub fn scan_views(
        &self,
        sel: &ViewSelection,
        mut f: impl FnMut(ViewRecord) -> bool,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(VIEWS_BY_STARTED_AT)?;
        let views = txn.open_table(VIEWS)?;
        let to = sel.to_ms.unwrap_or(u64::MAX);
        for entry in index.range((sel.from_ms, "")..(to, ""))? {
            let (key, _) = entry?;
            let Some(bytes) = views.get(key.value().1)? else {
                continue;
            };
            let record = decode_record(bytes.value())?;
            if sel.matches(&record) && !f(record) {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f` with every stored view (any order).
    pub fn for_each_view(&self, mut f: impl FnMut(&ViewRecord)) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        let views = txn.open_table(VIEWS)?;
        for entry in views.iter()? {
            let (_, bytes) = entry?;
            let record = decode_record(bytes.value())?;
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

/// First byte of a v3 record (older records are JSON objects: `{`).
const RECORD_V3: u8 = 3;

/// A record's fields other than the beacon, as written.
#[derive(Serialize)]
struct HeaderRef<'a> {
    property: &'a str,
    viewer_id: &'a str,
    user_agent: Option<&'a str>,
    client: Option<&'a ClientDims>,
    first_received_ms: u64,
    last_received_ms: u64,
    event_count: u32,
}

/// [`HeaderRef`], as read.
#[derive(Deserialize)]
struct Header {
    property: String,
    viewer_id: String,
    user_agent: Option<String>,
    client: Option<ClientDims>,
    first_received_ms: u64,
    last_received_ms: u64,
    event_count: u32,
}

/// Encodes a record into `out`: [`RECORD_V3`], the other fields in postcard
/// (no field names), then the beacon as JSON (the wire type's own, tolerant
/// encoding). `beacon_json` is the beacon already encoded, when the request's
/// task did it before queueing ([`crate::writer::Writer::ingest`]), so the
/// writer thread does not. The caller leaves `beacon.events` empty: the
/// timeline lives in `view_events`.
pub fn encode_record(
    r: &ViewRecord,
    beacon_json: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    out.clear();
    out.push(RECORD_V3);
    let header = HeaderRef {
        property: &r.property,
        viewer_id: &r.viewer_id,
        user_agent: r.user_agent.as_deref(),
        client: r.client.as_ref(),
        first_received_ms: r.first_received_ms,
        last_received_ms: r.last_received_ms,
        event_count: r.event_count,
    };
    postcard::to_io(&header, &mut *out)?;
    match beacon_json {
        Some(json) => out.extend_from_slice(json),
        None => serde_json::to_writer(&mut *out, &r.beacon)?,
    }
    Ok(())
}

/// Decodes a record of any schema version.
pub fn decode_record(bytes: &[u8]) -> Result<ViewRecord, StoreError> {
    let Some((&RECORD_V3, rest)) = bytes.split_first() else {
        return Ok(serde_json::from_slice(bytes)?);
    };
    let (h, json): (Header, &[u8]) = postcard::take_from_bytes(rest)?;
    Ok(ViewRecord {
        property: h.property,
        viewer_id: h.viewer_id,
        user_agent: h.user_agent,
        client: h.client,
        first_received_ms: h.first_received_ms,
        last_received_ms: h.last_received_ms,
        event_count: h.event_count,
        beacon: serde_json::from_slice(json)?,
    })
}

/// v2 → v3: every record re-encoded (without its copy of the timeline),
/// retention counted again per day from the records, sketch rows re-encoded
/// (a v2 DDSketch becomes [`crate::sketch::Startup::Sketch`]). Counters are
/// unchanged.
fn migrate_v2(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.delete_table(RETENTION_V2)?;
    txn.delete_table(RETENTION)?;
    {
        let mut sketches = txn.open_table(ROLLUP_SKETCHES)?;
        let mut rows = Vec::new();
        for entry in sketches.iter()? {
            let (k, v) = entry?;
            let (level, dim, bucket, value) = k.value();
            let old: crate::sketch::SketchesV2 = postcard::from_bytes(v.value())?;
            rows.push((
                (level, dim, bucket, value.to_owned()),
                old.upgrade().encode(),
            ));
        }
        for ((level, dim, bucket, value), bytes) in rows {
            sketches.insert((level, dim, bucket, value.as_str()), bytes.as_slice())?;
        }
    }
    let mut apply = Apply::open(txn, 0)?;
    let ids = apply.view_ids()?;
    for id in &ids {
        apply.migrate_record_v2(id)?;
    }
    apply.finish()?;
    tracing::info!(views = ids.len(), "schema migrated (v2 -> v3)");
    Ok(())
}

/// v1 → v3: derive client dimensions for each view and rebuild the viewer
/// index and every rollup from the stored views (records written anew).
fn migrate_v1(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.delete_table(ROLLUP_COUNTERS)?;
    txn.delete_table(ROLLUP_SKETCHES)?;
    txn.delete_table(RETENTION_V2)?;
    txn.delete_table(RETENTION)?;
    let mut apply = Apply::open(txn, crate::config::DEFAULT_MAX_VIEW_EVENTS)?;
    let ids = apply.view_ids()?;
    for id in &ids {
        if let Some(mut record) = apply.view(id)? {
            // A v1 record held its timeline; it moves to `view_events`.
            let events = std::mem::take(&mut record.beacon.events);
            apply.append_events(&mut record, &events)?;
            record.client.get_or_insert_with(|| {
                ClientDims::from_request(record.user_agent.as_deref(), None)
            });
            apply.put(None, &record)?;
        }
    }
    apply.finish()?;
    tracing::info!(views = ids.len(), "schema migrated");
    Ok(())
}
