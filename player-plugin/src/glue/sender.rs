//! The page's senders: one [`Outbox`] per collector and property, shared by its
//! monitors so that several players' beacons travel together.
//!
//! The shell does the I/O (one `fetch` at a time, `sendBeacon` when the page
//! hides, `localStorage` after every change) and reports each answer; the outbox
//! decides what goes in a batch, when to retry, and what a saved queue holds.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::{answer, delay_ms, take_args, Global};
use crate::outbox::{Outbox, OutboxConfig, Outcome};
use crate::wire::Beacon;

struct Sender {
    property: String,
    /// Empty in cookieless mode.
    viewer_id: String,
    outbox: Outbox,
    /// Consent: when false, nothing is queued, saved or sent.
    enabled: bool,
}

static SENDERS: Global<RefCell<Vec<Sender>>> = Global(RefCell::new(Vec::new()));

fn with<R>(s: usize, f: impl FnOnce(&mut Sender) -> R) -> Option<R> {
    SENDERS.0.borrow_mut().get_mut(s).map(f)
}

/// Queues a beacon (not without consent); answers 1 if it was queued.
pub(super) fn push(s: usize, b: Beacon) -> u32 {
    with(s, |x| {
        if x.enabled {
            x.outbox.push(b);
        }
        u32::from(x.enabled)
    })
    .unwrap_or(0)
}

/// Creates a sender; strings: property, viewer id. Answers its handle.
#[export_name = "S"]
pub extern "C" fn create() -> usize {
    let mut a = take_args();
    let s = Sender {
        property: a.next().unwrap_or_default(),
        viewer_id: a.next().unwrap_or_default(),
        outbox: Outbox::new(OutboxConfig::default()),
        enabled: true,
    };
    let mut all = SENDERS.0.borrow_mut();
    all.push(s);
    all.len() - 1
}

/// Adds a saved queue (string: what `V` answered on an earlier page).
#[export_name = "R"]
pub extern "C" fn restore(s: usize) {
    let saved = take_args().next().unwrap_or_default();
    with(s, |x| {
        if x.enabled {
            x.outbox.restore(&saved)
        }
    });
}

/// The queue to save; none when there is nothing to keep (remove the key).
#[export_name = "V"]
pub extern "C" fn save(s: usize) -> i32 {
    answer(
        with(s, |x| {
            (x.enabled && !x.outbox.is_empty()).then(|| x.outbox.save())
        })
        .flatten(),
    )
}

/// Consent on or off; off also forgets everything queued.
#[export_name = "E"]
pub extern "C" fn enable(s: usize, on: bool) {
    with(s, |x| {
        x.enabled = on;
        if !on {
            x.outbox = Outbox::new(OutboxConfig::default());
        }
    });
}

/// The next request's body, if one may go now (none in flight, not backing off).
#[export_name = "B"]
pub extern "C" fn batch(s: usize, now: f64) -> i32 {
    answer(
        with(s, |x| {
            let x = &mut *x;
            // Consent off: the outbox is empty, and stays unsent whatever JS asks.
            x.enabled
                .then(|| x.outbox.take_batch(now, &x.property, &x.viewer_id))
                .flatten()
        })
        .flatten(),
    )
}

/// The answer to the request in flight: an HTTP status, 0 for a network error;
/// `jitter` a random number in [0, 1).
#[export_name = "F"]
pub extern "C" fn finish(s: usize, status: u32, now: f64, jitter: f64) {
    with(s, |x| {
        let o = Outcome::from_status(status.min(999) as u16);
        x.outbox.finish(o, now, jitter)
    });
}

/// How long to wait at `now` before trying again (ms, as `d` answers), or -1
/// when no retry is due.
#[export_name = "T"]
pub extern "C" fn retry_in(s: usize, now: f64) -> f64 {
    with(s, |x| x.outbox.retry_at())
        .flatten()
        .map_or(-1.0, |at| delay_ms(at, now))
}

/// Everything queued in one body, for `navigator.sendBeacon` (no answer comes).
#[export_name = "A"]
pub extern "C" fn all(s: usize) -> i32 {
    answer(
        with(s, |x| {
            let x = &mut *x;
            x.enabled
                .then(|| x.outbox.all(&x.property, &x.viewer_id))
                .flatten()
        })
        .flatten(),
    )
}
