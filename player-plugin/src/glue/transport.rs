//! Getting batches to the collector: `fetch` with `keepalive` normally,
//! `navigator.sendBeacon` when the page is being hidden or unloaded.
//!
//! Bodies are JSON sent as a string, so the browser labels them `text/plain` and no
//! CORS preflight is needed. Each view's beacon is a cumulative snapshot, so a lost
//! request is repaired by the next one; retries and a persisted queue are the
//! delivery issue's work.

use wasm_bindgen::prelude::*;

use crate::wire::{Batch, Beacon, WIRE_VERSION};

/// How a batch leaves the page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    /// `fetch(…, { keepalive: true })`.
    Fetch,
    /// `navigator.sendBeacon`: survives the page going away.
    Beacon,
}

/// Where and as whom a monitor sends.
pub struct Transport {
    pub url: String,
    pub property: String,
    pub viewer_id: String,
    /// Debug hook: called with each batch object sent.
    pub on_beacon: Option<js_sys::Function>,
    /// Swallows fetch rejections (collector down) so they do not surface as
    /// unhandled promise errors on the page.
    ignore: Closure<dyn FnMut(JsValue)>,
}

impl Transport {
    pub fn new(
        url: String,
        property: String,
        viewer_id: String,
        on_beacon: Option<js_sys::Function>,
    ) -> Transport {
        Transport {
            url,
            property,
            viewer_id,
            on_beacon,
            ignore: Closure::new(|_: JsValue| {}),
        }
    }

    /// Builds one batch from `beacons` and sends it. Returns the body and the debug
    /// hook for the caller to invoke once it holds no borrow.
    pub fn send(
        &self,
        beacons: Vec<Beacon>,
        via: Via,
    ) -> Option<(String, Option<js_sys::Function>)> {
        if beacons.is_empty() {
            return None;
        }
        let batch = Batch {
            v: WIRE_VERSION,
            property: self.property.clone(),
            viewer_id: self.viewer_id.clone(),
            beacons,
        };
        let body = serde_json::to_string(&batch).ok()?;
        let window = web_sys::window()?;
        let sent_by_beacon = via == Via::Beacon
            && window
                .navigator()
                .send_beacon_with_opt_str(&self.url, Some(&body))
                .unwrap_or(false);
        if !sent_by_beacon {
            let init = web_sys::RequestInit::new();
            init.set_method("POST");
            init.set_body(&JsValue::from_str(&body));
            // `keepalive` is not in web-sys's stable API.
            let _ = js_sys::Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
            let promise = window.fetch_with_str_and_init(&self.url, &init);
            let _ = promise.catch(&self.ignore);
        }
        Some((body, self.on_beacon.clone()))
    }
}

/// Calls the page's debug hook with the batch as a plain object.
pub fn notify(sent: Option<(String, Option<js_sys::Function>)>) {
    if let Some((body, Some(hook))) = sent {
        if let Ok(obj) = js_sys::JSON::parse(&body) {
            let _ = hook.call1(&JsValue::NULL, &obj);
        }
    }
}

/// A random 64-bit value from `crypto.getRandomValues` (0 if unavailable).
pub fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut buf);
    }
    u64::from_le_bytes(buf) ^ (js_sys::Math::random() * 9.007_199_254_740_992e15) as u64
}

/// The anonymous viewer id: kept in `localStorage` when the page allows it.
pub fn viewer_id() -> String {
    const KEY: &str = "vidpulse.viewer";
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    if let Some(id) = storage
        .as_ref()
        .and_then(|s| s.get_item(KEY).ok().flatten())
    {
        if !id.is_empty() && id.len() <= 64 {
            return id;
        }
    }
    let id = format!("{:016x}", random_u64());
    if let Some(s) = storage {
        let _ = s.set_item(KEY, &id);
    }
    id
}
