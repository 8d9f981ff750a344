//! Finding the access token in a request: an `Authorization: Bearer` header, the dashboard's
//! cookie, or a `token` query parameter; and the cookie that carries it after the first visit.
//!
//! The cookie's name carries the port of the request's `Host`, because browsers share cookies
//! between the ports of one host: two dashboards on 127.0.0.1:8080 and :8081 (a `tasks serve`
//! next to a `tasks demo --serve`) would otherwise overwrite each other's token.

use axum::http::{HeaderMap, HeaderValue, header};

/// Where a request presented the token.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Presented {
    /// In an `Authorization: Bearer` header.
    Header,
    /// In the dashboard's cookie.
    Cookie,
    /// In the `token` query parameter.
    Query,
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The name of the token cookie for requests to `authority` (`host[:port]`).
pub(crate) fn cookie_name(authority: Option<&str>) -> String {
    let port = authority
        .and_then(|authority| authority.rsplit_once(':'))
        .map(|(_, port)| port)
        .filter(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("default");
    format!("tasks_dashboard_token_{port}")
}

/// The `Set-Cookie` value that stores `token` for this dashboard: HttpOnly (no script reads
/// it), SameSite=Strict (no other site's request carries it), for every path.
pub(crate) fn set_cookie(authority: Option<&str>, token: &str) -> Option<HeaderValue> {
    let value = format!("{}={token}; Path=/; HttpOnly; SameSite=Strict", cookie_name(authority));
    HeaderValue::from_str(&value).ok()
}

/// The `token` values of a query string.
pub(crate) fn query_tokens(query: Option<&str>) -> Vec<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    pairs.into_iter().filter(|(key, _)| key == "token").map(|(_, value)| value).collect()
}

/// The query string without its `token` parameters (`None` when nothing is left).
pub(crate) fn without_token(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(key, _)| key != "token").collect();
    if kept.is_empty() {
        return None;
    }
    serde_urlencoded::to_string(&kept).ok()
}

/// Where `headers` and `query` present `expected`, if anywhere.
pub(crate) fn presented(
    expected: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    authority: Option<&str>,
) -> Option<Presented> {
    let expected = expected.as_bytes();
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.trim().strip_prefix("Bearer "))
        .any(|token| same(token.trim().as_bytes(), expected));
    if bearer {
        return Some(Presented::Header);
    }
    let name = cookie_name(authority);
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(key, value)| key == name && same(value.as_bytes(), expected));
    if cookie {
        return Some(Presented::Cookie);
    }
    query_tokens(query)
        .iter()
        .any(|token| same(token.as_bytes(), expected))
        .then_some(Presented::Query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_str(value).expect("a header value"));
        }
        map
    }

    #[test]
    fn each_way_of_presenting_is_found() {
        let host = Some("127.0.0.1:8080");
        let bearer = headers(&[(header::AUTHORIZATION, "Bearer s3cret")]);
        assert_eq!(presented("s3cret", &bearer, None, host), Some(Presented::Header));
        let cookie = headers(&[(header::COOKIE, "a=b; tasks_dashboard_token_8080=s3cret")]);
        assert_eq!(presented("s3cret", &cookie, None, host), Some(Presented::Cookie));
        let empty = HeaderMap::new();
        assert_eq!(
            presented("s3cret", &empty, Some("x=1&token=s3cret"), host),
            Some(Presented::Query)
        );
    }

    #[test]
    fn wrong_tokens_and_other_ports_cookies_are_not_accepted() {
        let host = Some("127.0.0.1:8080");
        let wrong = headers(&[(header::AUTHORIZATION, "Bearer s3cre")]);
        assert_eq!(presented("s3cret", &wrong, Some("token=nope"), host), None);
        let other_port = headers(&[(header::COOKIE, "tasks_dashboard_token_8081=s3cret")]);
        assert_eq!(presented("s3cret", &other_port, None, host), None);
    }

    #[test]
    fn the_token_is_taken_out_of_the_query() {
        assert_eq!(without_token(Some("token=a")), None);
        assert_eq!(without_token(Some("token=a&state=running")).as_deref(), Some("state=running"));
        assert_eq!(cookie_name(Some("[::1]:9000")), "tasks_dashboard_token_9000");
        assert_eq!(cookie_name(Some("localhost")), "tasks_dashboard_token_default");
    }
}
