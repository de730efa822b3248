//! `cargo xtask bench plugin`: what vidpulse and mux-embed send per minute of steady
//! playback, side by side, in headless Chromium: why it exists.
//!
//! Every viewer pays for the plugin's traffic. The page `integrations/compare.html`
//! attaches both to one `<video>` playing one clip; each sends to its own counting
//! sink on loopback (a minimal HTTP/1.1 server in this file that records each
//! request's head and body): vidpulse's sink forwards to the real collector (so the
//! plugin sees real answers), mux-embed's (`beaconCollectionDomain: localhost:PORT`,
//! which mux-embed turns into `http://`) answers 200. Counted: requests (CORS
//! preflights separately) and bytes: the request body, and the body plus the
//! request line and headers as the browser sent them. Only requests that arrive in
//! the measurement window (after a warm-up, so the view start's burst is excluded)
//! count toward the per-minute figures; totals include everything. The captured
//! vidpulse bodies are then gzip-compressed in the page with `CompressionStream`, to
//! tell whether compressing beacons would pay. Ignored by default: the xtask runs it
//! and adds the script weights.
//!
//! Environment: `VIDPULSE_BENCH_SECS` (window, default 150), `VIDPULSE_BENCH_WARMUP_SECS`
//! (default 15), `VIDPULSE_BENCH_OUT` (default `target/bench/plugin-traffic.json`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vidpulse_e2e::{workspace_dir, Harness, BROWSER_LOCK};

/// One request the sink received.
#[derive(Clone)]
struct Seen {
    at: Instant,
    method: String,
    head_bytes: usize,
    body: Vec<u8>,
}

/// A counting HTTP/1.1 sink (keep-alive, `Content-Length` bodies), optionally
/// forwarding POSTs to `forward`.
struct Sink {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start(forward: Option<String>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, http) = (seen.clone(), reqwest::Client::new());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (s, http, fwd) = (s.clone(), http.clone(), forward.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, s, http, fwd).await;
                });
            }
        });
        Ok(Self { port, seen, task })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("sink lock").clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const CORS: &str = "Access-Control-Allow-Origin: *\r\n\
                    Access-Control-Allow-Methods: POST, GET, OPTIONS\r\n\
                    Access-Control-Allow-Headers: content-type\r\n";

async fn serve(
    mut sock: TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
    http: reqwest::Client,
    forward: Option<String>,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        // One request: the head, then `Content-Length` bytes of body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            ensure!(buf.len() < 65536, "request head too large");
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or("/").to_string();
        let header = |name: &str| {
            head.split("\r\n")
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        ensure!(
            header("transfer-encoding").is_none(),
            "chunked request bodies are not supported by the sink"
        );
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let n = sock.read(&mut chunk).await?;
            ensure!(n > 0, "connection closed mid-body");
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        seen.lock().expect("sink lock").push(Seen {
            at: Instant::now(),
            method: method.clone(),
            head_bytes: head_end,
            body: body.clone(),
        });
        let (status, answer) = match (method.as_str(), &forward) {
            ("OPTIONS", _) => (204, String::new()),
            ("POST", Some(base)) => {
                let resp = http
                    .post(format!("{base}{path}"))
                    .header(
                        "content-type",
                        header("content-type").unwrap_or_else(|| "text/plain".into()),
                    )
                    .body(body)
                    .send()
                    .await?;
                (resp.status().as_u16(), resp.text().await?)
            }
            ("POST", None) => (200, "{}".to_string()),
            _ => (404, String::new()),
        };
        let out = format!(
            "HTTP/1.1 {status} X\r\n{CORS}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: keep-alive\r\n\r\n{answer}",
            answer.len()
        );
        sock.write_all(out.as_bytes()).await?;
    }
}

/// Counts over the requests in `[from, to)` and in total.
fn figures(seen: &[Seen], from: Instant, to: Instant, secs: f64) -> Value {
    let posts = |w: bool| {
        seen.iter()
            .filter(move |s| s.method == "POST" && (!w || (s.at >= from && s.at < to)))
    };
    let per_min = |x: usize| (x as f64 * 60.0 / secs * 10.0).round() / 10.0;
    let window: Vec<&Seen> = posts(true).collect();
    let body: usize = window.iter().map(|s| s.body.len()).sum();
    let head: usize = window.iter().map(|s| s.head_bytes).sum();
    json!({
        "requests_per_min": per_min(window.len()),
        "bytes_per_min": per_min(body),
        "bytes_with_headers_per_min": per_min(body + head),
        "window_requests": window.len(),
        "window_body_bytes": body,
        "window_head_bytes": head,
        "mean_body_bytes": if window.is_empty() { 0 } else { body / window.len() },
        "total_requests": posts(false).count(),
        "total_body_bytes": posts(false).map(|s| s.body.len()).sum::<usize>(),
        "preflights": seen.iter().filter(|s| s.method == "OPTIONS").count(),
    })
}

