//! The ingest and query API over real HTTP on loopback, with a real redb file.

mod common;

use common::{batch, beacon, Harness};
use serde_json::json;
use vidpulse_plugin::wire::{PlaybackError, Reason};

#[tokio::test]
async fn healthz() {
    let h = Harness::start().await;
    let resp = h.client.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn valid_batch_is_stored_and_listed() {
    let h = Harness::start().await;
    let (status, body) = h
        .post(&batch(vec![beacon("a", 0, 1_000), beacon("b", 0, 2_000)]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"accepted": 2, "stale": 0}));

    let views = h.views().await;
    assert_eq!(views.len(), 2);
    assert_eq!(views[0]["view_id"], "b");
    assert_eq!(views[1]["view_id"], "a");
    assert_eq!(views[0]["property"], "demo");
    assert_eq!(views[0]["viewer_id"], "viewer-1");
    assert_eq!(views[0]["started_at_ms"], 2_000);
    assert_eq!(views[0]["seq"], 0);
    assert_eq!(views[0]["reason"], "view_start");
    assert_eq!(views[0]["video"]["id"], "clip-1");
    assert!(views[0]["metrics"].is_object());
    assert!(views[0]["last_received_ms"].as_u64().unwrap() > 0);

    let resp = h
        .client
        .get(h.url("/v1/views/a"))
        .header("user-agent", "test-agent/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let record: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(record["beacon"]["view_id"], "a");
    assert_eq!(record["property"], "demo");
    assert!(record["first_received_ms"].as_u64().unwrap() > 0);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn user_agent_is_recorded_and_truncated() {
    let h = Harness::start_with(|c| c.max_string_len = 40).await;
    let resp = h
        .client
        .post(h.url("/v1/beacons"))
        .header("content-type", "text/plain")
        .header("user-agent", format!("Mozilla/5.0 {}", "x".repeat(60)))
        .body(serde_json::to_vec(&batch(vec![beacon("a", 0, 1)])).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, record) = h.get("/v1/views/a").await;
    assert_eq!(
        record["user_agent"],
        format!("Mozilla/5.0 {}", "x".repeat(28))
    );
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn idempotent_by_seq() {
    let h = Harness::start().await;
    let (_, body) = h.post(&batch(vec![beacon("v", 1, 1_000)])).await;
    assert_eq!(body, json!({"accepted": 1, "stale": 0}));
    let (_, before) = h.get("/v1/views/v").await;

    // Same seq again: stale, nothing changes (not even last_received_ms).
    let (status, body) = h.post(&batch(vec![beacon("v", 1, 1_000)])).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"accepted": 0, "stale": 1}));
    // Older seq: stale.
    let (_, body) = h.post(&batch(vec![beacon("v", 0, 1_000)])).await;
    assert_eq!(body, json!({"accepted": 0, "stale": 1}));
    let (_, after) = h.get("/v1/views/v").await;
    assert_eq!(before, after);

    // Newer seq replaces.
    let mut newer = beacon("v", 2, 1_000);
    newer.reason = Reason::ViewEnd;
    newer.metrics.view_ended = true;
    let (_, body) = h.post(&batch(vec![newer])).await;
    assert_eq!(body, json!({"accepted": 1, "stale": 0}));
    let (_, after) = h.get("/v1/views/v").await;
    assert_eq!(after["beacon"]["seq"], 2);
    assert_eq!(after["beacon"]["reason"], "view_end");
    assert_eq!(after["first_received_ms"], before["first_received_ms"]);
    assert_eq!(h.views().await.len(), 1);

    // Within one batch, out of order: the higher seq wins, the lower is stale.
    let (_, body) = h
        .post(&batch(vec![beacon("w", 3, 5), beacon("w", 1, 5)]))
        .await;
    assert_eq!(body, json!({"accepted": 1, "stale": 1}));
    let (_, w) = h.get("/v1/views/w").await;
    assert_eq!(w["beacon"]["seq"], 3);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn changed_started_at_leaves_no_dangling_index_entry() {
    let h = Harness::start().await;
    h.post(&batch(vec![beacon("v", 0, 1_000)])).await;
    h.post(&batch(vec![beacon("v", 1, 3_000)])).await;
    let views = h.views().await;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0]["started_at_ms"], 3_000);
    h.running.shutdown().await.unwrap();
}

