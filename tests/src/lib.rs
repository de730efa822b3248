//! End-to-end test harness: why it exists.
//!
//! The plugin's metrics are only worth something if they hold in a real browser playing
//! real media. This harness starts the real collector in-process (ephemeral port, a
//! temporary redb file) serving the demo page, the built plugin and the test clips,
//! starts `chromedriver` on a free port and drives headless Chromium through it with
//! fantoccini. Tests then play media in the demo page and assert on what the collector
//! stored, comparing it with the page's independent observer (`web-demo/observer.js`).
//! [`Accuracy`] records each comparison (plugin, observer, delta, tolerance) and merges
//! it into `target/bench/accuracy.json`, so the achieved tolerances can be quoted.
//!
//! Everything is cleaned up when a [`Harness`] is finished or dropped: the WebDriver
//! session, chromedriver, any Chromium process that used this run's profile, the
//! temporary profile / `TMPDIR` (where Chromium puts its `org.chromium.Chromium.*`
//! files) and the database.
//!
//! Missing prerequisites (plugin build, clips, chromedriver, Chromium) are errors that
//! say to run `cargo xtask test`; they never turn into a silent skip.

mod accuracy;
mod browser;
pub mod dashboard;
mod sink;

use browser::Browser;

pub use accuracy::{Accuracy, Tolerance, LATENCY, REBUFFER};
pub use sink::Sink;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tempfile::TempDir;

/// How to get everything this harness needs.
pub const HINT: &str = "run `cargo xtask test` (it builds the plugin, makes the clips and \
                        installs chromium + chromedriver before running these tests)";

/// Browser tests share two cores: they take this lock so they run one at a time.
pub static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The workspace root (the parent of this crate).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn env_path(var: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => default(),
    }
}

/// Where the harness finds the pieces it serves and runs.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The demo page (`VIDPULSE_DEMO_DIR`, default `web-demo/`).
    pub demo: PathBuf,
    /// The plugin package (`VIDPULSE_PLUGIN_DIR`, default `target/plugin-pkg/`).
    pub plugin: PathBuf,
    /// The test clips (`VIDPULSE_MEDIA_DIR`, default `target/media/`).
    pub media: PathBuf,
    /// `CHROMEDRIVER`, default `/usr/bin/chromedriver`.
    pub chromedriver: PathBuf,
    /// `CHROME_BIN`, default `/usr/bin/chromium`.
    pub chrome: PathBuf,
}

impl Paths {
    /// Reads the environment (set by `cargo xtask test`), with workspace defaults.
    pub fn from_env() -> Self {
        let ws = workspace_dir();
        Self {
            demo: env_path("VIDPULSE_DEMO_DIR", || ws.join("web-demo")),
            plugin: env_path("VIDPULSE_PLUGIN_DIR", || ws.join("target/plugin-pkg")),
            media: env_path("VIDPULSE_MEDIA_DIR", || ws.join("target/media")),
            chromedriver: env_path("CHROMEDRIVER", || "/usr/bin/chromedriver".into()),
            chrome: env_path("CHROME_BIN", || "/usr/bin/chromium".into()),
        }
    }

    /// Fails with a clear message naming the first missing prerequisite.
    pub fn check(&self) -> Result<()> {
        let need = [
            (self.demo.join("index.html"), "the demo page"),
            (self.plugin.join("vidpulse.js"), "the plugin build (its JS)"),
            (
                self.plugin.join("vidpulse_bg.wasm"),
                "the plugin build (wasm)",
            ),
            (self.media.join("clip.webm"), "the test clip"),
            (self.media.join("clip.mp4"), "the test clip"),
            (self.media.join("clip-hq.mp4"), "the throttling test clip"),
            (self.media.join("clip-long.webm"), "the long test clip"),
            (self.media.join("corrupt.mp4"), "the broken test clip"),
            (self.chromedriver.clone(), "chromedriver"),
            (self.chrome.clone(), "Chromium"),
        ];
        for (path, what) in need {
            if !path.exists() {
                bail!(
                    "{what} is missing: {} does not exist; {HINT}",
                    path.display()
                );
            }
        }
        Ok(())
    }
}

