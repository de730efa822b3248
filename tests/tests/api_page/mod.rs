//! The page every plugin API test opens (`api.rs`, `api_storage.rs`): the shipped
//! package loaded as `window.vp` on the collector's script-free `/healthz`, the
//! test macro, and the helpers that read what the page returned.
#![allow(dead_code)] // each test binary uses its own subset

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use vidpulse_e2e::{Harness, HINT};
use vidpulse_plugin::engine::trace::Trace;

/// Imports the shipped package and installs `window.vp`, the helpers every test uses:
/// `video()` a detached `<video>`; `fire(target, ...names)` dispatches plain events;
/// `options(property)` is `{opts, sent}`: options for `property` (dead collector,
/// `debug`, an `onBeacon` pushing `JSON.stringify(batch)` onto `sent`); `snap(h)` the
/// snapshot as JSON (so a member that is `undefined` is absent, not null); `error(f)`
/// what `f` threw (`{isError, message}`) or null; `keys(part)` the `localStorage` keys
/// containing `part`.
pub const SETUP: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const m = await import(new URL('/plugin/vidpulse.js', location.href).href);
  await m.default({ module_or_path: new URL(`/plugin/${arguments[0]}`, location.href).href });
  window.vp = {
    m,
    video: () => document.createElement('video'),
    fire: (target, ...names) => { for (const n of names) target.dispatchEvent(new Event(n)); },
    options(property) {
      const sent = [];
      const opts = { collector: 'http://127.0.0.1:9', property, debug: true,
                     onBeacon: (batch) => { sent.push(JSON.stringify(batch)); } };
      return { opts, sent };
    },
    snap: (h) => JSON.stringify(h.snapshot()),
    error(f) {
      try { f(); return null; } catch (e) { return { isError: e instanceof Error, message: String(e && e.message) }; }
    },
    keys(part) {
      const out = [];
      for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i);
        if (k !== null && k.includes(part)) out.push(k);
      }
      return out;
    },
  };
  return null;
})().then(done, (e) => done(String(e && e.stack || e)));
"#;

/// The debug core (with the trace recorder), which most tests read traces from.
pub const DEBUG_CORE: &str = "vidpulse_debug_bg.wasm";
/// The core every viewer downloads.
pub const SHIPPED_CORE: &str = "vidpulse_bg.wasm";

/// Opens a same-origin page without scripts and loads the plugin there as
/// `window.vp`, with the wasm core `core`.
pub async fn open(h: &Harness, core: &str) -> Result<()> {
    let url = format!("{}/healthz", h.base);
    h.client()
        .goto(&url)
        .await
        .with_context(|| format!("navigating to {url}"))?;
    match h.client().execute_async(SETUP, vec![core.into()]).await? {
        Value::Null => Ok(()),
        err => bail!("the plugin package could not be loaded: {err}; {HINT}"),
    }
}

/// One test: the lock, a harness, the page, the scenario, cleanup (with a screenshot
/// on failure).
#[macro_export]
macro_rules! api_test {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() -> anyhow::Result<()> {
            let _lock = vidpulse_e2e::BROWSER_LOCK.lock().await;
            let h = vidpulse_e2e::Harness::start().await?;
            let r = match $crate::api_page::open(&h, $crate::api_page::DEBUG_CORE).await {
                Ok(()) => scenario::$name(&h).await,
                Err(e) => Err(e),
            };
            h.finish_after(concat!("api_", stringify!($name)), r).await
        }
    )*};
}

/// `v[key]` parsed as JSON (the page returns snapshots as JSON strings).
pub fn json(v: &Value, key: &str) -> Result<Value> {
    let s = v[key]
        .as_str()
        .with_context(|| format!("`{key}` is not a string in {v}"))?;
    serde_json::from_str(s).with_context(|| format!("`{key}` is not JSON: {s}"))
}

/// `v[key]` (what `trace()` returned) parsed as the engine's trace.
pub fn trace(v: &Value, key: &str) -> Result<Trace> {
    let s = v[key]
        .as_str()
        .with_context(|| format!("`{key}`: debug records a trace, got {}", v[key]))?;
    serde_json::from_str(s).with_context(|| format!("`{key}` is not a trace: {s}"))
}

/// `member` of `obj` is present and exactly `null` (JSON drops `undefined`).
pub fn is_null(obj: &Value, member: &str) -> bool {
    obj.get(member) == Some(&Value::Null)
}

/// `v[key]` is what `vp.error` returned for a throw: a JS `Error` whose message
/// contains `needle`.
pub fn threw(v: &Value, key: &str, needle: &str) -> Result<()> {
    let e = &v[key];
    ensure!(!e.is_null(), "`{key}` did not throw");
    let msg = e["message"].as_str().unwrap_or("");
    ensure!(
        e["isError"] == Value::Bool(true) && msg.contains(needle),
        "`{key}` threw {e}, expected an Error naming {needle}"
    );
    Ok(())
}
