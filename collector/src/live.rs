//! The live view: concurrent viewers and last-minute KPIs, in memory.
//!
//! The writer reports every committed change ([`crate::apply::Change`]); this
//! keeps, per view, when its last beacon came and whether it ended, plus one
//! [`Counters`] delta per second for the last minute. Concurrent viewers are the
//! views with a beacon in the last [`CONCURRENT_WINDOW_MS`] that have not ended.
//! Nothing here is durable: after a restart the live view fills up again within
//! one heartbeat period. `GET /v1/live` pushes a [`LiveSnapshot`] every second as
//! server-sent events.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::watch;

use crate::apply::Change;
use crate::kpis::Kpis;
use crate::rollup::Counters;

/// A view counts as watching when its last beacon is at most this old.
pub const CONCURRENT_WINDOW_MS: u64 = 30_000;
/// The window of the last-minute KPIs.
pub const LAST_MINUTE_MS: u64 = 60_000;

#[derive(Default)]
struct Inner {
    views: HashMap<String, (u64, bool)>,
    seconds: VecDeque<(u64, Counters)>,
    /// When `views` was last swept (a sweep walks every entry: at most once a
    /// second, not on every commit).
    views_swept_ms: u64,
}

/// Shortest interval between two sweeps of the per-view map.
const SWEEP_EVERY_MS: u64 = 1_000;

/// Shared live state. Cheap to clone.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Mutex<Inner>>,
    stop: Arc<watch::Sender<bool>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            inner: Arc::default(),
            stop: Arc::new(watch::channel(false).0),
        }
    }
}

/// What `GET /v1/live` sends each second.
#[derive(Serialize, Debug, Clone)]
pub struct LiveSnapshot {
    /// Server time, Unix ms.
    pub now_ms: u64,
    /// Views with a beacon in the last 30 s that have not ended.
    pub concurrent_viewers: u64,
    /// KPIs of what the beacons of the last 60 s added (counters only: views
    /// started, watch time added, rebuffering added, …).
    pub last_minute: Kpis,
}

impl Live {
    /// Ends every event stream (shutdown).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Records committed changes.
    pub fn record(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for c in changes {
            inner.views.insert(c.view_id.clone(), (c.now_ms, c.ended));
            let sec = c.now_ms / 1000;
            match inner.seconds.back_mut() {
                Some((s, counters)) if *s == sec => counters.add(&c.delta),
                _ => inner.seconds.push_back((sec, c.delta)),
            }
        }
        let now = changes.iter().map(|c| c.now_ms).max().unwrap_or(0);
        prune(&mut inner, now);
    }

    /// The state as of `now_ms`.
    pub fn snapshot(&self, now_ms: u64) -> LiveSnapshot {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut inner, now_ms);
        let concurrent = inner
            .views
            .values()
            .filter(|(t, ended)| !ended && t + CONCURRENT_WINDOW_MS >= now_ms)
            .count() as u64;
        let mut sum = Counters::default();
        for (_, c) in &inner.seconds {
            sum.add(c);
        }
        LiveSnapshot {
            now_ms,
            concurrent_viewers: concurrent,
            last_minute: Kpis::compute(&sum, None),
        }
    }
}

fn prune(inner: &mut Inner, now_ms: u64) {
    let oldest_sec = now_ms.saturating_sub(LAST_MINUTE_MS) / 1000;
    while inner.seconds.front().is_some_and(|(s, _)| *s <= oldest_sec) {
        inner.seconds.pop_front();
    }
    // Readers filter by time and `ended` themselves; the sweep only bounds memory.
    if now_ms >= inner.views_swept_ms + SWEEP_EVERY_MS || now_ms < inner.views_swept_ms {
        inner.views_swept_ms = now_ms;
        inner
            .views
            .retain(|_, (t, ended)| !*ended && *t + CONCURRENT_WINDOW_MS >= now_ms);
    }
}

/// `GET /v1/live`: a [`LiveSnapshot`] now and every second after.
pub async fn sse(State(live): State<Live>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stop = live.stop.subscribe();
    let stream = futures_util::stream::unfold(
        (live, tokio::time::interval(Duration::from_secs(1)), stop),
        |(live, mut tick, mut stop)| async move {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return None,
            }
            let snap = live.snapshot(crate::now_ms());
            let event = Event::default()
                .event("live")
                .json_data(&snap)
                .unwrap_or_else(|_| Event::default().comment("encoding failed"));
            Some((Ok(event), (live, tick, stop)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, now_ms: u64, ended: bool, watch: u64) -> Change {
        Change {
            view_id: id.into(),
            now_ms,
            ended,
            delta: Counters {
                watch_ms: watch,
                ..Counters::default()
            },
        }
    }

    #[test]
    fn concurrency_and_window() {
        let live = Live::default();
        live.record(&[
            change("a", 1_000_000, false, 10),
            change("b", 1_000_500, false, 5),
        ]);
        live.record(&[change("c", 1_001_000, true, 7)]);
        let s = live.snapshot(1_002_000);
        assert_eq!(s.concurrent_viewers, 2);
        assert_eq!(s.last_minute.watch_ms, 22);
        let s = live.snapshot(1_000_000 + 31_000);
        assert_eq!(s.concurrent_viewers, 0);
        let s = live.snapshot(1_000_000 + 62_000);
        assert_eq!(s.last_minute.watch_ms, 0);
    }
}