/// Sizes of `bodies` raw and gzip-compressed by the browser's `CompressionStream`.
async fn browser_gzip(h: &Harness, bodies: &[String]) -> Result<Value> {
    let v = h
        .client()
        .execute(
            "const bodies = arguments[0]; let raw = 0, gz = 0; \
             for (const b of bodies) { \
               const bytes = new TextEncoder().encode(b); raw += bytes.length; \
               const s = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip')); \
               gz += (await new Response(s).arrayBuffer()).byteLength; } \
             return { bodies: bodies.length, raw_bytes: raw, gzip_bytes: gz };",
            vec![json!(bodies)],
        )
        .await?;
    Ok(v)
}

async fn run(h: &Harness, secs: u64, warmup: u64) -> Result<Value> {
    let ours = Sink::start(Some(h.base.clone())).await?;
    let mux = Sink::start(None).await?;
    let collector = format!("http://127.0.0.1:{}", ours.port);
    let url = h.page_url(&format!(
        "integrations/compare.html?collector={}&mux=localhost:{}",
        collector.replace(':', "%3A").replace('/', "%2F"),
        mux.port
    ));
    h.client().goto(&url).await?;
    let state = h
        .wait_js(
            "const s = window.vidpulseIntegration; \
             return s && (s.ready || s.error) ? { ready: s.ready, error: s.error } : null;",
            Duration::from_secs(30),
            "the compare page to start playback",
        )
        .await?;
    if let Some(e) = state["error"].as_str() {
        bail!("{url}: {e}");
    }
    println!("bench plugin: playing; warm-up {warmup} s, then a {secs} s window");
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let to = Instant::now();
    let window = (to - from).as_secs_f64();
    let playback = h
        .js("const v = document.getElementById('video'); \
             return { currentTime: v.currentTime, paused: v.paused, ended: v.ended, \
                      snapshot: window.vidpulseIntegration.handle.snapshot() };")
        .await?;
    ensure!(
        playback["ended"] == false && playback["paused"] == false,
        "playback was not steady to the end of the window: {playback}"
    );
    let (ours_seen, mux_seen) = (ours.seen(), mux.seen());
    let vidpulse = figures(&ours_seen, from, to, window);
    let mux_fig = figures(&mux_seen, from, to, window);
    let bodies = |seen: &[Seen]| -> Vec<String> {
        seen.iter()
            .filter(|s| s.method == "POST")
            .map(|s| String::from_utf8_lossy(&s.body).into_owned())
            .collect()
    };
    let ours_gzip = browser_gzip(h, &bodies(&ours_seen)).await?;
    let mux_gzip = browser_gzip(h, &bodies(&mux_seen)).await?;
    let sample = ours_seen
        .iter()
        .rev()
        .find(|s| s.method == "POST" && s.at < to)
        .map(|s| String::from_utf8_lossy(&s.body).into_owned());
    Ok(json!({
        "bytes_per_min": vidpulse["bytes_per_min"],
        "mux_bytes_per_min": mux_fig["bytes_per_min"],
        "requests_per_min": vidpulse["requests_per_min"],
        "mux_requests_per_min": mux_fig["requests_per_min"],
        "bytes_with_headers_per_min": vidpulse["bytes_with_headers_per_min"],
        "mux_bytes_with_headers_per_min": mux_fig["bytes_with_headers_per_min"],
        "vidpulse": vidpulse,
        "mux": mux_fig,
        "beacon_compression": {
            "vidpulse": ours_gzip,
            "mux": mux_gzip,
            "method": "every POST body of the run, each compressed on its own in the page with CompressionStream('gzip') (what the plugin would use); raw vs compressed sums",
        },
        "window_secs": (window * 10.0).round() / 10.0,
        "warmup_secs": warmup,
        "playback_at_end": playback,
        "sample_vidpulse_body": sample,
        "what_counts": "bytes_per_min: request bodies only (the beacon JSON as sent, text/plain); bytes_with_headers_per_min: body + request line + request headers as the browser sent them over HTTP/1.1 (loopback, so no TLS or TCP/IP overhead; a real origin adds cookies-free but longer host names). Requests: POSTs; CORS preflights are listed apart (none expected: both send text/plain). Per-minute figures count only requests received in the window after the warm-up.",
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (minutes of playback): run it with `cargo xtask bench plugin`"]
async fn plugin_traffic_vs_mux() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (secs, warmup) = (
        env("VIDPULSE_BENCH_SECS", 150),
        env("VIDPULSE_BENCH_WARMUP_SECS", 15),
    );
    let out = std::env::var_os("VIDPULSE_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/bench/plugin-traffic.json"));
    let h = Harness::start().await?;
    let result = run(&h, secs, warmup).await;
    let report = result.as_ref().ok().cloned();
    h.finish_after("plugin_traffic_vs_mux", result.map(drop))
        .await?;
    let report = report.context("no report")?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    println!("plugin traffic bench -> {}", out.display());
    Ok(())
}
