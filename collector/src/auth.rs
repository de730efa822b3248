//! Operator access: who may read the data (query API, dashboard, export, live)
//! and run operator actions (erasure, backup, metrics).
//!
//! One rule, one place, applied as a route layer ([`require_operator`]):
//!
//! - with an operator token configured (`--admin-token` / `VIDPULSE_ADMIN_TOKEN`),
//!   a request needs `Authorization: Bearer <token>` or the dashboard's session
//!   cookie ([`SESSION_COOKIE`], set by the login form), from any address,
//!   loopback included (a reverse proxy on the same host is loopback too);
//! - with no token configured, only loopback clients are served (the local demo
//!   and tests need no login); anyone else gets 403.
//!
//! The token is compared in constant time: both sides are hashed with SHA-256
//! and the digests compared with `subtle` (so neither the content nor the length
//! leaks through timing). The cookie never holds the token itself but
//! SHA-256(`"vidpulse-session-v1\0"` ‖ token): rotating the token logs everyone
//! out, and a stolen cookie does not reveal the token. The token is never logged:
//! [`Secret`] prints as `"<redacted>"`, it is read from headers and form bodies
//! only (never from a URL, which the request log shows), and errors never echo it.

use std::fmt;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "vidpulse_session";
/// How long the session cookie lives, in seconds (12 hours).
pub const SESSION_MAX_AGE_S: u64 = 12 * 3600;

/// A string that never shows up in `Debug` output (logs, panics).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// The operator-access rule of a running collector. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Operator {
    token: Option<Secret>,
    guesses: std::sync::Arc<crate::guesses::Guesses>,
}

/// The outcome of checking a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Serve it.
    Granted,
    /// A token is configured and the request did not carry it (401).
    NeedsToken,
    /// No token is configured and the client is not on loopback (403).
    LoopbackOnly,
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Operator {
    /// The rule for an optional token (an empty token counts as none).
    pub fn new(token: Option<Secret>) -> Operator {
        Operator {
            token: token.filter(|Secret(t)| !t.is_empty()),
            guesses: std::sync::Arc::default(),
        }
    }

    /// The same rule, with wrong tokens limited per client IP ([`crate::guesses`]).
    pub fn with_guesses(mut self, guesses: crate::guesses::Guesses) -> Operator {
        self.guesses = std::sync::Arc::new(guesses);
        self
    }

    /// Whether `ip` may present a credential now; `Err` is the 429 to send.
    pub fn may_try(&self, ip: Option<std::net::IpAddr>) -> Result<(), crate::ratelimit::Limited> {
        match (self.has_token(), ip) {
            (true, Some(ip)) => self.guesses.check(ip),
            _ => Ok(()),
        }
    }

    /// Counts a wrong credential from `ip`; `Err` when that locked it out.
    pub fn wrong(&self, ip: Option<std::net::IpAddr>) -> Result<(), crate::ratelimit::Limited> {
        match (self.has_token(), ip) {
            (true, Some(ip)) => self.guesses.failed(ip),
            _ => Ok(()),
        }
    }

    /// Whether a token is configured (the dashboard then shows a login form).
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Constant-time check of a presented token.
    pub fn token_matches(&self, given: &str) -> bool {
        match &self.token {
            Some(Secret(t)) => digest(&[given.as_bytes()])
                .ct_eq(&digest(&[t.as_bytes()]))
                .into(),
            None => false,
        }
    }

    /// The session cookie's value for the configured token.
    pub fn session_value(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|Secret(t)| hex(&digest(&[b"vidpulse-session-v1\0", t.as_bytes()])))
    }

    fn session_matches(&self, given: &str) -> bool {
        match self.session_value() {
            Some(want) => digest(&[given.as_bytes()])
                .ct_eq(&digest(&[want.as_bytes()]))
                .into(),
            None => false,
        }
    }

    /// Checks a request's credentials.
    pub fn check(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Access {
        if self.token.is_none() {
            return if peer.is_some_and(|p| p.ip().is_loopback()) {
                Access::Granted
            } else {
                Access::LoopbackOnly
            };
        }
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.strip_prefix("Bearer "))
            .any(|t| self.token_matches(t.trim()));
        if bearer || session_cookie(headers).any(|c| self.session_matches(c)) {
            Access::Granted
        } else {
            Access::NeedsToken
        }
    }

    /// `Set-Cookie` for a successful login.
    pub fn login_cookie(&self, secure: bool) -> Option<HeaderValue> {
        let value = self.session_value()?;
        let secure = if secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_MAX_AGE_S}{secure}"
        ))
        .ok()
    }
}

