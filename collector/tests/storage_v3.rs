//! Schema v3 over real HTTP with a real redb file: compact view records (and
//! records of older versions still read), retention per day honouring the time
//! range, and the v2 → v3 migration.

mod common;

use common::{batch_of, beacon, Harness, CHROME_UA, T0};
use redb::{Database, ReadableDatabase, TableDefinition};
use serde_json::{json, Value};
use vidpulse_collector::dims::ClientDims;
use vidpulse_collector::store::{decode_record, encode_record, ViewRecord, SCHEMA_VERSION};
use vidpulse_plugin::wire::NotableEvent;

const DAY: u64 = 86_400_000;
const VIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("views");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

fn covered(id: &str, started: u64, hex: &str) -> vidpulse_plugin::wire::Beacon {
    let mut b = beacon(id, 1, started);
    b.metrics.coverage = Some(hex.into());
    b.metrics.coverage_buckets = 4;
    b
}

#[test]
fn records_round_trip_and_json_records_still_decode() {
    let record = ViewRecord {
        property: "demo".into(),
        viewer_id: "viewer-1".into(),
        user_agent: Some(CHROME_UA.into()),
        client: Some(ClientDims::from_request(Some(CHROME_UA), Some("DE".into()))),
        first_received_ms: 5,
        last_received_ms: 9,
        event_count: 2,
        beacon: covered("r1", T0, "f"),
    };
    let mut buf = Vec::new();
    encode_record(&record, None, &mut buf).unwrap();
    assert_eq!(decode_record(&buf).unwrap(), record);
    let json = serde_json::to_vec(&record).unwrap();
    assert!(buf.len() < json.len(), "{} vs {}", buf.len(), json.len());
    assert_eq!(decode_record(&json).unwrap(), record);
    // The beacon's JSON made beforehand gives the same bytes.
    let mut pre = Vec::new();
    let beacon_json = serde_json::to_vec(&record.beacon).unwrap();
    encode_record(&record, Some(&beacon_json), &mut pre).unwrap();
    assert_eq!(pre, buf);
}

