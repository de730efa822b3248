//! Browser end-to-end tests of the plugin's JS API: listener wiring, `destroy()`
//! exactness, one monitor per element, option errors, trace replay,
//! `setVideo` / `reportError` / `reportRendition`, freeing dropped handles, `init()`
//! retries. Storage, consent and sampling are in `api_storage.rs`.
//!
//! They replace the wasm-bindgen-test suite (`player-plugin/tests/browser.rs`), which
//! called the Rust glue directly and so tested a build that never ships. Here the page
//! imports the real package the harness serves (`/plugin/vidpulse.js` with the debug
//! core `vidpulse_debug_bg.wasm`, which differs from the shipped `vidpulse_bg.wasm`
//! only by the trace recorder; one test runs the shipped core) and drives it only
//! through its public JS API, in headless Chromium (the page: `api_page/`).
//!
//! Each test has its own harness (fresh browser profile, so a fresh `localStorage`) and
//! opens the collector's `/healthz`: a same-origin page with no script of its own, so
//! the test's monitors are the only ones on the page. Media events are dispatched
//! synthetically on a detached `<video>` (`dispatchEvent(new Event(name))`), so each
//! check is fast and exact; real playback is the other suites' job. Each step runs in
//! one script, so what a test reads is what the page saw synchronously after the call.
//! The collector URL is a closed port: delivery fails and beacons stay queued.
//! `onBeacon` copies each batch sent (as JSON) into an array. Traces are parsed with
//! the plugin's own serde types and replayed natively. Each test takes `BROWSER_LOCK`.

mod api_page;

use anyhow::{ensure, Context, Result};
use api_page::{is_null, json, open, threw, trace, SHIPPED_CORE};
use serde_json::Value;
use std::time::Duration;
use vidpulse_e2e::{ended, view_for, Harness, BROWSER_LOCK};
use vidpulse_plugin::engine::trace::replay;

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

api_test!(
    play_starts_a_view_and_snapshot_is_a_plain_object,
    destroy_removes_every_listener,
    monitoring_an_element_twice_returns_the_same_monitor,
    bad_options_are_rejected_naming_the_field,
    a_debug_trace_replays_to_the_browser_s_numbers,
    set_video_report_error_and_rendition_reach_the_engine,
    a_player_created_before_the_time_origin_keeps_its_startup,
    init_can_be_retried_after_a_failed_load,
    a_dropped_handle_frees_its_monitor,
    a_huge_page_number_is_capped_not_refused,
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
        // No `player` option: the bare element, named `html5`.
        ensure!(
            last.context.player_name.as_deref() == Some("html5"),
            "{:?}",
            last.context
        );
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
                 h.setVideo({ id: 'clip-2', title: 'Zwei ü 🎬 \"2\"', series: '' }); \
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
        // Strings cross the argument queue whole: non-ASCII, quotes, empty.
        ensure!(
            last.video.id.as_deref() == Some("clip-2")
                && last.video.title.as_deref() == Some("Zwei \u{fc} \u{1F3AC} \"2\"")
                && last.video.series.as_deref() == Some(""),
            "{:?}",
            last.video
        );
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

    /// A number the page gives that no JS number holds exactly (a bitrate of
    /// 1e20) is capped at 2^53 − 1 by the core: the JS queue reads beacons with
    /// `JSON.parse`, and uncapped it came back as 18446744073709552000, above
    /// `u64::MAX`, so the collector refused the whole batch. Real collector here.
    pub async fn a_huge_page_number_is_capped_not_refused(h: &Harness) -> Result<()> {
        h.client()
            .execute(
                "const el = vp.video(); \
                 const opts = { ...vp.options('t-huge').opts, collector: location.origin, \
                   video: { id: 't-huge' } }; \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play'); \
                 h.reportRendition({ width: 640, height: 360, bitrate: 1e20 }); \
                 h.destroy(); return null;",
                vec![],
            )
            .await?;
        let views = h
            .wait_views(Duration::from_secs(20), "the ended view t-huge", |v| {
                view_for(v, "t-huge").iter().any(|x| ended(x))
            })
            .await?;
        let id = view_for(&views, "t-huge")[0]["view_id"]
            .as_str()
            .context("a view id")?
            .to_owned();
        let detail: Value = h
            .http
            .get(format!("{}/v1/views/{id}", h.base))
            .send()
            .await?
            .json()
            .await?;
        let bitrates: Vec<u64> = detail["events"]
            .as_array()
            .context("events")?
            .iter()
            .filter(|e| e["kind"] == "rendition")
            .filter_map(|e| e["bitrate"].as_u64())
            .collect();
        ensure!(bitrates == [(1 << 53) - 1], "{detail}");
        Ok(())
    }
}
