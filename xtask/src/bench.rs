//! `cargo xtask bench collector`: a release collector on a free loopback port,
//! driven from this process (a separate one) by a small blocking HTTP/1.1
//! keep-alive client, one thread per connection. Every phase is bounded in
//! requests and time; only 127.0.0.1 is contacted. Results go to
//! `target/bench/collector.json`.
//!
//! KPI queries at scale: `vidpulse-seed` (collector/src/bin) writes N synthetic
//! views spread over 30 days straight through the writer's code in large
//! transactions, not over HTTP (that would take hours), once: the file is kept
//! in `target/bench/seed/` and reused while its summary JSON sits beside it.
//! A collector is then started on it and queried over loopback HTTP. Scales:
//! `VIDPULSE_BENCH_SCALES` (comma-separated view counts, default `1000000`;
//! add `10000000` for 10 M: about 17 GB of disk and half an hour of seeding on
//! 2 shared cores; `none` skips every seeded store). Without 10 M, its density
//! is approximated by 1 M views packed into 3 days
//! (`kpi_query_p95_ms_10m_density_3d`).
//!
//! Ingest load: each request carries [`BEACONS_PER_BATCH`] beacons, each the
//! first of a new view (the costliest case: every rollup row and sketch is
//! touched); `ingest_beacons_per_s` counts beacons, `ingest_requests_per_s`
//! requests, and the ratio to the no-op handler is given both ways.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::loadgen::{now_ms, pct, start_collector, Collector, Conn};
use crate::util::{self, Workspace};

/// Concurrent connections of the load phases.
const CONNECTIONS: usize = 32;
/// Most requests per phase.
const MAX_REQUESTS: usize = 20_000;
/// Longest a phase may run.
const MAX_PHASE: Duration = Duration::from_secs(20);
/// Beacons per ingest request.
const BEACONS_PER_BATCH: usize = 10;
/// Concurrent connections of the KPI query phases on seeded stores (a few
/// dashboards at once; latency, not queueing behind 32 clients on 2 cores).
const QUERY_CONNECTIONS: usize = 4;
/// Most requests of one KPI query phase on a seeded store.
const QUERY_REQUESTS: usize = 2_000;
const DAY_MS: u64 = 86_400_000;

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
    phase_with(addr, CONNECTIONS, MAX_REQUESTS, make)
}

fn phase_with(
    addr: SocketAddr,
    connections: usize,
    max_requests: usize,
    make: impl Fn(usize, usize) -> (&'static str, String, Vec<u8>) + Sync,
) -> Result<(f64, Vec<f64>)> {
    let started = Instant::now();
    let per_worker = max_requests / connections;
    let results: Vec<Result<Vec<f64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
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

fn peak_rss(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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
        "--bin",
        "vidpulse-seed",
    ]))?;
    let bin = ws.target.join("release/vidpulse-collector");
    let dir = ws.target.join("bench/collector-data");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("bench.redb");
    let (collector, addr, _) = start_collector(&bin, &data)?;
    let mut result = measure(addr, &data, &collector)?;
    drop(collector);
    let _ = std::fs::remove_dir_all(&dir);

    let scales = std::env::var("VIDPULSE_BENCH_SCALES").unwrap_or_else(|_| "1000000".into());
    let skip_seeded = scales.trim() == "none";
    let mut runs: Vec<(u64, u64, String)> = Vec::new();
    for n in scales
        .split(',')
        .filter(|s| !s.trim().is_empty() && !skip_seeded)
    {
        let n: u64 = n.trim().parse().context("VIDPULSE_BENCH_SCALES")?;
        let key = match n {
            1_000_000 => "kpi_query_p95_ms_1m".to_owned(),
            10_000_000 => "kpi_query_p95_ms_10m".to_owned(),
            n => format!("kpi_query_p95_ms_{n}"),
        };
        runs.push((n, 30, key));
    }
    // 10 M views over 30 days is 231 views a minute: 1 M views over 3 days has
    // the same density, so every rollup row it reads is as large as at 10 M.
    // Measured for real at 10 M, the proxy is not needed (nor its disk).
    if !skip_seeded && !runs.iter().any(|r| r.0 == 10_000_000) {
        runs.push((1_000_000, 3, "kpi_query_p95_ms_10m_density_3d".into()));
    }
    let obj = result.as_object_mut().context("result")?;
    for (views, days, key) in runs {
        let seeded = seed(ws, views, days)?;
        let (collector, addr, ready_s) = start_collector(&bin, &seeded.path)?;
        let opened = seeded_queries(addr, seeded.end_ms, days)?;
        let rss = peak_rss(&collector.0);
        drop(collector);
        println!("xtask: {key}: {}", serde_json::to_string(&opened)?);
        obj.insert(key.clone(), opened["p95_ms"].clone());
        obj.insert(
            format!("{key}_detail"),
            json!({
                "views": views,
                "days": days,
                "seed_seconds": seeded.seconds,
                "seed_views_per_s": views as f64 / seeded.seconds,
                "file_bytes": seeded.file_bytes,
                "file_bytes_per_view": seeded.file_bytes as f64 / views as f64,
                "queries": opened,
                "peak_rss_bytes": rss,
                "collector_ready_s": ready_s,
            }),
        );
    }
    let out = ws.target.join("bench/collector.json");
    util::write_atomic(&out, serde_json::to_string_pretty(&result)?.as_bytes())?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    println!("xtask: wrote {}", out.display());
    Ok(())
}

struct Seeded {
    path: std::path::PathBuf,
    end_ms: u64,
    seconds: f64,
    file_bytes: u64,
}

