//! `cargo xtask bench browser`: the in-browser cost of the plugin's `timeupdate`
//! handling, in headless Chromium, written to `target/bench/browser.json`.
//!
//! Why it exists: the plugin runs on every viewer's page; its per-event cost must stay
//! far below a frame. `performance.now()` ticks in 100 µs in a normal Chromium page and
//! in 5 µs in a cross-origin isolated one, so this bench serves its page
//! (`tests/bench/bench.html`) from its own tiny loopback server with COOP + COEP headers
//! (the collector, which serves the plugin and the media over CORS, is not changed), and
//! measures two ways (see the page): bracketing listeners around the plugin's listener
//! on each real `timeupdate` of a throttled playback, and N synthetic `timeupdate`
//! events on the monitored element minus an unmonitored baseline. Ignored by default:
//! the xtask runs it (release build) with `--ignored`.
//!
//! Environment: `VIDPULSE_BENCH_SECS` (playback length, default 60),
//! `VIDPULSE_BENCH_OUT` (output file, default `target/bench/browser.json`),
//! `VIDPULSE_BENCH_SPACED_GAP_MS` (gap of the spaced synthetic events, default 300).

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vidpulse_e2e::{workspace_dir, Harness, BROWSER_LOCK};

/// Synthetic events per round.
const SYNTHETIC_N: u32 = 20_000;
/// Spaced synthetic events (diagnostic).
const SPACED_N: u32 = 40;
/// The throttled source: 1.5 Mbit/s media at 75 KB/s, so a 60 s run plays and stalls
/// but never reaches the end (the synthetic rounds need a playing element).
const SRC: &str = "/media/clip-hq.mp4?rate=75000&burst=400000";

/// Serves `html` at `/` with COOP + COEP (cross-origin isolation), and passes every
/// other GET (the plugin, the media, with its `Range`) through to the collector, adding
/// the same headers. Stops when dropped.
struct IsolatedPage {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

const ISOLATION: &str = "Cross-Origin-Opener-Policy: same-origin\r\n\
                         Cross-Origin-Embedder-Policy: require-corp\r\n\
                         Cross-Origin-Resource-Policy: same-origin\r\n";

impl IsolatedPage {
    async fn serve(html: String, collector: String) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let http = reqwest::Client::new();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (html, collector, http) = (html.clone(), collector.clone(), http.clone());
                tokio::spawn(async move {
                    let _ = handle(sock, &html, &collector, &http).await;
                });
            }
        });
        Ok(Self { port, task })
    }
}

async fn handle(
    mut sock: tokio::net::TcpStream,
    html: &str,
    collector: &str,
    http: &reqwest::Client,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        ensure!(buf.len() < 16384, "request head too large");
        let n = sock.read(&mut chunk).await?;
        ensure!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let range = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("range"))
        .map(|(_, v)| v.trim().to_string());
    if target == "/" || target.starts_with("/?") {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n{ISOLATION}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            html.len()
        );
        sock.write_all(head.as_bytes()).await?;
        sock.write_all(html.as_bytes()).await?;
        return Ok(sock.shutdown().await?);
    }
    let mut req = http.get(format!("{collector}{target}"));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let mut resp = req.send().await?;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        resp.status().as_u16(),
        resp.status().canonical_reason().unwrap_or("")
    );
    for name in [
        "content-type",
        "content-length",
        "content-range",
        "accept-ranges",
    ] {
        if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            out.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    out.push_str(ISOLATION);
    out.push_str("Connection: close\r\n\r\n");
    sock.write_all(out.as_bytes()).await?;
    while let Some(bytes) = resp.chunk().await? {
        sock.write_all(&bytes).await?;
    }
    Ok(sock.shutdown().await?)
}

