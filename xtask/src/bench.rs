//! `cargo xtask bench collector`: a release collector on a free loopback port,
//! driven from this process (a separate one) by a small blocking HTTP/1.1
//! keep-alive client, one thread per connection. Every phase is bounded in
//! requests and time; only 127.0.0.1 is contacted. Results go to
//! `target/bench/collector.json`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::util::{self, Workspace};

/// Concurrent connections of the load phases.
const CONNECTIONS: usize = 32;
/// Most requests per phase.
const MAX_REQUESTS: usize = 20_000;
/// Longest a phase may run.
const MAX_PHASE: Duration = Duration::from_secs(20);
/// Beacons per ingest request.
const BEACONS_PER_BATCH: usize = 10;

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::new(s),
        })
    }

    /// Sends one request, returns (status, body).
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = self.reader.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse()?;
                }
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}

fn batch(seq: usize, worker: usize, started_at: u64) -> Vec<u8> {
    let beacons: Vec<Value> = (0..BEACONS_PER_BATCH)
        .map(|i| {
            json!({
                "view_id": format!("w{worker}-r{seq}-{i}"), "seq": 1, "reason": "interval",
                "started_at_ms": started_at - (seq as u64 % 600) * 1000, "at_ms": 10_000, "plugin_version": "bench",
                "video": {"id": format!("video-{}", (seq + i) % 50), "src": "https://cdn.example/v.mp4"},
                "context": {"page_host": "bench.example"},
                "metrics": {"startup_ms": 200 + (i as u64 * 37 + seq as u64) % 800, "first_frame": true,
                            "watch_ms": 10_000, "playing_ms": 9_000, "rebuffer_count": 1, "rebuffer_ms": 500, "rebuffer_max_ms": 500},
            })
        })
        .collect();
    serde_json::to_vec(&json!({"v": 1, "property": "bench", "viewer_id": format!("viewer-{worker}-{}", seq % 100), "beacons": beacons}))
        .unwrap()
}

/// Runs `make(worker, i) -> (method, path, body)` on every connection until the
/// request or time budget is spent; returns (requests/s, sorted latencies ms).
fn phase(
    addr: SocketAddr,
    make: impl Fn(usize, usize) -> (&'static str, String, Vec<u8>) + Sync,
) -> Result<(f64, Vec<f64>)> {
    let started = Instant::now();
    let per_worker = MAX_REQUESTS / CONNECTIONS;
    let results: Vec<Result<Vec<f64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONNECTIONS)
            .map(|w| {
                let make = &make;
                scope.spawn(move || {
                    let mut conn = Conn::open(addr)?;
                    let mut lat = Vec::with_capacity(per_worker);
                    for i in 0..per_worker {
                        if started.elapsed() > MAX_PHASE {
                            break;
                        }
                        let (m, p, b) = make(w, i);
                        let t = Instant::now();
                        let (status, body) = conn.request(m, &p, &b)?;
                        if status != 200 {
                            bail!("{m} {p}: {status} {}", String::from_utf8_lossy(&body));
                        }
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("load thread"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    all.sort_by(f64::total_cmp);
    Ok((all.len() as f64 / elapsed, all))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1]
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn peak_rss(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo xtask bench collector`.
pub fn run(ws: &Workspace) -> Result<()> {
    util::run(util::cargo_cmd(&ws.root).args([
        "build",
        "--release",
        "-p",
        "vidpulse-collector",
        "--bin",
        "vidpulse-collector",
    ]))?;
    let bin = ws.target.join("release/vidpulse-collector");
    let dir = ws.target.join("bench/collector-data");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("bench.redb");
    let addr: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?
    };
    let child = Command::new(&bin)
        .args(["--listen", &addr.to_string(), "--data"])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let collector = Collector(child);
    wait_ready(addr)?;
    let result = measure(addr, &data, &collector)?;
    drop(collector);
    let out = ws.target.join("bench/collector.json");
    util::write_atomic(&out, serde_json::to_string_pretty(&result)?.as_bytes())?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    println!("xtask: wrote {}", out.display());
    Ok(())
}

fn wait_ready(addr: SocketAddr) -> Result<()> {
    for _ in 0..100 {
        if let Ok(mut c) = Conn::open(addr) {
            if matches!(c.request("GET", "/healthz", b""), Ok((200, _))) {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("collector did not come up on {addr}")
}

fn measure(addr: SocketAddr, data: &Path, collector: &Collector) -> Result<Value> {
    let (noop_rps, _) = phase(addr, |_, _| ("GET", "/healthz".into(), Vec::new()))?;
    let t0 = now_ms();
    let (ingest_rps, lat) = phase(addr, |w, i| ("POST", "/v1/beacons".into(), batch(i, w, t0)))?;
    let views = lat.len() * BEACONS_PER_BATCH;
    // Freshness: a new view's first beacon until /v1/kpis counts it.
    let mut c = Conn::open(addr)?;
    let kpi_path = format!("/v1/kpis?from={}&to={}", t0 - 3_600_000, now_ms() + 60_000);
    let count = |c: &mut Conn| -> Result<u64> {
        let (_, b) = c.request("GET", &kpi_path, b"")?;
        let v: Value = serde_json::from_slice(&b)?;
        Ok(v["totals"]["views"].as_u64().unwrap_or(0))
    };
    let before = count(&mut c)?;
    let sent = Instant::now();
    c.request("POST", "/v1/beacons", &batch(999_999, 999, t0))?;
    while count(&mut c)? < before + BEACONS_PER_BATCH as u64 {
        if sent.elapsed() > Duration::from_secs(10) {
            bail!("freshness: new views not visible after 10 s");
        }
    }
    let freshness_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let (_, kpi_lat) = phase(addr, |_, i| {
        let path = if i % 2 == 0 {
            kpi_path.clone()
        } else {
            format!("{kpi_path}&group_by=browser")
        };
        ("GET", path, Vec::new())
    })?;
    let disk = std::fs::metadata(data)?.len();
    Ok(json!({
        "ingest_beacons_per_s": ingest_rps * BEACONS_PER_BATCH as f64,
        "ingest_requests_per_s": ingest_rps,
        "beacons_per_request": BEACONS_PER_BATCH,
        "noop_requests_per_s": noop_rps,
        "ingest_p50_ms": pct(&lat, 50.0),
        "ingest_p99_ms": pct(&lat, 99.0),
        "kpi_query_p95_ms_1m": null,
        "kpi_query_p95_ms_10m": null,
        "kpi_query_p95_ms_loaded": pct(&kpi_lat, 95.0),
        "views_loaded": views,
        "freshness_ms": freshness_ms,
        "disk_bytes_per_view": disk as f64 / views.max(1) as f64,
        "peak_rss_bytes": peak_rss(&collector.0),
        "connections": CONNECTIONS,
        "notes": "kpi_query_p95_ms_1m/_10m need a seeded store (not done); kpi_query_p95_ms_loaded is over views_loaded views in the last hour",
    }))
}
