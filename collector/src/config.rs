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
}

impl Config {
    /// A configuration for tests: an ephemeral loopback port, the given database
    /// file, no static directories, default limits.
    pub fn for_test(data: PathBuf) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data,
            demo_dir: None,
            plugin_dir: None,
            media_dir: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_beacons_per_batch: DEFAULT_MAX_BEACONS_PER_BATCH,
            max_string_len: DEFAULT_MAX_STRING_LEN,
        }
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
        ])
        .unwrap();
        assert_eq!(parsed.listen.port(), 9000);
        assert_eq!(parsed.max_body_bytes, 10);
        assert_eq!(parsed.media_dir, Some(PathBuf::from("clips")));
    }
}
