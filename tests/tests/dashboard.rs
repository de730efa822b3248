//! Browser tests of the operator dashboard: why they exist. The dashboard is what
//! an operator trusts; these load every page in headless Chromium against a
//! collector seeded over HTTP with known views (hostile strings included) and
//! check that the numbers shown equal the API's, that a new beacon reaches the
//! live overview within 2 s, that no page logs a console error, runs injected
//! code or overflows the viewport, and that a configured token means a login.
//! Each page's screenshot is saved under `target/screenshots/`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use vidpulse_e2e::dashboard::*;
use vidpulse_e2e::{Harness, BROWSER_LOCK};
use vidpulse_plugin::wire::NotableEvent;

fn seed_views() -> Vec<SeedView> {
    let alpha = ("vid-alpha", "Alpha");
    let beta = ("vid-beta", "Beta");
    let mut v = vec![
        SeedView::new("a1", alpha, 50, 9_000),
        SeedView::new("a2", alpha, 40, 8_000),
        SeedView::new("a3", alpha, 30, 4_000),
        SeedView::new("b1", beta, 20, 3_000),
        SeedView::new("b2", beta, 10, 2_000),
        SeedView::new("h1", (HOSTILE_VIDEO_ID, HOSTILE_TITLE), 5, 1_000),
    ];
    v[1].ua = FIREFOX_UA;
    v[1].metrics.startup_ms = Some(1_200);
    v[1].metrics.rebuffer_count = 2;
    v[1].metrics.rebuffer_ms = 900;
    v[1].events = vec![
        NotableEvent::Rendition {
            at_ms: 350,
            width: 640,
            height: 360,
            bitrate: None,
        },
        NotableEvent::Stall {
            at_ms: 2_000,
            dur_ms: 500,
        },
        NotableEvent::Seek {
            at_ms: 4_000,
            dur_ms: 300,
            from_ms: 3_000,
            to_ms: 7_000,
        },
        NotableEvent::Stall {
            at_ms: 5_000,
            dur_ms: 400,
        },
        NotableEvent::Error {
            at_ms: 6_000,
            code: 1002,
            message: "segment retry".into(),
            fatal: false,
        },
        NotableEvent::Rendition {
            at_ms: 6_500,
            width: 1280,
            height: 720,
            bitrate: Some(2_500_000),
        },
    ];
    v[2].metrics.coverage = Some("01f".into());
    v[2].metrics.completed = false;
    v[3].ua = FIREFOX_UA;
    v[3].metrics.error = Some(fatal(4, "MEDIA_ERR_SRC_NOT_SUPPORTED"));
    v[3].metrics.coverage = Some("007".into());
    v[3].metrics.completed = false;
    v[4].metrics.error = Some(fatal(4, "MEDIA_ERR_SRC_NOT_SUPPORTED"));
    v[5].player = RTL_PLAYER.into();
    v[5].src = "javascript:window.__xss='src'//\"><svg onload=window.__xss=1>".into();
    v[5].metrics.error = Some(fatal(3, &hostile_error_message()));
    v
}

/// Equal JSON values, numbers compared as numbers (`3` equals `3.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => a == b,
    }
}

fn range_of(root: &Value) -> Result<String> {
    let from = root["from"].as_str().context("data-from")?;
    let to = root["to"].as_str().context("data-to")?;
    Ok(format!("from={from}&to={to}"))
}

async fn page_range(h: &Harness) -> Result<String> {
    let r = h
        .js("const p = document.getElementById('page'); return {from: p.dataset.from, to: p.dataset.to};")
        .await?;
    range_of(&r)
}

