//! The engine's tunables: every limit and threshold of the metric rules, named in
//! one place, with `METRICS.md`'s values as defaults.

/// Tunables of the engine. Every limit is named here; the defaults are
/// `METRICS.md`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Heartbeat beacon period while a view changes (ms).
    pub beacon_interval_ms: f64,
    /// Stalls shorter than this are ignored (ms).
    pub rebuffer_min_ms: f64,
    /// The playhead not advancing this long while playback is wanted starts a
    /// rebuffer even without a `waiting` event (ms).
    pub watchdog_ms: f64,
    /// Cap on one playing-time increment, so a sleeping tab cannot inflate it (ms).
    pub playing_increment_cap_ms: f64,
    /// A view without playback activity for this long ends (ms).
    pub idle_timeout_ms: f64,
    /// Seeks starting less than this after the previous one ended merge (ms).
    pub seek_merge_ms: f64,
    /// Share of the timeline watched that makes a view "completed".
    pub completed_fraction: f64,
    /// Player init (`performance.now()` ms): the `playerInitTime` option or when
    /// `monitor()` ran. `None` when the element was already loaded before then,
    /// so player startup cannot be measured.
    pub player_init_at: Option<f64>,
    /// Navigation start to player init, given only to the first player on a page.
    pub page_load_ms: Option<f64>,
    /// The element autoplays: its first view counts as autoplay-initiated.
    pub autoplay: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            beacon_interval_ms: 10_000.0,
            rebuffer_min_ms: 250.0,
            watchdog_ms: 1_000.0,
            playing_increment_cap_ms: 1_000.0,
            idle_timeout_ms: 60.0 * 60.0 * 1000.0,
            seek_merge_ms: 2_000.0,
            completed_fraction: 0.95,
            player_init_at: None,
            page_load_ms: None,
            autoplay: false,
        }
    }
}
