//! Builds the browser plugin: cargo (size profile) → wasm-bindgen (ES module
//! glue) → wasm-opt -Oz, into `target/plugin-pkg/`, and records its size in
//! `target/bench/plugin_size.json` because every viewer downloads it.

use crate::setup;
use crate::util::{self, run, Workspace};
use anyhow::{Context, Result};
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn build(ws: &Workspace) -> Result<PathBuf> {
    run(util::cargo_cmd(&ws.root).args([
        "build",
        "-p",
        "vidpulse-plugin",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm-release",
    ]))?;
    let wasm_in = ws
        .target
        .join("wasm32-unknown-unknown/wasm-release/vidpulse_plugin.wasm");
    let pkg = ws.plugin_pkg();
    if pkg.exists() {
        // Start clean so no stale snippet/glue file survives a rename.
        std::fs::remove_dir_all(&pkg).with_context(|| format!("removing {}", pkg.display()))?;
    }
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-name", "vidpulse", "--out-dir"])
        .arg(&pkg)
        .arg(&wasm_in))?;

    let wasm = pkg.join("vidpulse_bg.wasm");
    let optimized = util::tmp_path(&wasm);
    // No `--enable-…` flags: wasm-opt takes the features from the module's
    // `target_features` section (kept by the `wasm-release` profile's
    // `strip = "debuginfo"`). Naming features explicitly is worse: newer rustc
    // also uses `bulk-memory-opt` and `call-indirect-overlong`, which a
    // hand-written list would silently drop; `--all-features` would instead
    // stamp GC, memory64, … into the output.
    run(Command::new(setup::wasm_opt(ws))
        .arg("-Oz")
        .arg(&wasm)
        .arg("-o")
        .arg(&optimized))?;
    std::fs::rename(&optimized, &wasm).context("replacing vidpulse_bg.wasm")?;

    report_size(ws, &pkg)?;
    Ok(pkg)
}

fn gzip9_len(path: &Path) -> Result<u64> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(9));
    enc.write_all(&bytes)?;
    Ok(enc.finish()?.len() as u64)
}

fn report_size(ws: &Workspace, pkg: &Path) -> Result<()> {
    let wasm = pkg.join("vidpulse_bg.wasm");
    let js = pkg.join("vidpulse.js");
    let wasm_bytes = std::fs::metadata(&wasm)?.len();
    let js_bytes = std::fs::metadata(&js)?.len();
    let wasm_gzip_bytes = gzip9_len(&wasm)?;
    let js_gzip_bytes = gzip9_len(&js)?;
    let report = serde_json::json!({
        "wasm_bytes": wasm_bytes,
        "js_bytes": js_bytes,
        "wasm_gzip_bytes": wasm_gzip_bytes,
        "js_gzip_bytes": js_gzip_bytes,
        "plugin_bytes": wasm_bytes + js_bytes,
        "plugin_gzip_bytes": wasm_gzip_bytes + js_gzip_bytes,
    });
    let bench = ws.target.join("bench");
    std::fs::create_dir_all(&bench)?;
    let out = bench.join("plugin_size.json");
    util::write_atomic(&out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!(
        "plugin: {} (wasm {wasm_bytes} B, gzip {wasm_gzip_bytes} B; js {js_bytes} B, gzip {js_gzip_bytes} B; total gzip -9 {} B) -> {}",
        pkg.display(),
        wasm_gzip_bytes + js_gzip_bytes,
        out.display()
    );
    Ok(())
}
