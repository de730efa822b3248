//! Browser end-to-end tests: why they exist.
//!
//! They play real media in headless Chromium through the demo page with the real wasm
//! plugin, end the view with `destroy()`, and check what the real collector STORED
//! (`GET /v1/views`) against the page's independent observer (`web-demo/observer.js`).
//! Scenarios: clean playback, throttled playback with rebuffering, broken sources (404,
//! corrupt file), pause + seek (neither is rebuffering), a source switch with the page's
//! button followed by leaving the page (two views; the last one delivered by
//! `pagehide`), and the demo page loading without console errors.
//!
//! The tests share the machine's two cores: each one takes `BROWSER_LOCK`, so they run
//! one at a time even though cargo starts them on parallel threads. Each prints the
//! plugin's numbers next to the observer's (`cargo test -p vidpulse-e2e -- --nocapture`).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use serde_json::Value;
use vidpulse_e2e::{get_num, Harness, BROWSER_LOCK};

/// The video id a stored view carries (`video.id`, tolerant of a flat `video_id`).
fn video_id(view: &Value) -> Option<&str> {
    view["video"]["id"]
        .as_str()
        .or_else(|| view["video_id"].as_str())
        .or_else(|| view["video"].as_str())
}

fn view_for<'a>(views: &'a [Value], id: &str) -> Vec<&'a Value> {
    views.iter().filter(|v| video_id(v) == Some(id)).collect()
}

