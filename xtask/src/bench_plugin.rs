//! `cargo xtask bench plugin`: the plugin's budgets next to mux-embed 5.19.0 (from
//! npm, `web-demo/package-lock.json`), into `target/bench/plugin.json`.
//!
//! Three comparisons: script weight (vidpulse's wasm + JS, gzip -9, from
//! `target/bench/plugin_size.json` written by the plugin build; mux-embed's UMD
//! build `dist/mux.js`, gzip -9 here), bytes and requests per minute of steady
//! playback. The traffic is measured by the ignored e2e test
//! `tests/tests/bench_plugin.rs` (both on one page, one clip, one playback, each
//! sending to a counting sink); this task prepares everything, runs it in release
//! mode, adds the weights and prints the comparisons.

use anyhow::{Context, Result};
use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

use crate::util::{self, Workspace};
use crate::{clips, web_deps};

/// Goals from the issue: script ≤ 16 KB gzip; bytes/min ≤ ¼ of mux-embed's.
const GOAL_SCRIPT_GZIP_BYTES: u64 = 16 * 1024;
const GOAL_BYTES_RATIO: f64 = 0.25;

fn gzip9_len(path: &Path) -> Result<u64> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&bytes)?;
    Ok(enc.finish()?.len() as u64)
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn run(ws: &Workspace) -> Result<()> {
    let bench = ws.target.join("bench");
    let traffic_path = bench.join("plugin-traffic.json");
    crate::bench_browser::run_ignored_e2e(ws, "bench_plugin", &traffic_path, |ws| {
        clips::generate_long(ws).map(drop)
    })?;
    let traffic = read_json(&traffic_path)?;

    let size = read_json(&bench.join("plugin_size.json"))?;
    let plugin_gzip = size["plugin_gzip_bytes"]
        .as_u64()
        .context("plugin_gzip_bytes in plugin_size.json")?;
    let mux_file = web_deps::node_modules(ws).join("mux-embed/dist/mux.js");
    let mux_gzip = gzip9_len(&mux_file)?;
    let num = |k: &str| traffic[k].as_f64().unwrap_or(f64::NAN);
    let (bpm, mux_bpm) = (num("bytes_per_min"), num("mux_bytes_per_min"));
    let (rpm, mux_rpm) = (num("requests_per_min"), num("mux_requests_per_min"));
    let ratio = |a: f64, b: f64| ((a / b) * 1000.0).round() / 1000.0;

    let mut report = json!({
        "plugin_gzip_bytes": plugin_gzip,
        "mux_gzip_bytes": mux_gzip,
        "bytes_per_min": bpm,
        "mux_bytes_per_min": mux_bpm,
        "requests_per_min": rpm,
        "mux_requests_per_min": mux_rpm,
        "ratios": {
            "script_gzip": ratio(plugin_gzip as f64, mux_gzip as f64),
            "bytes_per_min": ratio(bpm, mux_bpm),
            "requests_per_min": ratio(rpm, mux_rpm),
        },
        "goals": {
            "plugin_gzip_bytes_max": GOAL_SCRIPT_GZIP_BYTES,
            "bytes_per_min_ratio_max": GOAL_BYTES_RATIO,
            "script_met": plugin_gzip <= GOAL_SCRIPT_GZIP_BYTES,
            "bytes_met": bpm <= GOAL_BYTES_RATIO * mux_bpm,
        },
        "what_counts": {
            "plugin_gzip_bytes": "gzip -9 of vidpulse_bg.wasm + gzip -9 of vidpulse.js (target/bench/plugin_size.json, cargo xtask plugin)",
            "mux_gzip_bytes": format!("gzip -9 of mux-embed's UMD build, {}", mux_file.strip_prefix(&ws.root).unwrap_or(&mux_file).display()),
            "traffic": traffic["what_counts"],
        },
        "mux_embed_version": "5.19.0",
    });
    if let (Value::Object(r), Value::Object(t)) = (&mut report, &traffic) {
        for (k, v) in t {
            r.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let out = bench.join("plugin.json");
    util::write_atomic(&out, serde_json::to_string_pretty(&report)?.as_bytes())?;

    let comp = &traffic["beacon_compression"]["vidpulse"];
    println!("bench plugin: vidpulse vs mux-embed 5.19.0");
    println!(
        "  script weight, gzip -9:         {plugin_gzip} B vs {mux_gzip} B ({:.0} %)",
        plugin_gzip as f64 * 100.0 / mux_gzip as f64
    );
    println!(
        "  bytes per minute (bodies):      {bpm} vs {mux_bpm} ({:.0} %)",
        bpm * 100.0 / mux_bpm
    );
    println!(
        "  requests per minute:            {rpm} vs {mux_rpm} ({:.0} %)",
        rpm * 100.0 / mux_rpm
    );
    println!(
        "  vidpulse beacon bodies gzipped: {} B of {} B raw",
        comp["gzip_bytes"], comp["raw_bytes"]
    );
    println!("bench plugin: {}", out.display());
    Ok(())
}
