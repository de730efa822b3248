//! The vidpulse collector: receives beacon batches from the player plugin, stores
//! each view's latest snapshot durably in redb, answers the views and summary API,
//! and serves the demo page, the built plugin and throttled test media.
//!
//! Embed it with [`spawn`] (the end-to-end tests do) or run the
//! `vidpulse-collector` binary.

pub mod config;
pub mod error;
pub mod ingest;
pub mod media;
pub mod routes;
pub mod server;
pub mod store;
pub mod summary;

pub use config::Config;
pub use server::{spawn, Running};
