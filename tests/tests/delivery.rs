//! Browser end-to-end tests, delivery under loss: a collector outage of 60 s in the
//! middle of a view, a page reloaded while beacons are queued, a tab closed in the
//! middle of a view.
//!
//! The page comes from the harness' collector; its beacons go to a second collector,
//! the [`Sink`], which the tests stop and restart (same port, same redb file). What
//! the sink finally STORED is compared with the plugin's own final snapshot and with
//! the page's independent observer, and the sink's rollups (`/v1/kpis`) with the
//! stored view, so a beacon counted twice or lost shows up as a difference.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::*;
use serde_json::Value;
use vidpulse_e2e::{ended, get_num, pretty, view_for, Accuracy, Harness, Sink, BROWSER_LOCK};

/// The `localStorage` keys of the plugin's saved queues, with the size of each.
const SAVED_QUEUES: &str = "return Object.keys(localStorage)\
     .filter(k => k.startsWith('vidpulse.outbox:'))\
     .map(k => ({ key: k, text: localStorage.getItem(k) }));";

fn encoded(url: &str) -> String {
    src_param(url).replace(':', "%3A")
}

/// The one stored view of video `id` on the sink, once it is over.
async fn final_view(sink: &Sink, id: &str, timeout: Duration) -> Result<Value> {
    let views = sink
        .wait_views(timeout, &format!("the final beacon of `{id}`"), |vs| {
            view_for(vs, id).first().is_some_and(|v| ended(v))
        })
        .await?;
    let mine = view_for(&views, id);
    ensure!(
        mine.len() == 1,
        "expected one view of `{id}`, the sink stored {}: {}",
        mine.len(),
        pretty(&Value::Array(views.clone()))
    );
    Ok(mine[0].clone())
}

/// The sink's rollups over the default range must equal the one stored view:
/// a beacon applied twice would count its increments twice.
async fn rollups_match(sink: &Sink, view: &Value) -> Result<()> {
    let k = sink.kpis().await?;
    let t = &k["totals"];
    let m = &view["metrics"];
    println!(
        "  sink /v1/kpis: views {} watch_ms {} playing_ms {} (stored view: watch {} playing {})",
        t["views"], t["watch_ms"], t["playing_ms"], m["watch_ms"], m["playing_ms"]
    );
    ensure!(t["views"] == 1, "rollups count {} views: {k}", t["views"]);
    for key in ["watch_ms", "playing_ms"] {
        ensure!(
            get_num(t, key)? == get_num(m, key)?,
            "rollup {key} {} differs from the stored view's {}: {k}",
            t[key],
            m[key]
        );
    }
    Ok(())
}

async fn outage(h: &Harness, sink: &mut Sink) -> Result<()> {
    let collector = encoded(&sink.base);
    h.open_demo(&format!(
        "src=%2Fmedia%2Fclip-long.webm&autoplay=1&id=outage&title=Outage&interval=5000\
         &collector={collector}"
    ))
    .await?;
    wait_first_frame(h, Duration::from_secs(15)).await?;
    sink.wait_views(Duration::from_secs(10), "the view's first beacons", |vs| {
        !view_for(vs, "outage").is_empty()
    })
    .await?;

    sink.stop().await?;
    println!("--- collector outage: sink stopped; playing on for 60 s");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let saved = h.js(SAVED_QUEUES).await?;
    let queued = saved.as_array().is_some_and(|a| {
        a.iter()
            .any(|q| q["text"].as_str().is_some_and(|t| t.contains("outage")))
    });
    println!(
        "  after 30 s of outage, saved queues: {}",
        saved.as_array().map_or(0, Vec::len)
    );
    ensure!(
        queued,
        "nothing of the view is queued in localStorage during the outage: {saved}"
    );
    tokio::time::sleep(Duration::from_secs(30)).await;

    sink.restart().await?;
    println!("  sink restarted; playing 3 s more, then ending the view");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let both = h
        .js("const snap = window.vidpulseDemo.handle.snapshot(); \
             const obs = window.vidpulseObserver.summary(); \
             window.vidpulseDemo.handle.destroy(); \
             return { snap, obs };")
        .await?;
    let (snap, obs) = (&both["snap"], &both["obs"]);
    // The retry timer may be near its 60 s cap (±50 % jitter) after a long outage.
    let view = final_view(sink, "outage", Duration::from_secs(120)).await?;
    let m = &view["metrics"];
    report("collector outage of 60 s", m, obs);
    println!("  plugin snapshot at destroy: {snap}");
    for key in ["rebuffer_count", "seek_count", "pause_count"] {
        if snap[key].is_number() {
            ensure!(
                m[key] == snap[key],
                "{key}: stored {} vs snapshot {}",
                m[key],
                snap[key]
            );
        }
    }
    // destroy() closes the view a moment after the snapshot: times only grow, by little.
    for key in ["watch_ms", "playing_ms"] {
        let (stored, at_destroy) = (get_num(m, key)?, get_num(snap, key)?);
        ensure!(
            stored >= at_destroy && stored - at_destroy < 1_000.0,
            "{key}: stored {stored} vs snapshot {at_destroy}: lost or invented time"
        );
    }
    ensure!(
        get_num(m, "playing_ms")? > 60_000.0,
        "the view played through the outage, yet stored playing_ms is {}",
        m["playing_ms"]
    );
    ensure!(
        m["startup_ms"] == snap["startup_ms"],
        "startup_ms: stored {} vs snapshot {}",
        m["startup_ms"],
        snap["startup_ms"]
    );
    let mut acc = Accuracy::new("collector_outage");
    compare_playback(&mut acc, m, obs)?;
    acc.finish()?;
    rollups_match(sink, &view).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_outage_of_60s_loses_nothing_and_counts_nothing_twice() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let mut sink = Sink::start().await?;
    let r = outage(&h, &mut sink).await;
    let s = sink.finish().await;
    h.finish_after("collector_outage", r.and(s)).await
}

