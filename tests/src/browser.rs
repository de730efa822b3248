//! One headless Chromium session: a chromedriver on a free port, a fantoccini
//! WebDriver client with our flags and a fresh profile, and the clean-up that
//! leaves no process or temporary file behind (also on panic, through `Drop`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::{free_port, Paths, HINT};

/// Chromium flags for headless runs as root in a container (shared with xtask).
const CHROME_FLAGS: &str = include_str!("../chromium-flags.txt");

/// A chromedriver process and the WebDriver session it drives.
pub(crate) struct Browser {
    pub(crate) client: Option<fantoccini::Client>,
    pub(crate) chromedriver: Option<tokio::process::Child>,
    pub(crate) webdriver_url: String,
    pub(crate) session_id: Option<String>,
    /// Chromium's profile and `TMPDIR`; removed on drop.
    pub(crate) tmp: Option<TempDir>,
}

impl Browser {
    pub(crate) async fn start(paths: &Paths) -> Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("vidpulse-e2e-browser-")
            .tempdir()
            .context("creating the browser's temp dir")?;
        let profile = tmp.path().join("profile");
        let chrome_tmp = tmp.path().join("tmp");
        std::fs::create_dir_all(&profile)?;
        std::fs::create_dir_all(&chrome_tmp)?;
        let log_path = tmp.path().join("chromedriver.log");

        let port = free_port()?;
        let child = tokio::process::Command::new(&paths.chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log_path.display()))
            // Chromium inherits it: its org.chromium.Chromium.* files land in our temp dir.
            .env("TMPDIR", &chrome_tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting chromedriver ({}); {HINT}",
                    paths.chromedriver.display()
                )
            })?;
        let webdriver_url = format!("http://127.0.0.1:{port}");
        let mut browser = Self {
            client: None,
            chromedriver: Some(child),
            webdriver_url,
            session_id: None,
            tmp: Some(tmp),
        };

        // Wait until chromedriver answers /status with ready: true.
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = browser.chromedriver.as_mut() {
                if let Some(status) = child.try_wait()? {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    bail!("chromedriver exited early ({status}); log:\n{log}");
                }
            }
            let status = http
                .get(format!("{}/status", browser.webdriver_url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(resp) = status {
                if let Ok(v) = resp.json::<Value>().await {
                    if v["value"]["ready"].as_bool() == Some(true) {
                        break;
                    }
                }
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not become ready within 20 s on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let caps = json!({
            "goog:chromeOptions": {
                "binary": paths.chrome.display().to_string(),
                "args": CHROME_FLAGS
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .chain([
                        "--window-size=1280,900".to_string(),
                        format!("--user-data-dir={}", profile.display()),
                    ])
                    .collect::<Vec<_>>(),
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!("json! object"),
        };
        let client = fantoccini::ClientBuilder::rustls()
            .context("initialising rustls for the WebDriver client")?
            .capabilities(caps)
            .connect(&browser.webdriver_url)
            .await
            .with_context(|| {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = log
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                format!("starting a Chromium session via chromedriver; log tail:\n{tail}")
            })?;
        browser.session_id = client.session_id().await?;
        browser.client = Some(client);
        Ok(browser)
    }

    pub(crate) fn client(&self) -> &fantoccini::Client {
        self.client.as_ref().expect("browser session is open")
    }

    /// Console entries since the last call (chromedriver's legacy log endpoint).
    pub(crate) async fn console_log(&self) -> Result<Vec<Value>> {
        let sid = self
            .session_id
            .as_deref()
            .ok_or_else(|| anyhow!("no WebDriver session id"))?;
        let resp: Value = reqwest::Client::new()
            .post(format!("{}/session/{sid}/se/log", self.webdriver_url))
            .json(&json!({ "type": "browser" }))
            .send()
            .await?
            .json()
            .await?;
        match resp.get("value") {
            Some(Value::Array(entries)) => Ok(entries.clone()),
            _ => bail!("unexpected answer from the log endpoint: {resp}"),
        }
    }

    pub(crate) async fn close(&mut self) -> Result<()> {
        let mut result = Ok(());
        if let Some(client) = self.client.take() {
            let closed = tokio::time::timeout(Duration::from_secs(15), client.close()).await;
            result = match closed {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(anyhow!("closing the WebDriver session: {e}")),
                Err(_) => Err(anyhow!("closing the WebDriver session timed out")),
            };
        }
        if let Some(mut child) = self.chromedriver.take() {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
        self.kill_leftover_chromium();
        if let Some(tmp) = self.tmp.take() {
            let _ = tmp.close();
        }
        result
    }

    /// Kills (by pid) any Chromium process still using this run's profile directory.
    pub(crate) fn kill_leftover_chromium(&self) {
        let Some(tmp) = self.tmp.as_ref() else { return };
        let marker = tmp.path().display().to_string();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The async close did not run (a panic, an early `?`): kill and clean by hand.
        self.client.take();
        if let Some(mut child) = self.chromedriver.take() {
            let _ = child.start_kill();
        }
        self.kill_leftover_chromium();
        if let Some(tmp) = self.tmp.take() {
            let _ = tmp.close();
        }
    }
}
