//! Builds the browser plugin into `target/plugin-pkg/`: the wasm core (cargo's
//! size profile, then wasm-opt -Oz; and its debug build with the trace recorder,
//! `vidpulse_debug_bg.wasm`) beside the hand-written JS half
//! (`player-plugin/js/vidpulse.js` with the delivery queue `outbox.js` bundled
//! in, minified by terser) and its types, and
//! records their size in `target/bench/plugin_size.json` because every viewer
//! downloads them. No binding generator runs: the core exports plain functions.

use crate::setup;
use crate::util::{self, run, Workspace};
use anyhow::{bail, Context, Result};
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn build(ws: &Workspace) -> Result<PathBuf> {
    let pkg = ws.plugin_pkg();
    if pkg.exists() {
        // Start clean so no stale file survives a rename.
        std::fs::remove_dir_all(&pkg).with_context(|| format!("removing {}", pkg.display()))?;
    }
    std::fs::create_dir_all(&pkg)?;
    // The shipped core, then the debug one (with the trace recorder) for pages
    // that pass `debug: true`; both from the same code.
    core(ws, "nostd", &pkg.join("vidpulse_bg.wasm"))?;
    core(ws, "nostd trace", &pkg.join("vidpulse_debug_bg.wasm"))?;
    // The JS half is hand-written (`player-plugin/js/`): minified, with its types.
    let js = ws.root.join("player-plugin/js");
    std::fs::copy(js.join("vidpulse.d.ts"), pkg.join("vidpulse.d.ts"))
        .context("copying vidpulse.d.ts")?;
    let bundled = ws.target.join("plugin-bundle.js");
    std::fs::write(&bundled, bundle(&js)?).context("writing the bundled JS")?;
    terser(ws, &bundled, &pkg.join("vidpulse.js"))?;
    report_size(ws, &pkg)?;
    Ok(pkg)
}

/// Whether the wasm core is built with the size options only a nightly compiler
/// offers (see [`core`]); `VIDPULSE_PLUGIN_STABLE=1` builds without them.
pub fn build_std() -> bool {
    std::env::var_os("VIDPULSE_PLUGIN_STABLE").is_none_or(|v| v.is_empty() || v == "0")
}

