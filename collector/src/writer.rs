//! The single writer: group commit (DESIGN.md, principle 3).
//!
//! Handlers send their validated batch with a oneshot to a bounded queue and await
//! the reply. One OS thread owns every write: it takes the first queued operation,
//! then everything else already queued (up to [`MAX_GROUP`]), applies them all in
//! one redb write transaction, commits (fsync), and only then answers each
//! request. Concurrent requests thus share one fsync; a failed transaction fails
//! every request in it and stores none of them. Erasure and retention purges go
//! through the same queue, so there is never a second writer. The thread ends when
//! every sender is gone (shutdown), after finishing what was queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use redb::ReadableTable;
use tokio::sync::{mpsc, oneshot};
use vidpulse_plugin::wire::Batch;

use crate::apply::{Apply, Change};
use crate::dims::ClientDims;
use crate::live::Live;
use crate::rollup::{RollupCache, LEVEL_MS, RETENTION, ROLLUP_COUNTERS, ROLLUP_SKETCHES};
use crate::store::{Applied, Received, Store, StoreError};

/// Most operations applied in one transaction.
pub const MAX_GROUP: usize = 512;
/// Most views one purge operation deletes (the retention task repeats it).
pub const PURGE_CHUNK: usize = 5_000;
/// Upper bounds (ms) of the commit-latency histogram buckets.
pub const COMMIT_BUCKETS_MS: [f64; 10] =
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// What a request's own task makes before queueing its batch, so the one
/// writer thread does not: each beacon's JSON as stored (without its events,
/// see [`crate::store::encode_record`]) and the client's dimensions (used if a
/// view is new).
pub struct Prepared {
    /// Per beacon, in batch order.
    pub beacons_json: Vec<Vec<u8>>,
    /// Browser, OS, device type and country of the request.
    pub client: ClientDims,
}

impl Prepared {
    /// Prepares `batch` (its beacons are left as they were).
    pub fn of(batch: &mut Batch, received: &Received) -> Result<Prepared, StoreError> {
        let mut beacons_json = Vec::with_capacity(batch.beacons.len());
        for beacon in &mut batch.beacons {
            let events = std::mem::take(&mut beacon.events);
            let json = serde_json::to_vec(&*beacon);
            beacon.events = events;
            beacons_json.push(json?);
        }
        let client =
            ClientDims::from_request(received.user_agent.as_deref(), received.country.clone());
        Ok(Prepared {
            beacons_json,
            client,
        })
    }
}

enum Op {
    Ingest(Box<(Batch, Received, Prepared)>, Reply<Applied>),
    EraseViewer(String, Reply<usize>),
    PurgeBefore(u64, Reply<usize>),
}

/// Counters the writer keeps for `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Committed transactions.
    pub commits: AtomicU64,
    /// Requests (batches) acknowledged.
    pub batches: AtomicU64,
    /// Beacons accepted.
    pub accepted: AtomicU64,
    /// Beacons found stale.
    pub stale: AtomicU64,
    /// Failed transactions.
    pub errors: AtomicU64,
    /// Commit latency histogram (cumulative per [`COMMIT_BUCKETS_MS`], then +Inf).
    pub commit_buckets: [AtomicU64; 11],
    /// Σ commit latency, µs.
    pub commit_us_sum: AtomicU64,
}

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
    /// Its statistics.
    pub stats: Arc<Stats>,
}

impl Writer {
    /// Starts the writer thread over `store`, with a queue of `queue` operations.
    pub fn start(
        store: Store,
        queue: usize,
        max_view_events: u32,
        live: Live,
    ) -> (Writer, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let stats = Arc::new(Stats::default());
        let thread_stats = stats.clone();
        let join = std::thread::Builder::new()
            .name("vidpulse-writer".into())
            .spawn(move || run(store, rx, max_view_events, live, &thread_stats))
            .expect("spawning the writer thread");
        (Writer { tx, stats }, join)
    }

    /// Operations waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Op) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Applies a validated batch; returns once it is committed.
    pub async fn ingest(
        &self,
        mut batch: Batch,
        received: Received,
    ) -> Result<Applied, StoreError> {
        let prepared = Prepared::of(&mut batch, &received)?;
        self.call(|r| Op::Ingest(Box::new((batch, received, prepared)), r))
            .await
    }

    /// Deletes every view of a viewer; returns how many.
    pub async fn erase_viewer(&self, viewer_id: String) -> Result<usize, StoreError> {
        self.call(|r| Op::EraseViewer(viewer_id, r)).await
    }

    /// Deletes up to [`PURGE_CHUNK`] views started before `cutoff_ms`, and the
    /// rollup rows whose bucket ends by then; returns how many views.
    pub async fn purge_before(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        self.call(|r| Op::PurgeBefore(cutoff_ms, r)).await
    }
}

