//! Starting and stopping a collector: [`spawn`] opens the database, starts the
//! writer thread (and the retention task), binds and serves in a tokio task;
//! [`Running::shutdown`] stops accepting, lets in-flight requests finish (their
//! writes commit), stops the writer once its queue is drained, and closes the
//! database file so it can be reopened.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::geo::Geo;
use crate::ingest::Limits;
use crate::live::Live;
use crate::ops::Admin;
use crate::routes::{self, AppState};
use crate::store::Store;
use crate::writer::Writer;

/// How long [`Running::shutdown`] waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A collector serving in the background.
pub struct Running {
    /// The bound address (the real port when the config asked for port 0).
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    store: Store,
    live: Live,
    writer_thread: std::thread::JoinHandle<()>,
    retention: Option<JoinHandle<()>>,
}

/// Opens the database, binds the listener and starts serving.
pub async fn spawn(config: Config) -> anyhow::Result<Running> {
    let path = config.data.clone();
    let cache_bytes =
        usize::try_from(config.cache_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let store = tokio::task::spawn_blocking(move || Store::open_with_cache(&path, cache_bytes))
        .await?
        .with_context(|| format!("opening database {}", config.data.display()))?;
    let geo = Geo::open(config.geoip.as_deref())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let live = Live::default();
    let (writer, writer_thread) = Writer::start(
        store.clone(),
        config.ingest_queue,
        config.max_view_events,
        live.clone(),
    );
    let retention = config
        .retention_days
        .map(|days| tokio::spawn(crate::ops::retention_task(writer.clone(), days)));
    let access =
        Arc::new(crate::access::Access::parse(&config.properties).map_err(|e| anyhow::anyhow!(e))?);
    if access.is_open() {
        tracing::warn!("no --property configured: open mode, every property key is accepted");
    } else {
        tracing::info!(properties = access.len(), "property keys configured");
    }
    let rate = Arc::new(crate::ratelimit::RateLimits::new(&config));
    let rate_cleanup = rate.spawn_cleanup();
    let state = AppState {
        store: store.clone(),
        writer,
        limits: Limits {
            max_beacons_per_batch: config.max_beacons_per_batch,
            max_string_len: config.max_string_len,
            max_events_per_beacon: config.max_events_per_beacon,
            unknown_fields: config.unknown_fields,
        },
        live: live.clone(),
        geo,
        max_scan_views: config.max_scan_views,
        http: Arc::default(),
        admin: Admin {
            backup_dir: config.backup_dir(),
        },
        salt: Arc::new(crate::cookieless::DailySalt::open(Some(
            config.data.with_extension("cookieless-salt"),
        ))),
        access,
        rate,
    };
    let app = routes::router(&config, state).layer(axum::middleware::from_fn_with_state(
        Duration::from_secs(config.request_timeout_secs),
        crate::listener::request_timeout,
    ));
    let conn_limits = crate::listener::ConnLimits {
        max_connections: config.max_connections,
        max_per_ip: config.max_connections_per_ip,
        header_timeout: Duration::from_secs(config.header_timeout_secs),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = crate::listener::serve(listener, app, conn_limits, async move {
            let _ = stopped.await;
        })
        .await;
        rate_cleanup.abort();
        served
    });
    tracing::info!(%addr, "collector started");
    Ok(Running {
        addr,
        stop,
        task,
        store,
        live,
        writer_thread,
        retention,
    })
}

impl Running {
    /// Stops accepting connections, waits (up to [`SHUTDOWN_GRACE`]) for in-flight
    /// requests to finish, lets the writer commit what is queued, then closes the
    /// database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.live.stop();
        if let Some(r) = &self.retention {
            r.abort();
        }
        let mut task = self.task;
        let forced = match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(joined) => {
                joined.context("server task")??;
                false
            }
            Err(_) => {
                tracing::warn!(
                    "in-flight requests still running after {SHUTDOWN_GRACE:?}; stopping"
                );
                task.abort();
                true
            }
        };
        if let Some(r) = self.retention {
            let _ = r.await;
        }
        // The writer ends when the last handler's sender is dropped.
        let thread = self.writer_thread;
        let joined = tokio::time::timeout(
            SHUTDOWN_GRACE,
            tokio::task::spawn_blocking(move || thread.join()),
        )
        .await;
        if joined.is_err() {
            tracing::warn!("writer still busy after {SHUTDOWN_GRACE:?}");
        }
        // Request handlers release their store clones when they finish; a
        // blocking task may still be unwinding, so give it a moment.
        let mut store = self.store;
        for _ in 0..100 {
            match store.close() {
                Ok(()) => {
                    tracing::info!("database closed");
                    return Ok(());
                }
                Err(still_shared) => store = still_shared,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if forced {
            // Every acknowledged beacon is already committed; the file closes
            // when the last lingering connection ends.
            tracing::warn!("database closes when the last connection ends");
            return Ok(());
        }
        anyhow::bail!("database still in use after shutdown")
    }
}
