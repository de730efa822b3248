//! The `vidpulse-collector` binary: parse the configuration, serve until ctrl-c or
//! SIGTERM, then shut down gracefully.

use clap::Parser;
use tracing_subscriber::EnvFilter;
use vidpulse_collector::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if config.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    if config.check {
        return check(&config);
    }
    let running = vidpulse_collector::spawn(config).await?;
    tracing::info!("listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await
}

/// `--check`: open the file, compare every rollup with a recomputation from the
/// stored views, print the report as JSON; exit 1 on a mismatch.
fn check(config: &Config) -> anyhow::Result<()> {
    let store = vidpulse_collector::store::Store::open(&config.data)?;
    let report = vidpulse_collector::check::check(&store)?;
    println!("{}", serde_json::to_string(&report)?);
    if !report.ok() {
        std::process::exit(1);
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "listening for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "listening for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
