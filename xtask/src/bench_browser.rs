//! `cargo xtask bench browser`: the in-browser cost of the plugin's `timeupdate`
//! handling, measured in headless Chromium during a 60 s throttled playback, into
//! `target/bench/browser.json`.
//!
//! The measurement itself is the ignored test `tests/tests/bench_browser.rs` of the
//! e2e crate (it reuses the e2e harness: collector in-process, chromedriver); this
//! task installs what it needs, builds the plugin and the clips, then runs that test
//! in release mode with the paths `cargo xtask test` uses.

use anyhow::{Context, Result};
use std::path::Path;

use crate::util::{self, Workspace};
use crate::{clips, plugin, setup};

pub fn run(ws: &Workspace) -> Result<()> {
    let out = ws.target.join("bench").join("browser.json");
    run_ignored_e2e(ws, "bench_browser", &out, |_| Ok(()))?;
    println!("bench browser: {}", out.display());
    Ok(())
}

/// Installs what the browser benches need, builds the plugin and the clips (plus
/// whatever `prepare` adds), then runs the ignored e2e test `test` in release mode
/// with the paths `cargo xtask test` uses; the test writes its figures to `out`.
pub fn run_ignored_e2e(
    ws: &Workspace,
    test: &str,
    out: &Path,
    prepare: impl FnOnce(&Workspace) -> Result<()>,
) -> Result<()> {
    let tools = setup::run(ws, setup::Level::All)?;
    let chromium = tools.chromium.context("chromium not found after setup")?;
    let chromedriver = tools
        .chromedriver
        .context("chromedriver not found after setup")?;
    let pkg = plugin::build(ws)?;
    clips::generate(ws)?;
    prepare(ws)?;
    util::run(
        util::cargo_cmd(&ws.root)
            .args([
                "test",
                "--release",
                "-p",
                "vidpulse-e2e",
                "--test",
                test,
                "--",
                "--ignored",
                "--nocapture",
            ])
            .env("VIDPULSE_PLUGIN_DIR", &pkg)
            .env("VIDPULSE_MEDIA_DIR", ws.media())
            .env("VIDPULSE_DEMO_DIR", ws.root.join("web-demo"))
            .env("VIDPULSE_BENCH_OUT", out)
            .env("CHROMEDRIVER", &chromedriver)
            .env("CHROME_BIN", &chromium),
    )
}
