//! Applying beacons inside one write transaction: the view record, its indexes and
//! timeline, and the rollups, all moved by `new − previous`.
//!
//! [`Apply`] opens every table once per transaction; the group-commit writer
//! ([`crate::writer`]) pushes many batches through one `Apply` and commits once.
//! The same `shift` that adds a view also removes one (erasure, retention), so
//! rollups always equal the sum of the stored views' counters.

use redb::{ReadableTable, Table, WriteTransaction};
use vidpulse_plugin::wire::{Batch, NotableEvent};

use crate::dims::{self, ClientDims, Dim};
use crate::rollup::{
    self, bucket_start, Counters, RollupCache, LEVEL_MS, RETENTION, ROLLUP_COUNTERS,
    ROLLUP_SKETCHES,
};
use crate::store::{
    decode_record, encode_record, Applied, Received, StoreError, ViewRecord, VIEWS,
    VIEWS_BY_STARTED_AT, VIEWS_BY_VIEWER, VIEW_EVENTS,
};

/// What one accepted beacon changed, for the live view ([`crate::live`]).
#[derive(Debug, Clone)]
pub struct Change {
    /// The view.
    pub view_id: String,
    /// Server time of the beacon, Unix ms.
    pub now_ms: u64,
    /// The view is over.
    pub ended: bool,
    /// `new − previous` counters (a new view counts `views: 1`).
    pub delta: Counters,
}

type Bytes = &'static [u8];
type RollupKey = (u8, u8, u64, &'static str);

/// The open tables of one write transaction and its rollup cache.
pub struct Apply<'t> {
    views: Table<'t, &'static str, Bytes>,
    by_started: Table<'t, (u64, &'static str), ()>,
    by_viewer: Table<'t, (&'static str, &'static str), ()>,
    events: Table<'t, (&'static str, u32), Bytes>,
    counters: Table<'t, RollupKey, Bytes>,
    sketches: Table<'t, RollupKey, Bytes>,
    retention: Table<'t, rollup::RetentionKey, Bytes>,
    cache: RollupCache,
    /// Encoding buffer, reused.
    buf: Vec<u8>,
    /// Most timeline events kept per view.
    pub max_view_events: u32,
}

impl<'t> Apply<'t> {
    /// Opens the tables in `txn`.
    pub fn open(txn: &'t WriteTransaction, max_view_events: u32) -> Result<Self, StoreError> {
        Apply::with_cache(txn, max_view_events, RollupCache::default())
    }

    /// Opens the tables in `txn`, with rollup rows cached by earlier, committed
    /// transactions (see [`RollupCache`]; [`Apply::finish_keep`] hands it back).
    pub fn with_cache(
        txn: &'t WriteTransaction,
        max_view_events: u32,
        cache: RollupCache,
    ) -> Result<Self, StoreError> {
        Ok(Apply {
            views: txn.open_table(VIEWS)?,
            by_started: txn.open_table(VIEWS_BY_STARTED_AT)?,
            by_viewer: txn.open_table(VIEWS_BY_VIEWER)?,
            events: txn.open_table(VIEW_EVENTS)?,
            counters: txn.open_table(ROLLUP_COUNTERS)?,
            sketches: txn.open_table(ROLLUP_SKETCHES)?,
            retention: txn.open_table(RETENTION)?,
            cache,
            buf: Vec::new(),
            max_view_events,
        })
    }

    /// Reads a stored view.
    pub fn view(&self, view_id: &str) -> Result<Option<ViewRecord>, StoreError> {
        Ok(match self.views.get(view_id)? {
            Some(bytes) => Some(decode_record(bytes.value())?),
            None => None,
        })
    }

