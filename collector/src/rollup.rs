//! Rollups: what queries read instead of scanning views (DESIGN.md, principle 4).
//!
//! Each view adds its [`Counters`] to one row per (level, dimension, value) where
//! level is its start minute, hour and day (a view belongs to the buckets of its
//! `started_at_ms`), so a query over months merges day rows and touches minute
//! rows only at the edges. Counters move by `new − previous` of the view's
//! cumulative totals, which makes ingest idempotent; the sketches
//! ([`crate::sketch`]) live in a second table that only a view's first beacon and
//! its first startup time touch. Per day and video, [`Retention`] counts, per coverage
//! bucket, the views that played it. [`RollupCache`] holds the rows a write
//! transaction touched and writes each once before the commit.

use foldhash::HashMap;
use redb::{ReadableTable, Table, TableDefinition};
use serde::{Deserialize, Serialize};
use vidpulse_plugin::wire::ViewMetrics;

use crate::sketch::Sketches;
use crate::store::StoreError;

/// `(level, dim, bucket_start_ms, value)` → postcard [`Counters`].
pub const ROLLUP_COUNTERS: TableDefinition<(u8, u8, u64, &str), &[u8]> =
    TableDefinition::new("rollup_counters");
/// Same key → postcard [`Sketches`].
pub const ROLLUP_SKETCHES: TableDefinition<(u8, u8, u64, &str), &[u8]> =
    TableDefinition::new("rollup_sketches");
/// `(day_start_ms, video_id, coverage_buckets)` → postcard [`Retention`]: the
/// views of a video started that day (UTC), so retention answers a time range.
/// (Schema v2 had `(video_id, coverage_buckets)`, all time, under the name
/// `retention`; v3 rebuilds it under this name.)
pub const RETENTION: TableDefinition<(u64, &str, u16), &[u8]> =
    TableDefinition::new("retention_by_day");
/// The schema v2 retention table (all time), dropped by the v3 migration.
pub const RETENTION_V2: TableDefinition<(&str, u16), &[u8]> = TableDefinition::new("retention");

/// Bucket widths of the rollup levels, by level code: minute, hour, day.
pub const LEVEL_MS: [u64; 3] = [60_000, 3_600_000, 86_400_000];

/// Start of the bucket of `level` holding `ms`.
pub fn bucket_start(level: u8, ms: u64) -> u64 {
    let w = LEVEL_MS[level as usize];
    ms - ms % w
}

macro_rules! counters {
    ($($(#[$doc:meta])* $field:ident),* $(,)?) => {
        /// Additive totals of a set of views.
        #[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct Counters { $($(#[$doc])* pub $field: u64),* }

        impl Counters {
            /// `self += other`.
            pub fn add(&mut self, o: &Counters) {
                $(self.$field = self.$field.saturating_add(o.$field);)*
            }
            /// `self -= other`, saturating at 0.
            pub fn sub(&mut self, o: &Counters) {
                $(self.$field = self.$field.saturating_sub(o.$field);)*
            }
        }
    };
}

counters! {
    /// Views.
    views,
    /// Σ watch time.
    watch_ms,
    /// Σ playing time.
    playing_ms,
    /// Σ rebuffers.
    rebuffer_count,
    /// Σ rebuffer time.
    rebuffer_ms,
    /// Σ seeks.
    seek_count,
    /// Σ seek latency.
    seek_ms,
    /// Views with a fatal error.
    failures,
    /// Views with a fatal error before the first frame.
    vsf,
    /// Views that ended with no first frame and no error.
    ebvs,
    /// Views that completed.
    completed,
    /// Views that ended.
    ended,
    /// Views with a startup time.
    startup_count,
    /// Σ startup time.
    startup_sum_ms,
    /// Σ upscale ‰ × playing ms.
    upscale_weighted,
    /// Σ downscale ‰ × playing ms.
    downscale_weighted,
    /// Σ dropped frames.
    dropped_frames,
    /// Σ total frames.
    total_frames,
}

impl Counters {
    /// One view's contribution.
    pub fn of_view(m: &ViewMetrics) -> Counters {
        let flag = |b: bool| u64::from(b);
        Counters {
            views: 1,
            watch_ms: m.watch_ms,
            playing_ms: m.playing_ms,
            rebuffer_count: m.rebuffer_count.into(),
            rebuffer_ms: m.rebuffer_ms,
            seek_count: m.seek_count.into(),
            seek_ms: m.seek_ms,
            failures: flag(m.error.is_some()),
            vsf: flag(m.error.as_ref().is_some_and(|e| e.before_first_frame)),
            ebvs: flag(m.view_ended && !m.first_frame && m.error.is_none()),
            completed: flag(m.completed),
            ended: flag(m.view_ended),
            startup_count: flag(m.startup_ms.is_some()),
            startup_sum_ms: m.startup_ms.unwrap_or(0),
            upscale_weighted: u64::from(m.upscale_permille).saturating_mul(m.playing_ms),
            downscale_weighted: u64::from(m.downscale_permille).saturating_mul(m.playing_ms),
            dropped_frames: m.dropped_frames.into(),
            total_frames: m.total_frames.into(),
        }
    }

    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes a stored value.
    pub fn decode(bytes: &[u8]) -> Result<Counters, StoreError> {
        postcard::from_bytes(bytes).map_err(StoreError::from)
    }
}

/// Per video and bucket count: how many views played each coverage bucket.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Retention {
    /// Views with a coverage bitmap.
    pub views: u64,
    /// Per bucket, views that played it.
    pub counts: Vec<u64>,
}

/// The buckets set in a coverage bitmap (lowercase hex, bucket 0 in the lowest
/// bit of the last digit), at most `buckets` of them.
pub fn coverage_bits(hex: &str, buckets: u16) -> Vec<bool> {
    let mut bits = vec![false; buckets as usize];
    for (j, c) in hex.bytes().rev().enumerate() {
        let nibble = (c as char).to_digit(16).unwrap_or(0);
        for k in 0..4 {
            if nibble & (1 << k) != 0 {
                if let Some(b) = bits.get_mut(j * 4 + k) {
                    *b = true;
                }
            }
        }
    }
    bits
}

/// A rollup row's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Level code (index of [`LEVEL_MS`]).
    pub level: u8,
    /// Dimension code.
    pub dim: u8,
    /// Bucket start, Unix ms.
    pub bucket: u64,
    /// Dimension value.
    pub value: String,
}