async fn reload(h: &Harness, sink: &mut Sink) -> Result<()> {
    let collector = encoded(&sink.base);
    let query = format!(
        "src=%2Fmedia%2Fclip-long.webm&autoplay=1&id=reload&title=Reload&interval=2000\
         &collector={collector}"
    );
    h.open_demo(&query).await?;
    wait_first_frame(h, Duration::from_secs(15)).await?;
    sink.wait_views(Duration::from_secs(10), "the view's first beacons", |vs| {
        !view_for(vs, "reload").is_empty()
    })
    .await?;
    sink.stop().await?;
    println!("--- reload with queued beacons: sink stopped; playing 5 s");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let obs = h.observer().await?;
    // Reload without autoplay: the new page makes no view of its own, it only
    // restores and sends the queue the old page left.
    h.open_demo(&query.replace("autoplay=1", "autoplay=0"))
        .await?;
    let saved = h.js(SAVED_QUEUES).await?;
    println!("  after the reload, saved queues: {saved}");
    let queued = saved.as_array().is_some_and(|a| {
        a.iter().any(|q| {
            q["text"]
                .as_str()
                .is_some_and(|t| t.contains("reload") && t.contains("\"view_ended\":true"))
        })
    });
    ensure!(
        queued,
        "the old page's final beacon is not queued after the reload: {saved}"
    );
    sink.restart().await?;
    let view = final_view(sink, "reload", Duration::from_secs(30)).await?;
    let m = &view["metrics"];
    report("page reloaded with queued beacons", m, &obs);
    // The observer's summary was taken just before the reload; the view ended on
    // `pagehide`, a little later.
    let (stored, seen) = (get_num(m, "watch_ms")?, get_num(&obs, "watchMs")?);
    ensure!(
        stored >= seen - 150.0 && stored < seen + 3_000.0,
        "watch_ms {stored} vs the observer's {seen} just before the reload"
    );
    let remaining = h.js(SAVED_QUEUES).await?;
    ensure!(
        remaining.as_array().is_some_and(Vec::is_empty),
        "the queue was delivered but is still saved: {remaining}"
    );
    rollups_match(sink, &view).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_reloaded_with_queued_beacons_delivers_them() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let mut sink = Sink::start().await?;
    let r = reload(&h, &mut sink).await;
    let s = sink.finish().await;
    h.finish_after("reload_with_queue", r.and(s)).await
}

async fn close_tab(h: &Harness, sink: &Sink) -> Result<()> {
    let client = h.client();
    let first = client.window().await?;
    let tab = client
        .new_window(true)
        .await
        .context("opening a second tab")?;
    client.switch_to_window(tab.handle).await?;
    let collector = encoded(&sink.base);
    h.open_demo(&format!(
        "src=%2Fmedia%2Fclip-long.webm&autoplay=1&id=closed&title=Closed&collector={collector}"
    ))
    .await?;
    wait_first_frame(h, Duration::from_secs(15)).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let obs = h.observer().await?;
    client.close_window().await.context("closing the tab")?;
    client.switch_to_window(first).await?;
    println!("--- tab closed mid-view");
    let view = final_view(sink, "closed", Duration::from_secs(15)).await?;
    let m = &view["metrics"];
    report("tab closed mid-view", m, &obs);
    let (stored, seen) = (get_num(m, "watch_ms")?, get_num(&obs, "watchMs")?);
    ensure!(
        stored >= seen - 150.0 && stored < seen + 2_000.0,
        "watch_ms {stored} vs the observer's {seen} just before closing"
    );
    rollups_match(sink, &view).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_closed_mid_view_delivers_its_final_beacon() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let sink = Sink::start().await?;
    let r = close_tab(&h, &sink).await;
    let s = sink.finish().await;
    h.finish_after("tab_closed", r.and(s)).await
}
