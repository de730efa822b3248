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
/// Default number of wrong operator tokens a client IP may present per minute.
pub const DEFAULT_MAX_TOKEN_FAILURES: u32 = 10;
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

/// Default limit on timeline events in one beacon (the plugin's outbox keeps at
/// most 256 when it merges a view's queued beacons).
pub const DEFAULT_MAX_EVENTS_PER_BEACON: usize = 256;
/// Default sustained rate of beacon requests one client IP may send, per second.
pub const DEFAULT_RATE_IP_PER_SEC: u32 = 20;
/// Default burst of beacon requests one client IP may send at once.
pub const DEFAULT_RATE_IP_BURST: u32 = 200;
/// Default sustained rate of beacons one property may receive, per second.
pub const DEFAULT_RATE_PROPERTY_PER_SEC: u32 = 5_000;
/// Default burst of beacons one property may receive at once.
pub const DEFAULT_RATE_PROPERTY_BURST: u32 = 50_000;
/// Default time a request (body included) may take before it is answered 408.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Default time a client has to send a request's headers; it is also how long
/// an idle keep-alive connection stays open.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 15;
/// Default cap on open connections (beyond it, new ones wait in the OS backlog).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default cap on open connections from one client IP.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;

/// What ingest does with JSON fields the wire format does not know.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UnknownFields {
    /// Skip them (a newer plugin may send more than this collector knows).
    #[default]
    Ignore,
    /// Refuse the batch with 400 naming the first unknown field.
    Reject,
}

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

    /// Most timeline events in one beacon.
    #[arg(long, env = "VIDPULSE_MAX_EVENTS_PER_BEACON", default_value_t = DEFAULT_MAX_EVENTS_PER_BEACON)]
    pub max_events_per_beacon: usize,

    /// JSON fields the wire format does not know: `ignore` or `reject` (400).
    #[arg(long, env = "VIDPULSE_UNKNOWN_FIELDS", value_enum, default_value_t = UnknownFields::Ignore)]
    pub unknown_fields: UnknownFields,

    /// An accepted property key, optionally with the page origins allowed to
    /// send for it: `KEY` or `KEY=https://a.example,https://b.example`
    /// (repeat the flag; in the env var separate entries with `;`). With none,
    /// every well-formed key is accepted (open mode, logged at start).
    #[arg(long = "property", env = "VIDPULSE_PROPERTIES", value_delimiter = ';')]
    pub properties: Vec<String>,

    /// Beacon requests per second one client IP may send (sustained; 0: no limit).
    #[arg(long, env = "VIDPULSE_RATE_IP_PER_SEC", default_value_t = DEFAULT_RATE_IP_PER_SEC)]
    pub rate_ip_per_sec: u32,

    /// Beacon requests one client IP may send in a burst.
    #[arg(long, env = "VIDPULSE_RATE_IP_BURST", default_value_t = DEFAULT_RATE_IP_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_ip_burst: u32,

    /// Beacons per second one property may receive (sustained; 0: no limit).
    #[arg(long, env = "VIDPULSE_RATE_PROPERTY_PER_SEC", default_value_t = DEFAULT_RATE_PROPERTY_PER_SEC)]
    pub rate_property_per_sec: u32,

    /// Beacons one property may receive in a burst.
    #[arg(long, env = "VIDPULSE_RATE_PROPERTY_BURST", default_value_t = DEFAULT_RATE_PROPERTY_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_property_burst: u32,

    /// Rate-limit loopback clients too (by default 127.0.0.0/8 and ::1 are
    /// exempt: the demo, tests and benches load from there).
    #[arg(long, env = "VIDPULSE_RATE_LIMIT_LOOPBACK")]
    pub rate_limit_loopback: bool,

    /// Wrong operator tokens a client IP may present per minute before it gets
    /// 429 for every credential until its bucket refills (0: no limit; loopback
    /// exempt unless --rate-limit-loopback).
    #[arg(long, env = "VIDPULSE_MAX_TOKEN_FAILURES", default_value_t = DEFAULT_MAX_TOKEN_FAILURES)]
    pub max_token_failures: u32,

    /// Seconds a request may take, body included, before it is answered 408.
    #[arg(long, env = "VIDPULSE_REQUEST_TIMEOUT_SECS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Seconds a client has to send a request's headers; also how long an idle
    /// keep-alive connection is kept.
    #[arg(long, env = "VIDPULSE_HEADER_TIMEOUT_SECS", default_value_t = DEFAULT_HEADER_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,

    /// Most open connections; beyond it new connections wait in the OS backlog.
    #[arg(long, env = "VIDPULSE_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = parse_positive)]
    pub max_connections: usize,

    /// Most open connections from one client IP; more are closed at once.
    #[arg(long, env = "VIDPULSE_MAX_CONNECTIONS_PER_IP", default_value_t = DEFAULT_MAX_CONNECTIONS_PER_IP,
          value_parser = parse_positive)]
    pub max_connections_per_ip: usize,

    /// Open the database, check it (every rollup row equals a recomputation
    /// from the stored views), print the result as JSON and exit (1 on a mismatch).
    #[arg(long)]
    pub check: bool,
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive integer, got {s:?}")),
    }
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
            max_events_per_beacon: DEFAULT_MAX_EVENTS_PER_BEACON,
            unknown_fields: UnknownFields::Ignore,
            properties: Vec::new(),
            rate_ip_per_sec: DEFAULT_RATE_IP_PER_SEC,
            rate_ip_burst: DEFAULT_RATE_IP_BURST,
            rate_property_per_sec: DEFAULT_RATE_PROPERTY_PER_SEC,
            rate_property_burst: DEFAULT_RATE_PROPERTY_BURST,
            rate_limit_loopback: false,
            max_token_failures: DEFAULT_MAX_TOKEN_FAILURES,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            header_timeout_secs: DEFAULT_HEADER_TIMEOUT_SECS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            check: false,
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
        assert_eq!(parsed.max_events_per_beacon, test.max_events_per_beacon);
        assert_eq!(parsed.unknown_fields, test.unknown_fields);
        assert_eq!(parsed.properties, test.properties);
        assert_eq!(parsed.rate_ip_per_sec, test.rate_ip_per_sec);
        assert_eq!(parsed.rate_ip_burst, test.rate_ip_burst);
        assert_eq!(parsed.rate_property_per_sec, test.rate_property_per_sec);
        assert_eq!(parsed.rate_property_burst, test.rate_property_burst);
        assert_eq!(parsed.rate_limit_loopback, test.rate_limit_loopback);
        assert_eq!(parsed.max_token_failures, test.max_token_failures);
        assert_eq!(parsed.request_timeout_secs, test.request_timeout_secs);
        assert_eq!(parsed.header_timeout_secs, test.header_timeout_secs);
        assert_eq!(parsed.max_connections, test.max_connections);
        assert_eq!(parsed.max_connections_per_ip, test.max_connections_per_ip);
    }

    #[test]
    fn hardening_flags_parse() {
        let parsed = Config::try_parse_from([
            "x",
            "--property",
            "a",
            "--property",
            "b=https://b.example,https://c.example",
            "--unknown-fields",
            "reject",
            "--max-connections",
            "8",
        ])
        .unwrap();
        assert_eq!(
            parsed.properties,
            ["a", "b=https://b.example,https://c.example"]
        );
        assert_eq!(parsed.unknown_fields, UnknownFields::Reject);
        assert_eq!(parsed.max_connections, 8);
        assert!(Config::try_parse_from(["x", "--max-connections", "0"]).is_err());
        assert!(Config::try_parse_from(["x", "--rate-ip-burst", "0"]).is_err());
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