/// `Set-Cookie` that removes the session cookie.
pub fn logout_cookie() -> HeaderValue {
    HeaderValue::from_static("vidpulse_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Every value of the session cookie in the `Cookie` headers.
fn session_cookie(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

/// Route layer for the query API and operator endpoints: 401 (with
/// `WWW-Authenticate: Bearer`) or 403 JSON naming `authorization`.
pub async fn require_operator(State(op): State<Operator>, req: Request, next: Next) -> Response {
    let access = match op.judge(&req) {
        Ok(access) => access,
        Err(limited) => return limited.into_response(),
    };
    match access {
        Access::Granted => next.run(req).await,
        Access::NeedsToken => {
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "operator endpoint: send Authorization: Bearer <admin token> (or log in to the dashboard)",
                Some("authorization".to_owned()),
            )
            .into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vidpulse\""),
            );
            resp
        }
        Access::LoopbackOnly => ApiError::new(
            StatusCode::FORBIDDEN,
            "operator endpoint: no admin token is configured, so only loopback clients are served",
            Some("authorization".to_owned()),
        )
        .into_response(),
    }
}

/// Route layer for dashboard pages: a browser without the session goes to the
/// login form (and comes back to the page it asked for).
pub async fn require_operator_page(
    State(op): State<Operator>,
    req: Request,
    next: Next,
) -> Response {
    let access = match op.judge(&req) {
        Ok(access) => access,
        Err(limited) => return limited.into_response(),
    };
    match access {
        Access::Granted => next.run(req).await,
        Access::NeedsToken => {
            let next_path = req
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            Redirect::to(&format!("/login?next={}", urlencode(&next_path))).into_response()
        }
        Access::LoopbackOnly => (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The dashboard has no admin token configured, so it only answers loopback \
             clients. Start the collector with --admin-token (or VIDPULSE_ADMIN_TOKEN).\n",
        )
            .into_response(),
    }
}

impl Operator {
    /// [`Operator::check`] for a request, with wrong credentials counted per
    /// client IP ([`crate::guesses`]): `Err` is the 429 for a locked-out IP.
    fn judge(&self, req: &Request) -> Result<Access, crate::ratelimit::Limited> {
        let peer = peer_of(req);
        let ip = peer.map(|p| p.ip());
        self.may_try(ip)?;
        let access = self.check(peer, req.headers());
        if access == Access::NeedsToken && presents_credential(req.headers()) {
            self.wrong(ip)?;
        }
        Ok(access)
    }
}

/// Whether the request carries a credential at all (a `Bearer` header or a
/// session cookie): only those count as guesses.
fn presents_credential(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(|v| v.as_bytes().starts_with(b"Bearer "))
        || session_cookie(headers).next().is_some()
}

fn peer_of(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: [u8; 4]) -> Option<SocketAddr> {
        Some(SocketAddr::from((ip, 1234)))
    }

    #[test]
    fn no_token_means_loopback_only() {
        let op = Operator::new(None);
        let h = HeaderMap::new();
        assert_eq!(op.check(peer([127, 0, 0, 1]), &h), Access::Granted);
        assert_eq!(op.check(peer([10, 0, 0, 1]), &h), Access::LoopbackOnly);
        assert_eq!(op.check(None, &h), Access::LoopbackOnly);
        assert_eq!(
            Operator::new(Some("".into())).check(peer([127, 0, 0, 1]), &h),
            Access::Granted
        );
    }

    #[test]
    fn token_by_bearer_or_cookie_from_anywhere() {
        let op = Operator::new(Some("s3cret".into()));
        let mut h = HeaderMap::new();
        assert_eq!(op.check(peer([127, 0, 0, 1]), &h), Access::NeedsToken);
        h.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert_eq!(op.check(peer([10, 0, 0, 1]), &h), Access::NeedsToken);
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert_eq!(op.check(peer([10, 0, 0, 1]), &h), Access::Granted);
        let mut c = HeaderMap::new();
        c.insert(
            header::COOKIE,
            "a=b; vidpulse_session=s3cret".parse().unwrap(),
        );
        assert_eq!(
            op.check(None, &c),
            Access::NeedsToken,
            "the raw token is not a session"
        );
        let cookie = format!("a=b; {SESSION_COOKIE}={}", op.session_value().unwrap());
        c.insert(header::COOKIE, cookie.parse().unwrap());
        assert_eq!(op.check(None, &c), Access::Granted);
        assert!(!op.session_value().unwrap().contains("s3cret"));
    }

    #[test]
    fn secrets_do_not_print() {
        let op = Operator::new(Some("s3cret".into()));
        assert!(!format!("{op:?}").contains("s3cret"));
        let config =
            <crate::Config as clap::Parser>::try_parse_from(["x", "--admin-token", "s3cret"])
                .unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(op.token_matches("s3cret") && !op.token_matches("s3cre") && !op.token_matches(""));
    }
}
