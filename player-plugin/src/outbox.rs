//! The beacons waiting to reach the collector: a pure, bounded, persistable queue.
//!
//! Sans-IO like the engine: the glue pushes beacons, asks for a batch, sends it,
//! and reports the outcome; the outbox decides what to send, when to retry
//! (exponential backoff with jitter) and what to keep across a reload. Because a
//! beacon is a cumulative snapshot, a newer beacon of a view *replaces* an older
//! queued one (their timeline events are concatenated), so an outage costs one
//! entry per view, not one per heartbeat, and a replay never double-counts: the
//! collector keeps the highest `seq` per view.
//!
//! Persisted form: one serialised beacon per line (JSON escapes newlines inside
//! strings), so restoring needs no JSON parser in the plugin.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::json;
use crate::wire::{Beacon, WIRE_VERSION};

/// Limits and timings of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxConfig {
    /// Most entries kept (one per view, plus restored ones); the oldest idle entry
    /// is dropped beyond it.
    pub max_entries: usize,
    /// Most timeline events one entry keeps when beacons merge.
    pub max_events: usize,
    /// Most beacons in one request.
    pub max_batch: usize,
    /// First retry delay (ms); doubles per consecutive failure.
    pub backoff_base_ms: f64,
    /// Longest retry delay (ms).
    pub backoff_max_ms: f64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_entries: 100,
            max_events: 256,
            max_batch: 20,
            backoff_base_ms: 1_000.0,
            backoff_max_ms: 60_000.0,
        }
    }
}

// Not boxed: a few entries of a few hundred bytes each, and the boxing code cost
// the shipped wasm 64 B gzip.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Entry {
    /// A beacon of this page: newer beacons of its view merge into it.
    Live(Beacon),
    /// A serialised beacon restored from storage: sent as is.
    Raw(String),
}

/// What the collector said about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: stored.
    Stored,
    /// A 4xx other than 408/429: the collector will never take it; drop it.
    Rejected,
    /// Network error, 408, 429 or 5xx: try again later.
    Retry,
    /// 409: a delta's base is not what the collector holds (an acknowledgement
    /// was lost): send those views whole, at once.
    Conflict,
}

impl Outcome {
    /// Classifies an HTTP status (0 for a network error).
    pub fn from_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Stored,
            408 | 429 => Outcome::Retry,
            409 => Outcome::Conflict,
            400..=499 => Outcome::Rejected,
            _ => Outcome::Retry,
        }
    }
}

/// The queue.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    cfg: OutboxConfig,
    entries: Vec<Entry>,
    /// The first `in_flight` entries are in the request being sent.
    in_flight: usize,
    failures: u32,
    retry_at: f64,
    /// Entries dropped for lack of room, for the page's debugging.
    pub dropped: u32,
    /// The last beacon of each view the collector acknowledged (without events;
    /// newest last, at most [`ACKED_VIEWS`]): a later beacon of the view goes as
    /// its difference from it ([`json::delta`], `wire::Delta`).
    acked: Vec<Beacon>,
}

/// Most acknowledged view ids remembered.
pub const ACKED_VIEWS: usize = 64;

impl Outbox {
    /// An empty outbox.
    pub fn new(cfg: OutboxConfig) -> Outbox {
        Outbox {
            cfg,
            ..Outbox::default()
        }
    }

    /// Number of queued entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Queues a beacon, merging it into a queued, not-in-flight entry of its view.
    pub fn push(&mut self, mut b: Beacon) {
        let idle = self.in_flight..;
        let same_view = self.entries[idle.clone()]
            .iter()
            .position(|e| matches!(e, Entry::Live(q) if q.view_id == b.view_id && q.seq < b.seq));
        if let Some(i) = same_view.map(|i| i + self.in_flight) {
            if let Entry::Live(old) = &mut self.entries[i] {
                let mut events = core::mem::take(&mut old.events);
                events.append(&mut b.events);
                let excess = events.len().saturating_sub(self.cfg.max_events);
                b.events = events.split_off(excess);
            }
            self.entries[i] = Entry::Live(b);
            return;
        }
        if self.entries.len() >= self.cfg.max_entries {
            if self.in_flight < self.entries.len() {
                self.entries.remove(self.in_flight);
                self.dropped += 1;
            } else {
                self.dropped += 1;
                return;
            }
        }
        self.entries.push(Entry::Live(b));
    }