async fn overview(h: &Harness) -> Result<()> {
    h.open_dashboard("/").await?;
    let range = page_range(h).await?;
    let api = h.api(&format!("/v1/kpis?{range}"), None).await?;
    let tiles = h
        .js("return Object.fromEntries([...document.querySelectorAll('.tile[id^=kpi-]')].map(t => \
             [t.id.slice(4), {raw: JSON.parse(t.dataset.raw), text: t.querySelector('.tile-value').textContent}]));")
        .await?;
    let keys = [
        "views",
        "unique_viewers",
        "playing_ms",
        "startup_p50_ms",
        "startup_p95_ms",
        "rebuffer_pct",
        "failure_pct",
        "ebvs_pct",
    ];
    for k in keys {
        ensure!(
            same(&tiles[k]["raw"], &api["totals"][k]),
            "tile {k}: page {} vs API {}",
            tiles[k],
            api["totals"][k]
        );
    }
    ensure!(api["totals"]["views"] == 6, "seeded 6 views: {api}");
    ensure!(
        tiles["views"]["text"] == "6",
        "views tile text: {}",
        tiles["views"]
    );
    ensure!(
        tiles["failure_pct"]["text"] == "50.00 %",
        "failure tile: {}",
        tiles["failure_pct"]
    );
    ensure!(
        tiles["startup_p95_ms"]["text"]
            .as_str()
            .is_some_and(|t| t.ends_with(" s") || t.ends_with(" ms")),
        "{}",
        tiles["startup_p95_ms"]
    );

    // Live: every seeded view has ended, so nobody watches; one new beacon of an
    // open view must show within 2 s.
    h.wait_js(
        "return document.getElementById('live-concurrent').dataset.raw === '0';",
        Duration::from_secs(5),
        "the live stream's first event",
    )
    .await?;
    let mut open = SeedView::new("live-1", ("vid-alpha", "Alpha"), 0, 1_000);
    open.metrics.view_ended = false;
    open.metrics.ended = false;
    seed(h, &[open]).await?;
    let acked = Instant::now();
    h.wait_js(
        "return document.getElementById('live-concurrent').dataset.raw === '1';",
        Duration::from_secs(2),
        "the new viewer on the live overview",
    )
    .await?;
    println!(
        "[overview] new beacon shown live after {:?}",
        acked.elapsed()
    );
    h.check_page("overview").await?;
    Ok(())
}

async fn breakdowns(h: &Harness) -> Result<()> {
    h.open_dashboard("/breakdowns?dim=browser&kpi=startup_p50_ms")
        .await?;
    let range = page_range(h).await?;
    let api = h
        .api(&format!("/v1/kpis?{range}&group_by=browser"), None)
        .await?;
    let rows = h
        .js("const i = [...document.querySelectorAll('#breakdown-table thead th')].findIndex(t => t.textContent.startsWith('Views')); \
             return [...document.querySelectorAll('#breakdown-table tbody tr')].map(r => \
             ({value: r.cells[0].textContent, views: Number(r.cells[i].dataset.raw)}));")
        .await?;
    let groups = api["groups"].as_array().context("groups")?;
    ensure!(
        rows.as_array().map(Vec::len) == Some(groups.len()),
        "rows {rows} vs groups {api}"
    );
    for g in groups {
        let shown = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == g["value"]);
        let shown = shown.with_context(|| format!("no row for {}", g["value"]))?;
        ensure!(
            same(&shown["views"], &g["kpis"]["views"]),
            "{} views: page {shown} vs API {g}",
            g["value"]
        );
    }
    // Sorting by a header keeps every row and orders them.
    h.client()
        .find(fantoccini::Locator::Css("button.sort[data-key='views']"))
        .await?
        .click()
        .await?;
    h.wait_js(
        "return document.body.dataset.ready === '1' && location.search.includes('sort=views');",
        Duration::from_secs(10),
        "the sorted table",
    )
    .await?;
    h.check_page("breakdowns").await?;
    Ok(())
}

