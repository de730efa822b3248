//! vidpulse player plugin.
//!
//! - [`wire`]: the beacon format shared with the collector.
//! - [`engine`]: the sans-IO playback engine that turns media events into QoE metrics.
//! - [`json`]: the JSON writer for beacons, snapshots and traces.
//! - `glue` (wasm32 only): the wasm side of the browser binding; the page-facing
//!   half, `monitor(video, options)`, is the hand-written `js/vidpulse.js`, and
//!   the delivery queue (batching, retries, deltas) is `js/outbox.js`.
//!
//! The shipped plugin (`cargo xtask plugin`) is built with the `nostd` feature:
//! without the Rust standard library, so a panic aborts (a wasm `unreachable`
//! trap) instead of pulling in std's panic machinery and `core::fmt` (about
//! 5 KB). Everything else is the same code; tests and native builds use std.

#![cfg_attr(all(target_arch = "wasm32", feature = "nostd"), no_std)]

extern crate alloc;

pub mod engine;
mod fmath;
pub mod json;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod glue;

/// Appends one ASCII byte to `s`: what `String::push` does for ASCII, without
/// its UTF-8 encoder, which every text the plugin writes (JSON, ids, hex) would
/// otherwise carry into the wasm. A non-ASCII `c` is a bug; it is masked to
/// ASCII so the string stays UTF-8 whatever happens.
pub(crate) fn push_ascii(s: &mut alloc::string::String, c: u8) {
    debug_assert!(c.is_ascii());
    // SAFETY: a byte below 0x80 is a whole UTF-8 character.
    unsafe { s.as_mut_vec().push(c & 0x7f) }
}

/// The drop-in script (`<script src=".../v1/plugin.js" data-property="KEY" defer>`)
/// that the collector serves: it loads the plugin from the same collector and
/// monitors every `video[data-vidpulse]`, including ones added later.
pub const LOADER_JS: &str = include_str!("../js/loader.js");

// SAFETY: the plugin runs on the page's one thread (no wasm threads are used).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// With `nostd`, a panic (a bug: the plugin is written not to panic) stops the
/// plugin with a wasm trap, which the page sees as a `RuntimeError`.
#[cfg(all(target_arch = "wasm32", feature = "nostd"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
