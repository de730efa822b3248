//! Abuse over real sockets: a flood from one IP is limited (429 with
//! `Retry-After`) while another IP's beacons still get through; a flood on one
//! property does not stop another; slow headers, idle connections and trickled
//! bodies are cut by the timeouts; one IP cannot open more than its share of
//! connections. Loopback has a whole /8, so clients bind 127.0.0.2, 127.0.0.3…
//! as their source address and `--rate-limit-loopback` turns the exemption off.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::{batch_of, beacon, Harness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn post_from(h: &Harness, client: &reqwest::Client, body: Vec<u8>) -> (u16, Option<String>) {
    let resp = client
        .post(h.url("/v1/beacons"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    if status == 429 {
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(
            body["field"] == "ip" || body["field"] == "property",
            "{body}"
        );
    }
    (status, retry)
}

#[tokio::test]
async fn a_flood_from_one_ip_does_not_stop_another() {
    let h = Harness::start_with(|c| {
        c.rate_limit_loopback = true;
        c.rate_ip_per_sec = 5;
        c.rate_ip_burst = 10;
    })
    .await;
    let flooder = client_from("127.0.0.2");
    let honest = client_from("127.0.0.3");
    let mut flood_ok = Vec::new();
    let mut limited = 0;
    let started = Instant::now();
    for i in 0..200 {
        let b = batch_of("flooder", vec![beacon(&format!("flood-{i}"), 0, 1_000 + i)]);
        let (status, retry) = post_from(&h, &flooder, serde_json::to_vec(&b).unwrap()).await;
        match status {
            200 => flood_ok.push(format!("flood-{i}")),
            429 => {
                limited += 1;
                let secs: u64 = retry.expect("Retry-After on 429").parse().unwrap();
                assert!((1..=60).contains(&secs), "{secs}");
            }
            other => panic!("unexpected {other}"),
        }
        // The honest client, interleaved with the flood, always gets through.
        if i % 20 == 0 {
            let b = batch_of("honest", vec![beacon(&format!("honest-{i}"), 0, 5_000 + i)]);
            let (status, _) = post_from(&h, &honest, serde_json::to_vec(&b).unwrap()).await;
            assert_eq!(status, 200, "honest request {i} refused");
        }
    }
    // At most the burst plus what the bucket refilled meanwhile got through.
    let allowed = 10.0 + 5.0 * started.elapsed().as_secs_f64() + 1.0;
    assert!(
        (flood_ok.len() as f64) <= allowed && limited > 0,
        "{} passed (bucket allows {allowed:.0}), {limited} limited",
        flood_ok.len()
    );
    assert!(
        flood_ok.len() >= 10,
        "the burst should pass: {}",
        flood_ok.len()
    );
    let views = h.views().await;
    let stored = |prefix: &str| {
        views
            .iter()
            .filter(|v| v["view_id"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    assert_eq!(stored("honest-"), 10);
    // Exactly what was acknowledged was stored; nothing refused was.
    assert_eq!(stored("flood-"), flood_ok.len());
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_flood_on_one_property_does_not_stop_another() {
    let h = Harness::start_with(|c| {
        c.rate_limit_loopback = true;
        c.rate_ip_per_sec = 0;
        c.rate_property_per_sec = 10;
        c.rate_property_burst = 20;
    })
    .await;
    let client = client_from("127.0.0.4");
    let mut limited = 0;
    let mut passed = 0;
    let started = Instant::now();
    for i in 0..20 {
        let beacons = (0..5)
            .map(|j| beacon(&format!("p-{i}-{j}"), 0, 1_000))
            .collect();
        let (status, retry) = post_from(
            &h,
            &client,
            serde_json::to_vec(&batch_of("v", beacons)).unwrap(),
        )
        .await;
        if status == 429 {
            limited += 1;
            assert!(retry.is_some());
        } else {
            assert_eq!(status, 200);
            passed += 5;
        }
    }
    let allowed = 20.0 + 10.0 * started.elapsed().as_secs_f64() + 5.0;
    assert!(
        f64::from(passed) <= allowed && limited > 0,
        "{passed} beacons passed (bucket allows {allowed:.0}), {limited} limited"
    );
    let mut other = batch_of("v", vec![beacon("other-prop", 0, 1_000)]);
    other.property = "other".into();
    let (status, _) = post_from(&h, &client, serde_json::to_vec(&other).unwrap()).await;
    assert_eq!(status, 200);
    h.running.shutdown().await.unwrap();
}

/// Reads until the server closes; returns what came and how long it took.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(limit, s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "connection still open after {limit:?}");
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut() {
    let h = Harness::start_with(|c| {
        c.header_timeout_secs = 1;
        c.request_timeout_secs = 1;
    })
    .await;
    // Slowloris: headers trickled, never finished.
    let mut slow = TcpStream::connect(h.running.addr).await.unwrap();
    slow.write_all(b"POST /v1/beacons HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // Connected, sends nothing.
    let mut idle = TcpStream::connect(h.running.addr).await.unwrap();
    read_until_closed(&mut idle, Duration::from_secs(5)).await;
    // Idle after one request on a keep-alive connection.
    let mut kept = TcpStream::connect(h.running.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, _) = read_until_closed(&mut kept, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // A body that trickles: headers arrive, the body never completes → 408.
    let mut trickle = TcpStream::connect(h.running.addr).await.unwrap();
    trickle
        .write_all(b"POST /v1/beacons HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n{\"v\":")
        .await
        .unwrap();
    let (text, _) = read_until_closed(&mut trickle, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"field\":\"request\""), "{text}");
    assert!(h.views().await.is_empty());
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_ip_cannot_take_every_connection() {
    let h = Harness::start_with(|c| c.max_connections_per_ip = 3).await;
    let connect_from = |ip: &'static str| async move {
        let sock = TcpSocket::new_v4().unwrap();
        sock.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        sock.connect(h.running.addr).await.unwrap()
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.5").await);
    }
    // Give the accept loop time to count them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = connect_from("127.0.0.5").await;
    let (text, _) = read_until_closed(&mut fourth, Duration::from_secs(5)).await;
    assert!(text.is_empty(), "{text}");
    // Another address is still served.
    let mut other = connect_from("127.0.0.6").await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (text, _) = read_until_closed(&mut other, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // Closing one frees a slot for the first address (once the server saw it).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = connect_from("127.0.0.5").await;
        let _ = again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let (text, _) = read_until_closed(&mut again, Duration::from_secs(5)).await;
        if text.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed: {text:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    h.running.shutdown().await.unwrap();
}
