//! Browser end-to-end tests of the plugin's JS API: listener wiring, `destroy()`
//! exactness, one monitor per element, option errors, trace replay, the saved outbox,
//! `setVideo` / `reportError` / `reportRendition`, consent, sampling, cookieless mode.
//!
//! They replace the wasm-bindgen-test suite (`player-plugin/tests/browser.rs`), which
//! called the Rust glue directly and so tested a build that never ships. Here the page
//! imports the real package the harness serves (`/plugin/vidpulse.js` with the debug
//! core `vidpulse_debug_bg.wasm`, which differs from the shipped `vidpulse_bg.wasm`
//! only by the trace recorder; one test runs the shipped core) and drives it only
//! through its public JS API, in headless Chromium.
//!
//! Each test has its own harness (fresh browser profile, so a fresh `localStorage`) and
//! opens the collector's `/healthz`: a same-origin page with no script of its own, so
//! the test's monitors are the only ones on the page. Media events are dispatched
//! synthetically on a detached `<video>` (`dispatchEvent(new Event(name))`), so each
//! check is fast and exact; real playback is the other suites' job. Each step runs in
//! one script, so what a test reads is what the page saw synchronously after the call,
//! as in `browser.rs`. The collector URL is a closed port: delivery fails and beacons
//! stay queued, which is what the outbox test looks at. `onBeacon` copies each batch
//! sent (as JSON) into an array. Traces and saved beacons are parsed with the plugin's
//! own serde types and traces replayed natively. Each test takes `BROWSER_LOCK`.

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use vidpulse_e2e::{Harness, BROWSER_LOCK, HINT};
use vidpulse_plugin::engine::trace::{replay, Trace};
use vidpulse_plugin::wire::Beacon;

/// The element events the plugin listens to (`EVENTS` in `player-plugin/js/vidpulse.js`),
/// hard-coded: the test must not trust the plugin to say what it listens to.
const MEDIA_EVENTS: [&str; 16] = [
    "emptied",
    "loadstart",
    "play",
    "playing",
    "pause",
    "waiting",
    "stalled",
    "timeupdate",
    "seeking",
    "seeked",
    "ended",
    "error",
    "canplay",
    "ratechange",
    "volumechange",
    "resize",
];

/// Imports the shipped package and installs `window.vp`, the helpers every test uses:
/// `video()` a detached `<video>`; `fire(target, ...names)` dispatches plain events;
/// `options(property)` is `{opts, sent}`: options for `property` (dead collector,
/// `debug`, an `onBeacon` pushing `JSON.stringify(batch)` onto `sent`); `snap(h)` the
/// snapshot as JSON (so a member that is `undefined` is absent, not null); `error(f)`
/// what `f` threw (`{isError, message}`) or null; `keys(part)` the `localStorage` keys
/// containing `part`.
const SETUP: &str = r#"
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
const DEBUG_CORE: &str = "vidpulse_debug_bg.wasm";
/// The core every viewer downloads.
const SHIPPED_CORE: &str = "vidpulse_bg.wasm";

/// Opens a same-origin page without scripts and loads the plugin there as
/// `window.vp`, with the wasm core `core`.
async fn open(h: &Harness, core: &str) -> Result<()> {
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
macro_rules! api_test {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() -> Result<()> {
            let _lock = BROWSER_LOCK.lock().await;
            let h = Harness::start().await?;
            let r = match open(&h, DEBUG_CORE).await {
                Ok(()) => scenario::$name(&h).await,
                Err(e) => Err(e),
            };
            h.finish_after(concat!("api_", stringify!($name)), r).await
        }
    )*};
}

api_test!(
    play_starts_a_view_and_snapshot_is_a_plain_object,
    destroy_removes_every_listener,
    monitoring_an_element_twice_returns_the_same_monitor,
    bad_options_are_rejected_naming_the_field,
    a_debug_trace_replays_to_the_browser_s_numbers,
    undelivered_beacons_are_saved_for_the_next_page,
    set_video_report_error_and_rendition_reach_the_engine,
    without_consent_nothing_is_stored_or_sent,
    without_consent_earlier_pages_queues_stay_unsent,
    a_sampled_out_viewer_is_not_measured,
    cookieless_mode_stores_nothing_and_says_so,
    a_player_created_before_the_time_origin_keeps_its_startup,
    init_can_be_retried_after_a_failed_load,
    a_dropped_handle_frees_its_monitor,
);

