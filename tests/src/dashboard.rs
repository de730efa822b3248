//! Helpers for the dashboard's browser tests: why they exist. The dashboard tests
//! need a collector holding known views (seeded over real HTTP with the plugin's
//! own wire types, including hostile strings), and the same checks on every page:
//! loaded, no console errors, nothing injected ran, the layout holds, a
//! screenshot under `target/screenshots/`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use vidpulse_plugin::wire::{
    Batch, Beacon, NotableEvent, PlaybackError, Reason, VideoMeta, ViewContext, ViewMetrics,
    WIRE_VERSION,
};

use crate::{workspace_dir, Harness};

/// A Chrome on Linux.
pub const CHROME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
/// A Firefox on Windows.
pub const FIREFOX_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";

/// Strings a hostile page could send; each would set `window.__xss` if it ran.
pub const HOSTILE_TITLE: &str =
    "<script>window.__xss='title'</script>\"><img src=x onerror=\"window.__xss='title-img'\">";
/// A video id that is also markup.
pub const HOSTILE_VIDEO_ID: &str = "\"><img src=x onerror=window.__xss='video'>";
/// Right-to-left override and Hebrew in a player name.
pub const RTL_PLAYER: &str =
    "\u{202E}reyalp-live \u{05E9}\u{05DC}\u{05D5}\u{05DD} <b onmouseover=window.__xss=1>";

/// A very long error message with markup in it (under the 2048-character limit).
pub fn hostile_error_message() -> String {
    format!(
        "<img src=x onerror=\"window.__xss='error'\">{}",
        "W".repeat(1900)
    )
}

/// One view to seed.
#[derive(Clone)]
pub struct SeedView {
    /// View id.
    pub id: String,
    /// Video id and title.
    pub video: (String, String),
    /// Minutes before now the view started.
    pub minutes_ago: u64,
    /// Metrics.
    pub metrics: ViewMetrics,
    /// Timeline.
    pub events: Vec<NotableEvent>,
    /// Player name.
    pub player: String,
    /// User agent.
    pub ua: &'static str,
    /// Media URL.
    pub src: String,
}

impl SeedView {
    /// A clean, ended view of `video` that played for `playing_ms`.
    pub fn new(id: &str, video: (&str, &str), minutes_ago: u64, playing_ms: u64) -> Self {
        SeedView {
            id: id.into(),
            video: (video.0.into(), video.1.into()),
            minutes_ago,
            metrics: ViewMetrics {
                startup_ms: Some(400),
                first_frame: true,
                watch_ms: playing_ms + 500,
                playing_ms,
                coverage: Some("3ff".into()),
                coverage_buckets: 10,
                max_position_ms: playing_ms,
                completed: true,
                ended: true,
                view_ended: true,
                ..ViewMetrics::default()
            },
            events: Vec::new(),
            player: "html5".into(),
            ua: CHROME_UA,
            src: "http://127.0.0.1/media/clip.webm".into(),
        }
    }

    /// The beacon for this view (`seq` 3, its final snapshot when ended).
    pub fn beacon(&self, now_ms: u64) -> Beacon {
        Beacon {
            view_id: self.id.clone(),
            seq: 3,
            reason: if self.metrics.view_ended {
                Reason::ViewEnd
            } else {
                Reason::Interval
            },
            started_at_ms: now_ms - self.minutes_ago * 60_000,
            at_ms: self.metrics.watch_ms,
            plugin_version: "0.1.0".into(),
            same: false,
            video: VideoMeta {
                id: Some(self.video.0.clone()),
                title: Some(self.video.1.clone()),
                src: Some(self.src.clone()),
                duration_ms: Some(10_000),
                ..VideoMeta::default()
            },
            context: ViewContext {
                page_host: Some("shop.example".into()),
                page_path: Some("/watch".into()),
                player_name: Some(self.player.clone()),
                ..ViewContext::default()
            },
            metrics: self.metrics.clone(),
            events: self.events.clone(),
        }
    }
}

/// A fatal error.
pub fn fatal(code: u16, message: &str) -> PlaybackError {
    PlaybackError {
        code,
        message: message.into(),
        before_first_frame: false,
    }
}