type Tbl<'t, K> = Table<'t, K, &'static [u8]>;
/// Key of [`RETENTION`].
pub type RetentionKey = (u64, &'static str, u16);
type RowTable<'t> = Tbl<'t, (u8, u8, u64, &'static str)>;

/// A cached retention row and whether it changed since it was last written.
struct Cached<T> {
    row: T,
    dirty: bool,
}

/// One rollup key's counters and sketches, each loaded on first use, and
/// whether each changed since it was last written.
#[derive(Default)]
struct Row {
    counters: Option<Counters>,
    sketches: Option<Sketches>,
    counters_dirty: bool,
    sketches_dirty: bool,
}

/// Rows by `(level, dim, bucket)` then value: lookups by `&str` allocate
/// nothing once a row is cached, and a new view finds its counters and
/// sketches with one lookup per key. Hashed with `foldhash` (fast, seeded per
/// process so clients cannot choose colliding values): std's SipHash was the
/// writer's largest single cost under callgrind.
#[derive(Default)]
struct Rows(HashMap<(u8, u8, u64), HashMap<Box<str>, Row>>);

impl Rows {
    fn row(&mut self, (level, dim, bucket, value): (u8, u8, u64, &str)) -> &mut Row {
        let inner = self.0.entry((level, dim, bucket)).or_default();
        if !inner.contains_key(value) {
            inner.insert(value.into(), Row::default());
        }
        inner.get_mut(value).expect("inserted above")
    }

    fn len(&self) -> usize {
        self.0.values().map(HashMap::len).sum()
    }
}

impl Row {
    fn counters(
        &mut self,
        table: &RowTable<'_>,
        key: RowKey<'_>,
    ) -> Result<&mut Counters, StoreError> {
        if self.counters.is_none() {
            self.counters = Some(match table.get(key)? {
                Some(v) => Counters::decode(v.value())?,
                None => Counters::default(),
            });
        }
        self.counters_dirty = true;
        Ok(self.counters.as_mut().expect("loaded above"))
    }

    fn sketches(
        &mut self,
        table: &RowTable<'_>,
        key: RowKey<'_>,
    ) -> Result<&mut Sketches, StoreError> {
        if self.sketches.is_none() {
            self.sketches = Some(match table.get(key)? {
                Some(v) => Sketches::decode(v.value())?,
                None => Sketches::default(),
            });
        }
        self.sketches_dirty = true;
        Ok(self.sketches.as_mut().expect("loaded above"))
    }
}

type RowKey<'a> = (u8, u8, u64, &'a str);

/// Most keys (each with its counters and sketches) [`RollupCache`] keeps
/// between transactions (beyond that it starts over after a flush).
pub const CACHE_ROWS: usize = 16_384;

/// Rollup rows, decoded: each read from the table once and written once per
/// transaction that changed it. The writer keeps one across transactions so hot
/// rows (the current minute, hour and day) are not decoded again for every
/// commit; the table stays the truth, so after a failed transaction, or anything
/// that writes rollup rows around it, the cache must be dropped.
#[derive(Default)]
pub struct RollupCache {
    rows: Rows,
    retention: HashMap<(u64, String, u16), Cached<Retention>>,
}

impl RollupCache {
    /// The counters row of `key`, loaded on first use.
    pub fn counters(
        &mut self,
        table: &RowTable<'_>,
        key: RowKey<'_>,
    ) -> Result<&mut Counters, StoreError> {
        self.rows.row(key).counters(table, key)
    }

    /// The sketches row of `key`, loaded on first use.
    pub fn sketches(
        &mut self,
        table: &RowTable<'_>,
        key: RowKey<'_>,
    ) -> Result<&mut Sketches, StoreError> {
        self.rows.row(key).sketches(table, key)
    }

    /// Both rows of `key` with one lookup, each loaded on first use.
    pub fn both(
        &mut self,
        (counters, sketches): (&RowTable<'_>, &RowTable<'_>),
        key: RowKey<'_>,
    ) -> Result<(&mut Counters, &mut Sketches), StoreError> {
        let row = self.rows.row(key);
        row.counters(counters, key)?;
        row.sketches(sketches, key)?;
        match (&mut row.counters, &mut row.sketches) {
            (Some(c), Some(s)) => Ok((c, s)),
            _ => unreachable!("both loaded above"),
        }
    }

    /// The retention row of a day, video and bucket count, loaded on first use.
    pub fn retention(
        &mut self,
        table: &Tbl<'_, RetentionKey>,
        day: u64,
        video: &str,
        buckets: u16,
    ) -> Result<&mut Retention, StoreError> {
        let key = (day, video.to_owned(), buckets);
        if !self.retention.contains_key(&key) {
            let row = match table.get((day, video, buckets))? {
                Some(v) => postcard::from_bytes(v.value())?,
                None => Retention {
                    views: 0,
                    counts: vec![0; buckets as usize],
                },
            };
            self.retention
                .insert(key.clone(), Cached { row, dirty: false });
        }
        let cached = self.retention.get_mut(&key).expect("inserted above");
        cached.dirty = true;
        Ok(&mut cached.row)
    }

    /// Writes every row changed since the last flush; counter rows back at zero
    /// views are removed. The rows stay cached (see [`CACHE_ROWS`]).
    pub fn flush(
        &mut self,
        counters: &mut RowTable<'_>,
        sketches: &mut RowTable<'_>,
        retention: &mut Tbl<'_, RetentionKey>,
    ) -> Result<(), StoreError> {
        let mut buf = Vec::new();
        for (&(l, d, b), inner) in &mut self.rows.0 {
            for (v, row) in inner.iter_mut() {
                let key = (l, d, b, &**v);
                if std::mem::take(&mut row.counters_dirty) {
                    match &row.counters {
                        Some(c) if *c != Counters::default() => {
                            buf.clear();
                            postcard::to_io(c, &mut buf)?;
                            counters.insert(key, buf.as_slice())?;
                        }
                        _ => {
                            counters.remove(key)?;
                        }
                    }
                }
                if std::mem::take(&mut row.sketches_dirty) {
                    if let Some(s) = &row.sketches {
                        buf.clear();
                        postcard::to_io(s, &mut buf)?;
                        sketches.insert(key, buf.as_slice())?;
                    }
                }
            }
        }
        for ((day, video, buckets), c) in &mut self.retention {
            if !std::mem::take(&mut c.dirty) {
                continue;
            }
            if c.row.views == 0 {
                retention.remove((*day, video.as_str(), *buckets))?;
            } else {
                buf.clear();
                postcard::to_io(&c.row, &mut buf)?;
                retention.insert((*day, video.as_str(), *buckets), buf.as_slice())?;
            }
        }
        if self.rows.len() + self.retention.len() > CACHE_ROWS {
            *self = RollupCache::default();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(bucket_start(0, 125_000), 120_000);
        assert_eq!(bucket_start(1, 3_600_001), 3_600_000);
        assert_eq!(bucket_start(2, 86_399_999), 0);
    }

    #[test]
    fn coverage_hex() {
        // "0b" = 1011: buckets 0, 1, 3.
        assert_eq!(coverage_bits("0b", 5), [true, true, false, true, false]);
        // Digit order: the last digit holds buckets 0..4.
        assert_eq!(
            coverage_bits("10", 6),
            [false, false, false, false, true, false]
        );
        assert_eq!(coverage_bits("ff", 3), [true, true, true]);
    }

    #[test]
    fn counters_add_sub() {
        let mut m = ViewMetrics {
            watch_ms: 1000,
            playing_ms: 500,
            upscale_permille: 200,
            startup_ms: Some(40),
            ..ViewMetrics::default()
        };
        let a = Counters::of_view(&m);
        assert_eq!(a.upscale_weighted, 100_000);
        m.watch_ms = 3000;
        let b = Counters::of_view(&m);
        let mut row = a;
        row.sub(&a);
        row.add(&b);
        assert_eq!(row, b);
        assert_eq!(Counters::decode(&b.encode()).unwrap(), b);
    }
}
