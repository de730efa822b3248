//! The vidpulse collector: receives beacon batches from the player plugin, stores
//! each view's latest snapshot and per-minute/hour/day rollups durably in redb
//! (one group-commit writer), answers the KPI, time-series, views, videos and live
//! API, and serves the operator dashboard at `/`, the demo page under `/demo/`, the
//! built plugin and throttled test media.
//!
//! Embed it with [`spawn`] (the end-to-end tests do) or run the
//! `vidpulse-collector` binary.

pub mod access;
pub mod api;
pub mod apply;
pub mod auth;
pub mod check;
pub mod config;
pub mod cookieless;
pub mod dashboard;
pub mod deltas;
pub mod dims;
pub mod error;
pub mod export;
pub mod geo;
pub mod guesses;
pub mod ingest;
pub mod kpis;
pub mod listener;
pub mod live;
pub mod media;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod playback_errors;
pub mod query;
pub mod ratelimit;
pub mod rollup;
pub mod routes;
pub mod server;
pub mod sketch;
pub mod store;
pub mod summary;
pub mod videos;
pub mod writer;

pub use config::Config;
pub use server::{spawn, Running};

/// The server clock, Unix ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