async fn videos(h: &Harness) -> Result<()> {
    h.open_dashboard("/videos?compare=vid-alpha&compare=vid-beta")
        .await?;
    let range = page_range(h).await?;
    let api = h
        .api(&format!("/v1/videos?{range}&limit=200"), None)
        .await?;
    for v in api["videos"].as_array().context("videos")? {
        let id = v["video_id"].as_str().unwrap();
        let shown = h
            .client()
            .execute(
                "const c = [...document.querySelectorAll('.card')].find(c => c.dataset.video === arguments[0]); \
                 return c ? {views: JSON.parse(c.querySelector('dd[data-kpi=views]').dataset.raw), \
                 title: c.querySelector('.card-title').textContent} : null;",
                vec![Value::String(id.into())],
            )
            .await?;
        ensure!(
            same(&shown["views"], &v["kpis"]["views"]),
            "video {id}: page {shown} vs API {v}"
        );
    }
    let hostile = h
        .client()
        .execute(
            "return [...document.querySelectorAll('.card-title')].map(t => t.textContent);",
            vec![],
        )
        .await?;
    ensure!(
        hostile
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == HOSTILE_TITLE),
        "the hostile title is shown as text: {hostile}"
    );
    ensure!(h.js("return !!document.querySelector('#compare-table') && !!document.querySelector('#retention-chart canvas');").await? == true, "comparison and retention chart drawn");
    ensure!(
        h.js("return document.querySelectorAll('.heatmap canvas').length;")
            .await?
            == 2,
        "two heatmaps"
    );
    h.check_page("videos").await?;
    Ok(())
}

async fn views(h: &Harness) -> Result<()> {
    h.open_dashboard("/views").await?;
    let range = page_range(h).await?;
    let api = h.api(&format!("/v1/views?{range}&limit=50"), None).await?;
    let rows = h.js("return [...document.querySelectorAll('#views-table tbody tr')].map(r => r.dataset.view);").await?;
    let ids: Vec<&Value> = api
        .as_array()
        .context("views")?
        .iter()
        .map(|v| &v["view_id"])
        .collect();
    ensure!(
        rows.as_array().unwrap().iter().collect::<Vec<_>>() == ids,
        "rows {rows} vs API {api}"
    );
    let title = h.js("return [...document.querySelectorAll('#views-table tbody tr')].find(r => r.dataset.view === 'h1').cells[1].textContent;").await?;
    ensure!(title == HOSTILE_TITLE, "hostile title as text: {title}");
    h.check_page("views").await?;

    // The hostile view's page: title, source, player, long error as text.
    h.open_dashboard("/views?view=h1").await?;
    h.check_page("view-hostile").await?;

    h.open_dashboard("/views?view=a2").await?;
    let detail = h.api("/v1/views/a2", None).await?;
    let n = detail["events"].as_array().context("events")?.len() + 1; // + startup
    let shown = h
        .js("return document.querySelectorAll('#timeline-table tbody tr').length;")
        .await?;
    ensure!(
        shown.as_u64() == Some(n as u64),
        "timeline rows {shown} vs {n} (events + startup)"
    );
    ensure!(
        h.js("return !!document.querySelector('#timeline-chart canvas');")
            .await?
            == true,
        "timeline chart drawn"
    );
    h.check_page("view-timeline").await?;
    Ok(())
}

async fn errors(h: &Harness) -> Result<()> {
    h.open_dashboard("/errors").await?;
    let range = page_range(h).await?;
    let api = h.api(&format!("/v1/errors?{range}"), None).await?;
    let groups = api["errors"].as_array().context("errors")?;
    ensure!(
        groups.len() == 3,
        "fatal 4, fatal 3 (hostile), non-fatal 1002: {api}"
    );
    let rows = h
        .js("return [...document.querySelectorAll('#errors-table tbody tr')].map(r => \
             ({code: Number(r.cells[0].textContent), message: r.cells[1].textContent, views: Number(r.cells[4].dataset.raw)}));")
        .await?;
    for g in groups {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == g["code"] && r["message"] == g["message"]);
        let row = row.with_context(|| format!("no row for {g}"))?;
        ensure!(
            same(&row["views"], &g["views"]),
            "error {}: page {row} vs API {g}",
            g["code"]
        );
    }
    let four = groups.iter().find(|g| g["code"] == 4).context("code 4")?;
    ensure!(four["views"] == 2 && four["occurrences"] == 2, "{four}");
    h.check_page("errors").await?;
    Ok(())
}