    /// Every stored view id.
    pub fn view_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for entry in self.views.iter()? {
            ids.push(entry?.0.value().to_owned());
        }
        Ok(ids)
    }

    /// Applies a validated batch: per view, a beacon whose `seq` is above the
    /// stored one replaces it and moves the rollups; otherwise it is stale.
    pub fn batch(
        &mut self,
        batch: &Batch,
        received: &Received,
        changes: &mut Vec<Change>,
    ) -> Result<Applied, StoreError> {
        self.batch_prepared(batch, received, None, changes)
    }

    /// [`Apply::batch`] with each beacon's JSON (without its events) and the
    /// client's dimensions already made by the request's task
    /// ([`crate::writer::Prepared`]), so the writer thread does not make them.
    pub fn batch_prepared(
        &mut self,
        batch: &Batch,
        received: &Received,
        prepared: Option<&crate::writer::Prepared>,
        changes: &mut Vec<Change>,
    ) -> Result<Applied, StoreError> {
        let mut applied = Applied::default();
        for (i, beacon) in batch.beacons.iter().enumerate() {
            let previous = self.view(&beacon.view_id)?;
            if previous
                .as_ref()
                .is_some_and(|p| beacon.seq <= p.beacon.seq)
            {
                applied.stale += 1;
                continue;
            }
            let client = previous
                .as_ref()
                .and_then(|p| p.client.clone())
                .or_else(|| prepared.map(|p| p.client.clone()))
                .unwrap_or_else(|| {
                    ClientDims::from_request(
                        received.user_agent.as_deref(),
                        received.country.clone(),
                    )
                });
            let mut record = ViewRecord {
                property: batch.property.clone(),
                viewer_id: batch.viewer_id.clone(),
                user_agent: received.user_agent.clone(),
                client: Some(client),
                first_received_ms: previous
                    .as_ref()
                    .map_or(received.now_ms, |p| p.first_received_ms),
                last_received_ms: received.now_ms,
                event_count: previous.as_ref().map_or(0, |p| p.event_count),
                beacon: beacon.clone(),
            };
            // The timeline lives in `view_events`; the record keeps no copy.
            record.beacon.events = Vec::new();
            // A beacon that says `same` left out what never changes in a view:
            // keep the stored parts (without a stored view there is nothing to
            // keep, and the dimensions stay unknown).
            let mut filled = false;
            if record.beacon.same {
                record.beacon.same = false;
                if let Some(p) = &previous {
                    record.beacon.video = p.beacon.video.clone();
                    record.beacon.context = p.beacon.context.clone();
                    record.beacon.plugin_version = p.beacon.plugin_version.clone();
                    filled = true;
                }
            }
            self.append_events(&mut record, &beacon.events)?;
            let mut delta = Counters::of_view(&record.beacon.metrics);
            if let Some(p) = &previous {
                delta.sub(&Counters::of_view(&p.beacon.metrics));
            }
            changes.push(Change {
                view_id: beacon.view_id.clone(),
                now_ms: received.now_ms,
                ended: beacon.metrics.view_ended,
                delta,
            });
            // The prepared JSON is of the beacon as sent: not of a filled one.
            let json = prepared
                .filter(|_| !filled && !beacon.same)
                .and_then(|p| p.beacons_json.get(i))
                .map(Vec::as_slice);
            self.put_encoded(previous.as_ref(), &record, json)?;
            applied.accepted += 1;
        }
        Ok(applied)
    }

    /// Appends `events` to a view's timeline, at most `max_view_events` in all.
    pub fn append_events(
        &mut self,
        record: &mut ViewRecord,
        events: &[NotableEvent],
    ) -> Result<(), StoreError> {
        for event in events {
            if record.event_count >= self.max_view_events {
                break;
            }
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, event)?;
            self.events.insert(
                (record.beacon.view_id.as_str(), record.event_count),
                self.buf.as_slice(),
            )?;
            record.event_count += 1;
        }
        Ok(())
    }

    /// Stores `record` in place of `previous` (indexes and rollups included).
    pub fn put(
        &mut self,
        previous: Option<&ViewRecord>,
        record: &ViewRecord,
    ) -> Result<(), StoreError> {
        self.put_encoded(previous, record, None)
    }

    /// [`Apply::put`] with the beacon's JSON, if already made.
    fn put_encoded(
        &mut self,
        previous: Option<&ViewRecord>,
        record: &ViewRecord,
        beacon_json: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let id = record.beacon.view_id.as_str();
        let (started, viewer) = (record.beacon.started_at_ms, record.viewer_id.as_str());
        match previous {
            Some(p) if p.beacon.started_at_ms == started && p.viewer_id == viewer => {}
            Some(p) => {
                self.by_started.remove((p.beacon.started_at_ms, id))?;
                self.by_viewer.remove((p.viewer_id.as_str(), id))?;
                self.by_started.insert((started, id), ())?;
                self.by_viewer.insert((viewer, id), ())?;
            }
            None => {
                self.by_started.insert((started, id), ())?;
                self.by_viewer.insert((viewer, id), ())?;
            }
        }
        encode_record(record, beacon_json, &mut self.buf)?;
        self.views.insert(id, self.buf.as_slice())?;
        self.shift(previous, Some(record))
    }

    /// Re-encodes a stored record in the current format (without its copy of
    /// the timeline) and counts it in retention: the v2 → v3 migration.
    pub fn migrate_record_v2(&mut self, view_id: &str) -> Result<(), StoreError> {
        let Some(mut record) = self.view(view_id)? else {
            return Ok(());
        };
        record.beacon.events = Vec::new();
        encode_record(&record, None, &mut self.buf)?;
        self.views.insert(view_id, self.buf.as_slice())?;
        self.shift_retention(&record, true)
    }

    /// Ids of a viewer's views.
    pub fn views_of_viewer(&self, viewer_id: &str) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for e in self.by_viewer.range((viewer_id, "")..)? {
            let (k, _) = e?;
            let (v, id) = k.value();
            if v != viewer_id {
                break;
            }
            ids.push(id.to_owned());
        }
        Ok(ids)
    }

    /// Ids of up to `limit` views started before `cutoff_ms`, oldest first.
    pub fn views_before(&self, cutoff_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for e in self
            .by_started
            .range((0u64, "")..(cutoff_ms, ""))?
            .take(limit)
        {
            ids.push(e?.0.value().1.to_owned());
        }
        Ok(ids)
    }

    /// Deletes a view, its timeline, and its counters from the rollups (the
    /// sketches cannot forget). Returns the removed record.
    pub fn remove(&mut self, view_id: &str) -> Result<Option<ViewRecord>, StoreError> {
        let Some(record) = self.view(view_id)? else {
            return Ok(None);
        };
        self.views.remove(view_id)?;
        self.by_started
            .remove((record.beacon.started_at_ms, view_id))?;
        self.by_viewer
            .remove((record.viewer_id.as_str(), view_id))?;
        for i in 0..record.event_count {
            self.events.remove((view_id, i))?;
        }
        self.shift(Some(&record), None)?;
        Ok(Some(record))
    }

    /// Moves the rollups from `prev`'s contribution to `next`'s.
    ///
    /// An update whose rows are the same as before (same start bucket and
    /// dimension values, the usual case) moves each row once by `next − prev`;
    /// otherwise `prev` leaves its rows and `next` joins its own.
    fn shift(
        &mut self,
        prev: Option<&ViewRecord>,
        next: Option<&ViewRecord>,
    ) -> Result<(), StoreError> {
        let next_values = next.map(dims::values);
        let prev_values = prev.map(dims::values);
        let same_rows = match (prev, next) {
            (Some(p), Some(n)) => {
                p.beacon.started_at_ms == n.beacon.started_at_ms && prev_values == next_values
            }
            _ => false,
        };
        if let (None, Some(n), Some(values)) = (prev, next, &next_values) {
            // A new view: counters, its viewer and its startup time, one lookup
            // per row.
            let c = Counters::of_view(&n.beacon.metrics);
            let viewer = crate::sketch::viewer_hash(&n.viewer_id);
            let startup = n.beacon.metrics.startup_ms;
            for (dim, value) in values {
                for level in 0..LEVEL_MS.len() as u8 {
                    let key = key_of(level, *dim, n.beacon.started_at_ms, value);
                    let (row, sketches) = self.cache.both((&self.counters, &self.sketches), key)?;
                    row.add(&c);
                    sketches.add_viewer_hash(viewer);
                    if let Some(ms) = startup {
                        sketches.add_startup(ms);
                    }
                }
            }
            return self.shift_retention(n, true);
        }
        if same_rows {
            let (p, n) = (prev.expect("same_rows"), next.expect("same_rows"));
            let (old, new) = (
                Counters::of_view(&p.beacon.metrics),
                Counters::of_view(&n.beacon.metrics),
            );
            if old != new {
                for (dim, value) in next_values.as_deref().unwrap_or_default() {
                    for level in 0..LEVEL_MS.len() as u8 {
                        let key = key_of(level, *dim, n.beacon.started_at_ms, value);
                        let row = self.cache.counters(&self.counters, key)?;
                        row.sub(&old);
                        row.add(&new);
                    }
                }
            }
        } else {
            for (record, values, add) in [(prev, &prev_values, false), (next, &next_values, true)] {
                let (Some(r), Some(values)) = (record, values) else {
                    continue;
                };
                let c = Counters::of_view(&r.beacon.metrics);
                for (dim, value) in values {
                    for level in 0..LEVEL_MS.len() as u8 {
                        let key = key_of(level, *dim, r.beacon.started_at_ms, value);
                        let row = self.cache.counters(&self.counters, key)?;
                        if add {
                            row.add(&c);
                        } else {
                            row.sub(&c);
                        }
                    }
                }
            }
        }
        fn retention_moves(r: &ViewRecord) -> (Option<&str>, Option<&str>, u16) {
            let m = &r.beacon.metrics;
            (
                r.beacon.video.id.as_deref(),
                m.coverage.as_deref(),
                m.coverage_buckets,
            )
        }
        let unchanged_retention = match (prev, next) {
            (Some(p), Some(n)) => retention_moves(p) == retention_moves(n),
            _ => false,
        };
        if !unchanged_retention {
            if let Some(p) = prev {
                self.shift_retention(p, false)?;
            }
            if let Some(n) = next {
                self.shift_retention(n, true)?;
            }
        }
        // Sketches only ever add: the viewer once per view, the startup time once,
        // when it first appears.
        if let (Some(n), Some(values)) = (next, &next_values) {
            let new_view = prev.is_none();
            let new_startup = n
                .beacon
                .metrics
                .startup_ms
                .filter(|_| prev.is_none_or(|p| p.beacon.metrics.startup_ms.is_none()));
            if new_view || new_startup.is_some() {
                let viewer = new_view.then(|| crate::sketch::viewer_hash(&n.viewer_id));
                for (dim, value) in values {
                    for level in 0..LEVEL_MS.len() as u8 {
                        let key = key_of(level, *dim, n.beacon.started_at_ms, value);
                        let row = self.cache.sketches(&self.sketches, key)?;
                        if let Some(h) = viewer {
                            row.add_viewer_hash(h);
                        }
                        if let Some(ms) = new_startup {
                            row.add_startup(ms);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn shift_retention(&mut self, r: &ViewRecord, add: bool) -> Result<(), StoreError> {
        let m = &r.beacon.metrics;
        let (Some(video), Some(hex)) = (r.beacon.video.id.as_deref(), m.coverage.as_deref()) else {
            return Ok(());
        };
        if m.coverage_buckets == 0 {
            return Ok(());
        }
        let bits = rollup::coverage_bits(hex, m.coverage_buckets);
        let day = bucket_start(2, r.beacon.started_at_ms);
        let row = self
            .cache
            .retention(&self.retention, day, video, m.coverage_buckets)?;
        let step = |v: &mut u64| {
            *v = if add {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            }
        };
        step(&mut row.views);
        for (count, set) in row.counts.iter_mut().zip(bits) {
            if set {
                step(count);
            }
        }
        Ok(())
    }

    /// Writes the changed rollup rows. Call once, before the commit.
    pub fn finish(self) -> Result<(), StoreError> {
        self.finish_keep().map(drop)
    }

    /// [`Apply::finish`], handing back the rollup cache for the next transaction
    /// (only if this one commits).
    pub fn finish_keep(mut self) -> Result<RollupCache, StoreError> {
        self.cache
            .flush(&mut self.counters, &mut self.sketches, &mut self.retention)?;
        Ok(self.cache)
    }
}

fn key_of(level: u8, dim: Dim, started_at_ms: u64, value: &str) -> (u8, u8, u64, &str) {
    (level, dim.code(), bucket_start(level, started_at_ms), value)
}
