//! Runtime configuration of the collector.
//!
//! One struct serves both the command line (clap derive, every flag also readable
//! from a `VIDPULSE_*` environment variable) and embedders such as the end-to-end
//! tests, which build it directly with [`Config::for_test`]. Every input limit is a
//! named, configurable field here (DESIGN.md, principle 6).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Default limit on a request body, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default limit on the number of beacons in one batch.
pub const DEFAULT_MAX_BEACONS_PER_BATCH: usize = 50;
/// Default limit on the length of any free-form string in a beacon, in characters.
pub const DEFAULT_MAX_STRING_LEN: usize = 2048;

/// Default capacity of the writer's queue, in requests.
pub const DEFAULT_INGEST_QUEUE: usize = 4096;
/// Default limit on the timeline events kept per view.
pub const DEFAULT_MAX_VIEW_EVENTS: u32 = 500;
/// Default limit on the views one query may scan when rollups cannot answer it.
pub const DEFAULT_MAX_SCAN_VIEWS: usize = 200_000;
/// Default size of redb's page cache, in MiB (redb's own default is 1 GiB).
pub const DEFAULT_CACHE_MB: u64 = 64;

/// Collector configuration.
#[derive(clap::Parser, Clone, Debug)]
#[command(
    name = "vidpulse-collector",
    version,
    about = "vidpulse collector: video QoE beacons in, KPIs out"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "VIDPULSE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Path of the redb database file (its parent directory is created).
    #[arg(long, env = "VIDPULSE_DATA", default_value = "./data/vidpulse.redb")]
    pub data: PathBuf,

    /// Directory of the demo page, served at `/`.
    #[arg(long, env = "VIDPULSE_DEMO_DIR")]
    pub demo_dir: Option<PathBuf>,

    /// Directory of the built plugin (wasm + JS glue), served under `/plugin/`.
    #[arg(long, env = "VIDPULSE_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,

    /// Directory of test clips, served under `/media/` with optional throttling.
    #[arg(long, env = "VIDPULSE_MEDIA_DIR")]
    pub media_dir: Option<PathBuf>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "VIDPULSE_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Largest accepted number of beacons in one batch.
    #[arg(long, env = "VIDPULSE_MAX_BEACONS_PER_BATCH", default_value_t = DEFAULT_MAX_BEACONS_PER_BATCH)]
    pub max_beacons_per_batch: usize,

    /// Longest accepted free-form string (title, src, error message...), in characters.
    #[arg(long, env = "VIDPULSE_MAX_STRING_LEN", default_value_t = DEFAULT_MAX_STRING_LEN)]
    pub max_string_len: usize,

    /// MaxMind GeoIP2/GeoLite2 Country or City database: views get a country.
    #[arg(long, env = "VIDPULSE_GEOIP")]
    pub geoip: Option<PathBuf>,

    /// Delete views and rollups older than this many days (checked hourly).
    #[arg(long, env = "VIDPULSE_RETENTION_DAYS", value_parser = clap::value_parser!(u64).range(1..))]
    pub retention_days: Option<u64>,

    /// Capacity of the group-commit writer's queue, in requests.
    #[arg(long, env = "VIDPULSE_INGEST_QUEUE", default_value_t = DEFAULT_INGEST_QUEUE)]
    pub ingest_queue: usize,

    /// Most timeline events kept per view.
    #[arg(long, env = "VIDPULSE_MAX_VIEW_EVENTS", default_value_t = DEFAULT_MAX_VIEW_EVENTS)]
    pub max_view_events: u32,

    /// Most views a query may scan when rollups cannot answer it.
    #[arg(long, env = "VIDPULSE_MAX_SCAN_VIEWS", default_value_t = DEFAULT_MAX_SCAN_VIEWS)]
    pub max_scan_views: usize,

    /// Memory for redb's page cache, in MiB: the largest part of the collector's
    /// resident memory. More helps queries over ranges not read recently.
    #[arg(long, env = "VIDPULSE_CACHE_MB", default_value_t = DEFAULT_CACHE_MB,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_mb: u64,

    /// Operator token for the query API, dashboard, export, erasure and backup
    /// (`Authorization: Bearer`, or the dashboard's login); without it only
    /// loopback clients are served. Never printed (see `crate::auth::Secret`).
    #[arg(long, env = "VIDPULSE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<crate::auth::Secret>,

    /// Directory for `POST /v1/backup` copies (default: `backups/` beside the data file).
    #[arg(long, env = "VIDPULSE_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "VIDPULSE_LOG_JSON")]
    pub log_json: bool,
}

impl Config {
    /// A configuration for tests: an ephemeral loopback port, the given database
    /// file, no static directories, default limits.
    pub fn for_test(data: PathBuf) -> Config {
        // Keep in sync with the clap defaults (tested below).
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data,
            demo_dir: None,
            plugin_dir: None,
            media_dir: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_beacons_per_batch: DEFAULT_MAX_BEACONS_PER_BATCH,
            max_string_len: DEFAULT_MAX_STRING_LEN,
            geoip: None,
            retention_days: None,
            ingest_queue: DEFAULT_INGEST_QUEUE,
            max_view_events: DEFAULT_MAX_VIEW_EVENTS,
            max_scan_views: DEFAULT_MAX_SCAN_VIEWS,
            cache_mb: DEFAULT_CACHE_MB,
            admin_token: None,
            backup_dir: None,
            log_json: false,
        }
    }
}

impl Config {
    /// The backup directory in effect.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup_dir.clone().unwrap_or_else(|| {
            self.data
                .parent()
                .map_or_else(|| PathBuf::from("backups"), |p| p.join("backups"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_match_for_test_limits() {
        let parsed = Config::try_parse_from(["vidpulse-collector"]).unwrap();
        let test = Config::for_test(PathBuf::from("x.redb"));
        assert_eq!(parsed.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(parsed.data, PathBuf::from("./data/vidpulse.redb"));
        assert_eq!(parsed.max_body_bytes, test.max_body_bytes);
        assert_eq!(parsed.max_beacons_per_batch, test.max_beacons_per_batch);
        assert_eq!(parsed.max_string_len, test.max_string_len);
        assert_eq!(parsed.ingest_queue, test.ingest_queue);
        assert_eq!(parsed.max_view_events, test.max_view_events);
        assert_eq!(parsed.max_scan_views, test.max_scan_views);
        assert_eq!(parsed.cache_mb, test.cache_mb);
        assert_eq!(parsed.retention_days, None);
    }

    #[test]
    fn flags_override_defaults() {
        let parsed = Config::try_parse_from([
            "vidpulse-collector",
            "--listen",
            "0.0.0.0:9000",
            "--max-body-bytes",
            "10",
            "--media-dir",
            "clips",
            "--retention-days",
            "30",
            "--cache-mb",
            "16",
        ])
        .unwrap();
        assert_eq!(parsed.retention_days, Some(30));
        assert_eq!(parsed.cache_mb, 16);
        assert!(Config::try_parse_from(["x", "--cache-mb", "0"]).is_err());
        assert!(Config::try_parse_from(["x", "--retention-days", "0"]).is_err());
        assert_eq!(parsed.listen.port(), 9000);
        assert_eq!(parsed.max_body_bytes, 10);
        assert_eq!(parsed.media_dir, Some(PathBuf::from("clips")));
    }
}