#[tokio::test]
async fn dashboard_pages_show_the_api_numbers_and_escape_page_strings() -> Result<()> {
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start().await?;
    let scenario = async {
        seed(&h, &seed_views()).await?;
        overview(&h).await?;
        breakdowns(&h).await?;
        videos(&h).await?;
        views(&h).await?;
        errors(&h).await?;
        Ok(())
    }
    .await;
    h.finish_after("dashboard_pages", scenario).await
}

#[tokio::test]
async fn dashboard_needs_the_token_when_one_is_set() -> Result<()> {
    const TOKEN: &str = "op-token-7f3a9c";
    let _lock = BROWSER_LOCK.lock().await;
    let h = Harness::start_with(|c| c.admin_token = Some(TOKEN.into())).await?;
    let scenario = async {
        // The API: 401 without or with a wrong token, 200 with it; ingest stays open.
        for (token, want) in [(None, 401), (Some("wrong"), 401), (Some(TOKEN), 200)] {
            let mut req = h.http.get(format!("{}/v1/kpis", h.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let status = req.send().await?.status().as_u16();
            ensure!(
                status == want,
                "GET /v1/kpis with {token:?}: {status}, want {want}"
            );
        }
        seed(&h, &seed_views()[..2]).await?;

        let c = h.client();
        c.goto(&format!("{}/videos?range=7d", h.base)).await?;
        ensure!(
            c.current_url().await?.path() == "/login",
            "not sent to the login form: {}",
            c.current_url().await?
        );
        h.check_page("login").await?;
        c.find(fantoccini::Locator::Css("#token"))
            .await?
            .send_keys("not-the-token")
            .await?;
        c.find(fantoccini::Locator::Css("#login"))
            .await?
            .click()
            .await?;
        // The form posts and the answer replaces the page: wait for its message.
        let msg = h
            .wait_js(
                "const m = document.getElementById('login-message'); \
                 return m && m.textContent ? m.textContent : null;",
                Duration::from_secs(10),
                "the login form's answer",
            )
            .await?;
        ensure!(msg == "Wrong token.", "wrong token message: {msg}");
        ensure!(
            c.get_all_cookies().await?.is_empty(),
            "a cookie after a wrong token"
        );
        h.console_log().await?; // the 401 of the refused form is expected

        c.find(fantoccini::Locator::Css("#token"))
            .await?
            .send_keys(TOKEN)
            .await?;
        c.find(fantoccini::Locator::Css("#login"))
            .await?
            .click()
            .await?;
        h.wait_js(
            "return location.pathname === '/videos' && document.body.dataset.ready === '1';",
            Duration::from_secs(10),
            "the videos page after login",
        )
        .await?;
        ensure!(
            c.current_url().await?.query() == Some("range=7d"),
            "came back to the page asked for"
        );
        let cookies = c.get_all_cookies().await?;
        let session = cookies
            .iter()
            .find(|k| k.name() == "vidpulse_session")
            .context("session cookie")?;
        ensure!(
            session.http_only() == Some(true) && !session.value().contains(TOKEN),
            "cookie {session:?}"
        );
        let cards = h
            .js("return document.querySelectorAll('.card').length;")
            .await?;
        ensure!(cards == 1, "the seeded video after login: {cards}");
        h.check_page("videos-after-login").await?;
        h.open_dashboard("/").await?;
        ensure!(
            h.js("return document.getElementById('kpi-views').dataset.raw;")
                .await?
                == "2",
            "overview after login"
        );
        h.check_page("overview-after-login").await?;
        Ok(())
    }
    .await;
    h.finish_after("dashboard_login", scenario).await
}
