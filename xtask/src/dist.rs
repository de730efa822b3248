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
        if name.starts_with("vidpulse") {
            copy(&path, &dist_plugin.join(&*name))?;
        }
    }
    write_npm_files(&dist_plugin)?;
    println!("dist: {} ready", dist.display());
    Ok(())
}

/// Makes `dist/plugin/` an npm package: `package.json` and a README.
fn write_npm_files(dir: &Path) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let package = serde_json::json!({
        "name": "vidpulse",
        "version": version,
        "description": "vidpulse player plugin: video QoE analytics for HTML5 <video>, sent to your own vidpulse collector",
        "license": "MIT OR Apache-2.0",
        "type": "module",
        "main": "vidpulse.js",
        "module": "vidpulse.js",
        "types": "vidpulse.d.ts",
        "files": ["vidpulse.js", "vidpulse_bg.wasm", "vidpulse_debug_bg.wasm", "vidpulse.d.ts", "README.md"],
        "sideEffects": false,
        "keywords": ["video", "analytics", "qoe", "wasm"]
    });
    let path = dir.join("package.json");
    std::fs::write(&path, serde_json::to_string_pretty(&package)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!("dist: {}", path.display());
    let readme = format!(
        "# vidpulse {version}\n\n\
Video playback analytics for HTML5 `<video>`, measured in the browser (WebAssembly)\n\
and sent to your own vidpulse collector.\n\n\
```js\n\
import init, {{ monitor }} from 'vidpulse';\n\
await init();\n\
const h = monitor(document.querySelector('video'), {{\n\
  collector: 'https://stats.example.com',\n\
  property: 'my-site',\n\
  video: {{ id: 'movie-1', title: 'Movie' }},\n\
}});\n\
```\n\n\
Options, the handle's methods (`snapshot`, `flush`, `destroy`, `setVideo`,\n\
`reportRendition`, `reportError`, `setConsent`, `trace`) and the metric\n\
definitions are typed in `vidpulse.d.ts` and documented in the project README.\n"
    );
    let path = dir.join("README.md");
    std::fs::write(&path, readme).with_context(|| format!("writing {}", path.display()))?;
    println!("dist: {}", path.display());
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    println!("dist: {}", to.display());
    Ok(())
}