/// Posts a bad request and checks status, named field and an unchanged store.
async fn rejected(h: &Harness, body: Vec<u8>, ct: Option<&str>, status: u16, field: &str) {
    let before = h.views().await;
    let (got, reply) = h.post_raw(body, ct).await;
    assert_eq!(got, status, "{reply}");
    assert!(reply["error"].is_string(), "{reply}");
    if field.is_empty() {
        assert!(reply["field"].is_null(), "{reply}");
    } else {
        assert_eq!(reply["field"], field, "{reply}");
    }
    assert_eq!(h.views().await, before);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let h = Harness::start().await;
    h.post(&batch(vec![beacon("existing", 0, 1)])).await;
    let json = |b: &vidpulse_plugin::wire::Batch| serde_json::to_vec(b).unwrap();
    let tp = Some("text/plain");

    rejected(&h, b"{\"v\":1,".to_vec(), tp, 400, "body").await;

    let mut wrong_type = serde_json::to_value(batch(vec![beacon("x", 0, 1)])).unwrap();
    wrong_type["beacons"][0]["seq"] = json!("one");
    rejected(
        &h,
        serde_json::to_vec(&wrong_type).unwrap(),
        tp,
        400,
        "beacons[0].seq",
    )
    .await;

    let mut b = batch(vec![beacon("x", 0, 1)]);
    b.v = 2;
    rejected(&h, json(&b), tp, 400, "v").await;

    // A valid first beacon must not be stored when a later one is invalid.
    let b = batch(vec![beacon("ok", 0, 1), beacon("", 0, 1)]);
    rejected(&h, json(&b), tp, 400, "beacons[1].view_id").await;

    let mut b = batch(vec![beacon("x", 0, 1)]);
    b.property = "bad property!".into();
    rejected(&h, json(&b), tp, 400, "property").await;

    let mut b = batch(vec![beacon("x", 0, 1)]);
    b.beacons[0].metrics.rebuffer_max_ms = 10;
    rejected(&h, json(&b), tp, 400, "beacons[0].metrics.rebuffer_max_ms").await;

    let b = batch(vec![]);
    rejected(&h, json(&b), tp, 400, "beacons").await;
    let b = batch((0..51).map(|i| beacon(&format!("v{i}"), 0, 1)).collect());
    rejected(&h, json(&b), tp, 400, "beacons").await;

    let mut b = batch(vec![beacon("x", 0, 1)]);
    b.beacons[0].video.title = Some("t".repeat(70_000));
    rejected(&h, json(&b), tp, 413, "body").await;

    let b = batch(vec![beacon("x", 0, 1)]);
    rejected(&h, json(&b), Some("application/xml"), 415, "content-type").await;

    // Accepted content types: application/json and none.
    let (status, _) = h
        .post_raw(
            json(&batch(vec![beacon("j", 0, 1)])),
            Some("application/json"),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = h
        .post_raw(json(&batch(vec![beacon("n", 0, 1)])), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.views().await.len(), 3);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn listing_order_and_limit() {
    let h = Harness::start().await;
    let beacons = [5u64, 1, 9, 3, 7]
        .iter()
        .map(|&t| beacon(&format!("v{t}"), 0, t))
        .collect();
    h.post(&batch(beacons)).await;
    let (status, body) = h.get("/v1/views").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["view_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["v9", "v7", "v5", "v3", "v1"]);
    let (_, body) = h.get("/v1/views?limit=2").await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert_eq!(body[0]["view_id"], "v9");
    for bad in ["0", "1001", "abc", "-1"] {
        let (status, body) = h.get(&format!("/v1/views?limit={bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["field"], "limit");
    }
    let (status, body) = h.get("/v1/views/missing").await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn summary_on_known_data() {
    let h = Harness::start().await;
    let (_, empty) = h.get("/v1/summary").await;
    assert_eq!(empty["views"], 0);
    assert!(empty["startup_p50_ms"].is_null());
    assert!(empty["rebuffer_pct"].is_null());

    let mut views = Vec::new();
    for (i, startup) in [100u64, 200, 300, 400].into_iter().enumerate() {
        let mut b = beacon(&format!("ok{i}"), 1, i as u64);
        b.metrics.first_frame = true;
        b.metrics.startup_ms = Some(startup);
        b.metrics.watch_ms = 10_000;
        b.metrics.playing_ms = 9_000;
        b.metrics.rebuffer_ms = if i == 0 { 2_000 } else { 0 };
        b.metrics.rebuffer_max_ms = b.metrics.rebuffer_ms;
        b.metrics.rebuffer_count = u32::from(i == 0);
        views.push(b);
    }
    let mut failed = beacon("failed", 1, 10);
    failed.metrics.watch_ms = 0;
    failed.metrics.playing_ms = 0;
    failed.metrics.view_ended = true;
    failed.metrics.error = Some(PlaybackError {
        code: 4,
        message: "unsupported".into(),
        before_first_frame: true,
    });
    views.push(failed);
    let mut exited = beacon("exited", 1, 11);
    exited.metrics.watch_ms = 0;
    exited.metrics.playing_ms = 0;
    exited.metrics.view_ended = true;
    views.push(exited);
    h.post(&batch(views)).await;

    let (status, s) = h.get("/v1/summary").await;
    assert_eq!(status, 200);
    assert_eq!(s["views"], 6);
    assert_eq!(s["startup_p50_ms"], 200);
    assert_eq!(s["startup_p95_ms"], 400);
    assert_eq!(s["startup_mean_ms"], 250.0);
    assert_eq!(s["watch_ms"], 40_000);
    assert_eq!(s["playing_ms"], 36_000);
    assert_eq!(s["rebuffer_pct"], 5.0);
    let failure = s["failure_pct"].as_f64().unwrap();
    assert!((failure - 100.0 / 6.0).abs() < 1e-9);
    let ebvs = s["ebvs_pct"].as_f64().unwrap();
    assert!((ebvs - 100.0 / 6.0).abs() < 1e-9);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn data_survives_shutdown_and_reopen() {
    let h = Harness::start().await;
    let (status, _) = h.post(&batch(vec![beacon("durable", 4, 42)])).await;
    assert_eq!(status, 200);
    let path = h.db_path();
    let common::Harness { running, dir, .. } = h;
    running.shutdown().await.unwrap();

    let again = vidpulse_collector::spawn(vidpulse_collector::Config::for_test(path))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let record: serde_json::Value = client
        .get(format!("http://{}/v1/views/durable", again.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(record["beacon"]["seq"], 4);
    // The stored seq still guards idempotency after the reopen.
    let resp: serde_json::Value = client
        .post(format!("http://{}/v1/beacons", again.addr))
        .body(serde_json::to_vec(&batch(vec![beacon("durable", 3, 42)])).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp, json!({"accepted": 0, "stale": 1}));
    again.shutdown().await.unwrap();
    drop(dir);
}

#[tokio::test]
async fn cors_allows_any_origin() {
    let h = Harness::start().await;
    let resp = h
        .client
        .request(reqwest::Method::OPTIONS, h.url("/v1/beacons"))
        .header("origin", "https://example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let resp = h
        .client
        .get(h.url("/v1/summary"))
        .header("origin", "https://example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn cookieless_batches_get_a_daily_viewer_id_from_the_collector() {
    let h = Harness::start().await;
    let post = |view: &'static str, ua: &'static str| {
        let mut b = batch(vec![beacon(view, 0, 1_000)]);
        b.viewer_id = String::new();
        b.cookieless = true;
        let client = h.client.clone();
        let url = h.url("/v1/beacons");
        async move {
            let resp = client
                .post(url)
                .header("content-type", "text/plain")
                .header("user-agent", ua)
                .body(serde_json::to_string(&b).unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    post("a", "agent-1").await;
    post("b", "agent-1").await;
    post("c", "agent-2").await;
    let views = h.views().await;
    let viewer = |id: &str| {
        let v = views.iter().find(|v| v["view_id"] == id).unwrap();
        v["viewer_id"].as_str().unwrap().to_string()
    };
    let (a, b, c) = (viewer("a"), viewer("b"), viewer("c"));
    assert!(a.starts_with("c-"), "{a}");
    assert_eq!(a, b, "same day, IP and user agent: same viewer");
    assert_ne!(a, c);
    // A cookieless batch must not carry its own id.
    let mut bad = batch(vec![beacon("d", 0, 1_000)]);
    bad.cookieless = true;
    let (status, body) = h.post(&bad).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "viewer_id");
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_drop_in_script_is_served() {
    let h = Harness::start().await;
    let resp = h.client.get(h.url("/v1/plugin.js")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/javascript"), "{ct}");
    let body = resp.text().await.unwrap();
    assert!(body.contains("video[data-vidpulse]"));
    h.running.shutdown().await.unwrap();
}

/// A beacon marked `same` (sent without the parts that never change in a view,
/// once the collector stored one) keeps the stored video, context and version,
/// and the rollups stay under the view's own dimensions.
#[tokio::test]
async fn a_same_beacon_keeps_the_stored_video_and_context() {
    let h = Harness::start().await;
    let t0 = common::T0;
    let mut first = beacon("s1", 0, t0);
    first.context.player_name = Some("hls.js".into());
    assert_eq!(h.post(&batch(vec![first])).await.0, 200);
    let mut next = beacon("s1", 1, t0);
    next.same = true;
    next.video = Default::default();
    next.context = Default::default();
    next.plugin_version = String::new();
    let (status, body) = h.post(&batch(vec![next])).await;
    assert_eq!(status, 200, "{body}");
    let detail = h.get_ok("/v1/views/s1").await;
    let view = &detail["beacon"];
    assert_eq!(view["seq"], 1, "{view}");
    assert_eq!(view["video"]["id"], "clip-1", "{view}");
    assert_eq!(view["video"]["title"], "Test clip", "{view}");
    assert_eq!(view["context"]["player_name"], "hls.js", "{view}");
    assert_eq!(view["plugin_version"], "0.1.0", "{view}");
    assert!(view.get("same").is_none(), "{view}");
    assert_eq!(view["metrics"]["watch_ms"], 10_000, "{view}");
    let k = h
        .get_ok("/v1/kpis?from=0&to=4000000000000&group_by=video")
        .await;
    let groups = k["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{k}");
    assert_eq!(groups[0]["value"], "clip-1", "{k}");
    assert_eq!(groups[0]["kpis"]["views"], 1, "{k}");
    assert_eq!(groups[0]["kpis"]["watch_ms"], 10_000, "{k}");

    // Without a stored view there is nothing to keep: stored, dimensions unknown.
    let mut orphan = beacon("s2", 3, t0);
    orphan.same = true;
    orphan.video = Default::default();
    assert_eq!(h.post(&batch(vec![orphan])).await.0, 200);
    let detail = h.get_ok("/v1/views/s2").await;
    let view = &detail["beacon"];
    assert!(view["video"].get("id").is_none(), "{view}");
}
