//! The page and its static files, embedded in the binary with `include_str!`: no build step,
//! no CDN, nothing fetched at run time. The browser module of the live bridge
//! (`/live/tasks-live.js`) is served by tasks-live itself.
//!
//! Every file goes out with a strict Content-Security-Policy: scripts, styles and connections
//! only from the dashboard's own origin, no inline script, no framing. The page renders task
//! data with `textContent` only; the policy is a second wall behind that.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ApiError, ErrorCode};

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");

/// The files under `/assets/`: name, content type, content. The scripts are ES modules;
/// `dashboard.js` is the entry, importing the others.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("dashboard.css", CSS, include_str!("../assets/dashboard.css")),
    ("dashboard.js", JS, include_str!("../assets/dashboard.js")),
    ("common.js", JS, include_str!("../assets/common.js")),
    ("counts.js", JS, include_str!("../assets/counts.js")),
    ("table.js", JS, include_str!("../assets/table.js")),
    ("detail.js", JS, include_str!("../assets/detail.js")),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidate every time: a new binary must not be hidden behind an old cached script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /`: the page.
pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /assets/{file}`: one of [`ASSETS`], or `404 not_found`.
pub(crate) async fn file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => asset(content_type, body),
        None => ApiError::new(ErrorCode::NotFound, "no such asset").into_response(),
    }
}
