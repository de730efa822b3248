//! Browser end-to-end tests of what the plugin keeps and sends on the viewer's
//! behalf: the saved outbox, consent (at start, at run time, and the queues earlier
//! pages saved), sampling and cookieless mode. Same page and rules as `api.rs`
//! (`api_page/`): a detached `<video>`, synthetic events, a closed collector port so
//! beacons stay queued, `onBeacon` copying each batch sent. Each test takes
//! `BROWSER_LOCK`.

mod api_page;

use anyhow::{ensure, Context, Result};
use api_page::{is_null, json, open, threw, trace, DEBUG_CORE};
use serde_json::Value;
use vidpulse_e2e::Harness;
use vidpulse_plugin::wire::Beacon;

api_test!(
    undelivered_beacons_are_saved_for_the_next_page,
    without_consent_nothing_is_stored_or_sent,
    without_consent_earlier_pages_queues_stay_unsent,
    with_do_not_track_respected_nothing_is_sent,
    a_sampled_out_viewer_is_not_measured,
    cookieless_mode_stores_nothing_and_says_so,
);

mod scenario {
    use super::*;

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
        // The next page claims the queue on its first monitor and sends it at once;
        // the page's `onBeacon` sees that first batch too.
        open(h, DEBUG_CORE).await?;
        let first = h
            .js("const { opts, sent } = vp.options('t-outbox'); \
                 const h = vp.m.monitor(vp.video(), opts); const first = sent[0] ?? null; \
                 h.destroy(); return first;")
            .await?;
        let view = &beacons[0].view_id;
        ensure!(
            first.as_str().is_some_and(|b| b.contains(view.as_str())),
            "the next page's first batch carries the saved view {view}: {first}"
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
                 const viewer = localStorage.getItem('vidpulse.viewer'); \
                 h.setConsent(true); h.flush(); \
                 const given = sent.length; h.destroy(); \
                 return { withheld, saved, viewer, given };",
            )
            .await?;
        ensure!(
            r["withheld"].as_f64() == Some(0.0),
            "sent without consent: {r}"
        );
        ensure!(
            r["saved"] == Value::Array(vec![]) && r["viewer"].is_null(),
            "saved without consent: {r}"
        );
        ensure!(
            r["given"].as_f64() == Some(1.0),
            "sent once consent is given: {r}"
        );
        Ok(())
    }

    /// A queue an earlier (consenting) page saved is neither sent nor claimed by a
    /// page without consent, even as it plays and hides (`pagehide`, which would
    /// `sendBeacon` everything); it goes once consent is given.
    pub async fn without_consent_earlier_pages_queues_stay_unsent(h: &Harness) -> Result<()> {
        let earlier = earlier_page_then_recording(h, "t-later").await?;
        let r = h
            .js(
                "const calls = window.calls; \
                 const el = vp.video(); const { opts } = vp.options('t-later'); opts.consent = false; \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play'); h.flush(); \
                 window.dispatchEvent(new Event('pagehide')); \
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

    /// Do Not Track respected: the page measures nothing, keeps no viewer id, and
    /// leaves the queue an earlier page saved unsent.
    pub async fn with_do_not_track_respected_nothing_is_sent(h: &Harness) -> Result<()> {
        let earlier = earlier_page_then_recording(h, "t-dnt").await?;
        let r = h
            .js(
                "Object.defineProperty(navigator, 'doNotTrack', { get: () => '1' }); \
                 const calls = window.calls; \
                 const el = vp.video(); const { opts } = vp.options('t-dnt'); \
                 opts.respectDoNotTrack = true; \
                 const h = vp.m.monitor(el, opts); vp.fire(el, 'play'); h.flush(); \
                 window.dispatchEvent(new Event('pagehide')); \
                 const snap = vp.snap(h); h.destroy(); \
                 return { calls, kept: vp.keys('\"t-dnt\"'), \
                          viewer: localStorage.getItem('vidpulse.viewer'), snap };",
            )
            .await?;
        ensure!(
            r["calls"] == Value::Array(vec![]),
            "sent with Do Not Track: {r}"
        );
        ensure!(
            r["kept"] == earlier,
            "the earlier queue stays as it was: {r}"
        );
        ensure!(r["viewer"].is_null(), "a viewer id was stored: {r}");
        ensure!(is_null(&json(&r, "snap")?, "view_id"), "measured: {r}");
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

    /// An earlier page monitors a view for `property` with a dead collector, so its
    /// queue is saved (answers its one key); then the next page opens, with every
    /// request it makes (`fetch` bodies, `sendBeacon` bodies) recorded in
    /// `window.calls`.
    async fn earlier_page_then_recording(h: &Harness, property: &str) -> Result<Value> {
        let earlier = h
            .js(&format!(
                "const el = vp.video(); const h = vp.m.monitor(el, vp.options('{property}').opts); \
                 vp.fire(el, 'play'); h.destroy(); localStorage.removeItem('vidpulse.viewer'); \
                 return vp.keys('\"{property}\"');"
            ))
            .await?;
        ensure!(
            earlier.as_array().is_some_and(|k| k.len() == 1),
            "the earlier page saved one queue: {earlier}"
        );
        open(h, DEBUG_CORE).await?;
        h.js(
            "window.calls = []; const f = window.fetch; \
             window.fetch = (url, init) => { calls.push(String(init && init.body)); return f(url, init); }; \
             navigator.sendBeacon = (url, body) => { calls.push(String(body)); return true; }; \
             return null;",
        )
        .await?;
        Ok(earlier)
    }
}
