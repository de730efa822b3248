//! `cargo xtask test`: the whole CI gate in one command (what `.ci/run` calls):
//! prerequisites, plugin, media, then fmt, clippy (native and wasm), and the
//! native and end-to-end tests (the plugin's API among them, in Chromium, on the
//! very files that ship) — stopping at the first failure.

use crate::util::{self, Workspace};
use crate::{clips, plugin, setup};
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

pub fn run() -> Result<()> {
    let start = Instant::now();
    let before = chromium_tmp_dirs();
    let result = run_steps();
    remove_new_chromium_tmp_dirs(&before);
    let secs = start.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("xtask test: all steps passed in {secs:.1}s"),
        Err(_) => println!("xtask test: FAILED after {secs:.1}s"),
    }
    result
}

fn run_steps() -> Result<()> {
    let ws = Workspace::locate()?;
    let tools = setup::run(&ws, setup::Level::All)?;
    let chromium = tools.chromium.context("chromium not found after setup")?;
    let chromedriver = tools
        .chromedriver
        .context("chromedriver not found after setup")?;
    let pkg = plugin::build(&ws)?;
    clips::generate(&ws)?;

    let cargo = |args: &[&str]| {
        let mut cmd = util::cargo_cmd(&ws.root);
        cmd.args(args);
        cmd
    };

    let mut native_tests = cargo(&["test", "--workspace"]);
    native_tests
        .env("VIDPULSE_PLUGIN_DIR", &pkg)
        .env("VIDPULSE_MEDIA_DIR", ws.media())
        .env("VIDPULSE_DEMO_DIR", ws.root.join("web-demo"))
        .env("CHROMEDRIVER", &chromedriver)
        .env("CHROME_BIN", &chromium);

    let steps: Vec<(&str, Command)> = vec![
        ("rustfmt", cargo(&["fmt", "--all", "--", "--check"])),
        (
            "clippy (native)",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        (
            "clippy (wasm plugin)",
            cargo(&[
                "clippy",
                "-p",
                "vidpulse-plugin",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("native + end-to-end tests", native_tests),
    ];
    let total = steps.len();
    for (i, (name, mut cmd)) in steps.into_iter().enumerate() {
        let n = i + 1;
        println!("==> xtask test [{n}/{total}] {name}");
        let t = Instant::now();
        if let Err(err) = util::run(&mut cmd) {
            bail!("step {n}/{total} `{name}` failed: {err:#}");
        }
        println!(
            "==> xtask test [{n}/{total}] {name}: ok ({:.1}s)",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Chromium leaves `/tmp/org.chromium.Chromium.*` behind when killed by its driver.
fn chromium_tmp_dirs() -> HashSet<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return HashSet::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("org.chromium.Chromium.")
        })
        .map(|e| e.path())
        .collect()
}

/// Removes only the leftovers created during this run, so a browser some other
/// process is running on this machine keeps its profile.
fn remove_new_chromium_tmp_dirs(before: &HashSet<PathBuf>) {
    let mut removed = 0;
    for dir in chromium_tmp_dirs().difference(before) {
        let ok = if dir.is_dir() {
            std::fs::remove_dir_all(dir).is_ok()
        } else {
            std::fs::remove_file(dir).is_ok()
        };
        removed += usize::from(ok);
    }
    if removed > 0 {
        println!("xtask test: removed {removed} /tmp/org.chromium.Chromium.* leftovers");
    }
}
