//! `vidpulse-seed`: fills a collector database with synthetic views, for
//! benchmarks at scale (`cargo xtask bench collector`).
//!
//! Loading millions of views over HTTP takes too long, so this goes through the
//! same code the writer uses ([`Apply`]) in large write transactions: every view
//! gets its record, indexes, timeline and rollup rows exactly as if its final
//! beacon had been posted. The data is deterministic (a seeded generator) and
//! spread evenly over the last `--days` days, in start order, with realistic
//! dimension cardinalities: 3 properties, 2,000 videos (one title each), 2
//! stream types, 4 players, 20 page hosts, 12 User-Agents (≈ 6 browsers, 6
//! OSes, 3 device types), 30 countries (skewed), 3 CDNs, one viewer per 4 views.
//!
//! ```text
//! vidpulse-seed --data FILE --views N [--days 30] [--per-txn 50000] [--end-ms T]
//! ```
//!
//! Prints one JSON line: views, seconds, views per second, file size.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use vidpulse_collector::apply::Apply;
use vidpulse_collector::store::{Received, Store};
use vidpulse_plugin::wire::{
    Batch, Beacon, NotableEvent, PlaybackError, Reason, StreamType, VideoMeta, ViewContext,
    ViewMetrics, WIRE_VERSION,
};

const DAY_MS: u64 = 86_400_000;

const USER_AGENTS: &[(&str, u32)] = &[
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", 30),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", 10),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", 3),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", 18),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", 15),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", 6),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", 5),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", 2),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0", 6),
    ("Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", 3),
    ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", 1),
    ("Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)", 1),
];

const COUNTRIES: &[&str] = &[
    "US", "DE", "GB", "FR", "BR", "IN", "JP", "CA", "ES", "IT", "MX", "NL", "PL", "SE", "AU", "KR",
    "TR", "AR", "CH", "BE", "AT", "NO", "DK", "FI", "PT", "IE", "CZ", "ZA", "NZ", "SG",
];

