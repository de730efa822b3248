//! Browser end-to-end tests, playback: clean playback; throttled playback with several
//! stalls (and a native replay of the recorded trace that must reproduce the stored
//! metrics exactly); seeks while playing (two merged); pause and resume; pause + seek
//! (neither is rebuffering).
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

use anyhow::{ensure, Context, Result};
use common::*;
use serde_json::Value;
use vidpulse_e2e::{
    get_num, pretty, view_for, Accuracy, Harness, Tolerance, BROWSER_LOCK, LATENCY, REBUFFER,
};
use vidpulse_plugin::engine::trace::{replay, Trace};

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
