//! The accept loop, so that slow or idle clients cannot exhaust the server.
//!
//! `axum::serve` offers no connection cap and no header timeout, so this serves
//! the router with hyper directly:
//!
//! - a cap on open connections (`--max-connections`): at the cap the loop stops
//!   accepting and new connections wait in the kernel's backlog;
//! - a cap per client IP (`--max-connections-per-ip`): beyond it a connection is
//!   closed at once, so one host cannot take every slot;
//! - hyper's HTTP/1 header read timeout (`--header-timeout-secs`): the headers of
//!   a request must arrive within it. Hyper arms the timer whenever it waits for
//!   a request head, so it also closes idle keep-alive connections: a slowloris
//!   client trickling headers, or one that opens connections and sends nothing,
//!   holds a slot for at most this long. Only HTTP/1.1 is served (see
//!   [`serve`]);
//! - [`request_timeout`] (`--request-timeout-secs`), a middleware: a request
//!   whose body trickles in, or whose answer takes too long, gets 408.
//!
//! Graceful shutdown stops accepting and lets open connections finish.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::error::ApiError;

/// Connection limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections from one IP.
    pub max_per_ip: usize,
    /// Time to send a request's headers; also the idle keep-alive limit.
    pub header_timeout: Duration,
}

/// Open connections per client IP; an entry leaves the map at zero.
#[derive(Default, Clone)]
struct PerIp(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One counted connection; uncounts itself on drop.
struct IpSlot {
    map: PerIp,
    ip: IpAddr,
}

impl PerIp {
    fn enter(&self, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            map: self.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.map.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open
/// connections to finish (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = PerIp::default();
    let graceful = GracefulShutdown::new();
    // Connections still waiting for their first byte are not hyper connections yet,
    // so `graceful` does not see them; this tells them to go at shutdown (they
    // hold the router, and with it the writer's sender, which the shutdown waits
    // to see dropped).
    let (stopping, stop) = tokio::sync::watch::channel(false);
    // HTTP/1.1 only: sniffing for an HTTP/2 preface has no timeout of its own,
    // so a client that connects and sends nothing would hold its slot forever.
    // (Browsers speak HTTP/2 only over TLS, which a proxy in front terminates.)
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    // Out of file descriptors and the like: back off, do not spin.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = per_ip.enter(peer.ip(), limits.max_per_ip) else {
            tracing::debug!(ip = %peer.ip(), "connection refused: per-IP cap");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        let mut stop = stop.clone();
        tokio::spawn(async move {
            // Hyper's header timer only starts with the first byte: a client that
            // connects and sends nothing is dropped here, as is one still silent
            // when the server stops.
            let mut first = [0u8; 1];
            let spoke = tokio::select! {
                peeked = tokio::time::timeout(header_timeout, stream.peek(&mut first)) => {
                    matches!(peeked, Ok(Ok(n)) if n > 0)
                }
                _ = stop.wait_for(|stopping| *stopping) => false,
            };
            if !spoke {
                return;
            }
            let svc = tower::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(svc))
                .into_owned();
            if let Err(err) = watcher.watch(conn).await {
                tracing::debug!(%err, "connection ended with an error");
            }
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    graceful.shutdown().await;
    Ok(())
}

/// Answers 408 (`{"error", "field": "request"}`) when a request, body included,
/// takes longer than the configured time. Streamed response bodies (SSE,
/// export, media) are not cut: the limit ends when the response starts.
pub async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("request not completed within {} s", limit.as_secs()),
            Some("request".to_owned()),
        )
        .into_response(),
    }
}