    /// Restores entries saved by [`Outbox::save`] (from a previous page).
    pub fn restore(&mut self, saved: &str) {
        for line in saved.as_bytes().split(|&b| b == b'\n') {
            if line.first() != Some(&b'{') {
                continue;
            }
            if self.entries.len() >= self.cfg.max_entries {
                self.dropped += 1;
                continue;
            }
            // SAFETY: `saved` is UTF-8 and was split at an ASCII byte.
            let line = unsafe { core::str::from_utf8_unchecked(line) };
            self.entries.push(Entry::Raw(line.to_owned()));
        }
    }

    /// Everything queued, one serialised beacon per line.
    pub fn save(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            out.push_str(&entry_json(e));
            crate::push_ascii(&mut out, b'\n');
        }
        out
    }

    /// When the next batch may go (`None`: now, if anything is queued).
    pub fn retry_at(&self) -> Option<f64> {
        (self.failures > 0).then_some(self.retry_at)
    }

    /// The next request body, if one may be sent at `now`: marks its entries in
    /// flight until [`Outbox::finish`].
    pub fn take_batch(&mut self, now: f64, property: &str, viewer_id: &str) -> Option<String> {
        if self.in_flight > 0
            || self.entries.is_empty()
            || (self.failures > 0 && now < self.retry_at)
        {
            return None;
        }
        let n = self.entries.len().min(self.cfg.max_batch);
        self.in_flight = n;
        Some(envelope(
            property,
            viewer_id,
            &self.entries[..n],
            &self.acked,
        ))
    }

    /// Every queued entry as one body, for `navigator.sendBeacon` when the page goes
    /// away. Nothing is removed: the entries stay saved and are sent again on the
    /// next page load, which the collector's per-view `seq` makes harmless. Since
    /// no answer comes back, the views sent go whole next time (the collector may
    /// now hold a newer base than the one acknowledged).
    pub fn all(&mut self, property: &str, viewer_id: &str) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        let body = envelope(property, viewer_id, &self.entries, &self.acked);
        self.forget(self.entries.len());
        Some(body)
    }

    /// Forgets the acknowledged beacons of the views of the first `n` entries.
    fn forget(&mut self, n: usize) {
        let sent = &self.entries[..n];
        self.acked.retain(|a| {
            !sent
                .iter()
                .any(|e| matches!(e, Entry::Live(b) if b.view_id == a.view_id))
        });
    }

    /// The outcome of the batch in flight. `jitter` is a random number in [0, 1).
    pub fn finish(&mut self, outcome: Outcome, now: f64, jitter: f64) {
        match outcome {
            Outcome::Stored | Outcome::Rejected => {
                for e in self.entries.drain(..self.in_flight) {
                    if let (Outcome::Stored, Entry::Live(mut b)) = (outcome, e) {
                        self.acked.retain(|a| a.view_id != b.view_id);
                        if self.acked.len() >= ACKED_VIEWS {
                            self.acked.remove(0);
                        }
                        b.events.clear();
                        self.acked.push(b);
                    }
                }
                self.failures = 0;
            }
            Outcome::Conflict => {
                self.forget(self.in_flight);
                self.failures = 0;
            }
            Outcome::Retry => {
                self.failures = self.failures.saturating_add(1);
                let exp = self.cfg.backoff_base_ms * f64::from(1u32 << (self.failures.min(30) - 1));
                let delay = exp.min(self.cfg.backoff_max_ms) * (0.5 + 0.5 * jitter.clamp(0.0, 1.0));
                self.retry_at = now + delay;
            }
        }
        self.in_flight = 0;
    }
}

fn entry_json(e: &Entry) -> String {
    match e {
        Entry::Live(b) => json::beacon(b),
        Entry::Raw(s) => s.clone(),
    }
}

/// The `wire::Batch` envelope around the entries (a native test checks it parses
/// as `Batch`). An empty `viewer_id` means cookieless mode. A live entry of an
/// `acked` view is written as a delta from the acknowledged beacon.
fn envelope(property: &str, viewer_id: &str, entries: &[Entry], acked: &[Beacon]) -> String {
    let mut whole = Vec::new();
    let mut deltas = Vec::new();
    for e in entries {
        let delta = match e {
            Entry::Live(b) => acked
                .iter()
                .find(|a| a.view_id == b.view_id)
                .and_then(|a| json::delta(a, b)),
            Entry::Raw(_) => None,
        };
        match delta {
            Some(d) => deltas.push(d),
            None => whole.push(entry_json(e)),
        }
    }
    json::batch(WIRE_VERSION, property, viewer_id, &whole, &deltas)
}
