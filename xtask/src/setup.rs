//! Prerequisites: makes a fresh Debian machine (running as root) able to build,
//! demo and test vidpulse, and leaves an already-ready machine untouched.
//!
//! Anything that cannot be had is an error naming what to install; nothing is
//! silently skipped, so a green CI run really exercised every step.

use crate::util::{self, capture, find_in_path, Workspace};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How much of the toolchain a command needs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    /// Only ffmpeg (`cargo xtask clips`).
    Clips,
    /// wasm target, wasm-opt, terser (`cargo xtask plugin`/`dist`).
    Plugin,
    /// Plugin + clips + the web-demo npm packages (`cargo xtask demo`).
    Demo,
    /// Everything, including the browser and its driver (`cargo xtask test`).
    All,
}

impl Level {
    fn needs_plugin(self) -> bool {
        self != Level::Clips
    }
    fn needs_ffmpeg(self) -> bool {
        matches!(self, Level::Clips | Level::Demo | Level::All)
    }
    fn needs_browser(self) -> bool {
        self == Level::All
    }
}

/// Resolved locations of the browser tools (only with [`Level::All`]).
pub struct Tools {
    pub chromium: Option<PathBuf>,
    pub chromedriver: Option<PathBuf>,
}

/// Command → Debian package providing it.
const APT_TOOLS: &[(&str, &str)] = &[
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("ffmpeg", "ffmpeg"),
    // Only to fetch binaryen from npm (see `BINARYEN_VERSION`).
    ("node", "nodejs"),
    ("npm", "npm"),
];

/// binaryen (wasm-opt) comes pinned from the npm registry, not from Debian, so
/// every machine optimises (and measures) the plugin with the same version.
pub const BINARYEN_VERSION: &str = "132.0.0";

pub fn run(ws: &Workspace, level: Level) -> Result<Tools> {
    if level.needs_plugin() {
        wasm_target()?;
        if crate::plugin::build_std() {
            rust_src()?;
        }
    }
    if level == Level::All {
        rust_components()?;
    }
    apt_tools(level)?;
    if level.needs_plugin() {
        binaryen(ws)?;
        crate::plugin::ensure_terser(ws)?;
    }
    if level >= Level::Demo {
        crate::web_deps::ensure(ws)?;
    }
    Ok(Tools {
        chromium: find_in_path("chromium"),
        chromedriver: find_in_path("chromedriver"),
    })
}

