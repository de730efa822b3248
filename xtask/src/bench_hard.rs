//! The long hardening runs.
//!
//! - `cargo xtask bench crash`: the crash test (`collector/tests/crash.rs`) in
//!   release with 20 SIGKILLs under load → `target/bench/crash.json`.
//! - `cargo xtask bench soak [--minutes N]`: a release collector on a free
//!   loopback port; first its maximum ingest rate (32 keep-alive connections
//!   back to back, 15 s), then N minutes (default 10) paced at half that rate.
//!   Latency is measured from each request's *scheduled* send time (no
//!   coordinated omission); every minute records requests, errors, p50/p99/max
//!   and the collector's RSS (`/proc/PID/status`) → `target/bench/soak.json`.
//!   Beacons are heartbeats: each view gets 6 growing snapshots, then a new
//!   view starts, so the store grows as in production.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::loadgen::{now_ms, pct, start_collector, Conn};
use crate::util::{self, Workspace};

/// `cargo xtask bench crash`.
pub fn crash(ws: &Workspace) -> Result<()> {
    let out = ws.target.join("bench").join("crash.json");
    std::fs::create_dir_all(out.parent().context("no parent")?)?;
    util::run(
        util::cargo_cmd(&ws.root)
            .args([
                "test",
                "--release",
                "-p",
                "vidpulse-collector",
                "--test",
                "crash",
            ])
            .env("VIDPULSE_CRASH_KILLS", "20")
            .env("VIDPULSE_CRASH_OUT", &out),
    )?;
    println!("{}", std::fs::read_to_string(&out)?);
    Ok(())
}

const CONNECTIONS: usize = 32;
const BEACONS: usize = 10;

/// Request `n` of worker `w`: 10 beacons, each view 6 heartbeats long.
fn batch(w: usize, n: usize, t0: u64) -> Vec<u8> {
    let seq = (n % 6) as u64;
    let beacons: Vec<Value> = (0..BEACONS)
        .map(|i| {
            json!({
                "view_id": format!("s{w}-{}-{i}", n / 6), "seq": seq, "reason": "interval",
                "started_at_ms": t0 + (n / 6) as u64 * 10, "at_ms": seq * 10_000, "plugin_version": "soak",
                "video": {"id": format!("video-{}", (n + i) % 50), "src": "https://cdn.example/v.mp4"},
                "context": {"page_host": "soak.example"},
                "metrics": {"startup_ms": 200 + (i as u64 * 37) % 800, "first_frame": true,
                            "watch_ms": seq * 10_000, "playing_ms": seq * 9_000},
            })
        })
        .collect();
    serde_json::to_vec(&json!({"v": 1, "property": "soak", "viewer_id": format!("viewer-{w}-{}", n % 100), "beacons": beacons}))
        .unwrap_or_default()
}

fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// `cargo xtask bench soak [--minutes N]`.
pub fn soak(ws: &Workspace, args: &[String]) -> Result<()> {
    let minutes: u64 = match args {
        [] => 10,
        [flag, n] if flag == "--minutes" => n.parse().context("--minutes N")?,
        _ => bail!("usage: cargo xtask bench soak [--minutes N]"),
    };
    util::run(util::cargo_cmd(&ws.root).args([
        "build",
        "--release",
        "-p",
        "vidpulse-collector",
        "--bin",
        "vidpulse-collector",
    ]))?;
    let dir = ws.target.join("bench/soak-data");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (proc, addr, _) = start_collector(
        &ws.target.join("release/vidpulse-collector"),
        &dir.join("soak.redb"),
    )?;
    let pid = proc.0.id();
    let t0 = now_ms() - 3_600_000;

    // 1. Maximum rate.
    let counter = Arc::new(Mutex::new(0usize));
    let phase = Duration::from_secs(15);
    let started = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let hs: Vec<_> = (0..CONNECTIONS)
            .map(|w| {
                let counter = counter.clone();
                s.spawn(move || -> Result<()> {
                    let mut c = Conn::open(addr)?;
                    let mut n = 0;
                    while started.elapsed() < phase {
                        if c.post(&batch(w + 1000, n, t0))? != 200 {
                            bail!("max-rate request refused");
                        }
                        n += 1;
                    }
                    *counter.lock().unwrap_or_else(|p| p.into_inner()) += n;
                    Ok(())
                })
            })
            .collect();
        for h in hs {
            h.join()
                .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
        }
        Ok(())
    })?;
    let max_rps =
        *counter.lock().unwrap_or_else(|p| p.into_inner()) as f64 / started.elapsed().as_secs_f64();
    let target_rps = max_rps / 2.0;
    println!("max ingest: {max_rps:.0} requests/s ({BEACONS} beacons each); soaking at {target_rps:.0}/s for {minutes} min");

    // 2. Soak, paced, latency from the scheduled time.
    let interval = Duration::from_secs_f64(CONNECTIONS as f64 / target_rps);
    let samples: Arc<Mutex<Vec<(u64, f64, bool)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let total = Duration::from_secs(minutes * 60);
    let mut per_minute = Vec::new();
    std::thread::scope(|s| -> Result<()> {
        for w in 0..CONNECTIONS {
            let (samples, stop) = (samples.clone(), stop.clone());
            s.spawn(move || {
                let Ok(mut c) = Conn::open(addr) else { return };
                // Spread the workers over one interval.
                let offset = interval.mul_f64(w as f64 / CONNECTIONS as f64);
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let due = offset + interval.mul_f64(n as f64);
                    if due > total {
                        break;
                    }
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let ok = matches!(c.post(&batch(w, n, t0)), Ok(200));
                    if !ok {
                        c = match Conn::open(addr) {
                            Ok(c) => c,
                            Err(_) => return,
                        };
                    }
                    let lat = start.elapsed().saturating_sub(due).as_secs_f64() * 1000.0;
                    let minute = due.as_secs() / 60;
                    samples
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((minute, lat, ok));
                    n += 1;
                }
            });
        }
        for m in 0..minutes {
            let end = Duration::from_secs((m + 1) * 60);
            if let Some(wait) = end.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            let rss = rss_mb(pid);
            // Let the minute's last requests finish before summarising it.
            std::thread::sleep(Duration::from_millis(500));
            let mut lat: Vec<f64> = Vec::new();
            let mut errors = 0;
            samples
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|&(minute, l, ok)| {
                    if minute == m {
                        lat.push(l);
                        errors += usize::from(!ok);
                        false
                    } else {
                        true
                    }
                });
            lat.sort_by(f64::total_cmp);
            let row = json!({
                "minute": m + 1, "requests": lat.len(), "errors": errors,
                "rps": lat.len() as f64 / 60.0,
                "p50_ms": pct(&lat, 50.0), "p99_ms": pct(&lat, 99.0),
                "max_ms": lat.last().copied().unwrap_or(f64::NAN), "rss_mb": rss,
            });
            println!("{row}");
            per_minute.push(row);
        }
        stop.store(true, Ordering::Relaxed);
        Ok(())
    })?;
    let db_bytes = std::fs::metadata(dir.join("soak.redb")).map_or(0, |m| m.len());
    drop(proc);
    let col = |k: &str| -> Vec<f64> { per_minute.iter().filter_map(|r| r[k].as_f64()).collect() };
    let (rss, p99) = (col("rss_mb"), col("p99_ms"));
    let after_warmup = |v: &[f64]| v.get(1..).map(<[f64]>::to_vec).unwrap_or_default();
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let (rss_lo, rss_hi) = spread(&after_warmup(&rss));
    let (p99_lo, p99_hi) = spread(&after_warmup(&p99));
    let doc = json!({
        "command": format!("cargo xtask bench soak --minutes {minutes}"),
        "connections": CONNECTIONS, "beacons_per_request": BEACONS,
        "max_requests_per_s": max_rps, "target_requests_per_s": target_rps,
        "minutes": per_minute,
        "rss_mb_min_after_minute_1": rss_lo, "rss_mb_max_after_minute_1": rss_hi,
        "p99_ms_min_after_minute_1": p99_lo, "p99_ms_max_after_minute_1": p99_hi,
        "database_bytes_at_end": db_bytes,
    });
    let out = ws.target.join("bench/soak.json");
    util::write_atomic(&out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    let _ = std::fs::remove_dir_all(&dir);
    println!("wrote {}", out.display());
    Ok(())
}
