//! The dashboard's server side over real HTTP: why it exists. The operator check
//! (bearer token or login cookie) must guard every data route and page while
//! ingest stays open, the login form must trade only the right token for a
//! cookie, and `GET /v1/errors` must group errors exactly.

mod common;

use common::*;
use reqwest::redirect::Policy;
use vidpulse_plugin::wire::{NotableEvent, PlaybackError};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_data_route_and_page_needs_the_token_when_set() {
    let h = Harness::start_with(|c| c.admin_token = Some("s3cret".into())).await;
    let c = no_redirects();
    for path in [
        "/v1/views",
        "/v1/views/x",
        "/v1/kpis",
        "/v1/timeseries",
        "/v1/videos",
        "/v1/videos/x/retention",
        "/v1/summary",
        "/v1/live",
        "/v1/export",
        "/v1/errors",
        "/metrics",
    ] {
        let resp = c.get(h.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert!(resp.headers().contains_key("www-authenticate"), "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["field"], "authorization", "{path}");
        let resp = c
            .get(h.url(path))
            .bearer_auth("s3cre")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path} with a wrong token");
    }
    let resp = c.post(h.url("/v1/backup")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    // Public: ingest, health, the API description, the drop-in script, assets.
    let (status, _) = h.post(&batch(vec![beacon("v1", 0, T0)])).await;
    assert_eq!(status, 200);
    for path in [
        "/healthz",
        "/v1/openapi.json",
        "/v1/plugin.js",
        "/dashboard/assets/app.js",
        "/login",
    ] {
        let resp = c.get(h.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    // A page without the session goes to the login form and asks to come back.
    let resp = c.get(h.url("/videos?range=7d")).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/login?next=/videos%3Frange%3D7d"
    );
    // A wrong token gets no cookie; the right one gets a session cookie (not the token).
    let resp = c
        .post(h.url("/login"))
        .form(&[("token", "nope"), ("next", "/videos")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(!resp.headers().contains_key("set-cookie"));
    let resp = c
        .post(h.url("/login"))
        .form(&[("token", "s3cret"), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/", "no open redirect");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("s3cret"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let resp = c
        .get(h.url("/v1/kpis"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = c
        .get(h.url("/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let resp = c
        .get(h.url("/v1/kpis"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn errors_are_grouped_by_code_and_message() {
    let h = Harness::start().await;
    let err = |code, msg: &str| PlaybackError {
        code,
        message: msg.into(),
        before_first_frame: false,
    };
    let mut a = beacon("a", 1, T0);
    a.metrics.error = Some(err(4, "not supported"));
    let mut b = beacon("b", 1, T0 + 1_000);
    b.metrics.error = Some(err(4, "not supported"));
    b.events = vec![
        NotableEvent::Error {
            at_ms: 10,
            code: 2,
            message: "retry".into(),
            fatal: false,
        },
        NotableEvent::Error {
            at_ms: 20,
            code: 2,
            message: "retry".into(),
            fatal: false,
        },
    ];
    let mut c = beacon("c", 1, T0 + 2_000);
    c.metrics.error = Some(err(4, "other message"));
    let clean = beacon("d", 1, T0 + 3_000);
    let (status, body) = h.post(&batch(vec![a, b, c, clean])).await;
    assert_eq!(status, 200, "{body}");
    let e = h
        .get_ok(&format!("/v1/errors?from={T0}&to={}", T0 + 60_000))
        .await;
    assert_eq!(e["views_scanned"], 4);
    assert_eq!(e["views_with_errors"], 3);
    let groups = e["errors"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{e}");
    assert_eq!(
        (
            &groups[0]["code"],
            &groups[0]["message"],
            &groups[0]["views"],
            &groups[0]["occurrences"]
        ),
        (&4.into(), &"not supported".into(), &2.into(), &2.into())
    );
    assert_eq!(groups[0]["sample_view_ids"], serde_json::json!(["b", "a"]));
    let retry = groups.iter().find(|g| g["code"] == 2).unwrap();
    assert_eq!(
        (&retry["views"], &retry["occurrences"], &retry["fatal"]),
        (&1.into(), &2.into(), &false.into())
    );
    // Out of range: nothing; bad parameters name themselves.
    let e = h
        .get_ok(&format!(
            "/v1/errors?from={}&to={}",
            T0 + 60_000,
            T0 + 120_000
        ))
        .await;
    assert_eq!(e["errors"], serde_json::json!([]));
    let (status, body) = h.get("/v1/errors?group_by=video").await;
    assert_eq!((status, &body["field"]), (400, &"group_by".into()));
    let (status, body) = h.get("/v1/errors?filter=nope:1").await;
    assert_eq!((status, &body["field"]), (400, &"filter".into()));
    h.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_tokens_from_one_address_are_limited_then_locked_out() {
    let h = Harness::start_with(|c| {
        c.admin_token = Some("s3cret".into());
        c.max_token_failures = 3;
        // The test client is on loopback, which is otherwise exempt.
        c.rate_limit_loopback = true;
    })
    .await;
    let c = no_redirects();
    // The right token before any guess, and no credential at all: not counted.
    let ok = c
        .get(h.url("/v1/kpis"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for _ in 0..5 {
        let none = c.get(h.url("/v1/kpis")).send().await.unwrap();
        assert_eq!(none.status(), 401);
    }
    for i in 0..3 {
        let wrong = c
            .get(h.url("/v1/kpis"))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "wrong token {i}");
    }
    let limited = c
        .get(h.url("/v1/kpis"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["field"], "authorization");
    // Locked out: even the right token waits, on the API and the login form.
    let right = c
        .get(h.url("/v1/kpis"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 429);
    let login = c
        .post(h.url("/login"))
        .form(&[("token", "s3cret"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 429);
    assert!(login.headers().get("set-cookie").is_none());
}