fn wasm_target() -> Result<()> {
    const TARGET: &str = "wasm32-unknown-unknown";
    if find_in_path("rustup").is_none() {
        // No rustup (e.g. distro rust): the target's std must already be there.
        let sysroot = capture(Command::new("rustc").args(["--print", "sysroot"]))
            .context("rustc not found")?;
        let dir = Path::new(sysroot.trim()).join("lib/rustlib").join(TARGET);
        if dir.is_dir() {
            println!("setup: rust target {TARGET}: found (no rustup)");
            return Ok(());
        }
        bail!("rust target {TARGET} is missing and rustup is not available to add it");
    }
    let installed = capture(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("`rustup target list --installed` failed")?;
    if installed.lines().any(|l| l.trim() == TARGET) {
        println!("setup: rust target {TARGET}: found");
        return Ok(());
    }
    println!("setup: rust target {TARGET}: missing, installing");
    util::run(Command::new("rustup").args(["target", "add", TARGET]))
}

/// The standard library's source, which the plugin build compiles for size
/// (`plugin::build_std`).
fn rust_src() -> Result<()> {
    let sysroot =
        capture(Command::new("rustc").args(["--print", "sysroot"])).context("rustc not found")?;
    if Path::new(sysroot.trim())
        .join("lib/rustlib/src/rust/library/core")
        .is_dir()
    {
        println!("setup: rust-src: found");
        return Ok(());
    }
    if find_in_path("rustup").is_none() {
        bail!(
            "the rust-src component is missing and rustup is not available to add it \
             (or set VIDPULSE_PLUGIN_STABLE=1 to build the plugin without it)"
        );
    }
    println!("setup: rust-src: missing, installing");
    util::run(Command::new("rustup").args(["component", "add", "rust-src"])).context(
        "installing rust-src failed (or set VIDPULSE_PLUGIN_STABLE=1 to build the plugin without it)",
    )
}

/// `cargo xtask test` runs rustfmt and clippy.
fn rust_components() -> Result<()> {
    let mut missing = Vec::new();
    for (sub, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        if capture(Command::new(util::cargo()).args([sub, "--version"])).is_some() {
            println!("setup: {component}: found");
        } else {
            missing.push(component);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if find_in_path("rustup").is_none() {
        bail!("missing rust components {missing:?} and no rustup to add them");
    }
    println!("setup: rust components {missing:?}: missing, installing");
    util::run(
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing),
    )
}

fn apt_tools(level: Level) -> Result<()> {
    let wanted: Vec<(&str, &str)> = APT_TOOLS
        .iter()
        .copied()
        .filter(|(cmd, _)| match *cmd {
            "ffmpeg" => level.needs_ffmpeg(),
            "node" | "npm" => level.needs_plugin(),
            _ => level.needs_browser(),
        })
        .collect();
    let mut missing = Vec::new();
    for &(cmd, pkg) in &wanted {
        match find_in_path(cmd) {
            Some(path) => println!("setup: {cmd}: found at {}", path.display()),
            None => missing.push((cmd, pkg)),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let pkgs: Vec<&str> = missing.iter().map(|&(_, pkg)| pkg).collect();
    let cmds: Vec<&str> = missing.iter().map(|&(cmd, _)| cmd).collect();
    let is_root = capture(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    if !is_root || find_in_path("apt-get").is_none() {
        bail!(
            "missing commands {cmds:?}; install the Debian packages `{}` \
             (e.g. `sudo apt-get install {}`), or run as root on Debian so xtask can",
            pkgs.join(" "),
            pkgs.join(" ")
        );
    }
    println!("setup: missing {cmds:?}: installing Debian packages {pkgs:?}");
    util::run(Command::new("apt-get").arg("update"))?;
    util::run(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(&pkgs)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    for cmd in cmds {
        match find_in_path(cmd) {
            Some(path) => println!("setup: {cmd}: installed at {}", path.display()),
            None => bail!("installed the packages, but `{cmd}` is still not on PATH"),
        }
    }
    Ok(())
}

/// Where `binaryen` is installed from npm (inside the target dir, so `cargo
/// clean` resets it like any other build output).
fn binaryen_dir(ws: &Workspace) -> PathBuf {
    ws.target
        .join("tools")
        .join(format!("binaryen-{BINARYEN_VERSION}"))
}

/// The pinned `wasm-opt` (a Node.js script in the npm package).
pub fn wasm_opt(ws: &Workspace) -> PathBuf {
    binaryen_dir(ws).join("node_modules/.bin/wasm-opt")
}

fn binaryen(ws: &Workspace) -> Result<()> {
    let bin = wasm_opt(ws);
    let major = BINARYEN_VERSION
        .split('.')
        .next()
        .unwrap_or(BINARYEN_VERSION);
    let have = capture(Command::new(&bin).arg("--version")).unwrap_or_default();
    if have.contains(&format!("version {major}")) {
        println!(
            "setup: wasm-opt (binaryen {BINARYEN_VERSION}): found at {}",
            bin.display()
        );
        return Ok(());
    }
    let dir = binaryen_dir(ws);
    println!(
        "setup: wasm-opt (binaryen {BINARYEN_VERSION}): missing, installing from npm into {}",
        dir.display()
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    util::run(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
            ])
            .arg(&dir)
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )?;
    let have = capture(Command::new(&bin).arg("--version")).unwrap_or_default();
    if !have.contains(&format!("version {major}")) {
        bail!(
            "installed binaryen@{BINARYEN_VERSION} from npm, but `{} --version` says {have:?}",
            bin.display()
        );
    }
    Ok(())
}