/// A store of `views` synthetic views over `days` days, made once by
/// `vidpulse-seed` and reused (its summary sits beside it).
fn seed(ws: &Workspace, views: u64, days: u64) -> Result<Seeded> {
    let dir = ws.target.join("bench/seed");
    std::fs::create_dir_all(&dir)?;
    let name = if days == 30 {
        format!("seed-{views}")
    } else {
        format!("seed-{views}-{days}d")
    };
    let path = dir.join(format!("{name}.redb"));
    let summary = dir.join(format!("{name}.json"));
    let text = match std::fs::read_to_string(&summary) {
        Ok(t) if path.exists() => t,
        _ => {
            let _ = std::fs::remove_file(&path);
            println!(
                "xtask: seeding {views} views over {days} days into {}",
                path.display()
            );
            let out = Command::new(ws.target.join("release/vidpulse-seed"))
                .arg("--data")
                .arg(&path)
                .args(["--views", &views.to_string(), "--days", &days.to_string()])
                .stderr(Stdio::inherit())
                .output()
                .context("running vidpulse-seed")?;
            if !out.status.success() {
                bail!("vidpulse-seed failed: {}", out.status);
            }
            let t = String::from_utf8(out.stdout)?;
            util::write_atomic(&summary, t.as_bytes())?;
            t
        }
    };
    let v: Value = serde_json::from_str(text.trim())?;
    Ok(Seeded {
        path,
        end_ms: v["end_ms"].as_u64().context("end_ms")?,
        seconds: v["seconds"].as_f64().context("seconds")?,
        file_bytes: v["file_bytes"].as_u64().context("file_bytes")?,
    })
}

/// KPI queries over the whole seeded range: the overview and a breakdown by
/// browser, alternating, on [`QUERY_CONNECTIONS`] connections.
fn seeded_queries(addr: SocketAddr, end_ms: u64, days: u64) -> Result<Value> {
    let overview = format!("/v1/kpis?from={}&to={end_ms}", end_ms - days * DAY_MS);
    let grouped = format!("{overview}&group_by=browser");
    let mut c = Conn::open(addr)?;
    let first = Instant::now();
    let (status, body) = c.request("GET", &overview, b"")?;
    if status != 200 {
        bail!("{overview}: {status} {}", String::from_utf8_lossy(&body));
    }
    let first_ms = first.elapsed().as_secs_f64() * 1000.0;
    let v: Value = serde_json::from_slice(&body)?;
    let views = v["totals"]["views"].as_u64().unwrap_or(0);
    let (_, lat) = phase_with(addr, QUERY_CONNECTIONS, QUERY_REQUESTS, |w, i| {
        let path = if (w + i) % 2 == 0 {
            &overview
        } else {
            &grouped
        };
        ("GET", path.clone(), Vec::new())
    })?;
    let (_, lat_overview) = phase_with(addr, 1, 200, |_, _| ("GET", overview.clone(), Vec::new()))?;
    let (_, lat_grouped) = phase_with(addr, 1, 200, |_, _| ("GET", grouped.clone(), Vec::new()))?;
    Ok(json!({
        "p95_ms": pct(&lat, 95.0),
        "p50_ms": pct(&lat, 50.0),
        "first_query_ms": first_ms,
        "views_counted": views,
        "requests": lat.len(),
        "connections": QUERY_CONNECTIONS,
        "overview_p95_ms_1conn": pct(&lat_overview, 95.0),
        "group_by_browser_p95_ms_1conn": pct(&lat_grouped, 95.0),
    }))
}

fn measure(addr: SocketAddr, data: &Path, collector: &Collector) -> Result<Value> {
    let (noop_rps, _) = phase(addr, |_, _| ("GET", "/healthz".into(), Vec::new()))?;
    let t0 = now_ms();
    let (ingest_rps, lat) = phase(addr, |w, i| ("POST", "/v1/beacons".into(), batch(i, w, t0)))?;
    let views = lat.len() * BEACONS_PER_BATCH;
    let ingest_secs = lat.len() as f64 / ingest_rps;
    // The writer's own account: how full each group commit was, how busy it was.
    let writer = {
        let mut c = Conn::open(addr)?;
        let (_, body) = c.request("GET", "/metrics", b"")?;
        let text = String::from_utf8_lossy(&body).into_owned();
        let metric = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(f64::NAN)
        };
        let commits = metric("vidpulse_commits_total");
        let busy = metric("vidpulse_commit_seconds_sum");
        json!({
            "commits": commits,
            "requests_per_commit": metric("vidpulse_batches_committed_total") / commits,
            "ms_per_commit": busy * 1000.0 / commits,
            "busy_pct": busy * 100.0 / ingest_secs,
        })
    };
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
        "ingest_writer": writer,
        "ingest_vs_noop": {
            "beacons_per_s_over_noop_requests_per_s": ingest_rps * BEACONS_PER_BATCH as f64 / noop_rps,
            "requests_per_s_over_noop_requests_per_s": ingest_rps / noop_rps,
        },
        "kpi_query_p95_ms_1m": null,
        "kpi_query_p95_ms_10m": null,
        "kpi_query_p95_ms_loaded": pct(&kpi_lat, 95.0),
        "views_loaded": views,
        "freshness_ms": freshness_ms,
        "disk_bytes_per_view": disk as f64 / views.max(1) as f64,
        "peak_rss_bytes": peak_rss(&collector.0),
        "connections": CONNECTIONS,
        "notes": "kpi_query_p95_ms_loaded: over views_loaded views in the last hour, 32 connections; kpi_query_p95_ms_1m/_10m: 30-day overview and group_by=browser alternating on seeded stores (see *_detail), 4 connections; this machine has 2 cores, shared with whatever else runs",
    }))
}