fn ended(view: &Value) -> bool {
    view["metrics"]["view_ended"].as_bool() == Some(true)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Plugin numbers next to the observer's, for the closing note.
fn report(name: &str, m: &Value, obs: &Value) {
    let f = |v: &Value| match v.as_f64() {
        Some(x) => format!("{x:.0}"),
        None => v.to_string(),
    };
    println!("=== {name}");
    println!(
        "  startup_ms      plugin {:>8}   observer {:>8}",
        f(&m["startup_ms"]),
        f(&obs["startupMs"])
    );
    println!(
        "  rebuffer_count  plugin {:>8}   observer {:>8}",
        f(&m["rebuffer_count"]),
        f(&obs["stallCount"])
    );
    println!(
        "  rebuffer_ms     plugin {:>8}   observer {:>8}   (max {})",
        f(&m["rebuffer_ms"]),
        f(&obs["stallMs"]),
        f(&m["rebuffer_max_ms"])
    );
    println!(
        "  playing_ms      plugin {:>8}   observer {:>8}   (final currentTime {:.2} s)",
        f(&m["playing_ms"]),
        f(&obs["playedMs"]),
        obs["currentTime"].as_f64().unwrap_or(f64::NAN)
    );
    println!("  watch_ms        plugin {:>8}", f(&m["watch_ms"]));
    println!(
        "  error           plugin {}   observer {}",
        m["error"], obs["error"]
    );
    println!("  observer stalls {}", obs["stalls"]);
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

/// Destroys the handle and waits until the collector stored the view as ended.
async fn destroy_and_fetch(h: &Harness, id: &str) -> Result<(Value, Value)> {
    let obs = h.observe_and_destroy().await?;
    let views = h
        .wait_views(
            Duration::from_secs(10),
            "the final beacon (view_ended) to be stored",
            |vs| view_for(vs, id).iter().any(|v| ended(v)),
        )
        .await
        .with_context(|| format!("observer at destroy(): {}", pretty(&obs)))?;
    let mine = view_for(&views, id);
    ensure!(
        mine.len() == 1,
        "expected exactly one view for video {id}, got {}: {}",
        mine.len(),
        pretty(&Value::Array(views.clone()))
    );
    Ok((mine[0].clone(), obs))
}

async fn clean(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.webm&autoplay=1&id=clean&title=Clean&interval=2000")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    h.wait_js(
        "return document.getElementById('video').currentTime >= 6;",
        Duration::from_secs(20),
        "6 s of the clip to play",
    )
    .await?;
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
    let playing = get_num(m, "playing_ms")?;
    let played = get_num(&obs, "playedMs")?;
    ensure!(
        played > 4000.0,
        "observer saw only {played} ms played: {}",
        pretty(&obs)
    );
    ensure!(
        (playing - played).abs() <= 0.15 * played,
        "playing_ms {playing} is not within 15 % of the observed {played} ms"
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

async fn throttled(h: &Harness) -> Result<()> {
    // /media/clip-hq.mp4?rate=20000&burst=200000&delay_ms=1500, encoded as one parameter.
    let src = "%2Fmedia%2Fclip-hq.mp4%3Frate%3D20000%26burst%3D200000%26delay_ms%3D1500";
    h.open_demo(&format!(
        "src={src}&autoplay=1&id=throttled&title=Throttled"
    ))
    .await?;
    wait_first_frame(h, Duration::from_secs(20)).await?;
    // A stall after the first frame: ended and ≥ 250 ms, or still going after 1 s.
    h.wait_js(
        "const s = window.vidpulseObserver.summary(); \
         return s.stalls.some(x => x.open ? x.ms >= 1000 : x.ms >= 250);",
        Duration::from_secs(40),
        "a stall after the first frame (observer)",
    )
    .await?;
    // Prefer ending the view after a completed stall; carry on if it lasts too long.
    let _ = h
        .wait_js(
            "const s = window.vidpulseObserver.summary(); \
             return s.stalls.some(x => !x.open && x.ms >= 250) && !s.stalls.some(x => x.open);",
            Duration::from_secs(15),
            "the stall to end",
        )
        .await;
    let (view, obs) = destroy_and_fetch(h, "throttled").await?;
    let m = &view["metrics"];
    report(
        "throttled playback (clip-hq.mp4 at 20 KB/s, 1.5 s delay)",
        m,
        &obs,
    );

    let count = get_num(m, "rebuffer_count")?;
    let rebuffer = get_num(m, "rebuffer_ms")?;
    let startup = get_num(m, "startup_ms")?;
    let stall_ms = get_num(&obs, "stallMs")?;
    ensure!(count >= 1.0, "no rebuffer counted: {}", pretty(&view));
    ensure!(rebuffer > 0.0, "rebuffer_ms is 0: {}", pretty(&view));
    ensure!(
        startup >= 1400.0,
        "startup_ms {startup} < 1400: the 1.5 s wait before the first byte must be startup"
    );
    ensure!(
        rebuffer <= stall_ms + 500.0,
        "rebuffer_ms {rebuffer} exceeds the observed post-first-frame stalls {stall_ms} ms + 500 \
         (startup counted as rebuffering?)"
    );
    ensure!(m["error"].is_null(), "unexpected error: {}", pretty(&view));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_playback() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = throttled(&h).await;
    h.finish_after("throttled_playback", r).await
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
    let code = get_num(&m["error"], "code")?;
    ensure!(
        (1.0..=4.0).contains(&code),
        "error code {code} is not a MediaError code: {}",
        pretty(&view)
    );
    ensure!(
        Some(code) == obs["error"]["code"].as_f64(),
        "stored error code {code} differs from the element's {}",
        obs["error"]
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
    Ok(())
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

async fn switch_and_unload(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&autoplay=1&id=switch&title=Switch")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    let played_2s = "return document.getElementById('video').currentTime >= 2;";
    h.wait_js(played_2s, Duration::from_secs(10), "2 s of clip.mp4")
        .await?;
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
    h.wait_js(played_2s, Duration::from_secs(10), "2 s of clip.webm")
        .await?;
    let obs = h.observer().await?;
    // Leaving the page (no destroy()): pagehide must deliver the final beacon.
    h.client().goto("about:blank").await?;
    let views = h
        .wait_views(
            Duration::from_secs(10),
            "both views stored as ended (the second by pagehide)",
            |vs| view_for(vs, "switch").iter().filter(|v| ended(v)).count() >= 2,
        )
        .await
        .with_context(|| format!("observer before leaving: {}", pretty(&obs)))?;
    let mine = view_for(&views, "switch");
    ensure!(
        mine.len() == 2,
        "expected two views (one per source), got {}: {}",
        mine.len(),
        pretty(&Value::Array(views.clone()))
    );
    // Newest first: [clip.webm, clip.mp4].
    let src_of = |v: &Value| v["video"]["src"].as_str().unwrap_or("").to_string();
    for (view, clip) in [(mine[1], "/media/clip.mp4"), (mine[0], "/media/clip.webm")] {
        let m = &view["metrics"];
        println!(
            "=== source switch: {clip}: startup_ms {} playing_ms {} watch_ms {} reason {}",
            m["startup_ms"], m["playing_ms"], m["watch_ms"], view["reason"]
        );
        ensure!(
            src_of(view).is_empty() || src_of(view).ends_with(clip),
            "view for {clip} stored src {}",
            src_of(view)
        );
        ensure!(
            m["first_frame"].as_bool() == Some(true) && get_num(m, "playing_ms")? >= 1500.0,
            "the {clip} view did not record its playback: {}",
            pretty(view)
        );
        ensure!(m["error"].is_null(), "unexpected error: {}", pretty(view));
    }
    println!(
        "  observer: clip.webm startup {} ms, played {:.0} ms",
        obs["startupMs"],
        get_num(&obs, "playedMs")?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_switch_and_page_unload() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let r = switch_and_unload(&h).await;
    h.finish_after("source_switch_and_page_unload", r).await
}

async fn pause_and_seek(h: &Harness) -> Result<()> {
    h.open_demo("src=/media/clip.mp4&autoplay=1&id=seek&title=Seek")
        .await?;
    wait_first_frame(h, Duration::from_secs(10)).await?;
    h.wait_js(
        "return document.getElementById('video').currentTime >= 2;",
        Duration::from_secs(10),
        "2 s of clip.mp4",
    )
    .await?;
    h.js("document.getElementById('video').pause(); return null;")
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Seek while paused, then resume: the seek's waiting is seek latency, not rebuffering,
    // and the pause is neither watch time nor playing time.
    h.js("const v = document.getElementById('video'); v.currentTime = 8; v.play(); return null;")
        .await?;
    h.wait_js(
        "return document.getElementById('video').currentTime >= 10;",
        Duration::from_secs(10),
        "playback to reach 10 s after the seek",
    )
    .await?;
    let (view, obs) = destroy_and_fetch(h, "seek").await?;
    let m = &view["metrics"];
    report("pause 1.5 s + seek to 8 s (clip.mp4)", m, &obs);
    println!(
        "  pause_count {}  seek_count {}  seek_ms {}",
        m["pause_count"], m["seek_count"], m["seek_ms"]
    );
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
    let playing = get_num(m, "playing_ms")?;
    let played = get_num(&obs, "playedMs")?;
    ensure!(
        (playing - played).abs() <= 0.15 * played,
        "playing_ms {playing} is not within 15 % of the observed {played} ms"
    );
    let watch = get_num(m, "watch_ms")?;
    let wall = get_num(&obs, "now")? - get_num(&obs, "playIntentAt")?;
    ensure!(
        watch <= wall - 1000.0,
        "watch_ms {watch} includes the 1.5 s pause (play intent to destroy: {wall:.0} ms)"
    );
    if let Some(seeks) = m["seek_count"].as_f64() {
        ensure!(
            seeks == 1.0,
            "seek_count {seeks}, expected 1: {}",
            pretty(&view)
        );
    }
    if let Some(pauses) = m["pause_count"].as_f64() {
        ensure!(pauses >= 1.0, "pause_count {pauses}, expected ≥ 1");
    }
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
