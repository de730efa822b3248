//! Integrations in headless Chromium: why it exists.
//!
//! Players like hls.js and video.js know what the `<video>` element cannot tell: the
//! bitrate of the rendition they chose, and their own fatal errors. These scenarios
//! play the ffmpeg-made HLS stream (`target/media/hls/`, three renditions) through
//! the integration pages (`web-demo/integrations/`) and check what the collector
//! stored: the player's name, the renditions with the bitrates and sizes of the
//! master playlist, a startup time, no error. A last scenario loads the drop-in
//! script (`/v1/plugin.js`) on a page and checks that every `video[data-vidpulse]`,
//! also one added later, reaches the collector.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use vidpulse_e2e::{ended, pretty, view_for, Harness, Paths, BROWSER_LOCK};

/// One variant of the master playlist: (BANDWIDTH, width, height).
type Variant = (u64, u32, u32);

/// The variants `target/media/hls/master.m3u8` declares (what the players read).
fn master_variants() -> Result<BTreeSet<Variant>> {
    let path = Paths::from_env().media.join("hls/master.m3u8");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `cargo xtask clips`)", path.display()))?;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            continue;
        };
        let attr = |name: &str| {
            attrs
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .map(str::to_string)
        };
        let bandwidth: u64 = attr("BANDWIDTH").context("BANDWIDTH")?.parse()?;
        let res = attr("RESOLUTION").context("RESOLUTION")?;
        let (w, h) = res.split_once('x').context("RESOLUTION is WxH")?;
        out.insert((bandwidth, w.parse()?, h.parse()?));
    }
    ensure!(
        out.len() >= 2,
        "{} declares {} variants",
        path.display(),
        out.len()
    );
    Ok(out)
}

/// Opens an integration page and waits until it is ready (failing on its error).
async fn open(h: &Harness, path: &str) -> Result<()> {
    let url = h.page_url(path);
    h.client()
        .goto(&url)
        .await
        .with_context(|| format!("navigating to {url}"))?;
    let state = h
        .wait_js(
            "const s = window.vidpulseIntegration; \
             return s && (s.ready || s.error) ? { ready: s.ready, error: s.error } : null;",
            Duration::from_secs(20),
            "the integration page to start",
        )
        .await?;
    if let Some(e) = state["error"].as_str() {
        bail!("{url}: {e}");
    }
    Ok(())
}

/// What the page saw: renditions reported, errors, its log of player events.
async fn page_report(h: &Harness) -> String {
    match h
        .js("const s = window.vidpulseIntegration; \
             return { renditions: s.renditions, errors: s.errors, log: s.log, levels: s.levels };")
        .await
    {
        Ok(v) => pretty(&v),
        Err(e) => format!("(page state unavailable: {e})"),
    }
}

