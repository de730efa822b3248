//! The operator dashboard, served by the collector itself so there is nothing
//! else to deploy: page routes, the login form and its cookie, and the static
//! assets (HTML, JS, CSS and the vendored uPlot chart library), embedded in the
//! binary with `include_bytes!` so the collector stays one file.
//!
//! Pages (`/`, `/breakdowns`, `/videos`, `/views`, `/errors`) all serve the same
//! shell; its JavaScript reads the path and the query string (time range and
//! filters live in the URL) and draws the page from the query API (`/v1/*`),
//! which it calls same-origin with the session cookie. Pages go through
//! [`crate::auth::require_operator_page`] (login redirect); the assets hold no
//! data and are public, so the login form can use the stylesheet. Every page
//! answers with a Content-Security-Policy that allows scripts from this origin
//! only, as a second line behind the escaping the scripts do (they write
//! page-originated strings with `textContent`, never `innerHTML`).

mod assets;

use std::path::Path;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_http::services::ServeDir;

use crate::auth::{self, Operator};

/// The dashboard's page paths (each serves the shell).
pub const PAGES: &[&str] = &["/", "/breakdowns", "/videos", "/views", "/errors"];

/// Content-Security-Policy of the dashboard's pages.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The dashboard routes: pages (behind the operator check), login, assets.
pub fn router(operator: Operator) -> Router {
    let mut pages = Router::new();
    for path in PAGES {
        pages = pages.route(path, get(shell));
    }
    let pages = pages.route_layer(from_fn_with_state(
        operator.clone(),
        auth::require_operator_page,
    ));
    Router::new()
        .merge(pages)
        .route("/login", get(login_form).post(login))
        .route("/logout", get(logout).post(logout))
        .with_state(operator)
        .route("/dashboard/assets/{*file}", get(assets::serve))
}

/// The demo page under `/demo/` (`/demo` redirects, so its relative links work).
pub fn demo_router(dir: &Path) -> Router {
    Router::new()
        .route("/demo", get(|| async { Redirect::permanent("/demo/") }))
        .nest_service("/demo/", ServeDir::new(dir))
}

fn page(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        html,
    )
        .into_response()
}

async fn shell(State(op): State<Operator>) -> Response {
    let html = String::from_utf8_lossy(assets::INDEX_HTML)
        .replace("{{LOGOUT}}", if op.has_token() { "" } else { "hidden" });
    page(StatusCode::OK, html)
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

/// A local path to return to after login (no scheme, no `//host`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

/// Escapes text for an HTML attribute or element.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn login_page(status: StatusCode, next: &str, message: &str) -> Response {
    let html = String::from_utf8_lossy(assets::LOGIN_HTML)
        .replace("{{NEXT}}", &escape_html(next))
        .replace("{{MESSAGE}}", &escape_html(message));
    page(status, html)
}

async fn login_form(State(op): State<Operator>, Query(q): Query<LoginQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if !op.has_token() {
        // Nothing to log in to: loopback clients go straight in.
        return Redirect::to(next).into_response();
    }
    login_page(StatusCode::OK, next, "")
}

async fn login(
    State(op): State<Operator>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref()).to_owned();
    let ip = Some(peer.ip());
    if op.may_try(ip).is_err() {
        return login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            "Too many wrong tokens from this address: wait a minute.",
        );
    }
    if !op.token_matches(f.token.trim()) {
        tracing::info!("dashboard login refused");
        let status = match op.wrong(ip) {
            Ok(()) => StatusCode::UNAUTHORIZED,
            Err(_) => StatusCode::TOO_MANY_REQUESTS,
        };
        return login_page(status, &next, "Wrong token.");
    }
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut resp = Redirect::to(&next).into_response();
    if let Some(cookie) = op.login_cookie(secure) {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    resp
}

async fn logout(State(op): State<Operator>) -> Response {
    let mut resp = Redirect::to(if op.has_token() { "/login" } else { "/" }).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, auth::logout_cookie());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_local_and_escaped() {
        assert_eq!(safe_next(Some("/videos?x=1")), "/videos?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(
            escape_html("\"><img src=x onerror=alert(1)>"),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
    }
}
