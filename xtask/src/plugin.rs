//! Builds the browser plugin: cargo (size profile) → wasm-bindgen (ES module
//! glue) → wasm-opt -Oz (import and export names minified, the JS glue rewritten
//! to match) → terser on the JS glue, into `target/plugin-pkg/`, and records its
//! size in `target/bench/plugin_size.json` because every viewer downloads it.

use crate::setup;
use crate::util::{self, run, Workspace};
use anyhow::{bail, Context, Result};
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
        // Without std: panics trap instead of carrying std's formatting machinery.
        "--features",
        "nostd",
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
    //
    // `--minify-imports-and-exports-and-modules` renames the ~80 hashed import
    // names (`__wbg_now_043d245551b22f9c`, …: random hex, which gzip cannot
    // shrink, in both files) and the exports to one or two letters, and prints
    // the mapping, which `rename_in_js` applies to the JS glue.
    run(Command::new(setup::wasm_opt(ws))
        .args(["-Oz", "--converge", "--strip-producers"])
        .arg(&wasm)
        .arg("-o")
        .arg(&optimized))?;
    std::fs::rename(&optimized, &wasm).context("replacing vidpulse_bg.wasm")?;
    // A run of its own: `--converge` would repeat the renaming.
    let out = Command::new(setup::wasm_opt(ws))
        .arg("--minify-imports-and-exports-and-modules")
        .arg(&wasm)
        .arg("-o")
        .arg(&optimized)
        .output()
        .context("running wasm-opt")?;
    if !out.status.success() {
        bail!("wasm-opt failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mapping: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading wasm-opt's name mapping")?;
    std::fs::rename(&optimized, &wasm).context("replacing vidpulse_bg.wasm")?;
    let module = import_module(&std::fs::read(&wasm)?)?;
    for (file, minify) in [("vidpulse.js", true), ("vidpulse_bg.wasm.d.ts", false)] {
        let path = pkg.join(file);
        let text = std::fs::read_to_string(&path)?;
        let text = rename_in_js(&text, &mapping, &module)?;
        util::write_atomic(&path, text.as_bytes())?;
        if minify {
            terser(ws, &path)?;
        }
    }

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

/// Minifies the JS glue in place (an ES module: exported names are kept).
fn terser(ws: &Workspace, path: &Path) -> Result<()> {
    ensure_terser(ws)?;
    let tmp = util::tmp_path(path);
    run(Command::new(terser_bin(ws))
        .arg(path)
        .args([
            "--module",
            "--ecma",
            "2020",
            "--compress",
            "passes=2",
            "--mangle",
            "-o",
        ])
        .arg(&tmp))?;
    std::fs::rename(&tmp, path).context("replacing the JS glue")?;
    Ok(())
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// Replaces every whole-identifier `from` that follows `prefix` (and, when given,
/// is followed by `suffix`); returns the count.
fn replace_ident(text: &mut String, prefix: &str, from: &str, suffix: &str, to: &str) -> usize {
    let needle = format!("{prefix}{from}{suffix}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut n = 0;
    while let Some(i) = rest.find(&needle) {
        let before_ok = !prefix.is_empty() || !rest[..i].ends_with(is_ident);
        let after = &rest[i + needle.len()..];
        let after_ok = !suffix.is_empty() || !after.starts_with(is_ident);
        out.push_str(&rest[..i]);
        if before_ok && after_ok {
            out.push_str(prefix);
            out.push_str(to);
            out.push_str(suffix);
            n += 1;
        } else {
            out.push_str(&needle);
        }
        rest = after;
    }
    out.push_str(rest);
    *text = out;
    n
}

/// Applies wasm-opt's import/export renames to the JS glue (or its `.d.ts`):
/// imports are keys of the import object (`name:`), exports are read as
/// `wasm.name`, and the one import module `./vidpulse_bg.js` became `module`.
fn rename_in_js(text: &str, mapping: &serde_json::Value, module: &str) -> Result<String> {
    let mut t = text.to_owned();
    let is_dts = text.contains("export const memory");
    let pairs = |key: &str| -> Vec<(String, String)> {
        mapping[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let a = e.as_array()?;
                let (old, new) = (a.get(a.len() - 2)?, a.last()?);
                Some((old.as_str()?.to_owned(), new.as_str()?.to_owned()))
            })
            .collect()
    };
    for (old, new) in pairs("exports") {
        let (prefix, suffix) = if is_dts {
            ("export const ", ":")
        } else {
            ("wasm.", "")
        };
        replace_ident(&mut t, prefix, &old, suffix, &new);
    }
    if is_dts {
        return Ok(t);
    }
    for (old, new) in pairs("imports") {
        if replace_ident(&mut t, "", &old, ":", &new) != 1 {
            bail!("import {old} is not a key of the JS import object exactly once");
        }
    }
    // Closure invokers share their (long, hashed) names with the exports they
    // call; give the JS functions short names too.
    let mut i = 0;
    while let Some(start) = t.find("wasm_bindgen__convert__closures_") {
        let len = t[start..].find(|c| !is_ident(c)).unwrap_or(t.len() - start);
        let name = t[start..start + len].to_owned();
        replace_ident(&mut t, "", &name, "", &format!("__wbg_invoke{i}"));
        i += 1;
    }
    if replace_ident(
        &mut t,
        "",
        "\"./vidpulse_bg.js\"",
        "",
        &format!("\"{module}\""),
    ) != 1
    {
        bail!("the JS glue's import object has no \"./vidpulse_bg.js\" key");
    }
    Ok(t)
}

fn leb(bytes: &[u8], pos: &mut usize) -> Result<usize> {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let b = *bytes.get(*pos).context("truncated wasm")?;
        *pos += 1;
        value |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b < 0x80 {
            return Ok(value);
        }
    }
}

/// The module name of the wasm's first import (all imports share it after
/// minification).
fn import_module(wasm: &[u8]) -> Result<String> {
    let mut pos = 8;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = leb(wasm, &mut pos)?;
        if id == 2 {
            let _count = leb(wasm, &mut pos)?;
            let len = leb(wasm, &mut pos)?;
            let name = wasm.get(pos..pos + len).context("truncated import")?;
            return Ok(String::from_utf8(name.to_vec())?);
        }
        pos += size;
    }
    bail!("the wasm has no imports")
}
