//! Static directories and the throttled media route, over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::Harness;

/// A deterministic test file: byte i is `i % 251`.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn with_dirs() -> (Harness, tempfile::TempDir) {
    let dirs = tempfile::tempdir().unwrap();
    let root = dirs.path().to_owned();
    for sub in ["media", "plugin", "demo"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("media/clip.webm"), pattern(100_000)).unwrap();
    std::fs::write(root.join("secret.txt"), b"secret").unwrap();
    std::fs::write(
        root.join("plugin/vidpulse_plugin_bg.wasm"),
        b"\0asm\x01\0\0\0",
    )
    .unwrap();
    std::fs::write(root.join("plugin/vidpulse_plugin.js"), b"export {};").unwrap();
    std::fs::write(
        root.join("demo/index.html"),
        b"<!doctype html><title>demo</title>",
    )
    .unwrap();
    std::fs::write(root.join("demo/app.js"), b"console.log(1)").unwrap();
    let h = Harness::start_with(|c| {
        c.media_dir = Some(root.join("media"));
        c.plugin_dir = Some(root.join("plugin"));
        c.demo_dir = Some(root.join("demo"));
    })
    .await;
    (h, dirs)
}

#[tokio::test]
async fn range_requests() {
    let (h, _dirs) = with_dirs().await;
    let data = pattern(100_000);

    let resp = h
        .client
        .get(h.url("/media/clip.webm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert_eq!(resp.headers()["content-type"], "video/webm");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());

    let resp = h
        .client
        .get(h.url("/media/clip.webm"))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 1000-1999/100000");
    assert_eq!(resp.headers()["content-length"], "1000");
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[1000..2000]);

    let resp = h
        .client
        .get(h.url("/media/clip.webm"))
        .header("range", "bytes=99990-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 99990-99999/100000");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[99_990..]);

    let resp = h
        .client
        .get(h.url("/media/clip.webm"))
        .header("range", "bytes=200000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(resp.headers()["content-range"], "bytes */100000");

    let resp = h
        .client
        .get(h.url("/media/missing.webm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn path_traversal_is_rejected() {
    let (h, _dirs) = with_dirs().await;
    for path in [
        "/media/..%2Fsecret.txt",
        "/media/%2E%2E/secret.txt",
        "/media/.%2E/secret.txt",
    ] {
        let resp = h.client.get(h.url(path)).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        assert_ne!(resp.text().await.unwrap(), "secret");
    }
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn throttled_body_is_paced() {
    let (h, _dirs) = with_dirs().await;
    let start = Instant::now();
    let resp = h
        .client
        .get(h.url("/media/clip.webm?rate=50000&burst=20000"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(body.as_ref(), pattern(100_000).as_slice());
    // 80 KB past the burst at 50 KB/s: 1.6 s of pacing.
    assert!(elapsed >= Duration::from_millis(1200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");

    // A throttled range request is paced too, and still returns the right bytes.
    let start = Instant::now();
    let resp = h
        .client
        .get(h.url("/media/clip.webm?rate=20000&burst=0&delay_ms=100"))
        .header("range", "bytes=50000-59999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.as_ref(), &pattern(100_000)[50_000..60_000]);
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );

    let resp = h
        .client
        .get(h.url("/media/clip.webm?rate=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = h
        .client
        .get(h.url("/media/clip.webm?rate=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn static_directories() {
    let (h, _dirs) = with_dirs().await;
    // The demo lives under /demo/ (/demo redirects there); the dashboard has /.
    let resp = h.client.get(h.url("/demo/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("<title>demo</title>"));
    let resp = h.client.get(h.url("/demo/app.js")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = h.client.get(h.url("/demo")).send().await.unwrap();
    assert!(resp.text().await.unwrap().contains("<title>demo</title>"));
    let resp = h.client.get(h.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("vidpulse dashboard"));

    let resp = h
        .client
        .get(h.url("/plugin/vidpulse_plugin_bg.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/wasm");
    let resp = h
        .client
        .get(h.url("/plugin/vidpulse_plugin.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));

    let (status, _) = h.get("/v1/summary").await;
    assert_eq!(status, 200);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests() {
    let (h, _dirs) = with_dirs().await;
    let url = h.url("/media/clip.webm?rate=100000&burst=0");
    let client = h.client.clone();
    let download = tokio::spawn(async move { client.get(url).send().await?.bytes().await });
    // Let the paced response start, then shut down while it is in flight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.running.shutdown().await.unwrap();
    let body = download.await.unwrap().unwrap();
    assert_eq!(body.as_ref(), pattern(100_000).as_slice());
}
