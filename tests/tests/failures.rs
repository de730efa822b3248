//! Browser end-to-end tests, failures: broken sources (404, corrupt file) recorded as
//! playback failures, and the demo page loading without browser console errors.
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
    get_num, pretty, view_for, Accuracy, Harness, Tolerance, BROWSER_LOCK, LATENCY,
};

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
