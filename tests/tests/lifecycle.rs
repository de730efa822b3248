//! Browser end-to-end tests, view lifecycle: a source switch followed by leaving the
//! page (two views, the last one delivered by `pagehide`); playing to `ended` then
//! replaying (two views); a hidden tab; a `<video>` that never gets play intent;
//! leaving before the first frame (exit before video start, via `sendBeacon`).
//!
//! They play real media in headless Chromium through the demo page with the real wasm
//! plugin, end the view, and check what the real collector STORED (`GET /v1/views`)
//! against the page's independent observer (`web-demo/observer.js`), within stated
//! tolerances: startup and seek latency ±100 ms, rebuffer durations ±10 % or ±150 ms
//! (whichever is larger), counts exact. Each comparison is printed and merged into
//! `target/bench/accuracy.json` (see `vidpulse_e2e::Accuracy`). Each test takes
//! `BROWSER_LOCK`, so scenarios run one at a time on the two cores
//! (`cargo test -p vidpulse-e2e -- --nocapture` shows the numbers).

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::*;
use fantoccini::Locator;
use serde_json::Value;
use vidpulse_e2e::{
    ended, get_num, pretty, view_for, Accuracy, Harness, Tolerance, BROWSER_LOCK, LATENCY,
};

async fn switch_and_unload(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&autoplay=1&id=switch&title=Switch")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    wait_position(h, 2.0, Duration::from_secs(10)).await?;
    // The page's own button: a real source change, so the plugin must start a new view.
    h.client()
        .find(Locator::Css("#btn-normal"))
        .await?
        .click()
        .await?;
    h.wait_js(
        "const s = window.vidpulseObserver.summary(); \
         return s.src.endsWith('/media/clip.webm') && s.firstFrameAt !== null;",
        Duration::from_secs(10),
        "the first frame of clip.webm after the switch (observer)",
    )
    .await?;
    wait_position(h, 2.0, Duration::from_secs(10)).await?;
    let obs = h.observer_views().await?;
    // Leaving the page (no destroy()): pagehide must deliver the final beacon.
    h.client().goto("about:blank").await?;
    let views = h
        .wait_views(
            Duration::from_secs(10),
            "both views stored as ended (the second by pagehide)",
            |vs| view_for(vs, "switch").iter().filter(|v| ended(v)).count() >= 2,
        )
        .await
        .with_context(|| {
            format!(
                "observer before leaving: {}",
                pretty(&Value::Array(obs.clone()))
            )
        })?;
    let mine = view_for(&views, "switch");
    ensure!(
        mine.len() == 2 && obs.len() == 2,
        "expected two views (one per source), got {} stored and {} observed: {}",
        mine.len(),
        obs.len(),
        pretty(&Value::Array(views.clone()))
    );
    // Stored newest first, observed oldest first.
    let pairs = [
        (mine[1], &obs[0], "/media/clip.mp4"),
        (mine[0], &obs[1], "/media/clip.webm"),
    ];
    let mut acc = Accuracy::new("source_switch");
    for (i, (view, o, clip)) in pairs.into_iter().enumerate() {
        let m = &view["metrics"];
        report(&format!("source switch, view {}: {clip}", i + 1), m, o);
        let src = view["video"]["src"].as_str().unwrap_or("");
        ensure!(src.ends_with(clip), "view for {clip} stored src {src:?}");
        ensure!(
            o["src"].as_str().unwrap_or("").ends_with(clip),
            "observer view {} is for {}, expected {clip}",
            i + 1,
            o["src"]
        );
        let p = get_num(m, "startup_ms")?;
        let s = get_num(o, "startupMs")?;
        acc.compare(&format!("view{}.startup_ms", i + 1), p, s, LATENCY);
        let p = get_num(m, "rebuffer_count")?;
        let s = get_num(o, "stallCount")?;
        acc.compare(
            &format!("view{}.rebuffer_count", i + 1),
            p,
            s,
            Tolerance::Exact,
        );
        ensure!(
            m["first_frame"].as_bool() == Some(true) && get_num(m, "playing_ms")? >= 1500.0,
            "the {clip} view did not record its playback: {}",
            pretty(view)
        );
        ensure!(m["error"].is_null(), "unexpected error: {}", pretty(view));
    }
    // The first view ended at the switch: its totals are final on both sides.
    let (m, o) = (&mine[1]["metrics"], &obs[0]);
    acc.compare(
        "view1.watch_ms",
        get_num(m, "watch_ms")?,
        get_num(o, "watchMs")?,
        Tolerance::Ms(100.0),
    );
    acc.compare(
        "view1.playing_ms",
        get_num(m, "playing_ms")?,
        get_num(o, "playedMs")?,
        PLAYING,
    );
    acc.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_switch_and_page_unload() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = switch_and_unload(&h).await;
    h.finish_after("source_switch_and_page_unload", r).await
}

