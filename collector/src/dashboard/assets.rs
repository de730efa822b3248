//! The dashboard's static files, embedded at build time: the page shell, the
//! login form, the scripts and styles, and uPlot (vendored from npm, version
//! in `assets/vendor/uplot/VERSION`, checked against npm by `cargo xtask vendor`).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The page shell served at every dashboard path.
pub const INDEX_HTML: &[u8] = include_bytes!("assets/index.html");
/// The login form.
pub const LOGIN_HTML: &[u8] = include_bytes!("assets/login.html");

/// `(name under /dashboard/assets/, content type, bytes)`.
pub const FILES: &[(&str, &str, &[u8])] = &[
    ("app.css", CSS, include_bytes!("assets/app.css")),
    ("app.js", JS, include_bytes!("assets/app.js")),
    ("common.js", JS, include_bytes!("assets/common.js")),
    ("overview.js", JS, include_bytes!("assets/overview.js")),
    ("breakdowns.js", JS, include_bytes!("assets/breakdowns.js")),
    ("videos.js", JS, include_bytes!("assets/videos.js")),
    ("views.js", JS, include_bytes!("assets/views.js")),
    ("errors.js", JS, include_bytes!("assets/errors.js")),
    (
        "vendor/uplot/uPlot.iife.min.js",
        JS,
        include_bytes!("assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "vendor/uplot/uPlot.min.css",
        CSS,
        include_bytes!("assets/vendor/uplot/uPlot.min.css"),
    ),
    (
        "vendor/uplot/LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("assets/vendor/uplot/LICENSE"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// `GET /dashboard/assets/{*file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// The vendored uPlot files are the ones the manifest records (the manifest
    /// itself is checked against npm by `cargo xtask vendor`).
    #[test]
    fn vendored_files_match_their_manifest() {
        let manifest = include_str!("assets/vendor/uplot/VERSION");
        let mut checked = 0;
        for line in manifest.lines().filter(|l| l.starts_with("sha256 ")) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (want, name) = (parts[1], parts[3]);
            let (_, _, bytes) = super::FILES
                .iter()
                .find(|(n, _, _)| *n == format!("vendor/uplot/{name}"))
                .unwrap_or_else(|| panic!("{name} is not served"));
            let got: String = Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(got, want, "{name}");
            checked += 1;
        }
        assert_eq!(checked, 3);
    }
}
