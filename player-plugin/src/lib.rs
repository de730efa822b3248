//! vidpulse player plugin.
//!
//! - [`wire`]: the beacon format shared with the collector.
//! - [`engine`]: the sans-IO playback engine that turns media events into QoE metrics.
//! - [`json`]: the JSON writer for beacons, snapshots and traces.
//! - [`outbox`]: the sans-IO delivery queue (merging, backoff, persistence).
//! - `glue` (wasm32 only): the browser binding, `monitor(video, options)`.

pub mod engine;
pub mod json;
pub mod outbox;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod glue;
#[cfg(target_arch = "wasm32")]
pub use glue::{monitor, Monitor, MEDIA_EVENTS};

/// The drop-in script (`<script src=".../v1/plugin.js" data-property="KEY" defer>`)
/// that the collector serves: it loads the plugin from the same collector and
/// monitors every `video[data-vidpulse]`, including ones added later.
pub const LOADER_JS: &str = include_str!("../js/loader.js");

// SAFETY: the plugin runs on the page's one thread (no wasm threads are used).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
