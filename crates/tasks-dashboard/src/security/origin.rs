//! Where a request comes from: whether its `Host` is one the dashboard answers to without a
//! token, and whether a state-changing request comes from the dashboard's own origin.
//!
//! The `Host` rule defends a token-less dashboard on loopback against DNS rebinding: a page
//! on `evil.example` whose name is made to resolve to 127.0.0.1 would otherwise be same-origin
//! with the dashboard and could read it. Its requests carry `Host: evil.example`, so only
//! loopback names, IP addresses and the names allowed by the options are answered.
//!
//! The `Origin` rule defends state-changing requests against other sites (cross-site request
//! forgery): a browser always sends `Origin` on a cross-origin `POST`, so a request whose
//! `Origin` is not the dashboard's own (nor an allowed one) is refused; a request without one
//! (curl, a script) is not a browser's cross-site request and passes.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};

/// The name part of `host[:port]`, lowercased, without IPv6 brackets.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_owned();
    }
    match authority.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => authority,
    }
}

/// Whether a token-less dashboard answers requests for `authority`.
pub(crate) fn host_allowed(authority: Option<&str>, allowed: &[String]) -> bool {
    // A request without a Host (HTTP/1.0) cannot come from a browser page.
    let Some(authority) = authority else { return true };
    let name = host_name(authority);
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok()
        || allowed.contains(&name)
}

/// Why a state-changing request was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Foreign {
    /// Its `Origin` is another site's (or `null`).
    Origin,
    /// It has no `Origin`, but the browser says it is cross-site (`Sec-Fetch-Site`).
    FetchSite,
}

/// Checks a state-changing request's origin against the dashboard's own (`authority`, the
/// request's `Host`) and the allowed ones.
pub(crate) fn check_origin(
    headers: &HeaderMap,
    authority: Option<&str>,
    allowed: &[String],
) -> Result<(), Foreign> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| Foreign::Origin)?.trim().to_ascii_lowercase();
        if allowed.contains(&origin) {
            return Ok(());
        }
        // Same origin: the Origin's authority is the Host asked for. The scheme is not
        // compared: behind a TLS-terminating proxy the server sees http, the page https.
        let own = authority.map(str::to_ascii_lowercase);
        let origin_authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or(Foreign::Origin)?;
        return if own.as_deref() == Some(origin_authority) {
            Ok(())
        } else {
            Err(Foreign::Origin)
        };
    }
    match headers.get("sec-fetch-site").and_then(|value| value.to_str().ok()) {
        Some("cross-site" | "same-site") => Err(Foreign::FetchSite),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn loopback_names_and_addresses_are_answered_other_names_not() {
        for host in ["127.0.0.1:8080", "localhost:1", "app.localhost", "[::1]:9000", "10.1.2.3"] {
            assert!(host_allowed(Some(host), &[]), "{host}");
        }
        for host in ["evil.example", "evil.example:8080", "localhost.evil.example"] {
            assert!(!host_allowed(Some(host), &[]), "{host}");
        }
        assert!(host_allowed(Some("tasks.internal:80"), &["tasks.internal".to_owned()]));
    }

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("a header value"));
        headers
    }

    #[test]
    fn only_the_own_or_allowed_origin_may_change_state() {
        let host = Some("127.0.0.1:8080");
        assert_eq!(check_origin(&with("origin", "http://127.0.0.1:8080"), host, &[]), Ok(()));
        assert_eq!(check_origin(&HeaderMap::new(), host, &[]), Ok(()));
        for foreign in ["http://evil.example", "http://127.0.0.1:8081", "null", "file://"] {
            assert_eq!(check_origin(&with("origin", foreign), host, &[]), Err(Foreign::Origin));
        }
        let allowed = ["https://tasks.example".to_owned()];
        assert_eq!(check_origin(&with("origin", "https://tasks.example"), host, &allowed), Ok(()));
        let cross = with("sec-fetch-site", "cross-site");
        assert_eq!(check_origin(&cross, host, &[]), Err(Foreign::FetchSite));
    }
}
