//! Browser end-to-end tests: why they exist.
//!
//! They play real media in headless Chromium through the demo page with the real wasm
//! plugin, end the view, and check what the real collector STORED (`GET /v1/views`)
//! against the page's independent observer (`web-demo/observer.js`), within stated
//! tolerances: startup and seek latency ±100 ms, rebuffer durations ±10 % or ±150 ms
//! (whichever is larger), counts exact. Each comparison is printed and merged into
//! `target/bench/accuracy.json` (see `vidpulse_e2e::Accuracy`).
//!
//! Scenarios: clean playback; throttled playback with several stalls (and a native
//! replay of the recorded trace that must reproduce the stored metrics exactly); seeks
//! while playing (two merged); pause and resume; pause + seek (neither is rebuffering);
//! a source switch followed by leaving the page (two views, the last one delivered by
//! `pagehide`); broken sources (404, corrupt file); playing to `ended` then replaying;
//! a hidden tab; a `<video>` that never gets play intent; leaving before the first
//! frame (EBVS, via `sendBeacon`); and the demo page loading without console errors.
//!
//! The tests share the machine's two cores: each one takes `BROWSER_LOCK`, so they run
//! one at a time even though cargo starts them on parallel threads
//! (`cargo test -p vidpulse-e2e -- --nocapture` shows the numbers).

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use fantoccini::Locator;
use serde_json::Value;
use vidpulse_e2e::{
    ended, get_num, pretty, view_for, Accuracy, Harness, Tolerance, BROWSER_LOCK, LATENCY, REBUFFER,
};
use vidpulse_plugin::engine::trace::{replay, Trace};

/// Playing time: the plugin caps and quantises its increments, the observer sums
/// `currentTime` steps; they agree within 5 % or 150 ms.
const PLAYING: Tolerance = Tolerance::PctOrMs {
    pct: 5.0,
    ms: 150.0,
};

/// A path with a query string, encoded as the value of the demo page's `src` parameter.
fn src_param(src: &str) -> String {
    src.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('&', "%26")
        .replace('=', "%3D")
}

/// Plugin numbers next to the observer's (context beyond the compared metrics).
fn report(name: &str, m: &Value, obs: &Value) {
    println!("--- {name}");
    println!(
        "  plugin:   startup {} rebuffers {} / {} ms (max {}) playing {} watch {} seeks {} / {} ms pauses {} error {}",
        m["startup_ms"],
        m["rebuffer_count"],
        m["rebuffer_ms"],
        m["rebuffer_max_ms"],
        m["playing_ms"],
        m["watch_ms"],
        m["seek_count"],
        m["seek_ms"],
        m["pause_count"],
        m["error"]
    );
    let f = |v: &Value| match v.as_f64() {
        Some(x) => format!("{x:.0}"),
        None => v.to_string(),
    };
    println!(
        "  observer: startup {} stalls {} / {} ms (max {}) played {} watch {} seeks {} / {} ms pauses {} error {}",
        f(&obs["startupMs"]),
        f(&obs["stallCount"]),
        f(&obs["stallMs"]),
        f(&obs["stallMaxMs"]),
        f(&obs["playedMs"]),
        f(&obs["watchMs"]),
        f(&obs["seekCount"]),
        f(&obs["seekMs"]),
        f(&obs["pauseCount"]),
        obs["error"]
    );
}

/// Waits for the first frame as the observer sees it.
async fn wait_first_frame(h: &Harness, timeout: Duration) -> Result<()> {
    h.wait_js(
        "return window.vidpulseObserver.firstFrameAt !== null;",
        timeout,
        "the first frame (observer)",
    )
    .await
    .map(|_| ())
}

/// Waits until the element's playhead reached `secs`.
async fn wait_position(h: &Harness, secs: f64, timeout: Duration) -> Result<()> {
    h.wait_js(
        &format!("return document.getElementById('video').currentTime >= {secs};"),
        timeout,
        &format!("the playhead to reach {secs} s"),
    )
    .await
    .map(|_| ())
}

/// Runs `script` in the page (a statement on `v`, the video element).
async fn on_video(h: &Harness, script: &str) -> Result<()> {
    h.js(&format!(
        "const v = document.getElementById('video'); {script}; return null;"
    ))
    .await
    .map(drop)
}

