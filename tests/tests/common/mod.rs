//! Helpers shared by the browser scenario files (`playback.rs`, `lifecycle.rs`,
//! `failures.rs`): waiting on the page, fetching what the collector stored, and the
//! comparisons every played view gets.
#![allow(dead_code)] // each test binary uses its own subset

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use vidpulse_e2e::{ended, pretty, view_for, Accuracy, Harness, Tolerance, LATENCY, REBUFFER};

/// Playing time: the plugin caps and quantises its increments, the observer sums
/// `currentTime` steps; they agree within 5 % or 150 ms.
pub const PLAYING: Tolerance = Tolerance::PctOrMs {
    pct: 5.0,
    ms: 150.0,
};

/// A path with a query string, encoded as the value of the demo page's `src` parameter.
pub fn src_param(src: &str) -> String {
    src.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('&', "%26")
        .replace('=', "%3D")
}

/// Plugin numbers next to the observer's (context beyond the compared metrics).
pub fn report(name: &str, m: &Value, obs: &Value) {
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
pub async fn wait_first_frame(h: &Harness, timeout: Duration) -> Result<()> {
    h.wait_js(
        "return window.vidpulseObserver.firstFrameAt !== null;",
        timeout,
        "the first frame (observer)",
    )
    .await
    .map(|_| ())
}

/// Waits until the element's playhead reached `secs`.
pub async fn wait_position(h: &Harness, secs: f64, timeout: Duration) -> Result<()> {
    h.wait_js(
        &format!("return document.getElementById('video').currentTime >= {secs};"),
        timeout,
        &format!("the playhead to reach {secs} s"),
    )
    .await
    .map(|_| ())
}

/// Runs `script` in the page (a statement on `v`, the video element).
pub async fn on_video(h: &Harness, script: &str) -> Result<()> {
    h.js(&format!(
        "const v = document.getElementById('video'); {script}; return null;"
    ))
    .await
    .map(drop)
}

/// Waits until the collector stored `id`'s view as ended and returns it (exactly one).
pub async fn fetch_ended(h: &Harness, id: &str, obs: &Value) -> Result<Value> {
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
pub async fn destroy_and_fetch(h: &Harness, id: &str) -> Result<(Value, Value)> {
    let obs = h.observe_and_destroy().await?;
    let view = fetch_ended(h, id, &obs).await?;
    Ok((view, obs))
}

/// The comparisons every played view gets: startup, rebuffering, watch and playing time.
pub fn compare_playback(acc: &mut Accuracy, m: &Value, obs: &Value) -> Result<()> {
    acc.compare_keys(m, "startup_ms", obs, "startupMs", LATENCY)?;
    acc.compare_keys(m, "rebuffer_count", obs, "stallCount", Tolerance::Exact)?;
    acc.compare_keys(m, "rebuffer_ms", obs, "stallMs", REBUFFER)?;
    acc.compare_keys(m, "watch_ms", obs, "watchMs", Tolerance::Ms(100.0))?;
    acc.compare_keys(m, "playing_ms", obs, "playedMs", PLAYING)?;
    Ok(())
}