#[tokio::test]
async fn retention_honours_the_time_range() {
    let h = Harness::start().await;
    let day1 = T0 - T0 % DAY;
    // Day 1: two views (buckets 0-3 and 0); day 2: one view (buckets 0-1).
    h.post(&batch_of(
        "v",
        vec![
            covered("a", day1 + 1_000, "f"),
            covered("b", day1 + 2_000, "1"),
        ],
    ))
    .await;
    h.post(&batch_of("v", vec![covered("c", day1 + DAY + 5, "3")]))
        .await;
    let all = h.get_ok("/v1/videos/clip-1/retention").await;
    assert_eq!(all["views"], 3, "{all}");
    assert_eq!(all["heatmap"], json!([3, 2, 1, 1]));
    let first = h
        .get_ok(&format!(
            "/v1/videos/clip-1/retention?from={}&to={}",
            day1,
            day1 + 3_600_000
        ))
        .await;
    assert_eq!(first["views"], 2, "{first}");
    assert_eq!(first["heatmap"], json!([2, 1, 1, 1]));
    assert_eq!(first["from"], day1);
    assert_eq!(first["to"], day1 + DAY);
    let second = h
        .get_ok(&format!(
            "/v1/videos/clip-1/retention?from={}&to={}",
            day1 + DAY,
            day1 + 2 * DAY
        ))
        .await;
    assert_eq!(second["heatmap"], json!([1, 1, 0, 0]), "{second}");
    // A range without coverage data is an empty curve, not a missing resource.
    let none = h
        .get_ok(&format!(
            "/v1/videos/clip-1/retention?from={}&to={}",
            day1 + 5 * DAY,
            day1 + 6 * DAY
        ))
        .await;
    assert_eq!(none["views"], 0, "{none}");
    assert_eq!(none["heatmap"], json!([]), "{none}");
    let (status, body) = h.get("/v1/videos/clip-1/retention?from=x").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("from")),
        "{body}"
    );
    // An update moving a view to the same day's bitmap replaces its counts.
    let mut b = covered("b", day1 + 2_000, "3");
    b.seq = 2;
    h.post(&batch_of("v", vec![b])).await;
    let first = h
        .get_ok(&format!(
            "/v1/videos/clip-1/retention?from={day1}&to={}",
            day1 + 1
        ))
        .await;
    assert_eq!(first["heatmap"], json!([2, 2, 1, 1]), "{first}");
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn v2_file_is_migrated_to_v3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.redb");
    const OLD_RETENTION: TableDefinition<(&str, u16), &[u8]> = TableDefinition::new("retention");
    const INDEX: TableDefinition<(u64, &str), ()> = TableDefinition::new("views_by_started_at");
    const BY_VIEWER: TableDefinition<(&str, &str), ()> = TableDefinition::new("views_by_viewer");
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut views = txn.open_table(VIEWS).unwrap();
            let mut index = txn.open_table(INDEX).unwrap();
            let mut by_viewer = txn.open_table(BY_VIEWER).unwrap();
            for (id, day, hex) in [("m1", 0, "f"), ("m2", 1, "1")] {
                let started = T0 + day * DAY;
                let mut b = covered(id, started, hex);
                // v2 kept a copy of the latest beacon's events in the record.
                b.events = vec![NotableEvent::Stall {
                    at_ms: 10,
                    dur_ms: 20,
                }];
                let record = json!({
                    "property": "demo", "viewer_id": "p", "user_agent": CHROME_UA,
                    "client": {"browser": "Chrome", "os": "Linux", "device_type": "desktop", "country": "unknown"},
                    "first_received_ms": 1, "last_received_ms": 2, "event_count": 0, "beacon": b,
                });
                views
                    .insert(id, serde_json::to_vec(&record).unwrap().as_slice())
                    .unwrap();
                index.insert((started, id), ()).unwrap();
                by_viewer.insert(("p", id), ()).unwrap();
            }
            // A sketch row as v2 encoded it (always a DDSketch).
            let mut old = vidpulse_collector::sketch::SketchesV2::new();
            old.startup.add(120.0);
            old.viewers.insert("p");
            txn.open_table(vidpulse_collector::rollup::ROLLUP_SKETCHES)
                .unwrap()
                .insert(
                    (2u8, 0u8, T0 - T0 % DAY, "all"),
                    postcard::to_stdvec(&old).unwrap().as_slice(),
                )
                .unwrap();
            let counters = vidpulse_collector::rollup::Counters {
                views: 1,
                ..Default::default()
            };
            txn.open_table(vidpulse_collector::rollup::ROLLUP_COUNTERS)
                .unwrap()
                .insert(
                    (2u8, 0u8, T0 - T0 % DAY, "all"),
                    counters.encode().as_slice(),
                )
                .unwrap();
            // An all-time retention row, as v2 stored it.
            txn.open_table(OLD_RETENTION)
                .unwrap()
                .insert(("clip-1", 4u16), [9u8].as_slice())
                .unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", 2)
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let running = vidpulse_collector::spawn(vidpulse_collector::Config::for_test(path.clone()))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let get = |p: String| {
        let client = client.clone();
        let url = format!("http://{}{p}", running.addr);
        async move {
            let r = client.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let all = get("/v1/videos/clip-1/retention".into()).await;
    assert_eq!(all["views"], 2, "{all}");
    assert_eq!(all["heatmap"], json!([2, 1, 1, 1]));
    let day = T0 - T0 % DAY;
    let second = get(format!(
        "/v1/videos/clip-1/retention?from={}&to={}",
        day + DAY,
        day + 2 * DAY
    ))
    .await;
    assert_eq!(second["heatmap"], json!([1, 0, 0, 0]), "{second}");
    // The v2 sketch row reads after the migration (day row of T0's day).
    let k = get(format!("/v1/kpis?from={day}&to={}", day + DAY)).await;
    assert_eq!(k["totals"]["unique_viewers"], 1, "{k}");
    assert!(
        k["totals"]["startup_p50_ms"]
            .as_u64()
            .unwrap()
            .abs_diff(120)
            <= 2,
        "{k}"
    );
    let view = get("/v1/views/m1".into()).await;
    assert_eq!(view["beacon"]["metrics"]["coverage"], "f", "{view}");
    assert_eq!(view["client"]["browser"], "Chrome");
    assert_eq!(view["viewer_id"], "p");
    // Idempotency survives the migration.
    let stale: Value = client
        .post(format!("http://{}/v1/beacons", running.addr))
        .body(serde_json::to_vec(&batch_of("p", vec![beacon("m1", 1, T0)])).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stale["stale"], 1);
    running.shutdown().await.unwrap();
    // On disk: version 3, records re-encoded without their timeline copy.
    let db = Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    assert_eq!(
        meta.get("schema_version").unwrap().unwrap().value(),
        SCHEMA_VERSION
    );
    let views = txn.open_table(VIEWS).unwrap();
    let raw = views.get("m1").unwrap().unwrap();
    assert_eq!(raw.value()[0], 3);
    let record = decode_record(raw.value()).unwrap();
    assert!(record.beacon.events.is_empty());
    assert!(txn.open_table(OLD_RETENTION).is_err());
}
