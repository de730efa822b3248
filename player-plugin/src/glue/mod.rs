//! The wasm side of the plugin's browser binding.
//!
//! The page-facing part is hand-written JavaScript (`js/vidpulse.js`): it reads
//! the options, owns the listeners, timers, `fetch`, `sendBeacon` and
//! `localStorage`, and reads the `<video>` element; its delivery queue
//! (`js/outbox.js`) batches, retries and writes deltas. Every metric is decided
//! here, in Rust: the engine, the trace recorder and the beacons' JSON. The two
//! halves talk through a few exported functions taking numbers, so no binding
//! generator (wasm-bindgen, web-sys) is shipped: its per-import shims and
//! closures were half of the plugin's weight.
//!
//! The interface, by exported name (kept to one letter: every name is sent to
//! every viewer twice, once in each file):
//!
//! - strings in: `a(len) -> ptr` queues a string argument of `len` UTF-8 bytes
//!   that JS then writes at `ptr`; `n()` queues an absent one. The next call that
//!   takes strings consumes the queue, in order.
//! - strings out: a function that answers text returns its byte length (-1 for
//!   none) and leaves it at `o()`, valid until the next call.
//! - [`monitor`]: `c` creates a monitor, `b` begins an input (clock and element
//!   state), `i` feeds one input, `m` feeds the measurements, `e` takes the
//!   beacons (JSON lines), `d`/`f` tell the timer and frame requests wanted,
//!   `s` is the snapshot, `r` the trace (debug core only), `x` frees a monitor.

mod monitor;

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

/// A global of the page's one thread: what `thread_local!` gives, without std
/// (the shipped build is `no_std`). The plugin is built without wasm threads, so
/// nothing else can reach it.
pub(crate) struct Global<T>(pub T);

// SAFETY: wasm32 without the `atomics` feature has exactly one thread.
unsafe impl<T> Sync for Global<T> {}

/// String arguments queued by `a`/`n` for the next call, in one buffer: each is
/// its length (4 bytes, little-endian; `u32::MAX` for an absent one), then its
/// UTF-8. One buffer instead of a vector of vectors: less code for every viewer.
static ARGS: Global<RefCell<Vec<u8>>> = Global(RefCell::new(Vec::new()));
/// The last text answered.
static OUT: Global<RefCell<String>> = Global(RefCell::new(String::new()));

/// Queues a string argument of `len` bytes; JS writes its UTF-8 at the pointer.
#[export_name = "a"]
pub extern "C" fn arg(len: usize) -> *mut u8 {
    let mut args = ARGS.0.borrow_mut();
    args.extend_from_slice(&(len as u32).to_le_bytes());
    let at = args.len();
    args.resize(at + len, 0);
    // SAFETY: `at` is at most the length.
    unsafe { args.as_mut_ptr().add(at) }
}

/// Queues an absent string argument.
#[export_name = "n"]
pub extern "C" fn none() {
    ARGS.0
        .borrow_mut()
        .extend_from_slice(&u32::MAX.to_le_bytes());
}

/// Where the last text answered starts.
#[export_name = "o"]
pub extern "C" fn out() -> *const u8 {
    OUT.0.borrow().as_ptr()
}

/// Takes the queued string arguments.
fn take_args() -> Args {
    Args(core::mem::take(&mut *ARGS.0.borrow_mut()), 0)
}

/// The queued string arguments (the buffer and a read position), in order;
/// missing ones are absent.
struct Args(Vec<u8>, usize);

impl Args {
    fn next(&mut self) -> Option<String> {
        let at = self.1;
        let len = u32::from_le_bytes(self.0.get(at..at + 4)?.try_into().ok()?);
        self.1 = at + 4;
        if len == u32::MAX {
            return None;
        }
        let end = self.1 + len as usize;
        let bytes = self.0.get(self.1..end)?;
        self.1 = end;
        // SAFETY: only `put` in js/vidpulse.js writes these bytes, and they come
        // from `TextEncoder.encode`, whose output is always valid UTF-8.
        Some(String::from(unsafe {
            core::str::from_utf8_unchecked(bytes)
        }))
    }
}

/// Answers `text`: its length, the text left at `o()`.
fn answer(text: Option<String>) -> i32 {
    match text {
        Some(t) => {
            let len = t.len() as i32;
            *OUT.0.borrow_mut() = t;
            len
        }
        None => -1,
    }
}

/// The `setTimeout` delay for a deadline `at` seen at `now` (both
/// `performance.now()` ms): never negative, within `setTimeout`'s range, and
/// 1 ms late so the timer fires after the deadline, not just before it.
fn delay_ms(at: f64, now: f64) -> f64 {
    (at - now).clamp(0.0, 2.0e9) + 1.0
}

/// A JS number that may stand for "absent" (negative or NaN): `None` then.
fn opt(x: f64) -> Option<f64> {
    (x >= 0.0).then_some(x)
}

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A page-given count (bitrate, duration, throughput) as a whole number, at most
/// [`MAX_SAFE`]: the shell's delivery queue reads beacons with `JSON.parse`, and
/// a bigger number would come back rounded, even above `u64::MAX`, which the
/// collector refuses with the whole batch. (A branch, not `f64::min`: 43 B
/// less gzip.)
fn whole(x: f64) -> u64 {
    if x > MAX_SAFE {
        MAX_SAFE as u64
    } else {
        x as u64
    }
}