/// The shipped core leaves the trace recorder out (every viewer would pay for it):
/// `trace()` is null even with `debug`, and everything else works the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_core_records_no_trace() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = async {
        open(&h, SHIPPED_CORE).await?;
        let v = h
            .client()
            .execute(
                "const el = vp.video(); const { opts, sent } = vp.options('t-shipped'); \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play'); \
                 const r = { trace: h.trace(), snap: vp.snap(h), sent: sent.slice() }; \
                 h.destroy(); return r;",
                vec![],
            )
            .await?;
        ensure!(
            v["trace"].is_null(),
            "the shipped core recorded a trace: {v}"
        );
        let snap = json(&v, "snap")?;
        let id = snap["view_id"].as_str().context("a view started")?;
        ensure!(id.len() == 11, "view id {id}");
        let sent = v["sent"].as_array().context("sent")?;
        ensure!(
            sent.len() == 1
                && sent[0]
                    .as_str()
                    .unwrap_or("")
                    .contains("\"reason\":\"view_start\""),
            "the view-start beacon went out: {v}"
        );
        Ok(())
    }
    .await;
    h.finish_after("api_the_shipped_core_records_no_trace", r)
        .await
}

/// `v[key]` parsed as JSON (the page returns snapshots as JSON strings).
fn json(v: &Value, key: &str) -> Result<Value> {
    let s = v[key]
        .as_str()
        .with_context(|| format!("`{key}` is not a string in {v}"))?;
    serde_json::from_str(s).with_context(|| format!("`{key}` is not JSON: {s}"))
}

/// `v[key]` (what `trace()` returned) parsed as the engine's trace.
fn trace(v: &Value, key: &str) -> Result<Trace> {
    let s = v[key]
        .as_str()
        .with_context(|| format!("`{key}`: debug records a trace, got {}", v[key]))?;
    serde_json::from_str(s).with_context(|| format!("`{key}` is not a trace: {s}"))
}

/// `member` of `obj` is present and exactly `null` (JSON drops `undefined`).
fn is_null(obj: &Value, member: &str) -> bool {
    obj.get(member) == Some(&Value::Null)
}

/// `v[key]` is what `vp.error` returned for a throw: a JS `Error` whose message
/// contains `needle`.
fn threw(v: &Value, key: &str, needle: &str) -> Result<()> {
    let e = &v[key];
    ensure!(!e.is_null(), "`{key}` did not throw");
    let msg = e["message"].as_str().unwrap_or("");
    ensure!(
        e["isError"] == Value::Bool(true) && msg.contains(needle),
        "`{key}` threw {e}, expected an Error naming {needle}"
    );
    Ok(())
}

mod scenario {
    use super::*;

