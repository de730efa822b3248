//! Getting beacons to the collector: the I/O around the sans-IO [`Outbox`].
//!
//! One [`Sender`] per collector and property on a page, shared by its monitors, so
//! several players' beacons travel together. Requests go one at a time with `fetch`
//! (`keepalive` for bodies up to 60 KB); a failure is retried with exponential
//! backoff and jitter; the queue is saved in `localStorage` after every change and
//! restored on the next page load, so neither an outage nor a reload loses a
//! beacon. When the page is hidden or unloaded, everything queued also goes out
//! with `navigator.sendBeacon`. Bodies are JSON strings, which the browser labels
//! `text/plain`: no CORS preflight.

use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::outbox::{Outbox, OutboxConfig, Outcome};
use crate::wire::Beacon;

/// Largest body sent with `keepalive` (browsers cap keepalive bodies at 64 KB).
pub const MAX_KEEPALIVE_BODY: usize = 60 * 1024;
/// Prefix of the `localStorage` keys holding saved queues.
const STORAGE_PREFIX: &str = "vidpulse.outbox:";

/// How queued beacons leave the page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    /// The normal path: one `fetch` at a time, with retries.
    Fetch,
    /// The page is being hidden or unloaded: `navigator.sendBeacon` as well.
    Beacon,
}

/// Bodies sent and the page hooks to call with them, once no borrow is held.
pub type Sent = Vec<(String, Vec<js_sys::Function>)>;

pub struct Sender {
    url: String,
    property: String,
    viewer_id: String,
    storage_key: String,
    outbox: Outbox,
    hooks: Vec<js_sys::Function>,
    /// Consent: when false, nothing is queued, saved or sent.
    enabled: bool,
    /// Whether the queue may be kept in `localStorage` (not in cookieless mode).
    persist: bool,
    perf: web_sys::Performance,
    timer: Option<i32>,
    on_timer: Closure<dyn FnMut(JsValue)>,
    on_response: Closure<dyn FnMut(JsValue)>,
    on_failure: Closure<dyn FnMut(JsValue)>,
}

/// The page's senders.
static SENDERS: super::Global<RefCell<Vec<Rc<RefCell<Sender>>>>> =
    super::Global(RefCell::new(Vec::new()));

/// The page's sender for `url` and `property`, created (and its saved queue
/// restored) on first use.
pub fn sender(
    url: String,
    property: String,
    viewer_id: String,
    perf: web_sys::Performance,
    persist: bool,
) -> Rc<RefCell<Sender>> {
    let existing = SENDERS.with(|s| {
        s.borrow()
            .iter()
            .find(|x| x.borrow().url == url && x.borrow().property == property)
            .cloned()
    });
    if let Some(s) = existing {
        return s;
    }
    let prefix = [STORAGE_PREFIX, &url, "|", &property, "|"].concat();
    let sender = Rc::new_cyclic(|weak: &Weak<RefCell<Sender>>| {
        let (w1, w2, w3) = (weak.clone(), weak.clone(), weak.clone());
        RefCell::new(Sender {
            url,
            property,
            viewer_id,
            storage_key: prefix.clone() + &crate::json::hex16(random_u64() >> 16),
            outbox: Outbox::new(OutboxConfig::default()),
            hooks: Vec::new(),
            enabled: true,
            persist,
            perf,
            timer: None,
            on_timer: Closure::new(move |_: JsValue| {
                if let Some(s) = w1.upgrade() {
                    if let Ok(mut x) = s.try_borrow_mut() {
                        x.timer = None;
                    }
                    notify(pump(&s, None));
                }
            }),
            on_response: Closure::new(move |resp: JsValue| {
                let status = js_sys::Reflect::get(&resp, &"status".into())
                    .ok()
                    .and_then(|s| s.as_f64())
                    .unwrap_or(0.0);
                pump_weak(&w2, Some(Outcome::from_status(status as u16)));
            }),
            on_failure: Closure::new(move |_: JsValue| pump_weak(&w3, Some(Outcome::Retry))),
        })
    });
    {
        let mut s = sender.borrow_mut();
        // Claim what earlier pages (or closed tabs) left for this collector.
        if persist {
            for saved in take_saved(&prefix) {
                s.outbox.restore(&saved);
            }
            s.save();
        }
    }
    SENDERS.with(|s| s.borrow_mut().push(sender.clone()));
    notify(pump(&sender, None));
    sender
}

impl Sender {
    /// Adds a page hook (`onBeacon`) called with every body this sender sends.
    pub fn add_hook(&mut self, hook: Option<js_sys::Function>) {
        if let Some(h) = hook {
            if !self.hooks.iter().any(|x| js_sys::Object::is(x, &h)) {
                self.hooks.push(h);
            }
        }
    }