/// Plays clip.mp4, seeks near its end, lets it end, plays it again (the next view) and
/// ends that view; the replay's automatic rewind is not a seek of the ended view.
async fn ended_replay(h: &Harness, id: &str) -> Result<()> {
    h.open_demo(&format!(
        "src=/media/clip.mp4&autoplay=1&id={id}&title=Replay"
    ))
    .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    wait_position(h, 1.0, Duration::from_secs(10)).await?;
    on_video(h, "v.currentTime = 10.5").await?;
    h.wait_js(
        "return window.vidpulseObserver.summary().ended;",
        Duration::from_secs(10),
        "`ended` (observer)",
    )
    .await?;
    // The `ended` beacon goes out at once.
    h.wait_views(Duration::from_secs(10), "the `ended` beacon", |vs| {
        view_for(vs, id)
            .iter()
            .any(|v| v["metrics"]["ended"].as_bool() == Some(true))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    on_video(h, "v.play()").await?;
    h.wait_js(
        "const vs = window.vidpulseObserver.views(); \
         return vs.length === 2 && vs[1].firstFrameAt !== null && vs[1].currentTime >= 1.5;",
        Duration::from_secs(10),
        "the replay (observer's second view) to play 1.5 s",
    )
    .await?;
    let obs = h.observe_views_and_destroy().await?;
    let views = h
        .wait_views(
            Duration::from_secs(10),
            "both views stored as ended",
            |vs| view_for(vs, id).iter().filter(|v| ended(v)).count() >= 2,
        )
        .await
        .with_context(|| format!("observer: {}", pretty(&Value::Array(obs.clone()))))?;
    let mine = view_for(&views, id);
    ensure!(
        mine.len() == 2 && obs.len() == 2,
        "expected two views, got {} stored, {} observed: {}",
        mine.len(),
        obs.len(),
        pretty(&Value::Array(views.clone()))
    );
    let (first, second) = (&mine[1]["metrics"], &mine[0]["metrics"]);
    report("played to the end (view 1)", first, &obs[0]);
    report("replay (view 2)", second, &obs[1]);
    ensure!(
        first["ended"].as_bool() == Some(true) && first["completed"].as_bool() == Some(true),
        "the first view is not ended + completed: {}",
        pretty(mine[1])
    );
    ensure!(
        second["ended"].as_bool() != Some(true) && second["completed"].as_bool() != Some(true),
        "the replay view is marked ended/completed: {}",
        pretty(mine[0])
    );
    ensure!(
        second["startup_invalid"].as_bool() != Some(true),
        "the replay's rewind invalidated its startup: {}",
        pretty(mine[0])
    );
    let mut acc = Accuracy::new("ended_then_replay");
    for (i, (m, o)) in [(first, &obs[0]), (second, &obs[1])]
        .into_iter()
        .enumerate()
    {
        let n = i + 1;
        acc.compare(
            &format!("view{n}.startup_ms"),
            get_num(m, "startup_ms")?,
            get_num(o, "startupMs")?,
            LATENCY,
        );
        acc.compare(
            &format!("view{n}.watch_ms"),
            get_num(m, "watch_ms")?,
            get_num(o, "watchMs")?,
            Tolerance::Ms(100.0),
        );
        acc.compare(
            &format!("view{n}.playing_ms"),
            get_num(m, "playing_ms")?,
            get_num(o, "playedMs")?,
            PLAYING,
        );
        acc.compare(
            &format!("view{n}.rebuffer_count"),
            get_num(m, "rebuffer_count")?,
            get_num(o, "stallCount")?,
            Tolerance::Exact,
        );
        acc.compare(
            &format!("view{n}.pause_count"),
            get_num(m, "pause_count")?,
            get_num(o, "pauseCount")?,
            Tolerance::Exact,
        );
    }
    acc.compare(
        "view2.seek_count",
        get_num(second, "seek_count")?,
        get_num(&obs[1], "seekCount")?,
        Tolerance::Exact,
    );
    // Chromium fires the replay's rewind `seeking` before its `play`: it must not
    // be charged to the view that ended.
    acc.compare(
        "view1.seek_count",
        get_num(first, "seek_count")?,
        get_num(&obs[0], "seekCount")?,
        Tolerance::Exact,
    );
    acc.compare(
        "view1.seek_ms",
        get_num(first, "seek_ms")?,
        get_num(&obs[0], "seekMs")?,
        LATENCY,
    );
    acc.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_then_replay() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = ended_replay(&h, "replay").await;
    h.finish_after("ended_then_replay", r).await
}

async fn hidden(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&autoplay=1&id=hidden&title=Hidden&spy=1")
        .await?;
    h.js("window.visibilityLog = []; \
          document.addEventListener('visibilitychange', () => \
            window.visibilityLog.push(document.visibilityState)); return null;")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    wait_position(h, 1.0, Duration::from_secs(10)).await?;
    let start = h
        .wait_views(Duration::from_secs(10), "the view start beacon", |vs| {
            !view_for(vs, "hidden").is_empty()
        })
        .await?;
    let seq_before = get_num(view_for(&start, "hidden")[0], "seq")?;
    // A real hidden tab: headless Chromium makes the demo's tab hidden when another tab
    // is opened and activated (visibilitychange, visibilityState "hidden").
    let client = h.client();
    let demo_tab = client.window().await?;
    let other = client.new_window(true).await?;
    client.switch_to_window(other.handle).await?;
    client.goto("about:blank").await?;
    let hidden_result = h
        .wait_views(
            Duration::from_secs(5),
            "a beacon stored while the tab is hidden",
            |vs| {
                view_for(vs, "hidden")
                    .iter()
                    .any(|v| v["seq"].as_f64().unwrap_or(0.0) > seq_before)
            },
        )
        .await;
    // Back to the demo's tab whatever happened, so the page can be inspected.
    client.close_window().await?;
    client.switch_to_window(demo_tab).await?;
    let while_hidden = hidden_result?;
    let hidden_view = view_for(&while_hidden, "hidden")[0].clone();
    let log = h
        .js("return { visibility: window.visibilityLog, state: document.visibilityState, \
                      sendBeacon: JSON.parse(localStorage.getItem('vidpulseSendBeacon') || '[]') };")
        .await?;
    println!("--- hidden tab: {log}");
    ensure!(
        log["visibility"] == serde_json::json!(["hidden", "visible"]) && log["state"] == "visible",
        "the tab was not hidden then shown: {log}"
    );
    ensure!(
        log["sendBeacon"].as_array().is_some_and(|a| !a.is_empty()),
        "no navigator.sendBeacon call while hidden: {log}"
    );
    // The view continues after the tab is shown again.
    let played_then = get_num(&hidden_view["metrics"], "playing_ms")?;
    let pos = h
        .js("return document.getElementById('video').currentTime;")
        .await?
        .as_f64()
        .unwrap_or(0.0);
    wait_position(h, pos + 1.5, Duration::from_secs(10)).await?;
    let (view, obs) = destroy_and_fetch(h, "hidden").await?;
    let m = &view["metrics"];
    report("hidden tab, shown again (clip.mp4)", m, &obs);
    ensure!(
        view["view_id"] == hidden_view["view_id"],
        "the view did not continue after the tab was shown: {} then {}",
        hidden_view["view_id"],
        view["view_id"]
    );
    ensure!(
        get_num(m, "playing_ms")? >= played_then + 1000.0,
        "playing_ms {} did not grow after the tab was shown (hidden: {played_then})",
        m["playing_ms"]
    );
    let mut acc = Accuracy::new("hidden_tab");
    acc.note("seq_stored_while_hidden", hidden_view["seq"].clone());
    compare_playback(&mut acc, m, &obs)?;
    // Chromium pauses a muted video in a background tab (and plays it when shown).
    acc.compare_keys(m, "pause_count", &obs, "pauseCount", Tolerance::Exact)?;
    acc.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_tab_then_shown() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = hidden(&h).await;
    h.finish_after("hidden_tab_then_shown", r).await
}

/// Leaves the page for a same-origin page (so the spy's localStorage can be read) and
/// returns the `sendBeacon` calls it recorded.
async fn leave_and_read_send_beacons(h: &Harness) -> Result<Vec<Value>> {
    h.client().goto(&format!("{}/healthz", h.base)).await?;
    let log = h
        .js("return JSON.parse(localStorage.getItem('vidpulseSendBeacon') || '[]');")
        .await?;
    match log {
        Value::Array(a) => Ok(a),
        other => bail!("unexpected sendBeacon log {other}"),
    }
}

async fn idle(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&id=idle&title=Idle&interval=1000&spy=1")
        .await?;
    h.wait_js(
        "return document.getElementById('video').readyState >= 3;",
        Duration::from_secs(10),
        "the element to be able to play (canplay)",
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let obs = h
        .js("window.vidpulseDemo.handle.flush(); return window.vidpulseObserver.summary();")
        .await?;
    ensure!(
        obs["playIntentAt"].is_null(),
        "the observer saw play intent: {}",
        pretty(&obs)
    );
    let beacons = leave_and_read_send_beacons(h).await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let views = h.views().await?;
    println!(
        "--- no play intent: {} stored views, {} sendBeacon calls on leaving",
        views.len(),
        beacons.len()
    );
    ensure!(
        views.is_empty(),
        "a <video> without play intent made a view: {}",
        pretty(&Value::Array(views))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_play_intent_no_view() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = idle(&h).await;
    h.finish_after("no_play_intent_no_view", r).await
}

async fn exit_before_start(h: &Harness) -> Result<()> {
    let src = src_param("/media/clip.mp4?delay_ms=6000");
    h.open_demo(&format!("src={src}&autoplay=1&id=ebvs&title=Ebvs&spy=1"))
        .await?;
    h.wait_js(
        "return window.vidpulseObserver.playIntentAt !== null;",
        Duration::from_secs(5),
        "play intent (observer)",
    )
    .await?;
    h.wait_views(Duration::from_secs(5), "the view start beacon", |vs| {
        !view_for(vs, "ebvs").is_empty()
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let obs = h.observer().await?;
    ensure!(
        obs["firstFrameAt"].is_null(),
        "the first frame came before leaving (delay_ms ignored?): {}",
        pretty(&obs)
    );
    let beacons = leave_and_read_send_beacons(h).await?;
    let view = fetch_ended(h, "ebvs", &obs).await?;
    let m = &view["metrics"];
    println!(
        "--- exit before video start: reason {} seq {} watch_ms {} (observer watch {:.0}); sendBeacon calls {}",
        view["reason"],
        view["seq"],
        m["watch_ms"],
        get_num(&obs, "watchMs")?,
        Value::Array(beacons.clone())
    );
    ensure!(
        beacons.iter().any(|b| b["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/v1/beacons"))
            && b["queued"] == true),
        "the final beacon did not go through navigator.sendBeacon: {}",
        Value::Array(beacons)
    );
    ensure!(
        m["first_frame"].as_bool() != Some(true)
            && m["startup_ms"].is_null()
            && m["error"].is_null(),
        "not an exit before video start: {}",
        pretty(&view)
    );
    let summary: Value = h
        .http
        .get(format!("{}/v1/summary", h.base))
        .send()
        .await?
        .json()
        .await?;
    println!("  /v1/summary: {summary}");
    ensure!(
        summary["ebvs_pct"].as_f64() == Some(100.0),
        "the collector does not count the view as EBVS: {summary}"
    );
    let mut acc = Accuracy::new("exit_before_video_start");
    // The observer's summary was taken ~1 s before leaving: watch time only grows.
    acc.note("watch_ms", m["watch_ms"].clone());
    acc.note("observer_watch_ms_before_leaving", obs["watchMs"].clone());
    acc.finish()?;
    ensure!(
        get_num(m, "watch_ms")? >= get_num(&obs, "watchMs")?,
        "watch_ms {} is less than the observer's {} a moment before leaving",
        m["watch_ms"],
        obs["watchMs"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_before_video_start() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = exit_before_start(&h).await;
    h.finish_after("exit_before_video_start", r).await
}