impl Drop for IsolatedPage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn run(h: &Harness, secs: u64) -> Result<Value> {
    let html = std::fs::read_to_string(workspace_dir().join("tests/bench/bench.html"))
        .context("reading tests/bench/bench.html")?;
    let page = IsolatedPage::serve(html, h.base.clone()).await?;
    let src = SRC;
    let url = format!(
        "http://127.0.0.1:{}/?collector={}&src={}&n={SYNTHETIC_N}",
        page.port,
        encode(&h.base),
        encode(src)
    );
    h.client().goto(&url).await?;
    let state = h
        .wait_js(
            "const b = window.vidpulseBench; \
             return b && (b.ready || b.error) ? { ready: b.ready, error: b.error, \
               isolated: b.crossOriginIsolated } : null;",
            Duration::from_secs(20),
            "the bench page to start playback",
        )
        .await?;
    if let Some(e) = state["error"].as_str() {
        bail!("the bench page failed: {e}");
    }
    println!("bench page ready: {state}; playing {SRC} for {secs} s");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(10).min(Duration::from_secs(secs))).await;
        let p = h
            .js("const v = document.getElementById('v'); \
                 return [v.currentTime, v.readyState, window.vidpulseBench.real.length];")
            .await?;
        println!(
            "  {:>4.0} s: currentTime, readyState, events = {p}",
            t0.elapsed().as_secs_f64()
        );
    }
    // Diagnostic: synthetic events spaced like real ones (one per 300 ms).
    let gap: u64 = std::env::var("VIDPULSE_BENCH_SPACED_GAP_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    h.js(&format!(
        "window.vidpulseBench.startSpaced({SPACED_N}, {gap}); return null;"
    ))
    .await?;
    tokio::time::sleep(Duration::from_millis(gap * SPACED_N as u64 + 500)).await;
    let raw = h
        .js("return window.vidpulseBench.finish();")
        .await
        .context("running the synthetic rounds")?;

    // Real events: per event, (bracket around the plugin) − (bracket around nothing).
    let real = raw["real"].as_array().context("no real samples")?;
    let mut diffs: Vec<f64> = real
        .iter()
        .filter_map(|r| Some((r[0].as_f64()? - r[1].as_f64()?) * 1000.0))
        .collect();
    ensure!(
        diffs.len() >= 20,
        "only {} real timeupdate events were measured",
        diffs.len()
    );
    diffs.sort_by(f64::total_cmp);
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let playing_events = real.iter().filter(|r| r[3] == 0).count();

    // Synthetic: per round (plugin − baseline) / N, median over rounds.
    let rounds = raw["rounds"].as_array().context("no synthetic rounds")?;
    let mut per_event: Vec<f64> = rounds
        .iter()
        .filter_map(|r| {
            Some(
                (r["plugin_ms"].as_f64()? - r["baseline_ms"].as_f64()?) * 1000.0
                    / SYNTHETIC_N as f64,
            )
        })
        .collect();
    per_event.sort_by(f64::total_cmp);
    let synthetic = quantile(&per_event, 0.5);
    let mut spaced: Vec<f64> = raw["spaced"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| Some((r[0].as_f64()? - r[1].as_f64()?) * 1000.0))
                .collect()
        })
        .unwrap_or_default();
    spaced.sort_by(f64::total_cmp);
    let spaced_mean = spaced.iter().sum::<f64>() / spaced.len().max(1) as f64;
    let resolution = raw["resolution_us"].as_f64().unwrap_or(f64::NAN);

    Ok(json!({
        "browser_us_per_timeupdate_median": round3(quantile(&diffs, 0.5)),
        "browser_us_per_timeupdate_mean": round3(mean),
        "browser_us_per_timeupdate_p90": round3(quantile(&diffs, 0.9)),
        "browser_us_per_timeupdate_max": round3(*diffs.last().unwrap_or(&f64::NAN)),
        "browser_us_per_timeupdate_synthetic": round3(synthetic),
        "browser_us_per_timeupdate_spaced_synthetic_median": round3(quantile(&spaced, 0.5)),
        "browser_us_per_timeupdate_spaced_synthetic_mean": round3(spaced_mean),
        "goal_us": 5,
        "methods": {
            "browser_us_per_timeupdate_median": "real timeupdate events of the playback: per event, (time between a listener registered before monitor() and one registered after it) minus (time between two adjacent listeners registered after those, same event); median over events. Quantised to the timer resolution, so the mean is the finer estimate.",
            "browser_us_per_timeupdate_mean": "same samples as the median, mean over events (timer quantisation averages out)",
            "browser_us_per_timeupdate_p90": "same samples, 90th percentile",
            "browser_us_per_timeupdate_spaced_synthetic_median": "diagnostic: one untrusted `timeupdate` every 300 ms (VIDPULSE_BENCH_SPACED_GAP_MS) (own task each, after the playback), time of the dispatch on the monitored element minus on the baseline element; median (and _mean) over events",
            "browser_us_per_timeupdate_synthetic": "N untrusted `timeupdate` events dispatched in a loop on the monitored element (after the playback, not paused), minus the same on an unmonitored element with identical bracket listeners (disabled), divided by N; median over rounds (baseline and plugin alternate)",
        },
        "real_events": diffs.len(),
        "real_events_while_not_paused": playing_events,
        "synthetic_n": SYNTHETIC_N,
        "spaced_synthetic_gap_ms": gap,
        "synthetic_rounds_us_per_event": per_event.iter().map(|x| round3(*x)).collect::<Vec<_>>(),
        "synthetic_rounds_raw_ms": raw["rounds"],
        "synthetic_element_state": raw["state"],
        "timer_resolution_us": round3(resolution),
        "cross_origin_isolated": raw["cross_origin_isolated"],
        "playback": {
            "seconds": secs,
            "src": SRC,
            "plugin_snapshot_at_end": raw["snapshot"],
        },
        "user_agent": raw["user_agent"],
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (60 s of playback): run it with `cargo xtask bench browser`"]
async fn browser_timeupdate_cost() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let secs: u64 = std::env::var("VIDPULSE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let out = std::env::var_os("VIDPULSE_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/bench/browser.json"));
    let h = Harness::start().await?;
    let result = run(&h, secs).await;
    let report = match &result {
        Ok(v) => Some(v.clone()),
        Err(_) => None,
    };
    h.finish_after("browser_timeupdate_cost", result.map(drop))
        .await?;
    let report = report.context("no report")?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    println!("browser bench -> {}", out.display());
    Ok(())
}