    /// Turns storing and sending on or off; off also forgets everything queued.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        if !on {
            self.outbox = Outbox::new(OutboxConfig::default());
        }
        self.save();
    }

    fn save(&self) {
        if !self.persist {
            return;
        }
        if let Some(storage) = local_storage() {
            let _ = if self.outbox.is_empty() || !self.enabled {
                storage.remove_item(&self.storage_key)
            } else {
                storage.set_item(&self.storage_key, &self.outbox.save())
            };
        }
    }

    fn arm_timer(&mut self) {
        let (Some(at), None, Some(window)) =
            (self.outbox.retry_at(), self.timer, web_sys::window())
        else {
            return;
        };
        let delay = (at - self.perf.now()).clamp(0.0, 2.0e9) as i32 + 1;
        let f = self.on_timer.as_ref().unchecked_ref();
        self.timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(f, delay)
            .ok();
    }
}

/// Queues beacons and sends what may be sent now.
pub fn send(sender: &Rc<RefCell<Sender>>, beacons: Vec<Beacon>, via: Via) -> Sent {
    let mut sent = Sent::new();
    // The hot path (most media events queue nothing): no storage, no network.
    if beacons.is_empty() && via == Via::Fetch {
        return sent;
    }
    if let Ok(mut s) = sender.try_borrow_mut() {
        if !s.enabled {
            return sent;
        }
        for b in beacons {
            s.outbox.push(b);
        }
        s.save();
        let s = &mut *s;
        if via == Via::Beacon {
            if let Some(body) = s.outbox.all(&s.property, &s.viewer_id) {
                let ok = web_sys::window()
                    .and_then(|w| {
                        w.navigator()
                            .send_beacon_with_opt_str(&s.url, Some(&body))
                            .ok()
                    })
                    .unwrap_or(false);
                if ok {
                    sent.push((body, s.hooks.clone()));
                }
            }
        }
    }
    sent.extend(pump(sender, None));
    sent
}

fn pump_weak(weak: &Weak<RefCell<Sender>>, outcome: Option<Outcome>) {
    if let Some(s) = weak.upgrade() {
        notify(pump(&s, outcome));
    }
}

/// Records the outcome of the request in flight (if any), then starts the next
/// request or arms the retry timer.
fn pump(sender: &Rc<RefCell<Sender>>, outcome: Option<Outcome>) -> Sent {
    let Ok(mut s) = sender.try_borrow_mut() else {
        return Sent::new();
    };
    let now = s.perf.now();
    if let Some(o) = outcome {
        s.outbox.finish(o, now, js_sys::Math::random());
        s.save();
    }
    let s = &mut *s;
    let Some(body) = s.outbox.take_batch(now, &s.property, &s.viewer_id) else {
        s.arm_timer();
        return Sent::new();
    };
    let Some(window) = web_sys::window() else {
        return Sent::new();
    };
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    if body.len() <= MAX_KEEPALIVE_BODY {
        // `keepalive` is not in web-sys's stable API.
        let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    }
    let _ = window
        .fetch_with_str_and_init(&s.url, &init)
        .then2(&s.on_response, &s.on_failure);
    alloc::vec![(body, s.hooks.clone())]
}

/// Calls the page hooks with each body sent, as a plain object.
pub fn notify(sent: Sent) {
    for (body, hooks) in sent {
        if hooks.is_empty() {
            continue;
        }
        if let Ok(obj) = js_sys::JSON::parse(&body) {
            for h in hooks {
                let _ = h.call1(&JsValue::NULL, &obj);
            }
        }
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Removes and returns every saved queue under `prefix`.
fn take_saved(prefix: &str) -> Vec<String> {
    let Some(storage) = local_storage() else {
        return Vec::new();
    };
    let n = storage.length().unwrap_or(0);
    let keys: Vec<String> = (0..n)
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|k| k.starts_with(prefix))
        .collect();
    keys.into_iter()
        .filter_map(|k| {
            let v = storage.get_item(&k).ok().flatten();
            let _ = storage.remove_item(&k);
            v
        })
        .collect()
}

/// A random 64-bit value from `crypto.getRandomValues` (0 if unavailable).
pub fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut buf);
    }
    u64::from_le_bytes(buf) ^ (js_sys::Math::random() * 9.007_199_254_740_992e15) as u64
}

/// Where the viewer id is kept.
pub const VIEWER_KEY: &str = "vidpulse.viewer";

/// Forgets the stored viewer id (consent withdrawn).
pub fn forget_viewer() {
    if let Some(s) = local_storage() {
        let _ = s.remove_item(VIEWER_KEY);
    }
}

/// The anonymous viewer id: kept in `localStorage` when `store` and the page
/// allow it, else random for this page only.
pub fn viewer_id(store: bool) -> String {
    const KEY: &str = VIEWER_KEY;
    let storage = local_storage().filter(|_| store);
    if let Some(id) = storage
        .as_ref()
        .and_then(|s| s.get_item(KEY).ok().flatten())
    {
        if !id.is_empty() && id.len() <= 64 {
            return id;
        }
    }
    let id = crate::json::hex16(random_u64());
    if let Some(s) = storage {
        let _ = s.set_item(KEY, &id);
    }
    id
}
