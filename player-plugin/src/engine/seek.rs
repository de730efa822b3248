//! Seek accounting: count and latency, with seeks less than 2 s apart merged.
//!
//! A seek runs from `seeking` until playback resumes (or `seeked` when paused).
//! Scrubbing produces bursts of seeks; a seek that starts within the merge window
//! after the previous one ended continues it. The last seek stays *pending* (counted,
//! but open to merging) until the window passes, so totals never go down.

/// One seek: start and end times, playhead before and after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seek {
    pub start: f64,
    pub end: f64,
    pub from_pos: f64,
    pub to_pos: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seeks {
    /// A seek in progress: start time and position before it.
    open: Option<(f64, f64)>,
    /// The last finished seek, still open to merging.
    pending: Option<Seek>,
    count: u32,
    total_ms: f64,
    max_ms: f64,
}

impl Seeks {
    pub fn in_progress(&self) -> bool {
        self.open.is_some()
    }

    /// `seeking` at `now` from playhead `from_pos`. Returns a seek that became
    /// final (it can no longer merge), for the timeline.
    pub fn start(&mut self, now: f64, from_pos: f64, merge_ms: f64) -> Option<Seek> {
        if self.open.is_some() {
            return None;
        }
        match self.pending.take() {
            Some(p) if now - p.end < merge_ms => {
                self.open = Some((p.start, p.from_pos));
                None
            }
            Some(p) => {
                self.commit(p);
                self.open = Some((now, from_pos));
                Some(p)
            }
            None => {
                self.open = Some((now, from_pos));
                None
            }
        }
    }

    /// Playback resumed (or `seeked` while paused) at `at` with the playhead at `to_pos`.
    pub fn end(&mut self, at: f64, to_pos: f64) {
        if let Some((start, from_pos)) = self.open.take() {
            self.pending = Some(Seek {
                start,
                end: at.max(start),
                from_pos,
                to_pos,
            });
        }
    }

    /// Finalises a pending seek whose merge window has passed (or at view end,
    /// with `force`). Returns it for the timeline.
    pub fn settle(&mut self, now: f64, merge_ms: f64, force: bool) -> Option<Seek> {
        if force {
            if let Some((start, from_pos)) = self.open.take() {
                self.pending = Some(Seek {
                    start,
                    end: now.max(start),
                    from_pos,
                    to_pos: from_pos,
                });
            }
        }
        match self.pending {
            Some(p) if force || now - p.end >= merge_ms => {
                self.pending = None;
                self.commit(p);
                Some(p)
            }
            _ => None,
        }
    }

    fn commit(&mut self, s: Seek) {
        let d = s.end - s.start;
        self.count += 1;
        self.total_ms += d;
        self.max_ms = self.max_ms.max(d);
    }

    /// (count, total ms, max ms) as of `now`, pending and open seeks included.
    pub fn totals(&self, now: f64) -> (u32, f64, f64) {
        let live = match (self.open, self.pending) {
            (Some((start, _)), _) => Some(now - start),
            (None, Some(p)) => Some(p.end - p.start),
            (None, None) => None,
        };
        match live {
            Some(d) => (self.count + 1, self.total_ms + d, self.max_ms.max(d)),
            None => (self.count, self.total_ms, self.max_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Seeks;

    #[test]
    fn seeks_close_together_merge() {
        let mut s = Seeks::default();
        assert!(s.start(1000.0, 5.0, 2000.0).is_none());
        s.end(1300.0, 20.0);
        assert_eq!(s.totals(1400.0), (1, 300.0, 300.0));
        // 1.5 s later: the same seek goes on.
        assert!(s.start(2800.0, 20.0, 2000.0).is_none());
        s.end(3000.0, 40.0);
        assert_eq!(s.totals(3000.0), (1, 2000.0, 2000.0));
        let done = s
            .settle(6000.0, 2000.0, false)
            .expect("final after the window");
        assert_eq!((done.from_pos, done.to_pos), (5.0, 40.0));
        // A seek well after is a second one.
        s.start(10_000.0, 40.0, 2000.0);
        s.end(10_100.0, 50.0);
        assert_eq!(s.totals(10_100.0), (2, 2100.0, 2000.0));
    }
}
