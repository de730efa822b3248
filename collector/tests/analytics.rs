//! Rollups and the query API over real HTTP with a real redb file: KPIs, group-by,
//! filters, time series, idempotency of rollups and sketches, views paging,
//! timeline events, videos and retention, live, and parameter errors.

mod common;

use common::{batch_of, beacon, Harness, CHROME_UA, FIREFOX_UA, T0};
use serde_json::Value;
use vidpulse_plugin::wire::{Beacon, NotableEvent, PlaybackError, Reason};

const MIN: u64 = 60_000;

fn played(id: &str, seq: u32, started: u64, startup: u64, watch: u64, rebuffer: u64) -> Beacon {
    let mut b = beacon(id, seq, started);
    b.metrics.first_frame = true;
    b.metrics.startup_ms = Some(startup);
    b.metrics.watch_ms = watch;
    b.metrics.playing_ms = watch - rebuffer;
    b.metrics.rebuffer_ms = rebuffer;
    b.metrics.rebuffer_max_ms = rebuffer;
    b.metrics.rebuffer_count = u32::from(rebuffer > 0);
    b
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() <= b.abs() * 0.011 + 1e-9
}

/// Three Chrome views (two viewers) in minute 0, one failed Firefox view in
/// minute 2.
async fn seed(h: &Harness) {
    let b = batch_of(
        "alice",
        vec![
            played("c1", 1, T0 + 1_000, 100, 60_000, 3_000),
            played("c2", 1, T0 + 2_000, 200, 60_000, 0),
        ],
    );
    assert_eq!(h.post_ua(&b, CHROME_UA).await.0, 200);
    let b = batch_of("bob", vec![played("c3", 1, T0 + 3_000, 300, 60_000, 0)]);
    assert_eq!(h.post_ua(&b, CHROME_UA).await.0, 200);
    let mut f = beacon("f1", 1, T0 + 2 * MIN + 5);
    f.metrics.view_ended = true;
    f.metrics.watch_ms = 0;
    f.metrics.playing_ms = 0;
    f.metrics.error = Some(PlaybackError {
        code: 4,
        message: "unsupported".into(),
        before_first_frame: true,
    });
    assert_eq!(
        h.post_ua(&batch_of("carol", vec![f]), FIREFOX_UA).await.0,
        200
    );
}

fn range() -> String {
    format!("from={}&to={}", T0, T0 + 10 * MIN)
}