const PLAYERS: &[&str] = &["html5", "hls.js", "dash.js", "shaka"];
const CDNS: &[&str] = &["cdn-a.example", "cdn-b.example", "cdn-c.example"];

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Zipf-like pick: index `i` with weight 1 / (i + 1).
    fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        // Inverse of the continuous approximation of the harmonic CDF.
        (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
    }
    fn weighted(&mut self, weights: &[(&'static str, u32)]) -> &'static str {
        let total: u32 = weights.iter().map(|w| w.1).sum();
        let mut x = self.below(total.into()) as u32;
        for (v, w) in weights {
            if x < *w {
                return v;
            }
            x -= w;
        }
        weights[0].0
    }
}

struct Args {
    data: PathBuf,
    views: u64,
    days: u64,
    per_txn: u64,
    end_ms: u64,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        data: PathBuf::new(),
        views: 0,
        days: 30,
        per_txn: 50_000,
        end_ms: vidpulse_collector::now_ms(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(value()?),
            "--views" => args.views = value()?.parse()?,
            "--days" => args.days = value()?.parse()?,
            "--per-txn" => args.per_txn = value()?.parse()?,
            "--end-ms" => args.end_ms = value()?.parse()?,
            other => bail!("unknown flag {other}; usage: vidpulse-seed --data FILE --views N [--days 30] [--per-txn 50000] [--end-ms T]"),
        }
    }
    if args.data.as_os_str().is_empty() || args.views == 0 || args.days == 0 {
        bail!(
            "usage: vidpulse-seed --data FILE --views N [--days 30] [--per-txn 50000] [--end-ms T]"
        );
    }
    Ok(args)
}

/// View `i` of `n`: one final beacon, as the plugin would have sent it last.
fn view(rng: &mut Rng, i: u64, a: &Args) -> (Batch, Received) {
    let span = a.days * DAY_MS;
    let start = a.end_ms - span;
    let started_at_ms = start + i * span / a.views + rng.below((span / a.views).max(1));
    let video = rng.skewed(2000);
    let first_frame = rng.below(100) >= 4;
    let failed = rng.below(1000) < 12;
    let startup_ms = first_frame.then(|| {
        // Log-normal-ish: median ≈ 700 ms, long tail.
        let z = (rng.unit() + rng.unit() + rng.unit() - 1.5) * 2.0;
        (700.0 * (0.6 * z).exp()).clamp(50.0, 30_000.0) as u64
    });
    let duration_ms = 60_000 + (video as u64 % 40) * 30_000;
    let watch_ms = if first_frame {
        rng.below(duration_ms + 30_000)
    } else {
        rng.below(8_000)
    };
    let rebuffer_count = if rng.below(10) < 2 {
        1 + rng.below(4) as u32
    } else {
        0
    };
    let rebuffer_max_ms = if rebuffer_count > 0 {
        300 + rng.below(3_000)
    } else {
        0
    };
    let rebuffer_ms = rebuffer_max_ms * u64::from(rebuffer_count.min(2));
    let playing_ms = watch_ms.saturating_sub(rebuffer_ms + startup_ms.unwrap_or(0));
    let buckets = 100u16;
    let watched = (playing_ms * u64::from(buckets) / duration_ms).min(u64::from(buckets));
    // Coverage: the first `watched` buckets, as lowercase hex (bucket 0 lowest).
    let mut bits = vec![0u8; buckets as usize / 4];
    for b in 0..watched as usize {
        bits[b / 4] |= 1 << (b % 4);
    }
    let coverage: String = bits
        .iter()
        .rev()
        .map(|n| char::from_digit(u32::from(*n), 16).unwrap_or('0'))
        .collect();
    let completed = watched * 100 >= u64::from(buckets) * 95;
    let events: Vec<NotableEvent> = (0..rebuffer_count.min(3))
        .map(|k| NotableEvent::Stall {
            at_ms: 1_000 + u64::from(k) * 5_000,
            dur_ms: rebuffer_max_ms,
        })
        .collect();
    let metrics = ViewMetrics {
        startup_ms,
        first_frame,
        rebuffer_count,
        rebuffer_ms,
        rebuffer_max_ms,
        watch_ms,
        playing_ms,
        error: failed.then(|| PlaybackError {
            code: 4,
            message: "MEDIA_ERR_SRC_NOT_SUPPORTED".into(),
            before_first_frame: !first_frame,
        }),
        ended: completed,
        view_ended: true,
        seek_count: rng.below(3) as u32,
        seek_ms: rng.below(1_500),
        coverage: Some(coverage),
        coverage_buckets: buckets,
        max_position_ms: watched * duration_ms / u64::from(buckets),
        completed,
        mean_height: Some([360, 480, 720, 1080][rng.below(4) as usize]),
        upscale_permille: rng.below(300) as u32,
        dropped_frames: rng.below(50) as u32,
        total_frames: (playing_ms / 40) as u32,
        ..ViewMetrics::default()
    };
    let viewer = rng.below((a.views / 4).max(1));
    let property = ["news", "sports", "movies"][rng.skewed(3)];
    let beacon = Beacon {
        view_id: format!("seed-{i:010}"),
        seq: 3,
        reason: Reason::ViewEnd,
        started_at_ms,
        at_ms: watch_ms,
        plugin_version: "0.1.0".into(),
        same: false,
        video: VideoMeta {
            id: Some(format!("video-{video:04}")),
            title: Some(format!("Title {video:04}")),
            series: None,
            duration_ms: Some(duration_ms),
            stream_type: Some(if video % 20 == 0 {
                StreamType::Live
            } else {
                StreamType::OnDemand
            }),
            src: Some(format!(
                "https://{}/v/{video:04}/master.m3u8",
                CDNS[video % 3]
            )),
            cdn: None,
        },
        context: ViewContext {
            page_host: Some(format!("{property}-{}.example", rng.skewed(20))),
            page_path: Some(format!("/watch/{video:04}")),
            player_name: Some(PLAYERS[rng.skewed(4)].into()),
            player_version: Some("1.0.0".into()),
            autoplay: rng.below(4) == 0,
            experiment: None,
        },
        metrics,
        events,
    };
    let received = Received {
        user_agent: Some(rng.weighted(USER_AGENTS).to_owned()),
        country: Some(COUNTRIES[rng.skewed(COUNTRIES.len())].to_owned()),
        now_ms: started_at_ms + watch_ms,
    };
    let batch = Batch {
        v: WIRE_VERSION,
        property: property.into(),
        viewer_id: format!("viewer-{viewer:08}"),
        cookieless: false,
        beacons: vec![beacon],
        d: Vec::new(),
    };
    (batch, received)
}

fn main() -> Result<()> {
    let a = parse_args()?;
    let store = Store::open_with_cache(&a.data, 256 << 20)
        .with_context(|| format!("opening {}", a.data.display()))?;
    let started = Instant::now();
    let mut rng = Rng(0x5EED);
    let mut done = 0u64;
    let mut changes = Vec::new();
    while done < a.views {
        let n = a.per_txn.min(a.views - done);
        let txn = store.db().begin_write()?;
        {
            let mut apply = Apply::open(&txn, 500)?;
            for i in done..done + n {
                let (batch, received) = view(&mut rng, i, &a);
                apply.batch(&batch, &received, &mut changes)?;
                changes.clear();
            }
            apply.finish()?;
        }
        txn.commit()?;
        done += n;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "vidpulse-seed: {done}/{} views, {secs:.0} s, {:.0} views/s",
            a.views,
            done as f64 / secs
        );
    }
    let secs = started.elapsed().as_secs_f64();
    drop(store);
    let bytes = std::fs::metadata(&a.data)?.len();
    println!(
        "{}",
        serde_json::json!({
            "views": a.views,
            "days": a.days,
            "end_ms": a.end_ms,
            "seconds": secs,
            "views_per_s": a.views as f64 / secs,
            "file_bytes": bytes,
        })
    );
    Ok(())
}
