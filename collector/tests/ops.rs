//! Operations over real HTTP with a real redb file: erasure, export, backup,
//! retention, the v1 → v2 migration, metrics and the OpenAPI document.

mod common;

use common::{batch_of, beacon, Harness, CHROME_UA, T0};
use redb::{Database, TableDefinition};
use serde_json::Value;

#[tokio::test]
async fn erasing_a_viewer_removes_views_and_counters() {
    let h = Harness::start().await;
    h.post(&batch_of("keep", vec![beacon("k1", 1, T0)])).await;
    h.post(&batch_of(
        "gone",
        vec![beacon("g1", 1, T0), beacon("g2", 1, T0 + 1)],
    ))
    .await;
    let range = format!("from={T0}&to={}", T0 + 60_000);
    assert_eq!(
        h.get_ok(&format!("/v1/kpis?{range}")).await["totals"]["views"],
        3
    );
    let resp = h
        .client
        .delete(h.url("/v1/viewers/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["deleted_views"], 2);
    assert_eq!(h.views().await.len(), 1);
    assert_eq!(h.get("/v1/views/g1").await.0, 404);
    let k = h.get_ok(&format!("/v1/kpis?{range}")).await;
    assert_eq!(k["totals"]["views"], 1);
    assert_eq!(k["totals"]["watch_ms"], 10_000);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn operator_endpoints_need_the_token_when_set() {
    let h = Harness::start_with(|c| c.admin_token = Some("s3cret".into())).await;
    let resp = h
        .client
        .delete(h.url("/v1/viewers/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = h
        .client
        .delete(h.url("/v1/viewers/x"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn export_streams_ndjson_and_csv() {
    let h = Harness::start().await;
    let beacons = (0..300)
        .map(|i| beacon(&format!("e{i:03}"), 1, T0 + i))
        .collect::<Vec<_>>();
    for chunk in beacons.chunks(50) {
        h.post_ua(&batch_of("x", chunk.to_vec()), CHROME_UA).await;
    }
    let range = format!("from={T0}&to={}", T0 + 1_000);
    let resp = h
        .client
        .get(h.url(&format!("/v1/export?{range}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 300);
    assert_eq!(lines[0]["view_id"], "e000");
    assert_eq!(lines[299]["view_id"], "e299");
    let csv = h
        .client
        .get(h.url(&format!(
            "/v1/export?{range}&format=csv&filter=browser:Chrome"
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 301);
    assert!(rows[0].starts_with("view_id,property,viewer_id,started_at_ms"));
    assert!(rows[1].starts_with("e000,demo,x,"), "{}", rows[1]);
    assert!(
        rows[1].contains(",Chrome,Linux,desktop,unknown,127.0.0.1,"),
        "{}",
        rows[1]
    );
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn backup_while_running_opens_as_a_data_file() {
    let h = Harness::start().await;
    h.post(&batch_of(
        "b",
        vec![beacon("b1", 1, T0), beacon("b2", 1, T0)],
    ))
    .await;
    let resp = h.client.post(h.url("/v1/backup")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["views"], 2);
    let path = std::path::PathBuf::from(body["path"].as_str().unwrap());
    assert!(path.starts_with(h.dir.path()), "{path:?}");
    // Ingest goes on.
    h.post(&batch_of("b", vec![beacon("b3", 1, T0)])).await;
    let copy = vidpulse_collector::spawn(vidpulse_collector::Config::for_test(path))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let views: Vec<Value> = client
        .get(format!("http://{}/v1/views", copy.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(views.len(), 2);
    let k: Value = client
        .get(format!(
            "http://{}/v1/kpis?from={T0}&to={}",
            copy.addr,
            T0 + 60_000
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["totals"]["views"], 2);
    copy.shutdown().await.unwrap();
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn retention_deletes_old_views_and_rollups() {
    let h = Harness::start().await;
    let now = vidpulse_collector::now_ms();
    let old = now - 40 * 86_400_000;
    h.post(&batch_of(
        "o",
        vec![beacon("old", 1, old), beacon("new", 1, now - 1_000)],
    ))
    .await;
    let path = h.db_path();
    let common::Harness { running, dir, .. } = h;
    running.shutdown().await.unwrap();
    let mut config = vidpulse_collector::Config::for_test(path);
    config.retention_days = Some(30);
    let again = vidpulse_collector::spawn(config).await.unwrap();
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://{}{p}", again.addr);
    let mut left = 2;
    for _ in 0..100 {
        let views: Vec<Value> = client
            .get(url("/v1/views"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        left = views.len();
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(left, 1);
    let k: Value = client
        .get(url(&format!(
            "/v1/kpis?from={}&to={}",
            old - 86_400_000,
            old + 86_400_000
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["totals"]["views"], 0, "{k}");
    again.shutdown().await.unwrap();
    drop(dir);
}

#[tokio::test]
async fn v1_file_is_migrated_with_rollups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.redb");
    {
        const VIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("views");
        const INDEX: TableDefinition<(u64, &str), ()> = TableDefinition::new("views_by_started_at");
        const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut views = txn.open_table(VIEWS).unwrap();
            let mut index = txn.open_table(INDEX).unwrap();
            for (id, viewer) in [("m1", "p"), ("m2", "q")] {
                let mut b = beacon(id, 2, T0);
                b.metrics.startup_ms = Some(120);
                b.metrics.first_frame = true;
                let record = serde_json::json!({
                    "property": "demo", "viewer_id": viewer, "user_agent": CHROME_UA,
                    "first_received_ms": 1, "last_received_ms": 2, "beacon": b,
                });
                views
                    .insert(id, serde_json::to_vec(&record).unwrap().as_slice())
                    .unwrap();
                index.insert((T0, id), ()).unwrap();
            }
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", 1)
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let running = vidpulse_collector::spawn(vidpulse_collector::Config::for_test(path.clone()))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let k: Value = client
        .get(format!(
            "http://{}/v1/kpis?from={T0}&to={}&group_by=browser",
            running.addr,
            T0 + 60_000
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["totals"]["views"], 2, "{k}");
    assert_eq!(k["totals"]["unique_viewers"], 2);
    assert!(
        k["totals"]["startup_p50_ms"]
            .as_u64()
            .unwrap()
            .abs_diff(120)
            <= 2
    );
    assert_eq!(k["groups"][0]["value"], "Chrome");
    // Idempotency survives the migration.
    let stale: Value = client
        .post(format!("http://{}/v1/beacons", running.addr))
        .body(serde_json::to_vec(&batch_of("p", vec![beacon("m1", 2, T0)])).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stale["stale"], 1);
    running.shutdown().await.unwrap();
    // Reopening a v2 file does not rebuild (counts unchanged).
    let running = vidpulse_collector::spawn(vidpulse_collector::Config::for_test(path))
        .await
        .unwrap();
    let k: Value = client
        .get(format!(
            "http://{}/v1/kpis?from={T0}&to={}",
            running.addr,
            T0 + 60_000
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["totals"]["views"], 2);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_documented_route_answers() {
    let h = Harness::start().await;
    h.post(&batch_of("x", vec![beacon("r1", 1, T0)])).await;
    let doc = h.get_ok("/v1/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in vidpulse_collector::routes::API_ROUTES {
        assert!(
            doc["paths"][*path][*method].is_object(),
            "{method} {path} not documented"
        );
        let concrete = path.replace(
            "{id}",
            if path.starts_with("/v1/videos") {
                "clip-1"
            } else {
                "r1"
            },
        );
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let resp = h.client.request(m, h.url(&concrete)).send().await.unwrap();
        let status = resp.status().as_u16();
        // Reaching the handler: not 404 (except a missing resource) nor 405.
        assert!(status != 405, "{method} {path}: {status}");
        if path != &"/v1/videos/{id}/retention" {
            assert!(status != 404, "{method} {path}: {status}");
        }
    }
    h.running.shutdown().await.unwrap();
}