/// Builds the wasm core with `features` (size profile, then wasm-opt) into `out`.
fn core(ws: &Workspace, features: &str, out: &Path) -> Result<()> {
    // LLVM inlines nothing it is not made to: at `opt-level = "z"` its default
    // threshold still copies small functions into many callers (-160 B gzip
    // measured). Only this build, for the wasm target, gets it.
    let mut rustflags = String::from("-C llvm-args=-inline-threshold=0");
    let mut cmd = util::cargo_cmd(&ws.root);
    let size_options = build_std();
    if size_options {
        // `core` and `alloc` compiled with the plugin (`-Zbuild-std`, from the
        // rust-src component), so they get its size profile and LTO, and panics
        // abort on the spot (`-Cpanic=immediate-abort`) instead of formatting a
        // message nobody reads: -1,018 B gzip measured (README, "Plugin size").
        // These are unstable options; RUSTC_BOOTSTRAP lets this one build of
        // the stable toolchain use them rather than needing a nightly one.
        rustflags.push_str(
            " -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none",
        );
        cmd.env("RUSTC_BOOTSTRAP", "1")
            .arg("-Zbuild-std=core,alloc");
    }
    run(cmd
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", rustflags)
        .args([
            "build",
            "-p",
            "vidpulse-plugin",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
            // `nostd`: panics trap instead of carrying std's formatting machinery.
            "--features",
            features,
        ]))
    .with_context(|| {
        if size_options {
            // The options are unstable: an older or newer rustc may lack them
            // (`-Cpanic=immediate-abort` is recent; measured on rustc 1.95).
            "building the wasm core with the unstable size options failed; on a \
             toolchain without them set VIDPULSE_PLUGIN_STABLE=1"
        } else {
            "building the wasm core failed"
        }
    })?;
    let wasm_in = ws
        .target
        .join("wasm32-unknown-unknown/wasm-release/vidpulse_plugin.wasm");
    // No `--enable-…` flags: wasm-opt takes the features from the module's
    // `target_features` section (kept by the `wasm-release` profile's
    // `strip = "debuginfo"`). Naming features explicitly is worse: newer rustc
    // also uses `bulk-memory-opt` and `call-indirect-overlong`, which a
    // hand-written list would silently drop; `--all-features` would instead
    // stamp GC, memory64, … into the output. `--strip-debug` drops the name
    // section (the exports keep their one-letter names); the features section is
    // read first, then stripped too (browsers never read it).
    run(Command::new(setup::wasm_opt(ws))
        .args([
            // rustc lays the stack first: it starts at 1 MB and grows down, the
            // data and heap lie above it, so only a stack almost 1 MB deep
            // would reach the low 1 KB of memory. Telling wasm-opt so lets it
            // fold constant offsets into loads and stores (-70 B gzip measured).
            "--low-memory-unused",
            // Flattened and re-structured control flow before -Oz (-63 B).
            "--flatten",
            "--rereloop",
            "-Oz",
            "--converge",
            "--strip-debug",
            "--strip-producers",
            "--strip-target-features",
        ])
        .arg(&wasm_in)
        .arg("-o")
        .arg(out))
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
    // Only pages that ask for it load the debug core; it is not the script weight.
    let debug_gzip_bytes = gzip9_len(&pkg.join("vidpulse_debug_bg.wasm"))?;
    let report = serde_json::json!({
        "debug_wasm_gzip_bytes": debug_gzip_bytes,
        "build_std": build_std(),
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

/// The JS minifier (npm `terser`), locked by `xtask/npm/terser/package-lock.json`
/// and installed with `npm ci` into `target/tools/` (like binaryen, `cargo clean`
/// resets it). Must match the version in that `package.json`.
pub const TERSER_VERSION: &str = "5.51.2";

fn terser_dir(ws: &Workspace) -> PathBuf {
    ws.target
        .join("tools")
        .join(format!("terser-{TERSER_VERSION}"))
}

fn terser_bin(ws: &Workspace) -> PathBuf {
    terser_dir(ws).join("node_modules/.bin/terser")
}

/// Installs the locked terser from npm when missing (idempotent).
pub fn ensure_terser(ws: &Workspace) -> Result<()> {
    let bin = terser_bin(ws);
    let have = util::capture(Command::new(&bin).arg("--version")).unwrap_or_default();
    if have.contains(TERSER_VERSION) {
        println!("setup: terser {TERSER_VERSION}: found at {}", bin.display());
        return Ok(());
    }
    let dir = terser_dir(ws);
    println!(
        "setup: terser {TERSER_VERSION}: missing, installing from npm (npm ci) into {}",
        dir.display()
    );
    std::fs::create_dir_all(&dir)?;
    let locked = ws.root.join("xtask/npm/terser");
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(locked.join(f), dir.join(f)).with_context(|| format!("copying {f}"))?;
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir))?;
    let have = util::capture(Command::new(&bin).arg("--version")).unwrap_or_default();
    if !have.contains(TERSER_VERSION) {
        bail!(
            "installed terser from {}, but `--version` says {have:?} (want {TERSER_VERSION})",
            locked.display()
        );
    }
    Ok(())
}

/// The line of `vidpulse.js` that imports the delivery queue.
const OUTBOX_IMPORT: &str = "import { Outbox } from './outbox.js';";

/// `vidpulse.js` with `outbox.js` in place of its import: one file, one
/// request for every viewer. The two are plain ES modules (node runs
/// `outbox.js` alone for the tests), so bundling is dropping the import and
/// the `export` keywords of `outbox.js`; anything else is refused rather than
/// guessed at.
fn bundle(js: &Path) -> Result<String> {
    let read =
        |f: &str| std::fs::read_to_string(js.join(f)).with_context(|| format!("reading {f}"));
    let (main, outbox) = (read("vidpulse.js")?, read("outbox.js")?);
    let mut out = String::new();
    for line in outbox.lines() {
        if line.starts_with("import ") {
            bail!("outbox.js must not import anything (found {line:?})");
        }
        out.push_str(line.strip_prefix("export ").unwrap_or(line));
        out.push('\n');
    }
    let mut imported = false;
    for line in main.lines() {
        if line == OUTBOX_IMPORT {
            imported = true;
            continue;
        }
        if line.starts_with("import ") {
            bail!("vidpulse.js: only {OUTBOX_IMPORT:?} can be bundled (found {line:?})");
        }
        out.push_str(line);
        out.push('\n');
    }
    if !imported {
        bail!("vidpulse.js does not import the delivery queue ({OUTBOX_IMPORT:?})");
    }
    Ok(out)
}

/// Minifies the JS half into `out` (an ES module: exported names are kept).
fn terser(ws: &Workspace, src: &Path, out: &Path) -> Result<()> {
    ensure_terser(ws)?;
    let tmp = util::tmp_path(out);
    run(Command::new(terser_bin(ws))
        .arg(src)
        .args([
            "--module",
            "--ecma",
            "2020",
            "--compress",
            "passes=2",
            "--mangle",
            // Internal members are named `_x` in the source so they can be
            // shortened too; the public API (`snapshot`, `flush`, …) is not.
            "--mangle-props",
            "regex=/^_/",
            "-o",
        ])
        .arg(&tmp))?;
    std::fs::rename(&tmp, out).context("writing the minified JS")?;
    Ok(())
}
