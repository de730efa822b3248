//! Shared helpers for the collector's integration tests: a real collector on a
//! loopback port with a real redb file in a temp dir, and beacon builders.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use tempfile::TempDir;
use vidpulse_collector::{spawn, Config, Running};
use vidpulse_plugin::wire::{Batch, Beacon, Reason, VideoMeta, ViewMetrics, WIRE_VERSION};

pub struct Harness {
    pub running: Running,
    pub dir: TempDir,
    pub client: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_test(dir.path().join("data").join("vidpulse.redb"));
        tweak(&mut config);
        let running = spawn(config).await.unwrap();
        Harness {
            running,
            dir,
            client: reqwest::Client::new(),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data").join("vidpulse.redb")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.running.addr, path)
    }

    /// POSTs a raw body with `text/plain`, returns (status, JSON body).
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.client.post(self.url("/v1/beacons")).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, batch: &Batch) -> (u16, Value) {
        self.post_raw(
            serde_json::to_vec(batch).unwrap(),
            Some("text/plain;charset=UTF-8"),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(self.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn views(&self) -> Vec<Value> {
        let (status, body) = self.get("/v1/views?limit=1000").await;
        assert_eq!(status, 200, "{body}");
        body.as_array().unwrap().clone()
    }
}

pub fn beacon(view_id: &str, seq: u32, started_at_ms: u64) -> Beacon {
    Beacon {
        view_id: view_id.into(),
        seq,
        reason: if seq == 0 {
            Reason::ViewStart
        } else {
            Reason::Interval
        },
        started_at_ms,
        at_ms: u64::from(seq) * 10_000,
        plugin_version: "0.1.0".into(),
        same: false,
        video: VideoMeta {
            id: Some("clip-1".into()),
            title: Some("Test clip".into()),
            src: Some("http://127.0.0.1/media/clip.webm".into()),
            ..VideoMeta::default()
        },
        context: Default::default(),
        metrics: ViewMetrics {
            watch_ms: u64::from(seq) * 10_000,
            playing_ms: u64::from(seq) * 9_000,
            ..ViewMetrics::default()
        },
        events: Vec::new(),
    }
}

pub fn batch(beacons: Vec<Beacon>) -> Batch {
    Batch {
        v: WIRE_VERSION,
        property: "demo".into(),
        viewer_id: "viewer-1".into(),
        cookieless: false,
        beacons,
        d: Vec::new(),
    }
}

/// A minute-aligned Unix ms time used as "t0" by the analytics tests.
pub const T0: u64 = 1_700_000_040_000;

pub const CHROME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const FIREFOX_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";

impl Harness {
    /// POSTs a batch with a `User-Agent`.
    pub async fn post_ua(&self, batch: &Batch, ua: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url("/v1/beacons"))
            .header("content-type", "text/plain")
            .header("user-agent", ua)
            .body(serde_json::to_vec(batch).unwrap())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// GETs JSON and asserts 200.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The value of a Prometheus sample.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }
}

/// A batch of one viewer.
pub fn batch_of(viewer: &str, beacons: Vec<Beacon>) -> Batch {
    Batch {
        viewer_id: viewer.into(),
        cookieless: false,
        ..batch(beacons)
    }
}