fn run(store: Store, mut rx: mpsc::Receiver<Op>, max_events: u32, live: Live, stats: &Stats) {
    let mut cache = None;
    while let Some(first) = rx.blocking_recv() {
        let mut ops = vec![first];
        while ops.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let mut changes = Vec::new();
        match apply_group(&store, &ops, max_events, &mut changes, &mut cache) {
            Ok(results) => {
                let us = started.elapsed().as_micros() as u64;
                record_commit(stats, us);
                live.record(&changes);
                for (op, result) in ops.into_iter().zip(results) {
                    match op {
                        Op::Ingest(_, reply) => {
                            let applied = result.0;
                            stats.batches.fetch_add(1, Ordering::Relaxed);
                            stats
                                .accepted
                                .fetch_add(applied.accepted as u64, Ordering::Relaxed);
                            stats
                                .stale
                                .fetch_add(applied.stale as u64, Ordering::Relaxed);
                            let _ = reply.send(Ok(applied));
                        }
                        Op::EraseViewer(_, reply) | Op::PurgeBefore(_, reply) => {
                            let _ = reply.send(Ok(result.1));
                        }
                    }
                }
            }
            Err(err) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%err, ops = ops.len(), "write transaction failed");
                let msg = err.to_string();
                let fail = || StoreError::Io(std::io::Error::other(msg.clone()));
                for op in ops {
                    match op {
                        Op::Ingest(_, reply) => drop(reply.send(Err(fail()))),
                        Op::EraseViewer(_, reply) | Op::PurgeBefore(_, reply) => {
                            drop(reply.send(Err(fail())))
                        }
                    }
                }
            }
        }
    }
    tracing::debug!("writer stopped");
}

fn record_commit(stats: &Stats, us: u64) {
    stats.commits.fetch_add(1, Ordering::Relaxed);
    stats.commit_us_sum.fetch_add(us, Ordering::Relaxed);
    let ms = us as f64 / 1000.0;
    let i = COMMIT_BUCKETS_MS
        .iter()
        .position(|&b| ms <= b)
        .unwrap_or(COMMIT_BUCKETS_MS.len());
    stats.commit_buckets[i].fetch_add(1, Ordering::Relaxed);
}

/// Applies every operation in one transaction and commits.
///
/// `cache` holds the rollup rows of earlier committed transactions; it is taken
/// here and put back only once this transaction commits without touching rollup
/// rows behind the cache's back (a purge does), so it never holds uncommitted or
/// stale rows.
fn apply_group(
    store: &Store,
    ops: &[Op],
    max_events: u32,
    changes: &mut Vec<Change>,
    cache: &mut Option<RollupCache>,
) -> Result<Vec<(Applied, usize)>, StoreError> {
    let txn = store.db().begin_write()?;
    let mut results = Vec::with_capacity(ops.len());
    let kept;
    {
        let mut apply = Apply::with_cache(&txn, max_events, cache.take().unwrap_or_default())?;
        for op in ops {
            results.push(match op {
                Op::Ingest(b, _) => {
                    let (batch, received, prepared) = &**b;
                    let applied = apply.batch_prepared(batch, received, Some(prepared), changes)?;
                    (applied, 0)
                }
                Op::EraseViewer(viewer, _) => {
                    let mut n = 0;
                    for id in apply.views_of_viewer(viewer)? {
                        n += usize::from(apply.remove(&id)?.is_some());
                    }
                    (Applied::default(), n)
                }
                Op::PurgeBefore(cutoff, _) => {
                    let ids = apply.views_before(*cutoff, PURGE_CHUNK)?;
                    for id in &ids {
                        apply.remove(id)?;
                    }
                    (Applied::default(), ids.len())
                }
            });
        }
        kept = apply.finish_keep()?;
    }
    let mut purged = false;
    for op in ops {
        if let Op::PurgeBefore(cutoff, _) = op {
            purge_rollups(&txn, *cutoff)?;
            purged = true;
        }
    }
    txn.commit()?;
    if !purged {
        *cache = Some(kept);
    }
    Ok(results)
}

/// Deletes rollup and retention rows whose bucket ends at or before `cutoff_ms`.
fn purge_rollups(txn: &redb::WriteTransaction, cutoff_ms: u64) -> Result<(), StoreError> {
    if let Some(end) = cutoff_ms.checked_sub(LEVEL_MS[2]) {
        let mut table = txn.open_table(RETENTION)?;
        let keys: Vec<(u64, String, u16)> = table
            .range((0u64, "", 0u16)..(end + 1, "", 0u16))?
            .map(|e| {
                e.map(|(k, _)| {
                    let (d, v, b) = k.value();
                    (d, v.to_owned(), b)
                })
            })
            .collect::<Result<_, _>>()?;
        for (day, video, buckets) in keys {
            table.remove((day, video.as_str(), buckets))?;
        }
    }
    for def in [ROLLUP_COUNTERS, ROLLUP_SKETCHES] {
        let mut table = txn.open_table(def)?;
        for (level, width) in LEVEL_MS.iter().enumerate() {
            let Some(end) = cutoff_ms.checked_sub(*width) else {
                continue;
            };
            for dim in crate::dims::Dim::EVERY.iter().map(|d| d.code()) {
                let level = level as u8;
                let lo = (level, dim, 0u64, "");
                let hi = (level, dim, end + 1, "");
                let keys: Vec<(u64, String)> = table
                    .range(lo..hi)?
                    .map(|e| e.map(|(k, _)| (k.value().2, k.value().3.to_owned())))
                    .collect::<Result<_, _>>()?;
                for (bucket, value) in keys {
                    table.remove((level, dim, bucket, value.as_str()))?;
                }
            }
        }
    }
    Ok(())
}