pub(crate) fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a probe port")?;
    Ok(l.local_addr()?.port())
}

/// A collector with a fresh database plus a browser session, for one test.
pub struct Harness {
    /// `http://127.0.0.1:<port>` of the collector.
    pub base: String,
    /// A plain HTTP client for the collector's API.
    pub http: reqwest::Client,
    collector: Option<vidpulse_collector::Running>,
    browser: Option<Browser>,
    _db_dir: TempDir,
}

impl Harness {
    /// Checks prerequisites, starts the collector and the browser.
    pub async fn start() -> Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// [`Harness::start`] with a configuration change (e.g. an admin token).
    pub async fn start_with(tweak: impl FnOnce(&mut vidpulse_collector::Config)) -> Result<Self> {
        let paths = Paths::from_env();
        paths.check()?;
        // Both rustls providers are compiled in (see Cargo.toml): choose one, once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db_dir = tempfile::Builder::new()
            .prefix("vidpulse-e2e-db-")
            .tempdir()?;
        let mut cfg = vidpulse_collector::Config {
            demo_dir: Some(paths.demo.clone()),
            plugin_dir: Some(paths.plugin.clone()),
            media_dir: Some(paths.media.clone()),
            ..vidpulse_collector::Config::for_test(db_dir.path().join("vidpulse.redb"))
        };
        tweak(&mut cfg);
        let collector = vidpulse_collector::spawn(cfg)
            .await
            .context("starting the collector in-process")?;
        let base = format!("http://{}", collector.addr);
        let browser = Browser::start(&paths).await?;
        Ok(Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            collector: Some(collector),
            browser: Some(browser),
            _db_dir: db_dir,
        })
    }

    /// The WebDriver client.
    pub fn client(&self) -> &fantoccini::Client {
        self.browser.as_ref().expect("browser is running").client()
    }

    /// The URL of `path` (e.g. `integrations/hls.html?autoplay=1`) under the directory
    /// where the collector serves `web-demo/`: the one place that knows that prefix.
    pub fn page_url(&self, path: &str) -> String {
        format!("{}/demo/{path}", self.base)
    }

    /// Opens the demo page with `query` (without the leading `?`) and waits until the
    /// plugin is initialised (`window.vidpulseDemo.ready`), failing on its error message.
    pub async fn open_demo(&self, query: &str) -> Result<()> {
        let url = self.page_url(&format!("?{query}"));
        self.client()
            .goto(&url)
            .await
            .with_context(|| format!("navigating to {url}"))?;
        let state = self
            .wait_js(
                "const d = window.vidpulseDemo; \
                 return d && (d.ready || d.error) ? { ready: !!d.ready, error: d.error } : null;",
                Duration::from_secs(15),
                "the demo page to initialise the plugin",
            )
            .await?;
        if let Some(err) = state["error"].as_str() {
            bail!("the demo page could not start the plugin: {err}; {HINT}");
        }
        Ok(())
    }

    /// Runs `script` (a function body; use `return`) in the page.
    pub async fn js(&self, script: &str) -> Result<Value> {
        self.client()
            .execute(script, vec![])
            .await
            .with_context(|| format!("executing in the page: {script}"))
    }

    /// Re-runs `script` every 100 ms until it returns something other than
    /// null / false / undefined, and returns that; fails after `timeout`.
    pub async fn wait_js(&self, script: &str, timeout: Duration, what: &str) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.js(script).await?;
            if !(v.is_null() || v == Value::Bool(false)) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                let state = self.page_state().await;
                bail!("timed out after {timeout:?} waiting for {what}; page state: {state}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The independent observer's summary (see `web-demo/observer.js`).
    pub async fn observer(&self) -> Result<Value> {
        self.js("return window.vidpulseObserver.summary();").await
    }

    /// What the page looks like now, for failure messages: the observer's summary, the
    /// last media events and the page's status line.
    pub async fn page_state(&self) -> String {
        let state = self
            .js(
                "const o = window.vidpulseObserver; \
                 const v = document.getElementById('video'); \
                 return { status: document.getElementById('status').textContent, \
                          src: v.currentSrc, readyState: v.readyState, networkState: v.networkState, \
                          observer: o ? o.summary() : null, \
                          lastEvents: o ? o.events.slice(-20).map(e => \
                            `${e.t.toFixed(0)} ${e.type} ct=${e.currentTime.toFixed(2)} rs=${e.readyState}`) : [] };",
            )
            .await;
        match state {
            Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
            Err(e) => format!("(page state unavailable: {e})"),
        }
    }

    /// The plugin's live snapshot.
    pub async fn snapshot(&self) -> Result<Value> {
        self.js("return window.vidpulseDemo.handle.snapshot();")
            .await
    }

    /// Takes the observer's summary and then calls `handle.destroy()` in the same script,
    /// so both describe the same moment. Returns the observer's summary.
    pub async fn observe_and_destroy(&self) -> Result<Value> {
        self.js("const s = window.vidpulseObserver.summary(); \
             window.vidpulseDemo.handle.destroy(); \
             return s;")
            .await
    }

    /// Every view the observer saw with play intent, oldest first.
    pub async fn observer_views(&self) -> Result<Vec<Value>> {
        match self.js("return window.vidpulseObserver.views();").await? {
            Value::Array(v) => Ok(v),
            other => bail!("observer.views() returned {other}"),
        }
    }

    /// Like [`Harness::observe_and_destroy`], but returns every view the observer saw
    /// (oldest first).
    pub async fn observe_views_and_destroy(&self) -> Result<Vec<Value>> {
        match self
            .js("const s = window.vidpulseObserver.views(); \
                 window.vidpulseDemo.handle.destroy(); \
                 return s;")
            .await?
        {
            Value::Array(v) => Ok(v),
            other => bail!("observer.views() returned {other}"),
        }
    }

    /// The plugin's recorded trace (`handle.trace()`, page opened with `debug=1`).
    pub async fn trace(&self) -> Result<String> {
        match self
            .js("return window.vidpulseDemo.handle.trace();")
            .await?
        {
            Value::String(s) => Ok(s),
            other => bail!("handle.trace() returned {other} (was the page opened with debug=1?)"),
        }
    }

    /// `GET /v1/views?limit=100` (newest first).
    pub async fn views(&self) -> Result<Vec<Value>> {
        fetch_views(&self.http, &self.base).await
    }

    /// Polls `/v1/views` until `cond` holds for the list, or fails after `timeout`
    /// showing the last list seen.
    pub async fn wait_views(
        &self,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        wait_views_at(&self.http, &self.base, timeout, what, cond).await
    }

    /// Browser console entries since the last call: `[{level, message, source, timestamp}]`.
    pub async fn console_log(&self) -> Result<Vec<Value>> {
        self.browser
            .as_ref()
            .expect("browser is running")
            .console_log()
            .await
    }

    /// Closes the browser and stops the collector; reports the first error.
    pub async fn finish(mut self) -> Result<()> {
        let browser = match self.browser.as_mut() {
            Some(b) => b.close().await,
            None => Ok(()),
        };
        self.browser = None;
        let collector = match self.collector.take() {
            Some(c) => c.shutdown().await.context("shutting the collector down"),
            None => Ok(()),
        };
        browser.and(collector)
    }

    /// Finishes the harness after scenario `name`: on failure it first saves a
    /// screenshot of the page to `target/e2e-failures/<name>.png`; the scenario's error
    /// wins over a cleanup error, and cleanup always runs.
    pub async fn finish_after(self, name: &str, scenario: Result<()>) -> Result<()> {
        if scenario.is_err() {
            self.save_screenshot(name).await;
        }
        let finished = self.finish().await;
        scenario?;
        finished
    }

    async fn save_screenshot(&self, name: &str) {
        let Some(browser) = self.browser.as_ref() else {
            return;
        };
        let Some(client) = browser.client.as_ref() else {
            return;
        };
        let dir = workspace_dir().join("target/e2e-failures");
        let path = dir.join(format!("{name}.png"));
        let shot = tokio::time::timeout(Duration::from_secs(10), client.screenshot()).await;
        match shot {
            Ok(Ok(png)) => {
                if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&path, png).is_ok() {
                    println!(
                        "[{name}] screenshot of the failing page: {}",
                        path.display()
                    );
                }
            }
            _ => println!("[{name}] no screenshot could be taken"),
        }
    }
}