/// Waits until the collector stored `id`'s view as ended and returns it (exactly one).
async fn fetch_ended(h: &Harness, id: &str, obs: &Value) -> Result<Value> {
    let views = h
        .wait_views(
            Duration::from_secs(10),
            "the final beacon (view_ended) to be stored",
            |vs| view_for(vs, id).iter().any(|v| ended(v)),
        )
        .await
        .with_context(|| format!("observer at the end of the view: {}", pretty(obs)))?;
    let mine = view_for(&views, id);
    ensure!(
        mine.len() == 1,
        "expected exactly one view for video {id}, got {}: {}",
        mine.len(),
        pretty(&Value::Array(views.clone()))
    );
    Ok(mine[0].clone())
}

/// Destroys the handle and waits until the collector stored the view as ended.
async fn destroy_and_fetch(h: &Harness, id: &str) -> Result<(Value, Value)> {
    let obs = h.observe_and_destroy().await?;
    let view = fetch_ended(h, id, &obs).await?;
    Ok((view, obs))
}

/// The comparisons every played view gets: startup, rebuffering, watch and playing time.
fn compare_playback(acc: &mut Accuracy, m: &Value, obs: &Value) -> Result<()> {
    acc.compare_keys(m, "startup_ms", obs, "startupMs", LATENCY)?;
    acc.compare_keys(m, "rebuffer_count", obs, "stallCount", Tolerance::Exact)?;
    acc.compare_keys(m, "rebuffer_ms", obs, "stallMs", REBUFFER)?;
    acc.compare_keys(m, "watch_ms", obs, "watchMs", Tolerance::Ms(100.0))?;
    acc.compare_keys(m, "playing_ms", obs, "playedMs", PLAYING)?;
    Ok(())
}

