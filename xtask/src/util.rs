//! Small helpers shared by the tasks: locating the workspace and its target
//! directory, running commands loudly, and finding programs on `PATH`.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root and the target directory every crate agrees on.
pub struct Workspace {
    pub root: PathBuf,
    /// `<root>/target` unless `CARGO_TARGET_DIR` / cargo config says otherwise.
    pub target: PathBuf,
}

impl Workspace {
    pub fn locate() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent directory")?
            .to_path_buf();
        // `cargo metadata` honours CARGO_TARGET_DIR and `build.target-dir`.
        let out = Command::new(cargo())
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(&root)
            .stderr(Stdio::inherit())
            .output()
            .context("running `cargo metadata`")?;
        if !out.status.success() {
            bail!("`cargo metadata` failed ({})", out.status);
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("parsing `cargo metadata` output")?;
        let target = meta["target_directory"]
            .as_str()
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        Ok(Self { root, target })
    }

    pub fn plugin_pkg(&self) -> PathBuf {
        self.target.join("plugin-pkg")
    }

    pub fn media(&self) -> PathBuf {
        self.target.join("media")
    }
}

/// The cargo that launched us (so nested builds use the same toolchain).
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A `Command` for cargo, run from `dir`.
pub fn cargo_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(dir);
    cmd
}

fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    if s.ends_with("/cargo") {
        s = "cargo".into();
    }
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Runs `cmd` with inherited stdio, failing with the command line on error.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = display(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("failed to start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout, or `None` if it can't run or fails.
pub fn capture(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Looks `name` up on `PATH` like a shell would.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Writes `bytes` to `dest` via a temporary file + rename, so readers never see
/// a half-written file.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(dest);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dest).with_context(|| format!("renaming to {}", dest.display()))
}

/// `dir/name` → `dir/.name.tmp`.
pub fn tmp_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    dest.with_file_name(format!(".{name}.tmp"))
}