/// POSTs one batch per view (its user agent), asserting 200.
pub async fn seed(h: &Harness, views: &[SeedView]) -> Result<()> {
    let now = now_ms();
    for v in views {
        let batch = Batch {
            v: WIRE_VERSION,
            property: "shop".into(),
            viewer_id: format!("viewer-{}", v.id),
            cookieless: false,
            beacons: vec![v.beacon(now)],
            d: Vec::new(),
        };
        let resp = h
            .http
            .post(format!("{}/v1/beacons", h.base))
            .header("content-type", "text/plain")
            .header("user-agent", v.ua)
            .body(serde_json::to_vec(&batch)?)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.text().await?;
        ensure!(status.is_success(), "seeding {}: {status} {body}", v.id);
    }
    Ok(())
}

/// The wall clock, Unix ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Harness {
    /// `GET` a JSON API path (with an optional bearer token), failing on non-2xx.
    pub async fn api(&self, path_and_query: &str, token: Option<&str>) -> Result<Value> {
        let mut req = self.http.get(format!("{}{path_and_query}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        ensure!(
            status.is_success(),
            "GET {path_and_query}: {status}: {body}"
        );
        serde_json::from_str(&body).with_context(|| format!("GET {path_and_query}: {body}"))
    }

    /// Opens a dashboard page and waits until it has drawn (`body[data-ready]`);
    /// fails if it shows an error banner.
    pub async fn open_dashboard(&self, path_and_query: &str) -> Result<()> {
        let url = format!("{}{path_and_query}", self.base);
        self.client().goto(&url).await?;
        self.wait_js(
            "return document.body && document.body.dataset.ready === '1';",
            Duration::from_secs(15),
            &format!("the dashboard page {path_and_query} to draw"),
        )
        .await?;
        let banner = self
            .js("const b = document.getElementById('error'); return b && !b.hidden ? b.textContent : null;")
            .await?;
        if let Some(msg) = banner.as_str() {
            bail!("{path_and_query} shows an error: {msg}");
        }
        Ok(())
    }

    /// The checks every page must pass: no console errors, no injected code ran
    /// (`window.__xss` unset, no alert, no `img[src=x]`, no inline script), the
    /// page no wider than the viewport; then a screenshot as `target/screenshots/<name>.png`.
    pub async fn check_page(&self, name: &str) -> Result<PathBuf> {
        // Let charts and late handlers run.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let errors: Vec<Value> = self
            .console_log()
            .await?
            .into_iter()
            .filter(|e| e["level"].as_str() == Some("SEVERE"))
            .collect();
        ensure!(errors.is_empty(), "{name}: console errors: {errors:?}");
        if let Ok(text) = self.client().get_alert_text().await {
            bail!("{name}: an alert opened: {text}");
        }
        let state = self
            .js("return { xss: window.__xss === undefined ? null : String(window.__xss), \
                 injected: document.querySelectorAll('img[src=\"x\"], script:not([src]), [onerror], [onmouseover]').length, \
                 scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth };")
            .await?;
        ensure!(state["xss"].is_null(), "{name}: injected code ran: {state}");
        ensure!(state["injected"] == 0, "{name}: injected elements: {state}");
        let (sw, iw) = (
            state["scrollWidth"].as_f64().unwrap_or(f64::MAX),
            state["innerWidth"].as_f64().unwrap_or(0.0),
        );
        ensure!(
            sw <= iw,
            "{name}: the page is wider than the viewport: {state}"
        );
        // The whole page: grow the window to the document's height for the shot.
        let height = self
            .js("return document.documentElement.scrollHeight;")
            .await?;
        let height = height.as_u64().unwrap_or(900).clamp(900, 4000) as u32;
        self.client().set_window_size(1280, height + 100).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = self.client().screenshot().await;
        self.client().set_window_size(1280, 900).await?;
        let png = png?;
        let dir = workspace_dir().join("target/screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        println!("[{name}] screenshot: {}", path.display());
        Ok(path)
    }
}
