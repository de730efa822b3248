//! Group commit over real HTTP: concurrent requests share write transactions,
//! each is answered only once committed, and shutdown finishes in-flight writes.

mod common;

use common::{batch_of, beacon, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_share_commits() {
    let h = Harness::start().await;
    const N: usize = 64;
    let mut tasks = Vec::new();
    for i in 0..N {
        let client = h.client.clone();
        let url = h.url("/v1/beacons");
        tasks.push(tokio::spawn(async move {
            let b = batch_of(
                &format!("viewer-{i}"),
                vec![beacon(&format!("v{i}"), 0, 1_000 + i as u64)],
            );
            let resp = client
                .post(url)
                .header("content-type", "text/plain")
                .body(serde_json::to_vec(&b).unwrap())
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(h.views().await.len(), N);
    let commits = h.metric("vidpulse_commits_total").await;
    let batches = h.metric("vidpulse_batches_committed_total").await;
    assert_eq!(batches, N as f64);
    assert!(
        commits >= 1.0 && commits < N as f64,
        "commits {commits} for {N} requests"
    );
    assert_eq!(h.metric("vidpulse_queue_depth").await, 0.0);
    assert_eq!(h.metric("vidpulse_commit_seconds_count").await, commits);
    h.running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_finishes_in_flight_writes() {
    let h = Harness::start().await;
    let path = h.db_path();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = h.client.clone();
        let url = h.url("/v1/beacons");
        tasks.push(tokio::spawn(async move {
            let b = batch_of("w", vec![beacon(&format!("s{i}"), 0, 5)]);
            let sent = client
                .post(url)
                .body(serde_json::to_vec(&b).unwrap())
                .send()
                .await;
            matches!(sent, Ok(r) if r.status() == 200).then_some(i)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let common::Harness { running, dir, .. } = h;
    running.shutdown().await.unwrap();
    let mut acked = Vec::new();
    for t in tasks {
        if let Some(i) = t.await.unwrap() {
            acked.push(i);
        }
    }
    let again = vidpulse_collector::spawn(vidpulse_collector::Config::for_test(path))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for i in acked {
        let r = client
            .get(format!("http://{}/v1/views/s{i}", again.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged view s{i} lost");
    }
    again.shutdown().await.unwrap();
    drop(dir);
}
