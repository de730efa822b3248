//! Starting and stopping a collector: [`spawn`] opens the database, binds and
//! serves in a tokio task; [`Running::shutdown`] drains in-flight requests and
//! closes the database file so it can be reopened.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::routes;
use crate::store::Store;

/// How long [`Running::shutdown`] waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A collector serving in the background.
pub struct Running {
    /// The bound address (the real port when the config asked for port 0).
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    store: Store,
}

/// Opens the database, binds the listener and starts serving.
pub async fn spawn(config: Config) -> anyhow::Result<Running> {
    let path = config.data.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&path))
        .await?
        .with_context(|| format!("opening database {}", config.data.display()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = routes::router(&config, store.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        stop,
        task,
        store,
    })
}

impl Running {
    /// Stops accepting connections, waits (up to [`SHUTDOWN_GRACE`]) for in-flight
    /// requests to finish, then closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
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
        // Request handlers release their store clones when they finish; a
        // blocking task may still be unwinding, so give it a moment.
        let mut store = self.store;
        for _ in 0..100 {
            match store.close() {
                Ok(()) => return Ok(()),
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
