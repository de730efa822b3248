//! A second collector that a test can stop and restart: the beacon sink of the
//! delivery (loss) tests.
//!
//! The page, the plugin and the media come from the harness' own collector, which
//! stays up; the page sends its beacons here (the demo's `collector=` parameter).
//! Stopping the sink is then a collector outage the page lives through, and a
//! restart brings the same database file back on the same port, as an operator
//! restarting the service would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tempfile::TempDir;
use vidpulse_collector::{Config, Running};

/// A collector on a fixed loopback port over one database file.
pub struct Sink {
    /// `http://127.0.0.1:<port>`, the same across restarts.
    pub base: String,
    addr: SocketAddr,
    data: PathBuf,
    running: Option<Running>,
    http: reqwest::Client,
    _dir: TempDir,
}

impl Sink {
    /// Starts a collector with a fresh database on an ephemeral port.
    pub async fn start() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("vidpulse-e2e-sink-")
            .tempdir()?;
        let data = dir.path().join("sink.redb");
        let running = vidpulse_collector::spawn(Config::for_test(data.clone()))
            .await
            .context("starting the sink collector")?;
        let addr = running.addr;
        Ok(Self {
            base: format!("http://{addr}"),
            addr,
            data,
            running: Some(running),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            _dir: dir,
        })
    }

    /// Whether it is serving now.
    pub fn is_up(&self) -> bool {
        self.running.is_some()
    }

    /// Shuts it down gracefully (in-flight writes finish, the file is closed).
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(r) = self.running.take() {
            r.shutdown().await.context("stopping the sink collector")?;
        }
        Ok(())
    }

    /// Starts it again on the same port over the same file. The port was free a
    /// moment ago; binding is retried for a few seconds in case the OS holds it.
    pub async fn restart(&mut self) -> Result<()> {
        if self.running.is_some() {
            bail!("the sink is already running");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let cfg = Config {
                listen: self.addr,
                ..Config::for_test(self.data.clone())
            };
            match vidpulse_collector::spawn(cfg).await {
                Ok(r) => {
                    self.running = Some(r);
                    return Ok(());
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("sink restart on {} failed ({e:#}); retrying", self.addr);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e).context("restarting the sink collector"),
            }
        }
    }

    /// `GET /v1/views?limit=100` (newest first).
    pub async fn views(&self) -> Result<Vec<Value>> {
        crate::fetch_views(&self.http, &self.base).await
    }

    /// Polls `/v1/views` until `cond` holds (see [`crate::wait_views_at`]).
    pub async fn wait_views(
        &self,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        crate::wait_views_at(&self.http, &self.base, timeout, what, cond).await
    }

    /// `GET /v1/kpis` over the default range (the last 24 hours): the rollups.
    pub async fn kpis(&self) -> Result<Value> {
        let url = format!("{}/v1/kpis", self.base);
        let resp = self.http.get(&url).send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        if !status.is_success() {
            bail!("GET {url}: {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// Stops it if running.
    pub async fn finish(mut self) -> Result<()> {
        self.stop().await
    }
}