    pub async fn play_starts_a_view_and_snapshot_is_a_plain_object(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const { opts, sent } = vp.options('t-play'); \
                 const h = vp.m.monitor(el, opts); \
                 const b = h.snapshot(); \
                 const plain = Object.getPrototypeOf(b) === Object.prototype; \
                 const before = JSON.stringify(b); \
                 vp.fire(el, 'play'); \
                 const after = vp.snap(h); const batches = sent.slice(); \
                 h.destroy(); \
                 return { plain, before, after, batches };",
            )
            .await?;
        ensure!(
            r["plain"] == Value::Bool(true),
            "snapshot() is not a plain object"
        );
        let before = json(&r, "before")?;
        for k in ["view_id", "startup_ms", "error"] {
            ensure!(
                is_null(&before, k),
                "before play, {k} is not null: {before}"
            );
        }
        let s = json(&r, "after")?;
        let id = s["view_id"].as_str().unwrap_or("");
        ensure!(id.len() == 11, "view_id {} after play", s["view_id"]);
        ensure!(s["rebuffer_count"].as_f64() == Some(0.0), "{s}");
        // The view-start beacon went out at once (nothing was in flight).
        let sent = r["batches"].as_array().context("batches")?;
        ensure!(sent.len() == 1, "batches sent at play: {sent:?}");
        let first = sent[0].as_str().unwrap_or("");
        ensure!(first.contains("\"reason\":\"view_start\""), "{first}");
        Ok(())
    }

    pub async fn destroy_removes_every_listener(h: &Harness) -> Result<()> {
        let events = serde_json::to_string(&MEDIA_EVENTS)?;
        let r = h
            .js(&format!(
                "const el = vp.video(); const h = vp.m.monitor(el, vp.options('t-destroy').opts); \
                 vp.fire(el, 'play', 'timeupdate'); \
                 h.destroy(); \
                 const before = h.trace(); const last = vp.snap(h); \
                 vp.fire(el, ...{events}); \
                 vp.fire(window, 'pagehide'); \
                 vp.fire(document, 'visibilitychange', 'fullscreenchange'); \
                 const after = h.trace(); const again = vp.snap(h); \
                 const h2 = vp.m.monitor(el, vp.options('t-destroy-2').opts); \
                 vp.fire(el, 'play'); const fresh = vp.snap(h2); h2.destroy(); \
                 return {{ before, last, after, again, fresh }};"
            ))
            .await?;
        let inputs = trace(&r, "before")?.records.len();
        let last = json(&r, "last")?;
        ensure!(last["view_ended"] == Value::Bool(true), "{last}");
        let after = trace(&r, "after")?.records.len();
        ensure!(
            after == inputs,
            "no listener survives destroy(): {inputs} inputs, then {after}"
        );
        let again = json(&r, "again")?;
        ensure!(again["view_id"] == last["view_id"], "{again} vs {last}");
        // The element can be monitored afresh.
        let fresh = json(&r, "fresh")?;
        ensure!(fresh["view_id"] != last["view_id"], "{fresh} vs {last}");
        Ok(())
    }

    pub async fn monitoring_an_element_twice_returns_the_same_monitor(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const { opts } = vp.options('t-twice'); \
                 const h1 = vp.m.monitor(el, opts); vp.fire(el, 'play'); \
                 const h2 = vp.m.monitor(el, opts); \
                 const before = h2.trace(); vp.fire(el, 'timeupdate'); const after = h1.trace(); \
                 vp.fire(el, 'loadstart'); \
                 const s1 = vp.snap(h1), s2 = vp.snap(h2); \
                 h2.destroy(); const ended = vp.snap(h1); \
                 return { before, after, s1, s2, ended };",
            )
            .await?;
        let (before, after) = (trace(&r, "before")?, trace(&r, "after")?);
        ensure!(
            after.records.len() == before.records.len() + 1,
            "one listener per event: {} inputs, then {}",
            before.records.len(),
            after.records.len()
        );
        let (s1, s2) = (json(&r, "s1")?, json(&r, "s2")?);
        ensure!(s1["view_id"] == s2["view_id"], "{s1} vs {s2}");
        let ended = json(&r, "ended")?;
        ensure!(ended["view_ended"] == Value::Bool(true), "{ended}");
        Ok(())
    }

    pub async fn bad_options_are_rejected_naming_the_field(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const opts = { collector: 'http://x' }; \
                 const property = vp.error(() => vp.m.monitor(el, opts)); \
                 opts.property = 'p'; opts.beaconIntervalMs = 5; \
                 const interval = vp.error(() => vp.m.monitor(el, opts)); \
                 const element = vp.error(() => vp.m.monitor(3, null)); \
                 return { property, interval, element };",
            )
            .await?;
        threw(&r, "property", "options.property")?;
        threw(&r, "interval", "options.beaconIntervalMs")?;
        threw(&r, "element", "HTMLMediaElement")
    }

    pub async fn a_debug_trace_replays_to_the_browser_s_numbers(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const h = vp.m.monitor(el, vp.options('t-replay').opts); \
                 vp.fire(el, 'play', 'waiting', 'playing', 'timeupdate', 'pause', 'play'); \
                 h.flush(); h.destroy(); \
                 return { trace: h.trace(), snapshot: vp.snap(h) };",
            )
            .await?;
        let t = trace(&r, "trace")?;
        ensure!(t.records.len() >= 8, "{} records", t.records.len());
        let replayed = replay(&t);
        let last = replayed.last().context("the replay queued no beacon")?;
        ensure!(last.metrics.view_ended, "{:?}", last.metrics);
        let browser = json(&r, "snapshot")?;
        let replay_json = serde_json::to_value(&last.metrics)?;
        for (k, v) in replay_json.as_object().context("metrics object")? {
            ensure!(
                &browser[k] == v,
                "metric {k}: browser {} vs replay {v}",
                browser[k]
            );
        }
        Ok(())
    }

    pub async fn undelivered_beacons_are_saved_for_the_next_page(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const h = vp.m.monitor(el, vp.options('t-outbox').opts); \
                 vp.fire(el, 'play'); h.destroy(); \
                 const key = vp.keys('\"t-outbox\"')[0]; \
                 return key === undefined ? null : localStorage.getItem(key);",
            )
            .await?;
        let saved = r
            .as_str()
            .context("a saved queue for this collector and property")?;
        let beacons = saved
            .lines()
            .map(|l| {
                serde_json::from_str::<Beacon>(l).with_context(|| format!("not a beacon: {l}"))
            })
            .collect::<Result<Vec<_>>>()?;
        // The start beacon is in flight (or failed) and the final one waits; both are
        // saved until the collector confirms them.
        ensure!(!beacons.is_empty(), "{saved}");
        ensure!(beacons.iter().any(|b| b.metrics.view_ended), "{saved}");
        Ok(())
    }

    pub async fn set_video_report_error_and_rendition_reach_the_engine(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const h = vp.m.monitor(el, vp.options('t-api').opts); \
                 vp.fire(el, 'play'); \
                 const first = vp.snap(h); \
                 h.reportRendition({ width: 1280, height: 720, bitrate: 2500000 }); \
                 h.reportError({ code: 7, message: 'manifest', fatal: true }); \
                 const errored = vp.snap(h); \
                 const bad = vp.error(() => h.reportRendition({ width: 'wide' })); \
                 h.setVideo({ id: 'clip-2', title: 'Two' }); \
                 const switched = vp.snap(h); \
                 vp.fire(el, 'play'); \
                 const next = vp.snap(h); const trace = h.trace(); \
                 h.destroy(); \
                 return { first, errored, bad, switched, next, trace };",
            )
            .await?;
        let first = json(&r, "first")?["view_id"].clone();
        let errored = json(&r, "errored")?;
        ensure!(errored["error"]["code"].as_f64() == Some(7.0), "{errored}");
        threw(&r, "bad", "rendition.width")?;
        // New content: the view ends (the element is paused: no new view yet).
        let switched = json(&r, "switched")?;
        ensure!(switched["view_id"] == first, "{switched} vs {first}");
        ensure!(switched["view_ended"] == Value::Bool(true), "{switched}");
        let next = json(&r, "next")?;
        ensure!(next["view_id"] != first, "{next} vs {first}");
        let last = replay(&trace(&r, "trace")?).pop().context("no beacon")?;
        ensure!(
            last.video.id.as_deref() == Some("clip-2"),
            "{:?}",
            last.video
        );
        Ok(())
    }

    pub async fn without_consent_nothing_is_stored_or_sent(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const { opts, sent } = vp.options('t-consent'); \
                 opts.consent = false; \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play'); h.flush(); \
                 const withheld = sent.length; const saved = vp.keys('\"t-consent\"'); \
                 h.setConsent(true); h.flush(); \
                 const given = sent.length; h.destroy(); \
                 return { withheld, saved, given };",
            )
            .await?;
        ensure!(
            r["withheld"].as_f64() == Some(0.0),
            "sent without consent: {r}"
        );
        ensure!(
            r["saved"] == Value::Array(vec![]),
            "saved without consent: {r}"
        );
        ensure!(
            r["given"].as_f64() == Some(1.0),
            "sent once consent is given: {r}"
        );
        Ok(())
    }

    /// A queue an earlier (consenting) page saved is neither sent nor claimed by a
    /// page without consent; it goes once consent is given.
    pub async fn without_consent_earlier_pages_queues_stay_unsent(h: &Harness) -> Result<()> {
        let earlier = h
            .js(
                "const el = vp.video(); const h = vp.m.monitor(el, vp.options('t-later').opts); \
                 vp.fire(el, 'play'); h.destroy(); \
                 return vp.keys('\"t-later\"');",
            )
            .await?;
        ensure!(
            earlier.as_array().is_some_and(|k| k.len() == 1),
            "the earlier page saved one queue: {earlier}"
        );
        // The next page: a fresh plugin, with every request it makes recorded.
        open(h, DEBUG_CORE).await?;
        let r = h
            .js(
                "const calls = []; \
                 const f = window.fetch; \
                 window.fetch = (url, init) => { calls.push(String(init && init.body)); return f(url, init); }; \
                 navigator.sendBeacon = (url, body) => { calls.push(String(body)); return true; }; \
                 const el = vp.video(); const { opts } = vp.options('t-later'); opts.consent = false; \
                 const h = vp.m.monitor(el, opts); \
                 document.dispatchEvent(new Event('visibilitychange')); \
                 const withheld = calls.slice(); const kept = vp.keys('\"t-later\"'); \
                 const earlier = localStorage.getItem(kept[0]); \
                 h.setConsent(true); \
                 const given = calls.slice(); const after = vp.keys('\"t-later\"'); \
                 h.destroy(); \
                 return { withheld, kept, given, after, earlier };",
            )
            .await?;
        ensure!(
            r["withheld"] == Value::Array(vec![]),
            "sent without consent: {r}"
        );
        ensure!(
            r["kept"] == earlier,
            "the earlier queue stays as it was: {r}"
        );
        let view = r["earlier"]
            .as_str()
            .and_then(|q| q.lines().next())
            .map(serde_json::from_str::<Beacon>)
            .context("the earlier queue")??
            .view_id;
        let given = r["given"].as_array().context("calls")?;
        ensure!(
            given.len() == 1 && given[0].as_str().is_some_and(|b| b.contains(&view)),
            "once consent is given the earlier queue is sent: {r}"
        );
        ensure!(
            r["after"].as_array().is_some_and(
                |k| k.len() == 1 && !earlier.as_array().is_some_and(|e| e.contains(&k[0]))
            ),
            "and claimed: only this page's key holds it now: {r}"
        );
        Ok(())
    }

    /// A destroyed monitor whose handle the page dropped is freed in the core
    /// (`FinalizationRegistry`): the next monitor reuses its slot. A destroyed
    /// handle the page still holds keeps its state. The harness starts Chromium
    /// with `--expose-gc`, so the page can collect on demand.
    pub async fn a_dropped_handle_frees_its_monitor(h: &Harness) -> Result<()> {
        let first = h
            .js(
                "const o = vp.options('t-free').opts; \
                 const kept = vp.m.monitor(vp.video(), o); vp.fire(kept.v, 'play'); kept.destroy(); \
                 window.keptHandle = kept; \
                 const dropped = vp.m.monitor(vp.video(), o); vp.fire(dropped.v, 'play'); \
                 dropped.destroy(); \
                 return { kept: kept.h, dropped: dropped.h };",
            )
            .await?;
        let r = h
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 (async () => { \
                   for (let i = 0; i < 20; i++) { gc(); await new Promise((r) => setTimeout(r, 50)); } \
                   const next = vp.m.monitor(vp.video(), vp.options('t-free').opts); \
                   const h = next.h; next.destroy(); \
                   return { next: h, kept: JSON.parse(vp.snap(window.keptHandle)) }; \
                 })().then(done, (e) => done(String(e)));",
                vec![],
            )
            .await?;
        ensure!(
            r["next"] == first["dropped"],
            "the dropped monitor's slot is reused: {first} then {r}"
        );
        ensure!(
            r["kept"]["view_ended"] == Value::Bool(true) && r["kept"]["view_id"].is_string(),
            "a destroyed handle still held answers its snapshot: {r}"
        );
        Ok(())
    }

    pub async fn a_sampled_out_viewer_is_not_measured(h: &Harness) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const { opts, sent } = vp.options('t-sample'); \
                 opts.sampleRate = 0.000001; opts.viewerId = 'some-viewer'; \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play'); \
                 const snap = vp.snap(h); const count = sent.length; const trace = h.trace(); \
                 h.destroy(); \
                 opts.sampleRate = 0; \
                 const zero = vp.error(() => vp.m.monitor(el, opts)); \
                 return { snap, count, trace, zero };",
            )
            .await?;
        let snap = json(&r, "snap")?;
        ensure!(is_null(&snap, "view_id"), "{snap}");
        ensure!(
            r["count"].as_f64() == Some(0.0),
            "a sampled-out viewer sent beacons: {r}"
        );
        let t = trace(&r, "trace")?;
        ensure!(t.records.is_empty(), "{} records", t.records.len());
        threw(&r, "zero", "options.sampleRate")
    }

    pub async fn cookieless_mode_stores_nothing_and_says_so(h: &Harness) -> Result<()> {
        let r = h
            .js("localStorage.removeItem('vidpulse.viewer'); \
                 const el = vp.video(); const { opts, sent } = vp.options('t-cookieless'); \
                 opts.cookieless = true; \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play'); h.destroy(); \
                 const keys = vp.keys('').filter((k) => \
                   k === 'vidpulse.viewer' || k.includes('\"t-cookieless\"')); \
                 return { keys, first: sent[0] ?? null };")
            .await?;
        ensure!(r["keys"] == Value::Array(vec![]), "{}", r["keys"]);
        let first = r["first"].as_str().context("no batch sent")?;
        ensure!(first.contains("\"cookieless\":true"), "{first}");
        ensure!(first.contains("\"viewer_id\":\"\""), "{first}");
        Ok(())
    }

    /// `playerInitTime` before `performance.timeOrigin` is a negative offset, not
    /// "absent": player startup is still measured (from the player's creation).
    pub async fn a_player_created_before_the_time_origin_keeps_its_startup(
        h: &Harness,
    ) -> Result<()> {
        let r = h
            .js(
                "const el = vp.video(); const { opts } = vp.options('t-early'); \
                 opts.playerInitTime = performance.timeOrigin - 500; \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play', 'canplay'); \
                 const s = vp.snap(h); h.destroy(); return { s };",
            )
            .await?;
        let s = json(&r, "s")?;
        let ms = s["player_startup_ms"]
            .as_u64()
            .with_context(|| format!("no player startup: {s}"))?;
        ensure!(
            ms >= 500,
            "player startup {ms} ms, created 500 ms before the origin"
        );
        Ok(())
    }

    /// A failed `init()` (here a missing wasm) rejects, and a later `init()` loads.
    pub async fn init_can_be_retried_after_a_failed_load(h: &Harness) -> Result<()> {
        let r = h
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1]; (async () => { \
                   const m = await import(new URL('/plugin/vidpulse.js?fresh', location.href).href); \
                   let failed = false; \
                   try { await m.default({ module_or_path: '/plugin/missing.wasm' }); } \
                   catch { failed = true; } \
                   await m.default({ module_or_path: '/plugin/vidpulse_bg.wasm' }); \
                   const el = document.createElement('video'); \
                   const h = m.monitor(el, { collector: 'http://127.0.0.1:9', property: 't-retry' }); \
                   el.dispatchEvent(new Event('play')); \
                   const id = h.snapshot().view_id; h.destroy(); \
                   return { failed, id }; \
                 })().then(done, (e) => done({ error: String(e && e.stack || e) }));",
                vec![],
            )
            .await?;
        ensure!(
            r["failed"] == Value::Bool(true),
            "the missing wasm loaded? {r}"
        );
        ensure!(
            r["id"].as_str().is_some_and(|id| id.len() == 11),
            "no view after the retry: {r}"
        );
        Ok(())
    }
}
