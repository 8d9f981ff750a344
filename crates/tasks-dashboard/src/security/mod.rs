//! The guard every request passes before any route (page, assets, API, live stream):
//!
//! 1. Without a token, the `Host` must be a loopback name, an IP address or an allowed name
//!    ([`origin`]), else `403 host_not_allowed`.
//! 2. With a token, the request must present it ([`token`]: bearer header, cookie, or `token`
//!    query parameter), else `401 unauthorized`. A page visit that brings it in the query
//!    gets it back as an HttpOnly, SameSite=Strict cookie and is redirected to the same URL
//!    without it, so the token does not stay in the address bar or the history.
//! 3. A state-changing request (any method but GET, HEAD, OPTIONS) must come from the
//!    dashboard's own origin or an allowed one, else `403 forbidden_origin`.
//!
//! A refused browser navigation gets a short HTML page; anything else the JSON error.

mod origin;
mod token;

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::api::{ApiError, ErrorCode};
use crate::options::DashboardOptions;

/// What the guard checks against, from the options.
#[derive(Debug)]
pub(crate) struct Security {
    token: Option<String>,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
}

impl Security {
    pub(crate) fn new(options: &DashboardOptions) -> Arc<Self> {
        Arc::new(Security {
            token: options.token.clone(),
            allowed_hosts: options.allowed_hosts.clone(),
            allowed_origins: options.allowed_origins.clone(),
        })
    }
}

/// The `host[:port]` the request was sent to.
fn authority(request: &Request) -> Option<String> {
    request
        .uri()
        .authority()
        .map(|authority| authority.as_str().to_owned())
        .or_else(|| request.headers().get(header::HOST)?.to_str().ok().map(str::to_owned))
}

/// Whether the request is a browser loading a page (it would show an HTML answer).
fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The refusal: HTML for a navigation, the JSON error otherwise.
fn refuse(navigation: bool, error: ApiError) -> Response {
    if !navigation {
        return error.into_response();
    }
    let status = error.code.status();
    // The message is one of this module's fixed texts, never request data.
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>tasks dashboard</title>\
         <p>{}</p>",
        error.message
    );
    let mut response = (status, Html(page)).into_response();
    if error.code == ErrorCode::Unauthorized {
        let challenge = HeaderValue::from_static("Bearer realm=\"tasks-dashboard\"");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// The middleware; see the module docs.
pub(crate) async fn guard(
    State(security): State<Arc<Security>>,
    request: Request,
    next: Next,
) -> Response {
    let authority = authority(&request);
    let authority = authority.as_deref();
    let navigation = is_navigation(request.method(), request.headers());
    match &security.token {
        None => {
            if !origin::host_allowed(authority, &security.allowed_hosts) {
                let message = "this dashboard has no token, so it answers only to loopback \
                               names and IP addresses: open it by address, or set a token";
                return refuse(navigation, ApiError::new(ErrorCode::HostNotAllowed, message));
            }
        }
        Some(expected) => {
            let presented =
                token::presented(expected, request.headers(), request.uri().query(), authority);
            match presented {
                None => {
                    let message = "this dashboard needs its access token: open the address \
                                   printed when it started (it ends in ?token=...), or send \
                                   an Authorization: Bearer header";
                    return refuse(navigation, ApiError::new(ErrorCode::Unauthorized, message));
                }
                Some(token::Presented::Query) if navigation => {
                    return remember_token(&request, authority, expected);
                }
                Some(_) => {}
            }
        }
    }
    if is_state_changing(request.method())
        && let Err(foreign) =
            origin::check_origin(request.headers(), authority, &security.allowed_origins)
    {
        let message = match foreign {
            origin::Foreign::Origin => {
                "state-changing requests must come from this dashboard's own origin"
            }
            origin::Foreign::FetchSite => "the browser marked this request cross-site",
        };
        return refuse(navigation, ApiError::new(ErrorCode::ForbiddenOrigin, message));
    }
    next.run(request).await
}

/// Sets the token cookie and sends the browser to the same URL without the token.
fn remember_token(request: &Request, authority: Option<&str>, token: &str) -> Response {
    // The URI as the client sent it, also when this router is nested under a prefix.
    let uri =
        request.extensions().get::<OriginalUri>().map_or(request.uri(), |original| &original.0);
    // `//host/...` would be a redirect to another site: keep one leading slash.
    let path = format!("/{}", uri.path().trim_start_matches('/'));
    let location = match token::without_token(uri.query()) {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(cookie) = token::set_cookie(authority, token) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
