//! A consistency check of a database file: every rollup row (counters and
//! per-video retention) must equal a recomputation from the stored views.
//!
//! Rollups are moved incrementally by `new − previous` in the same transaction
//! as the view record, so after any crash they must still match the views
//! exactly; this is how the crash test (and `vidpulse-collector --check`) proves
//! it. Opening the file at all also proves redb recovered it cleanly.

use std::collections::HashMap;

use redb::{ReadableDatabase, ReadableTable, TableError};
use serde::Serialize;

use crate::dims;
use crate::rollup::{
    bucket_start, coverage_bits, Counters, Retention, LEVEL_MS, RETENTION, ROLLUP_COUNTERS,
};
use crate::store::{Store, StoreError};

/// What [`check`] found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    /// Stored views.
    pub views: u64,
    /// Non-empty counter rows compared.
    pub counter_rows: u64,
    /// Non-empty retention rows compared.
    pub retention_rows: u64,
    /// Differences, at most [`MAX_REPORTED`] described.
    pub mismatches: Vec<String>,
    /// Total number of differences.
    pub mismatch_count: u64,
}

/// Most mismatches described in a report.
pub const MAX_REPORTED: usize = 20;

impl CheckReport {
    /// No difference found.
    pub fn ok(&self) -> bool {
        self.mismatch_count == 0
    }
}

type CounterKey = (u8, u8, u64, String);

/// Recomputes every rollup from the stored views and compares.
pub fn check(store: &Store) -> Result<CheckReport, StoreError> {
    let mut want: HashMap<CounterKey, Counters> = HashMap::new();
    let mut want_ret: HashMap<(u64, String, u16), Retention> = HashMap::new();
    let mut views = 0u64;
    store.for_each_view(|r| {
        views += 1;
        let c = Counters::of_view(&r.beacon.metrics);
        for (dim, value) in dims::values(r) {
            for level in 0..LEVEL_MS.len() as u8 {
                let key = (
                    level,
                    dim.code(),
                    bucket_start(level, r.beacon.started_at_ms),
                    value.clone(),
                );
                want.entry(key).or_default().add(&c);
            }
        }
        let m = &r.beacon.metrics;
        if let (Some(video), Some(hex)) = (r.beacon.video.id.as_deref(), m.coverage.as_deref()) {
            if m.coverage_buckets > 0 {
                let row = want_ret
                    .entry((
                        bucket_start(2, r.beacon.started_at_ms),
                        video.to_owned(),
                        m.coverage_buckets,
                    ))
                    .or_insert_with(|| Retention {
                        views: 0,
                        counts: vec![0; usize::from(m.coverage_buckets)],
                    });
                row.views += 1;
                for (count, set) in row
                    .counts
                    .iter_mut()
                    .zip(coverage_bits(hex, m.coverage_buckets))
                {
                    *count += u64::from(set);
                }
            }
        }
    })?;

    let txn = store.db().begin_read()?;
    let mut mismatches = Vec::new();
    let mut count = 0u64;
    let mut note = |s: String| {
        count += 1;
        if mismatches.len() < MAX_REPORTED {
            mismatches.push(s);
        }
    };
    let mut counter_rows = 0u64;
    match txn.open_table(ROLLUP_COUNTERS) {
        Ok(table) => {
            for entry in table.iter()? {
                let (k, v) = entry?;
                let (level, dim, bucket, value) = k.value();
                let have = Counters::decode(v.value())?;
                let key = (level, dim, bucket, value.to_owned());
                let expected = want.remove(&key).unwrap_or_default();
                if have == Counters::default() && expected == Counters::default() {
                    continue;
                }
                counter_rows += 1;
                if have != expected {
                    note(format!(
                        "counters {key:?}: stored {have:?}, recomputed {expected:?}"
                    ));
                }
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    for (key, expected) in want {
        if expected != Counters::default() {
            note(format!(
                "counters {key:?}: missing, recomputed {expected:?}"
            ));
        }
    }
    let mut retention_rows = 0u64;
    match txn.open_table(RETENTION) {
        Ok(table) => {
            for entry in table.iter()? {
                let (k, v) = entry?;
                let (day, video, buckets) = k.value();
                let have: Retention = postcard::from_bytes(v.value())?;
                let key = (day, video.to_owned(), buckets);
                let expected = want_ret.remove(&key);
                let empty = have.views == 0 && have.counts.iter().all(|&c| c == 0);
                if empty && expected.is_none() {
                    continue;
                }
                retention_rows += 1;
                if Some(&have) != expected.as_ref() {
                    note(format!(
                        "retention {key:?}: stored {have:?}, recomputed {expected:?}"
                    ));
                }
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(e.into()),
    }
    for (key, expected) in want_ret {
        note(format!(
            "retention {key:?}: missing, recomputed {expected:?}"
        ));
    }
    Ok(CheckReport {
        views,
        counter_rows,
        retention_rows,
        mismatches,
        mismatch_count: count,
    })
}
