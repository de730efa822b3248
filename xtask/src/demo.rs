//! `cargo xtask demo`: one command from a fresh checkout to a running demo —
//! builds the plugin and media, then runs the collector in the foreground
//! serving the dashboard (at `/`), the demo page (under `/demo/`), the plugin
//! package and the clips. Play something on the demo page and it shows up on
//! the dashboard. Without `--admin-token` the collector serves the dashboard to
//! loopback clients only, with no login; with one, the dashboard asks for it.

use crate::util::{self, Workspace};
use crate::{clips, plugin, setup};
use anyhow::Result;

pub fn run(extra: &[String]) -> Result<()> {
    let ws = Workspace::locate()?;
    setup::run(&ws, setup::Level::Demo)?;
    plugin::build(&ws)?;
    clips::generate(&ws)?;
    // Build first so the URL below is the last thing printed before the server logs.
    util::run(util::cargo_cmd(&ws.root).args(["build", "--release", "-p", "vidpulse-collector"]))?;

    let addr = browse_addr(extra);
    println!("vidpulse demo page: http://{addr}/demo/  (play a clip: its view is stored)");
    println!(
        "vidpulse dashboard: http://{addr}/  ({})",
        access_note(extra)
    );
    util::run(
        util::cargo_cmd(&ws.root)
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "vidpulse-collector",
                "--bin",
                "vidpulse-collector",
                "--",
            ])
            .arg("--demo-dir")
            .arg(ws.root.join("web-demo"))
            .arg("--plugin-dir")
            .arg(ws.plugin_pkg())
            .arg("--media-dir")
            .arg(ws.media())
            .args(extra),
    )
}

/// How the dashboard is reached, given the collector arguments and environment.
fn access_note(extra: &[String]) -> &'static str {
    let token = extra
        .iter()
        .any(|a| a == "--admin-token" || a.starts_with("--admin-token="))
        || std::env::var_os("VIDPULSE_ADMIN_TOKEN").is_some_and(|v| !v.is_empty());
    if token {
        "log in with the admin token"
    } else {
        "no admin token: loopback clients only, no login"
    }
}

/// The address to open in a browser, from `--listen ADDR` / `--listen=ADDR`.
fn browse_addr(extra: &[String]) -> String {
    let mut listen = None;
    let mut it = extra.iter();
    while let Some(arg) = it.next() {
        if arg == "--listen" {
            listen = it.next().cloned();
        } else if let Some(v) = arg.strip_prefix("--listen=") {
            listen = Some(v.to_string());
        }
    }
    let addr = listen.unwrap_or_else(|| "127.0.0.1:8080".to_string());
    // A wildcard bind is reachable locally via loopback.
    for wildcard in ["0.0.0.0:", "[::]:"] {
        if let Some(port) = addr.strip_prefix(wildcard) {
            return format!("127.0.0.1:{port}");
        }
    }
    addr
}

#[cfg(test)]
mod tests {
    use super::browse_addr;

    #[test]
    fn listen_address() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(browse_addr(&[]), "127.0.0.1:8080");
        assert_eq!(
            browse_addr(&s(&["--listen", "127.0.0.1:9000"])),
            "127.0.0.1:9000"
        );
        assert_eq!(
            browse_addr(&s(&["--listen=0.0.0.0:8081"])),
            "127.0.0.1:8081"
        );
    }
}