async fn clean(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.webm&autoplay=1&id=clean&title=Clean&interval=2000")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    wait_position(h, 6.0, Duration::from_secs(20)).await?;
    // Interval beacons (every 2 s here) keep the stored view current while it plays.
    h.wait_views(
        Duration::from_secs(5),
        "an interval beacon with playing time",
        |vs| {
            view_for(vs, "clean")
                .iter()
                .any(|v| v["metrics"]["playing_ms"].as_f64().unwrap_or(0.0) >= 2000.0)
        },
    )
    .await?;
    let (view, obs) = destroy_and_fetch(h, "clean").await?;
    // A late beacon must not create a second view.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let views = h.views().await?;
    ensure!(
        views.len() == 1,
        "expected exactly one view in the collector, got {}: {}",
        views.len(),
        pretty(&Value::Array(views))
    );

    let m = &view["metrics"];
    report("clean playback (clip.webm)", m, &obs);
    let mut acc = Accuracy::new("clean_playback");
    compare_playback(&mut acc, m, &obs)?;
    acc.compare_keys(m, "pause_count", &obs, "pauseCount", Tolerance::Exact)?;
    acc.compare_keys(m, "seek_count", &obs, "seekCount", Tolerance::Exact)?;
    acc.finish()?;
    let startup = get_num(m, "startup_ms")?;
    ensure!(
        startup > 0.0 && startup < 3000.0,
        "startup_ms {startup} not in (0, 3000): {}",
        pretty(&view)
    );
    ensure!(
        m["startup_invalid"].as_bool() != Some(true),
        "startup flagged invalid: {}",
        pretty(&view)
    );
    ensure!(
        get_num(m, "rebuffer_count")? == 0.0,
        "rebuffering in a clean playback: {}",
        pretty(&view)
    );
    ensure!(m["error"].is_null(), "unexpected error: {}", pretty(&view));
    ensure!(
        m["first_frame"].as_bool() == Some(true),
        "no first frame stored"
    );
    ensure!(
        get_num(&obs, "playedMs")? > 4000.0,
        "observer saw only {} ms played",
        obs["playedMs"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_playback() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = clean(&h).await;
    h.finish_after("clean_playback", r).await
}

/// Ends the view (`destroy()`, observer summary in the same script) once the observer
/// saw at least `stalls` completed stalls, none is in progress, the last one ended
/// ≥ 300 ms ago and the element can play: so neither side is inside a stall that the
/// other might still drop as too short.
async fn destroy_after_stalls(h: &Harness, stalls: usize, timeout: Duration) -> Result<Value> {
    h.wait_js(
        &format!(
            "const o = window.vidpulseObserver; const v = document.getElementById('video'); \
             const s = o.summary(); const raw = o.stalls; \
             const last = raw[raw.length - 1]; \
             if (s.stalls.filter(x => !x.open).length >= {stalls} && \
                 !raw.some(x => x.end === null) && last && s.now - last.end >= 300 && \
                 v.readyState >= 3 && !v.paused) {{ \
               window.vidpulseDemo.handle.destroy(); return s; \
             }} \
             return null;"
        ),
        timeout,
        &format!("{stalls} completed stalls (observer), then a moment of playback"),
    )
    .await
}

async fn throttled(h: &Harness) -> Result<()> {
    // 1.5 Mbit/s media at 100 KB/s after a 300 KB burst, first byte after 1 s: playback
    // starts, then stalls several times (each a second or more) as the buffer runs dry.
    let src = src_param("/media/clip-hq.mp4?rate=100000&burst=300000&delay_ms=1000");
    h.open_demo(&format!(
        "src={src}&autoplay=1&id=throttled&title=Throttled&debug=1"
    ))
    .await?;
    wait_first_frame(h, Duration::from_secs(20)).await?;
    let obs = destroy_after_stalls(h, 2, Duration::from_secs(60)).await?;
    let view = fetch_ended(h, "throttled", &obs).await?;
    let m = &view["metrics"];
    report(
        "throttled playback (clip-hq.mp4 at 100 KB/s, 1 s delay)",
        m,
        &obs,
    );
    println!("  observer stalls: {}", obs["stalls"]);

    let mut acc = Accuracy::new("throttled_playback");
    compare_playback(&mut acc, m, &obs)?;
    acc.compare_keys(m, "rebuffer_max_ms", &obs, "stallMaxMs", REBUFFER)?;
    acc.finish()?;
    let count = get_num(m, "rebuffer_count")?;
    ensure!(count >= 2.0, "fewer than 2 rebuffers: {}", pretty(&view));
    ensure!(
        get_num(m, "startup_ms")? >= 900.0,
        "startup_ms < 900: the 1 s wait before the first byte must be startup: {}",
        pretty(&view)
    );
    ensure!(m["error"].is_null(), "unexpected error: {}", pretty(&view));

    // Replay: the recorded inputs, run natively through the same engine, must end in
    // exactly the metrics the collector stored.
    let text = h.trace().await?;
    let trace: Trace = serde_json::from_str(&text).context("handle.trace() is not a Trace")?;
    let beacons = replay(&trace);
    let last = beacons
        .last()
        .context("the replayed trace produced no beacon")?;
    let replayed = serde_json::to_value(&last.metrics)?;
    println!(
        "  replay: {} inputs -> {} beacons; last seq {} (stored seq {})",
        trace.records.len(),
        beacons.len(),
        last.seq,
        view["seq"]
    );
    ensure!(
        Value::String(last.view_id.clone()) == view["view_id"],
        "the replay's last beacon is for view {}, the stored view is {}",
        last.view_id,
        view["view_id"]
    );
    ensure!(
        replayed == view["metrics"],
        "the replayed metrics differ from the stored ones:\nreplayed {}\nstored   {}",
        pretty(&replayed),
        pretty(&view["metrics"])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_playback() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = throttled(&h).await;
    h.finish_after("throttled_playback", r).await
}

async fn seeks_while_playing(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&autoplay=1&id=seeks&title=Seeks")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    wait_position(h, 1.5, Duration::from_secs(10)).await?;
    // Seek 1, alone.
    on_video(h, "v.currentTime = 5").await?;
    h.wait_js(
        "const s = window.vidpulseObserver.summary(); \
         return s.seekCount === 1 && !s.seeks[0].open && s.now - s.seeks[0].end >= 2300;",
        Duration::from_secs(10),
        "seek 1 to end, then 2.3 s of playback",
    )
    .await?;
    // Seek 2, then 300 ms after it resumed another: less than 2 s apart, one seek.
    on_video(h, "v.currentTime = 2").await?;
    h.wait_js(
        "const s = window.vidpulseObserver.summary(); \
         return s.seekCount === 2 && !s.seeks[1].open;",
        Duration::from_secs(10),
        "seek 2 to end",
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    on_video(h, "v.currentTime = 3.5").await?;
    h.wait_js(
        "const s = window.vidpulseObserver.summary(); \
         return s.seekCount === 2 && s.seeks[1].parts === 2 && !s.seeks[1].open && \
                s.currentTime >= 4.5;",
        Duration::from_secs(10),
        "the merged seek to end and playback to reach 4.5 s",
    )
    .await?;
    let (view, obs) = destroy_and_fetch(h, "seeks").await?;
    let m = &view["metrics"];
    report("seeks while playing (clip.mp4)", m, &obs);
    println!("  observer seeks: {}", obs["seeks"]);
    let mut acc = Accuracy::new("seeks_while_playing");
    acc.compare_keys(m, "startup_ms", &obs, "startupMs", LATENCY)?;
    acc.compare_keys(m, "rebuffer_count", &obs, "stallCount", Tolerance::Exact)?;
    acc.compare_keys(m, "watch_ms", &obs, "watchMs", Tolerance::Ms(100.0))?;
    acc.compare_keys(m, "playing_ms", &obs, "playedMs", PLAYING)?;
    acc.compare_keys(m, "seek_count", &obs, "seekCount", Tolerance::Exact)?;
    acc.compare_keys(m, "seek_ms", &obs, "seekMs", LATENCY)?;
    acc.compare_keys(m, "seek_max_ms", &obs, "seekMaxMs", LATENCY)?;
    acc.finish()?;
    ensure!(
        get_num(m, "seek_count")? == 2.0,
        "seek_count {}, expected 2 (the last two seeks merge)",
        m["seek_count"]
    );
    ensure!(m["error"].is_null(), "unexpected error: {}", pretty(&view));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_while_playing() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = seeks_while_playing(&h).await;
    h.finish_after("seek_while_playing", r).await
}

async fn pause_resume(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&autoplay=1&id=pauses&title=Pauses")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    wait_position(h, 1.5, Duration::from_secs(10)).await?;
    on_video(h, "v.pause()").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    on_video(h, "v.play()").await?;
    wait_position(h, 3.0, Duration::from_secs(10)).await?;
    on_video(h, "v.pause()").await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    on_video(h, "v.play()").await?;
    wait_position(h, 4.5, Duration::from_secs(10)).await?;
    let (view, obs) = destroy_and_fetch(h, "pauses").await?;
    let m = &view["metrics"];
    report("pause 1.5 s, pause 1 s (clip.mp4)", m, &obs);
    let mut acc = Accuracy::new("pause_and_resume");
    compare_playback(&mut acc, m, &obs)?;
    acc.compare_keys(m, "pause_count", &obs, "pauseCount", Tolerance::Exact)?;
    acc.note("observer_paused_ms", obs["pausedMs"].clone());
    acc.finish()?;
    ensure!(
        get_num(m, "pause_count")? == 2.0,
        "pause_count {}, expected 2",
        m["pause_count"]
    );
    let wall = get_num(&obs, "now")? - get_num(&obs, "playIntentAt")?;
    ensure!(
        get_num(m, "watch_ms")? <= wall - 2300.0,
        "watch_ms {} includes the 2.5 s of pauses (play intent to destroy: {wall:.0} ms)",
        m["watch_ms"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = pause_resume(&h).await;
    h.finish_after("pause_and_resume", r).await
}

async fn pause_and_seek(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&autoplay=1&id=seek&title=Seek")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    wait_position(h, 2.0, Duration::from_secs(10)).await?;
    on_video(h, "v.pause()").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Seek while paused, then resume: the seek's waiting is seek latency, not rebuffering,
    // and the pause is neither watch time nor playing time.
    on_video(h, "v.currentTime = 8; v.play()").await?;
    wait_position(h, 10.0, Duration::from_secs(10)).await?;
    let (view, obs) = destroy_and_fetch(h, "seek").await?;
    let m = &view["metrics"];
    report("pause 1.5 s + seek to 8 s while paused (clip.mp4)", m, &obs);
    let mut acc = Accuracy::new("pause_then_seek_while_paused");
    compare_playback(&mut acc, m, &obs)?;
    acc.compare_keys(m, "pause_count", &obs, "pauseCount", Tolerance::Exact)?;
    acc.compare_keys(m, "seek_count", &obs, "seekCount", Tolerance::Exact)?;
    acc.compare_keys(m, "seek_ms", &obs, "seekMs", LATENCY)?;
    acc.finish()?;
    ensure!(
        get_num(m, "rebuffer_count")? == 0.0,
        "the seek or the pause was counted as rebuffering: {}",
        pretty(&view)
    );
    ensure!(
        m["startup_invalid"].as_bool() != Some(true),
        "a pause after the first frame invalidated startup: {}",
        pretty(&view)
    );
    ensure!(
        get_num(m, "seek_count")? == 1.0 && get_num(m, "pause_count")? == 1.0,
        "expected one seek and one pause: {}",
        pretty(&view)
    );
    ensure!(m["error"].is_null(), "unexpected error: {}", pretty(&view));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_seek_are_not_rebuffering() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = pause_and_seek(&h).await;
    h.finish_after("pause_and_seek_are_not_rebuffering", r)
        .await
}

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

async fn broken_source(h: &Harness, src: &str, id: &str) -> Result<()> {
    h.open_demo(&format!("src={src}&autoplay=1&id={id}&title={id}"))
        .await?;
    h.wait_js(
        "return window.vidpulseObserver.error !== null;",
        Duration::from_secs(15),
        "the media element's error (observer)",
    )
    .await
    .with_context(|| format!("source {src}"))?;
    // The fatal error is sent at once, before destroy().
    h.wait_views(Duration::from_secs(10), "the error beacon", |vs| {
        view_for(vs, id)
            .iter()
            .any(|v| !v["metrics"]["error"].is_null())
    })
    .await?;
    let (view, obs) = destroy_and_fetch(h, id).await?;
    let m = &view["metrics"];
    report(&format!("broken source {src}"), m, &obs);
    let mut acc = Accuracy::new(&format!("error_{id}"));
    let code = get_num(&m["error"], "code")?;
    ensure!(
        (1.0..=4.0).contains(&code),
        "error code {code} is not a MediaError code: {}",
        pretty(&view)
    );
    acc.compare(
        "error.code",
        code,
        get_num(&obs["error"], "code")?,
        Tolerance::Exact,
    );
    // A corrupt tail may play a few seconds before the decoder fails: compare with the
    // observer instead of assuming the error came first.
    let observed_before = obs["firstFrameAt"].is_null();
    ensure!(
        m["error"]["before_first_frame"].as_bool() == Some(observed_before),
        "error.before_first_frame should be {observed_before} (observer): {}",
        pretty(&view)
    );
    ensure!(
        m["first_frame"].as_bool().unwrap_or(false) != observed_before,
        "first_frame disagrees with the observer (first frame seen: {}): {}",
        !observed_before,
        pretty(&view)
    );
    if observed_before {
        ensure!(
            m["startup_ms"].is_null(),
            "a source that never showed a frame has a startup time: {}",
            pretty(&view)
        );
    } else {
        acc.compare_keys(m, "startup_ms", &obs, "startupMs", LATENCY)?;
        acc.compare_keys(m, "rebuffer_count", &obs, "stallCount", Tolerance::Exact)?;
    }
    acc.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_sources() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = async {
        broken_source(&h, "/media/does-not-exist.mp4", "missing").await?;
        broken_source(&h, "/media/corrupt.mp4", "corrupt").await
    }
    .await;
    h.finish_after("broken_sources", r).await
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

/// Fails on any SEVERE browser console entry; prints them all.
fn no_console_errors(log: &[Value], when: &str) -> Result<()> {
    for entry in log {
        println!(
            "  console ({when}): {} {}",
            entry["level"], entry["message"]
        );
    }
    let severe: Vec<Value> = log
        .iter()
        .filter(|e| e["level"].as_str() == Some("SEVERE"))
        .cloned()
        .collect();
    ensure!(
        severe.is_empty(),
        "the demo page logged errors {when}: {}",
        pretty(&Value::Array(severe))
    );
    Ok(())
}

async fn console_clean(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.webm&autoplay=1&id=console&title=%3Cb%3Ebold%3C%2Fb%3E")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    // The snapshot table is rendered (4×/s) and beacons reached the page's log.
    h.wait_js(
        "const rows = [...document.querySelectorAll('#snapshot tbody tr')]; \
         const r = rows.find(tr => tr.cells[0].textContent === 'startup_ms'); \
         return !!r && r.cells[1].textContent !== '—' && \
                window.vidpulseDemo.beacons.length > 0 && \
                document.querySelectorAll('#beacons tbody tr').length > 0;",
        Duration::from_secs(10),
        "the snapshot table and the beacon log to show data",
    )
    .await?;
    // The title came from the URL: it must show as text, never as markup.
    let title = h
        .js("const el = document.getElementById('video-title'); \
             return { text: el.textContent, elements: el.children.length };")
        .await?;
    ensure!(
        title["text"].as_str() == Some("<b>bold</b> (console)") && title["elements"] == 0,
        "the title from the URL was not rendered as plain text: {title}"
    );
    h.js("window.vidpulseDemo.handle.flush(); return null;")
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    no_console_errors(&h.console_log().await?, "while playing")?;
    destroy_and_fetch(h, "console").await?;
    no_console_errors(&h.console_log().await?, "after destroy()")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_without_console_errors() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = console_clean(&h).await;
    h.finish_after("demo_page_without_console_errors", r).await
}