/// Plays the stream, pins each rendition the player did not pick, ends the view and
/// checks the stored view against the master playlist: every rendition on its
/// timeline is a variant (bitrate and size), and both pinned ones are there.
async fn play_through(h: &Harness, page: &str, id: &str, player: &str) -> Result<()> {
    let variants = master_variants()?;
    open(
        h,
        &format!("integrations/{page}?autoplay=1&interval=2000&id={id}"),
    )
    .await?;
    let video = "window.vidpulseIntegration.handle && document.querySelector('video')";
    // Play a few seconds at the rendition the player picked.
    let played = h
        .wait_js(
            &format!(
                "const v = {video}; const s = window.vidpulseIntegration; \
                 return v && v.currentTime >= 3 && s.renditions.length > 0;"
            ),
            Duration::from_secs(30),
            "3 s of playback and a first rendition report",
        )
        .await;
    if let Err(e) = played {
        bail!("{e:#}; page: {}", page_report(h).await);
    }
    // Then pin each other rendition in turn and play until it is on screen: two
    // switches during the view, whatever the player picked before play intent.
    let current = h
        .js("const r = window.vidpulseIntegration.renditions; return r[r.length - 1].height;")
        .await?
        .as_u64()
        .context("last rendition height")?;
    let targets: Vec<u64> = variants
        .iter()
        .map(|v| u64::from(v.2))
        .filter(|&hgt| hgt != current)
        .collect();
    for &target in &targets {
        h.js(&format!(
            "window.vidpulseIntegration.switchTo({target}); return null;"
        ))
        .await?;
        let shown = h
            .wait_js(
                &format!(
                    "const v = document.querySelector('video'); \
                     return v.videoHeight === {target} && !v.paused ? v.currentTime : null;"
                ),
                Duration::from_secs(20),
                &format!("the pinned {target}p rendition on screen"),
            )
            .await;
        if let Err(e) = shown {
            bail!("{e:#}; page: {}", page_report(h).await);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = page_report(h).await;
    println!("[{player}] page: {seen}");
    h.js("window.vidpulseIntegration.handle.destroy(); return null;")
        .await?;

    let views = h
        .wait_views(Duration::from_secs(15), "the ended view", |vs| {
            view_for(vs, id).iter().any(|v| ended(v))
        })
        .await?;
    let mine = view_for(&views, id);
    ensure!(
        mine.len() == 1,
        "one view for {id}: {}",
        pretty(&Value::Array(views.clone()))
    );
    let view_id = mine[0]["view_id"].as_str().context("view_id")?.to_string();
    let detail: Value = h
        .http
        .get(format!("{}/v1/views/{view_id}", h.base))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let beacon = &detail["beacon"];
    let m = &beacon["metrics"];
    let context = format!("stored view: {}\npage: {seen}", pretty(&detail));
    ensure!(
        beacon["context"]["player_name"] == player,
        "player_name is not {player}; {context}"
    );
    ensure!(
        m["startup_ms"].as_f64().is_some_and(|s| s > 0.0),
        "no startup time; {context}"
    );
    ensure!(m["error"].is_null(), "an error was stored; {context}");
    ensure!(
        m["rendition_changes"].as_u64().unwrap_or(0) >= 1,
        "no rendition change counted; {context}"
    );
    let reported: Vec<Variant> = detail["events"]
        .as_array()
        .context("events")?
        .iter()
        .filter(|e| e["kind"] == "rendition" && !e["bitrate"].is_null())
        .map(|e| {
            Some((
                e["bitrate"].as_u64()?,
                e["width"].as_u64()? as u32,
                e["height"].as_u64()? as u32,
            ))
        })
        .collect::<Option<_>>()
        .context("rendition events with numbers")?;
    for r in &reported {
        ensure!(
            variants.contains(r),
            "rendition {r:?} is not a variant of the master playlist {variants:?}; {context}"
        );
    }
    let distinct: BTreeSet<_> = reported.iter().collect();
    ensure!(
        distinct.len() >= 2,
        "expected at least two renditions with bitrates on the timeline, got {reported:?}; {context}"
    );
    for target in targets {
        ensure!(
            reported.iter().any(|r| u64::from(r.2) == target),
            "the pinned {target}p rendition is not on the timeline: {reported:?}; {context}"
        );
    }
    println!("[{player}] stored renditions (bitrate, w, h): {reported:?} of {variants:?}");
    Ok(())
}

async fn scenario(name: &str, f: impl AsyncFnOnce(&Harness) -> Result<()>) -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let result = f(&h).await;
    h.finish_after(name, result).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hlsjs_reports_renditions_with_playlist_bitrates() -> Result<()> {
    scenario("hlsjs_renditions", async |h| {
        play_through(h, "hls.html", "hlsjs-1", "hls.js").await
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videojs_reports_renditions_with_playlist_bitrates() -> Result<()> {
    scenario("videojs_renditions", async |h| {
        play_through(h, "videojs.html", "videojs-1", "video.js").await
    })
    .await
}

/// `currentTime` of the `<video>` with `data-vidpulse-id="{id}"` (null while absent).
fn position_of(id: &str) -> String {
    format!(
        "const v = document.querySelector('video[data-vidpulse-id=\"{id}\"]'); \
         return v ? v.currentTime : null;"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropin_script_monitors_every_marked_video_including_later_ones() -> Result<()> {
    scenario("dropin_script", async |h| {
        let url = h.page_url("integrations/dropin.html");
        h.client().goto(&url).await?;
        // The first video is in the HTML and autoplays, maybe before the script runs.
        h.wait_js(
            &format!(
                "const t = (() => {{ {} }})(); return t !== null && t >= 2;",
                position_of("dropin-1")
            ),
            Duration::from_secs(20),
            "the first video to play 2 s",
        )
        .await?;
        let first = h
            .wait_views(Duration::from_secs(15), "the first video's view", |vs| {
                !view_for(vs, "dropin-1").is_empty()
            })
            .await?;
        ensure!(
            view_for(&first, "dropin-2").is_empty(),
            "no second video yet"
        );
        // A video added to the DOM later is picked up too.
        let added = h.js("return window.vidpulseDropin.add();").await?;
        ensure!(added == "dropin-2", "added {added}");
        h.wait_js(
            &format!(
                "const t = (() => {{ {} }})(); return t !== null && t >= 2;",
                position_of("dropin-2")
            ),
            Duration::from_secs(20),
            "the added video to play 2 s",
        )
        .await?;
        // Removing them from the page ends both views (final beacons).
        h.js("window.vidpulseDropin.removeAll(); return null;")
            .await?;
        let views = h
            .wait_views(Duration::from_secs(15), "both views ended", |vs| {
                ["dropin-1", "dropin-2"]
                    .iter()
                    .all(|id| view_for(vs, id).iter().any(|v| ended(v)))
            })
            .await?;
        for id in ["dropin-1", "dropin-2"] {
            let mine = view_for(&views, id);
            ensure!(
                mine.len() == 1,
                "one view of {id}: {}",
                pretty(&Value::Array(views.clone()))
            );
            let v = mine[0];
            ensure!(
                v["property"] == "dropin-demo",
                "property of {id}: {}",
                pretty(v)
            );
            ensure!(
                v["metrics"]["startup_ms"].as_f64().is_some_and(|s| s > 0.0)
                    && v["metrics"]["playing_ms"]
                        .as_f64()
                        .is_some_and(|p| p >= 1500.0),
                "{id} played: {}",
                pretty(v)
            );
            ensure!(v["metrics"]["error"].is_null(), "{id} error: {}", pretty(v));
        }
        Ok(())
    })
    .await
}