#[tokio::test]
async fn kpis_totals_groups_and_filters() {
    let h = Harness::start().await;
    seed(&h).await;
    let k = h.get_ok(&format!("/v1/kpis?{}", range())).await;
    assert_eq!(k["source"], "rollups");
    let t = &k["totals"];
    assert_eq!(t["views"], 4);
    assert_eq!(t["unique_viewers"], 3);
    assert_eq!(t["watch_ms"], 180_000);
    assert_eq!(t["failure_pct"], 25.0);
    assert_eq!(t["vsf_pct"], 25.0);
    assert_eq!(t["ebvs_pct"], 0.0);
    assert_eq!(t["startup_mean_ms"], 200.0);
    assert!(close(&t["startup_p50_ms"], 200.0), "{t}");
    assert!(close(&t["startup_p95_ms"], 300.0), "{t}");
    assert!(close(&t["rebuffer_pct"], 3_000.0 * 100.0 / 180_000.0));
    assert!(close(&t["rebuffer_per_min"], 1.0 / 3.0));

    let g = h
        .get_ok(&format!("/v1/kpis?{}&group_by=browser", range()))
        .await;
    assert_eq!(g["groups"][0]["value"], "Chrome");
    assert_eq!(g["groups"][0]["kpis"]["views"], 3);
    assert_eq!(g["groups"][0]["kpis"]["unique_viewers"], 2);
    assert_eq!(g["groups"][1]["value"], "Firefox");
    assert_eq!(g["groups"][1]["kpis"]["failure_pct"], 100.0);
    assert_eq!(g["totals"]["views"], 4);

    let f = h
        .get_ok(&format!("/v1/kpis?{}&filter=os:Linux", range()))
        .await;
    assert_eq!(f["totals"]["views"], 3);
    let f = h
        .get_ok(&format!(
            "/v1/kpis?{}&filter=device_type:desktop&group_by=country",
            range()
        ))
        .await;
    assert_eq!(f["source"], "views");
    assert_eq!(f["groups"][0]["value"], "unknown");
    assert_eq!(f["groups"][0]["kpis"]["views"], 4);
    let f = h
        .get_ok(&format!(
            "/v1/kpis?{}&filter=cdn:127.0.0.1&filter=browser:Firefox",
            range()
        ))
        .await;
    assert_eq!(f["totals"]["views"], 1);
    // A range that misses minute 2 misses the failed view.
    let k = h
        .get_ok(&format!("/v1/kpis?from={T0}&to={}", T0 + MIN))
        .await;
    assert_eq!(k["totals"]["views"], 3);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn rollups_move_by_delta_and_replays_change_nothing() {
    let h = Harness::start().await;
    seed(&h).await;
    let before = h.get_ok(&format!("/v1/kpis?{}", range())).await;
    // Replays and older snapshots: stale, rollups and sketches unchanged.
    let b = batch_of(
        "alice",
        vec![
            played("c1", 1, T0 + 1_000, 100, 60_000, 3_000),
            played("c1", 0, T0 + 1_000, 100, 1, 0),
        ],
    );
    assert_eq!(h.post_ua(&b, CHROME_UA).await.1["stale"], 2);
    assert_eq!(h.get_ok(&format!("/v1/kpis?{}", range())).await, before);
    // A newer snapshot of c1 moves watch time by the difference only, and its
    // startup time (already counted) is not inserted again.
    let b = batch_of(
        "alice",
        vec![played("c1", 2, T0 + 1_000, 100, 90_000, 3_000)],
    );
    assert_eq!(h.post_ua(&b, CHROME_UA).await.1["accepted"], 1);
    let after = h.get_ok(&format!("/v1/kpis?{}", range())).await;
    assert_eq!(after["totals"]["watch_ms"], 210_000);
    assert_eq!(after["totals"]["views"], 4);
    assert_eq!(after["totals"]["unique_viewers"], 3);
    assert_eq!(after["totals"]["startup_mean_ms"], 200.0);
    // Hour and day rows agree with minute rows.
    let day = h
        .get_ok(&format!(
            "/v1/kpis?from={}&to={}",
            T0 - T0 % 86_400_000,
            T0 - T0 % 86_400_000 + 86_400_000
        ))
        .await;
    assert_eq!(day["totals"], after["totals"]);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn timeseries_per_minute() {
    let h = Harness::start().await;
    seed(&h).await;
    let s = h
        .get_ok(&format!("/v1/timeseries?metric=views,failure_pct,startup_p50_ms&interval=minute&from={T0}&to={}", T0 + 3 * MIN))
        .await;
    let p = s["points"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[0]["t"], T0);
    assert_eq!(p[0]["views"], 3);
    assert!(close(&p[0]["startup_p50_ms"], 200.0));
    assert_eq!(p[1]["views"], 0);
    assert!(p[1]["failure_pct"].is_null());
    assert_eq!(p[2]["failure_pct"], 100.0);
    let s = h
        .get_ok(&format!(
            "/v1/timeseries?metric=views&interval=hour&filter=browser:Chrome&from={T0}&to={}",
            T0 + 3 * MIN
        ))
        .await;
    let total: u64 = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["views"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn views_paging_filter_and_timeline() {
    let h = Harness::start().await;
    seed(&h).await;
    let first = h
        .client
        .get(h.url("/v1/views?limit=2"))
        .send()
        .await
        .unwrap();
    let cursor = first.headers()["x-next-cursor"]
        .to_str()
        .unwrap()
        .to_owned();
    let page1: Vec<Value> = first.json().await.unwrap();
    assert_eq!(
        page1
            .iter()
            .map(|v| v["view_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["f1", "c3"]
    );
    let second = h
        .client
        .get(h.url(&format!("/v1/views?limit=2&cursor={cursor}")))
        .send()
        .await
        .unwrap();
    let page2: Vec<Value> = second.json().await.unwrap();
    assert_eq!(
        page2
            .iter()
            .map(|v| v["view_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["c2", "c1"]
    );
    let chrome = h.get_ok("/v1/views?filter=browser:Chrome").await;
    assert_eq!(chrome.as_array().unwrap().len(), 3);
    let few = h
        .get_ok(&format!("/v1/views?from={}&to={}", T0 + 2_000, T0 + 3_000))
        .await;
    assert_eq!(few.as_array().unwrap().len(), 1);

    let mut b = played("t1", 1, T0, 50, 10_000, 500);
    b.events = vec![NotableEvent::Stall {
        at_ms: 4_000,
        dur_ms: 500,
    }];
    h.post(&batch_of("x", vec![b.clone()])).await;
    h.post(&batch_of("x", vec![b.clone()])).await; // replay: events not appended twice
    b.seq = 2;
    b.reason = Reason::ViewEnd;
    b.events = vec![NotableEvent::Error {
        at_ms: 9_000,
        code: 2,
        message: "net".into(),
        fatal: false,
    }];
    h.post(&batch_of("x", vec![b])).await;
    let v = h.get_ok("/v1/views/t1").await;
    assert_eq!(v["events"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["events"][0]["kind"], "stall");
    assert_eq!(v["events"][1]["kind"], "error");
    assert_eq!(v["dims"]["video"], "clip-1");
    assert_eq!(v["beacon"]["seq"], 2);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn timeline_is_bounded() {
    let h = Harness::start_with(|c| c.max_view_events = 3).await;
    let mut b = beacon("e", 1, T0);
    b.events = (0..5)
        .map(|i| NotableEvent::Stall {
            at_ms: i * 1000,
            dur_ms: 300,
        })
        .collect();
    h.post(&batch_of("x", vec![b])).await;
    assert_eq!(
        h.get_ok("/v1/views/e").await["events"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn videos_and_retention() {
    let h = Harness::start().await;
    let mut views = Vec::new();
    // 4 buckets; coverage: a = 0,1,2,3 ("f"), b = 0,1 ("3"), c = 0 ("1").
    for (id, hex) in [("a", "f"), ("b", "3"), ("c", "1")] {
        let mut b = played(id, 1, T0, 100, 10_000, 0);
        b.metrics.coverage = Some(hex.into());
        b.metrics.coverage_buckets = 4;
        b.metrics.completed = id == "a";
        views.push(b);
    }
    h.post(&batch_of("v", views)).await;
    // b plays further later: its new bitmap replaces the old one.
    let mut b = played("b", 2, T0, 100, 20_000, 0);
    b.metrics.coverage = Some("7".into());
    b.metrics.coverage_buckets = 4;
    h.post(&batch_of("v", vec![b])).await;
    let r = h.get_ok("/v1/videos/clip-1/retention").await;
    assert_eq!(r["views"], 3);
    assert_eq!(r["coverage_buckets"], 4);
    assert_eq!(r["heatmap"], serde_json::json!([3, 2, 2, 1]));
    assert!(close(&r["retention"][1], 2.0 / 3.0));
    // A video without coverage data has an empty curve (200), not a 404 the
    // dashboard would log as an error.
    let none = h.get_ok("/v1/videos/nope/retention").await;
    assert_eq!(none["views"], 0, "{none}");
    assert_eq!(none["retention"], serde_json::json!([]));
    assert_eq!(none["heatmap"], serde_json::json!([]));
    let v = h.get_ok(&format!("/v1/videos?{}", range())).await;
    assert_eq!(v["videos"][0]["video_id"], "clip-1");
    assert_eq!(v["videos"][0]["kpis"]["views"], 3);
    assert!(close(
        &v["videos"][0]["kpis"]["completion_pct"],
        100.0 / 3.0
    ));
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn live_pushes_concurrent_viewers() {
    let h = Harness::start().await;
    let now = vidpulse_collector::now_ms();
    h.post(&batch_of(
        "a",
        vec![beacon("l1", 0, now), beacon("l2", 0, now)],
    ))
    .await;
    let mut ended = beacon("l3", 1, now);
    ended.metrics.view_ended = true;
    h.post(&batch_of("b", vec![ended])).await;
    let mut resp = h.client.get(h.url("/v1/live")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let snap: Value = serde_json::from_str(data).unwrap();
    assert_eq!(snap["concurrent_viewers"], 2, "{snap}");
    assert_eq!(snap["last_minute"]["views"], 3);
    drop(resp);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_parameters_name_themselves() {
    let h = Harness::start().await;
    for (path, field) in [
        ("/v1/kpis?from=abc", "from"),
        ("/v1/kpis?from=10&to=5", "from"),
        ("/v1/kpis?group_by=colour", "group_by"),
        ("/v1/kpis?filter=colour:red", "filter"),
        ("/v1/kpis?filter=nocolon", "filter"),
        ("/v1/kpis?bogus=1", "bogus"),
        ("/v1/kpis?to=5&to=6", "to"),
        ("/v1/timeseries?metric=views,nope", "metric"),
        ("/v1/timeseries?interval=week", "interval"),
        (
            "/v1/timeseries?interval=minute&from=0&to=9999999999999",
            "interval",
        ),
        ("/v1/views?cursor=zzz", "cursor"),
        ("/v1/views?limit=0", "limit"),
        ("/v1/export?format=xml", "format"),
        ("/v1/videos?limit=0", "limit"),
    ] {
        let (status, body) = h.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
    }
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn scans_are_bounded() {
    let h = Harness::start_with(|c| c.max_scan_views = 2).await;
    seed(&h).await;
    let (status, body) = h
        .get(&format!(
            "/v1/kpis?{}&filter=os:Linux&group_by=browser",
            range()
        ))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "filter");
    h.running.shutdown().await.unwrap();
}
