//! The browser libraries of the integration pages and the plugin bench (hls.js,
//! video.js, mux-embed), version-locked in `web-demo/package.json` +
//! `package-lock.json` and installed with `npm ci` into `web-demo/node_modules`
//! (gitignored), which the collector serves with the demo page.
//!
//! Idempotent: after a successful install the lock file is copied to
//! `node_modules/.vidpulse-installed-lock.json`; while that copy equals the
//! committed lock file, nothing runs. A changed lock (or a deleted
//! `node_modules`) reinstalls from scratch, exactly as the lock says.

use crate::util::{self, Workspace};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The stamp `npm ci` leaves behind (see the module doc).
const STAMP: &str = ".vidpulse-installed-lock.json";

fn dir(ws: &Workspace) -> PathBuf {
    ws.root.join("web-demo")
}

/// `web-demo/node_modules`.
pub fn node_modules(ws: &Workspace) -> PathBuf {
    dir(ws).join("node_modules")
}

/// Runs `npm ci` in `web-demo/` unless the installed tree matches the lock file.
pub fn ensure(ws: &Workspace) -> Result<()> {
    let dir = dir(ws);
    let lock_path = dir.join("package-lock.json");
    let lock =
        std::fs::read(&lock_path).with_context(|| format!("reading {}", lock_path.display()))?;
    let stamp = node_modules(ws).join(STAMP);
    if std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        println!("setup: web-demo npm packages: up to date with package-lock.json");
        return Ok(());
    }
    println!("setup: web-demo npm packages: installing with `npm ci`");
    util::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir),
    )?;
    util::write_atomic(&stamp, &lock)
}