/// `GET {base}/v1/views?limit=100` (newest first) from any collector.
pub async fn fetch_views(http: &reqwest::Client, base: &str) -> Result<Vec<Value>> {
    let url = format!("{base}/v1/views?limit=100");
    let resp = http.get(&url).send().await?;
    let status = resp.status();
    let body = resp.text().await?;
    if !status.is_success() {
        bail!("GET {url}: {status}: {body}");
    }
    match serde_json::from_str::<Value>(&body)? {
        Value::Array(items) => Ok(items),
        Value::Object(mut o) => match o.remove("views") {
            Some(Value::Array(items)) => Ok(items),
            _ => bail!("GET {url}: no array in {body}"),
        },
        other => bail!("GET {url}: unexpected {other}"),
    }
}

/// Polls `{base}/v1/views` until `cond` holds for the list, or fails after `timeout`
/// showing the last list seen. Errors (e.g. the collector is down) are retried.
pub async fn wait_views_at(
    http: &reqwest::Client,
    base: &str,
    timeout: Duration,
    what: &str,
    cond: impl Fn(&[Value]) -> bool,
) -> Result<Vec<Value>> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match fetch_views(http, base).await {
            Ok(views) if cond(&views) => return Ok(views),
            Ok(views) => serde_json::to_string_pretty(&views).unwrap_or_default(),
            Err(e) => format!("(error: {e:#})"),
        };
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}; {base}/v1/views = {last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The video id a stored view carries (`video.id`).
pub fn video_id(view: &Value) -> Option<&str> {
    view["video"]["id"].as_str()
}

/// The stored views of video `id` (newest first, as `/v1/views` lists them).
pub fn view_for<'a>(views: &'a [Value], id: &str) -> Vec<&'a Value> {
    views.iter().filter(|v| video_id(v) == Some(id)).collect()
}

/// The stored view is over (`metrics.view_ended`).
pub fn ended(view: &Value) -> bool {
    view["metrics"]["view_ended"].as_bool() == Some(true)
}

/// Pretty JSON for failure messages.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Reads a number from a JSON value (integers and floats alike).
pub fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// `v[key]` as a number, or an error naming the key and showing `v`.
pub fn get_num(v: &Value, key: &str) -> Result<f64> {
    num(&v[key]).ok_or_else(|| anyhow!("`{key}` is not a number in {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_prerequisite_is_an_error_that_says_what_to_run() {
        let nowhere = PathBuf::from("/nonexistent/vidpulse-e2e");
        let paths = Paths {
            demo: workspace_dir().join("web-demo"),
            plugin: nowhere.clone(),
            media: nowhere.clone(),
            chromedriver: nowhere.clone(),
            chrome: nowhere,
        };
        let err = paths.check().expect_err("nothing is there").to_string();
        assert!(err.contains("plugin build"), "{err}");
        assert!(err.contains("cargo xtask test"), "{err}");
    }

    #[test]
    fn workspace_dir_holds_the_demo_page() {
        assert!(workspace_dir().join("web-demo/index.html").is_file());
    }
}
