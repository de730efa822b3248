//! Crash safety: the collector binary runs as a child process under concurrent
//! load and is killed with SIGKILL at a random moment, again and again. After
//! each kill the file must pass `vidpulse-collector --check` (it opens, and
//! every rollup row equals a recomputation from the stored views) and, after
//! the restart, every beacon that got a 2xx must be there (its view stored
//! with at least that `seq`).
//!
//! `VIDPULSE_CRASH_KILLS` sets the number of kills (default 3 here;
//! `cargo xtask bench crash` runs 20 in release and sets `VIDPULSE_CRASH_OUT`
//! to write `target/bench/crash.json`).

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_vidpulse-collector");
/// Concurrent clients.
const CLIENTS: usize = 8;
/// Views per client (updated round after round with growing `seq`).
const VIEWS_PER_CLIENT: usize = 40;

/// Starts the collector on a free port; returns it and its address.
async fn start(data: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                return rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect::<String>();
            }
        }
        panic!("collector exited before listening");
    })
    .await
    .expect("collector did not start");
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// A beacon for view `j` of client `t` at sequence `seq`.
fn body(t: usize, j: usize, seq: u32) -> Vec<u8> {
    let s = u64::from(seq);
    let ended = seq % 7 == 6;
    serde_json::to_vec(&json!({
        "v": 1, "property": if t % 2 == 0 { "even" } else { "odd" }, "viewer_id": format!("viewer-{t}"),
        "beacons": [{
            "view_id": format!("c{t}-v{j}"), "seq": seq, "reason": if ended { "view_end" } else { "interval" },
            "started_at_ms": 1_700_000_000_000u64 + (t * 97 + j * 7_919) as u64 * 60_000, "at_ms": s * 1000,
            "plugin_version": "crash", "video": {"id": format!("video-{}", j % 5), "duration_ms": 60_000},
            "metrics": {"startup_ms": 100 + j as u64, "first_frame": j % 9 != 0, "watch_ms": s * 1000, "playing_ms": s * 900,
                        "rebuffer_count": seq / 3, "rebuffer_ms": s * 10, "rebuffer_max_ms": 10,
                        "coverage": format!("{:x}", (1u64 << (seq % 60 + 1)) - 1), "coverage_buckets": 60,
                        "view_ended": ended, "completed": ended && j % 2 == 0}
        }]
    }))
    .unwrap()
}

/// Highest acknowledged `seq` per view id.
type Acked = Arc<Mutex<HashMap<String, u32>>>;

/// Loads the collector from `CLIENTS` tasks until it dies; returns requests acked.
async fn load(addr: &str, seqs: &Arc<Mutex<HashMap<(usize, usize), u32>>>, acked: &Acked) -> usize {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let (client, seqs, acked) = (client.clone(), seqs.clone(), acked.clone());
            let url = format!("http://{addr}/v1/beacons");
            tokio::spawn(async move {
                let mut ok = 0;
                for n in 0usize.. {
                    let j = (n * 13 + t) % VIEWS_PER_CLIENT;
                    let seq = {
                        let mut s = seqs.lock().unwrap();
                        let e = s.entry((t, j)).or_insert(0);
                        *e += 1;
                        *e
                    };
                    let sent = client.post(&url).body(body(t, j, seq)).send().await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            ok += 1;
                            let mut a = acked.lock().unwrap();
                            let e = a.entry(format!("c{t}-v{j}")).or_insert(0);
                            *e = (*e).max(seq);
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => return ok, // killed
                    }
                }
                ok
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}

/// `vidpulse-collector --check` on the file: its JSON report.
async fn check(data: &Path) -> Value {
    let out = Command::new(BIN)
        .arg("--check")
        .arg("--data")
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|_| panic!("--check printed {stdout}"));
    assert!(out.status.success(), "--check failed: {report}");
    report
}

/// Every acknowledged beacon is stored (its view with at least that seq).
async fn verify(addr: &str, acked: &Acked) -> usize {
    let views: Vec<Value> = reqwest::get(format!("http://{addr}/v1/views?limit=1000&from=0"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: HashMap<&str, u64> = views
        .iter()
        .map(|v| (v["view_id"].as_str().unwrap(), v["seq"].as_u64().unwrap()))
        .collect();
    let acked = acked.lock().unwrap();
    for (view, seq) in acked.iter() {
        let have = stored.get(view.as_str()).copied();
        assert!(
            have.is_some_and(|s| s >= u64::from(*seq)),
            "view {view}: acknowledged seq {seq}, stored {have:?}"
        );
    }
    acked.len()
}

/// A small deterministic generator for the kill moments (seeded by the clock).
fn next_rand(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_beacon() {
    let kills: usize = std::env::var("VIDPULSE_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("crash.redb");
    let seqs = Arc::new(Mutex::new(HashMap::new()));
    let acked: Acked = Arc::default();
    let mut rng = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rounds = Vec::new();
    let started = Instant::now();
    for round in 0..kills {
        let t0 = Instant::now();
        let (mut child, addr) = start(&data).await;
        let restart_ms = t0.elapsed().as_millis() as u64;
        let verified = verify(&addr, &acked).await;
        let kill_after = Duration::from_millis(250 + next_rand(&mut rng) % 750);
        let loader = {
            let (addr, seqs, acked) = (addr.clone(), seqs.clone(), acked.clone());
            tokio::spawn(async move { load(&addr, &seqs, &acked).await })
        };
        tokio::time::sleep(kill_after).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        let acked_requests = loader.await.unwrap();
        let report = check(&data).await;
        assert_eq!(report["mismatch_count"], 0, "{report}");
        rounds.push(json!({
            "round": round, "restart_ms": restart_ms, "verified_views_before_load": verified,
            "kill_after_ms": kill_after.as_millis() as u64, "acked_requests": acked_requests,
            "views_after_kill": report["views"], "counter_rows_checked": report["counter_rows"],
            "retention_rows_checked": report["retention_rows"], "rollup_mismatches": report["mismatch_count"],
        }));
    }
    // The last kill, checked after one more restart.
    let (mut child, addr) = start(&data).await;
    let verified = verify(&addr, &acked).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let acked_total: u64 = rounds
        .iter()
        .map(|r| r["acked_requests"].as_u64().unwrap())
        .sum();
    assert!(
        acked_total > 0,
        "no request was acknowledged: the load never ran"
    );
    if let Ok(out) = std::env::var("VIDPULSE_CRASH_OUT") {
        let doc = json!({
            "kills": kills, "clients": CLIENTS, "acked_requests": acked_total,
            "views_verified_after_last_restart": verified, "lost_acknowledged_beacons": 0,
            "rollup_mismatches": 0, "seconds": started.elapsed().as_secs_f64(),
            "command": "cargo xtask bench crash", "rounds": rounds,
        });
        std::fs::write(out, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
}
