//! `cargo xtask dist`: the deployable artifacts in one place — the release
//! collector binary and the optimized plugin package — under `dist/`.

use crate::util::{self, Workspace};
use crate::{plugin, setup};
use anyhow::{Context, Result};
use std::path::Path;

pub fn run() -> Result<()> {
    let ws = Workspace::locate()?;
    setup::run(&ws, setup::Level::Plugin)?;
    util::run(util::cargo_cmd(&ws.root).args(["build", "--release", "-p", "vidpulse-collector"]))?;
    let pkg = plugin::build(&ws)?;

    let dist = ws.root.join("dist");
    let dist_plugin = dist.join("plugin");
    if dist_plugin.exists() {
        std::fs::remove_dir_all(&dist_plugin)?;
    }
    std::fs::create_dir_all(&dist_plugin)?;
    copy(
        &ws.target.join("release/vidpulse-collector"),
        &dist.join("vidpulse-collector"),
    )?;
    for entry in std::fs::read_dir(&pkg)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name == "vidpulse.js" || name == "vidpulse_bg.wasm" || name.ends_with(".d.ts") {
            copy(&path, &dist_plugin.join(&*name))?;
        }
    }
    println!("dist: {} ready", dist.display());
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    println!("dist: {}", to.display());
    Ok(())
}
