//! `cargo xtask vendor [--refresh]`: the dashboard's chart library (uPlot) is
//! committed under `collector/src/dashboard/assets/vendor/uplot/` so the collector
//! builds with plain `cargo build` and embeds it. This checks the committed files
//! against the pinned npm package: `npm pack` fetches exactly the version in the
//! `VERSION` manifest, its integrity must equal the recorded one, and each listed
//! file must be byte-identical. `--refresh` copies them from the package instead
//! (after changing the version and integrity in `VERSION` by hand).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{self, Workspace};

const DIR: &str = "collector/src/dashboard/assets/vendor/uplot";

pub fn run(ws: &Workspace, refresh: bool) -> Result<()> {
    let dir = ws.root.join(DIR);
    let manifest = std::fs::read_to_string(dir.join("VERSION"))
        .with_context(|| format!("reading {DIR}/VERSION"))?;
    let field = |name: &str| {
        manifest
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .map(str::trim)
            .with_context(|| format!("{DIR}/VERSION has no `{name}` line"))
    };
    let (package, version, integrity) = (field("package")?, field("version")?, field("integrity")?);
    let tmp = tempdir(ws)?;
    let spec = format!("{package}@{version}");
    let out = Command::new("npm")
        .args(["pack", &spec, "--json", "--pack-destination"])
        .arg(&tmp)
        .output()
        .context("running `npm pack` (node/npm: `cargo xtask setup`)")?;
    if !out.status.success() {
        bail!(
            "npm pack {spec} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let packed: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing `npm pack --json`")?;
    let got = packed[0]["integrity"].as_str().unwrap_or_default();
    if got != integrity {
        bail!("{spec}: npm reports integrity {got}, VERSION records {integrity}");
    }
    let tgz = tmp.join(
        packed[0]["filename"]
            .as_str()
            .context("npm pack: no filename")?,
    );
    util::run(Command::new("tar").arg("xzf").arg(&tgz).arg("-C").arg(&tmp))?;
    let mut differ = Vec::new();
    for line in manifest.lines().filter(|l| l.starts_with("sha256 ")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [_, _, in_pkg, name] = parts[..] else {
            bail!("bad manifest line: {line}");
        };
        let from = tmp.join("package").join(in_pkg);
        let to = dir.join(name);
        let fresh = std::fs::read(&from).with_context(|| format!("{spec} has no {in_pkg}"))?;
        if refresh {
            std::fs::write(&to, &fresh)?;
            println!("vendor: {name} <- {spec}/{in_pkg}");
        } else if std::fs::read(&to).ok().as_deref() != Some(&fresh[..]) {
            differ.push(name.to_owned());
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if !differ.is_empty() {
        bail!(
            "{DIR}: {differ:?} differ from {spec}; `cargo xtask vendor --refresh` restores them \
             (then update the sha256 lines of VERSION)"
        );
    }
    if !refresh {
        println!("vendor: {DIR} matches {spec} ({integrity})");
    }
    Ok(())
}

fn tempdir(ws: &Workspace) -> Result<std::path::PathBuf> {
    let dir = ws
        .target
        .join(format!("vendor-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(Path::new(&dir).to_path_buf())
}
