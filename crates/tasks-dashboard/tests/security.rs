//! Security over plain HTTP: with a token, every request (page, assets, API, live stream, the
//! live bridge's module, unknown paths) needs it, by bearer header, by the cookie a first
//! visit with `?token=` sets, or by the query; state-changing requests also refuse foreign
//! origins (with or without a token); a token-less dashboard answers only to loopback names
//! and IP addresses (DNS rebinding); the page carries a strict Content-Security-Policy.

mod support;

use reqwest::header::{self, HeaderMap};
use serde_json::json;
use tasks_core::{EnqueueOptions, TaskStatus};
use tasks_dashboard::DashboardOptions;

use support::{client, code, enqueue, fast, json_of, serve};

const TOKEN: &str = "s3cret-Token_42";

/// Every kind of GET the dashboard answers.
const PATHS: &[&str] = &[
    "/",
    "/assets/dashboard.js",
    "/assets/dashboard.css",
    "/api/tasks",
    "/api/aggregate",
    "/live/tasks-live.js",
    "/live/events",
    "/no-such-page",
];

fn port_of(base: &str) -> &str {
    base.rsplit(':').next().expect("a port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_every_request_needs_it() {
    let test = support::memory();
    let server = serve(test.store.clone(), fast().token(TOKEN)).await;
    let base = &server.base;
    let http = client();

    for path in PATHS {
        let response = http.get(format!("{base}{path}")).send().await.expect("a response");
        assert_eq!(response.status().as_u16(), 401, "{path} without the token");
        let wrong = http
            .get(format!("{base}{path}"))
            .bearer_auth("wrong")
            .send()
            .await
            .expect("a response");
        assert_eq!(wrong.status().as_u16(), 401, "{path} with a wrong token");
        let query = http.get(format!("{base}{path}?token=nope")).send().await.expect("a response");
        assert_eq!(query.status().as_u16(), 401, "{path} with a wrong query token");
    }
    for path in PATHS.iter().filter(|path| **path != "/no-such-page" && **path != "/live/events") {
        let response =
            http.get(format!("{base}{path}")).bearer_auth(TOKEN).send().await.expect("a response");
        assert_eq!(response.status().as_u16(), 200, "{path} with the bearer token");
    }
    let missing = http
        .get(format!("{base}/no-such-page"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("a response");
    assert_eq!(missing.status().as_u16(), 404);

    // The live stream: refused without, streaming with (the headers are enough to tell).
    let live = http
        .get(format!("{base}/live/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("a response");
    assert_eq!(live.status().as_u16(), 200);
    assert!(
        live.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("text")
            .starts_with("text/event-stream")
    );
    drop(live);

    // The API's refusal is typed JSON with a challenge.
    let response = http.get(format!("{base}/api/tasks")).send().await.expect("a response");
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    let (status, body) = json_of(response).await;
    assert_eq!((status, code(&body)), (401, "unauthorized"));
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_visit_with_the_token_gets_a_strict_cookie_and_a_clean_url() {
    let test = support::memory();
    let server = serve(test.store.clone(), fast().token(TOKEN)).await;
    let base = &server.base;
    let http = client();

    let visit = http
        .get(format!("{base}/?token={TOKEN}&x=1"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("a response");
    assert_eq!(visit.status().as_u16(), 303);
    assert_eq!(visit.headers()[header::LOCATION], "/?x=1", "the token leaves the address");
    let cookie = visit.headers()[header::SET_COOKIE].to_str().expect("text").to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().expect("name=value").to_owned();
    assert_eq!(pair, format!("tasks_dashboard_token_{}={TOKEN}", port_of(base)));

    // The cookie opens everything.
    for path in ["/", "/assets/dashboard.js", "/api/tasks", "/live/tasks-live.js"] {
        let response = http
            .get(format!("{base}{path}"))
            .header(header::COOKIE, &pair)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 200, "{path} with the cookie");
    }
    // Another port's cookie (another dashboard on the same host) does not.
    let other = format!("tasks_dashboard_token_1={TOKEN}");
    let response = http
        .get(format!("{base}/api/tasks"))
        .header(header::COOKIE, other)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 401);

    // A script's request may carry the token in the query: answered, not redirected.
    let response =
        http.get(format!("{base}/api/aggregate?token={TOKEN}")).send().await.expect("a response");
    assert_eq!(response.status().as_u16(), 200);

    // A path that would redirect to another site stays on this one.
    let sneaky = http
        .get(format!("{base}//evil.example/?token={TOKEN}"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("a response");
    let location = sneaky.headers()[header::LOCATION].to_str().expect("text");
    assert!(location.starts_with('/') && !location.starts_with("//"), "{location}");

    // A navigation without the token gets a page saying what to do, not JSON.
    let page = http
        .get(format!("{base}/"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("a response");
    assert_eq!(page.status().as_u16(), 401);
    assert!(page.headers()[header::CONTENT_TYPE].to_str().expect("text").starts_with("text/html"));
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_requests_need_the_token_and_the_own_origin() {
    let test = support::memory();
    let store = &*test.store;
    let server = serve(test.store.clone(), fast().token(TOKEN)).await;
    let base = &server.base;
    let http = client();
    let own_origin = base.clone();
    let task = enqueue(store, "a", json!({}), EnqueueOptions::new());
    let cancel = format!("{base}/api/tasks/{}/cancel", task.id);

    let cases: [(Option<&str>, Option<&str>, u16, &str); 5] = [
        (None, Some(own_origin.as_str()), 401, "unauthorized"),
        (Some("wrong"), Some(own_origin.as_str()), 401, "unauthorized"),
        (Some(TOKEN), Some("http://evil.example"), 403, "forbidden_origin"),
        (Some(TOKEN), Some("null"), 403, "forbidden_origin"),
        (Some(TOKEN), Some("http://127.0.0.1:1"), 403, "forbidden_origin"),
    ];
    for (token, origin, status, expected) in cases {
        let mut request = http.post(&cancel);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let (got, body) = json_of(request.send().await.expect("a response")).await;
        assert_eq!((got, code(&body)), (status, expected), "token {token:?}, origin {origin:?}");
    }
    let record = store.get(&task.id).expect("a read").expect("the task");
    assert_eq!(record.status, TaskStatus::Queued, "no refused request changed anything");

    let cross_site = http
        .post(&cancel)
        .bearer_auth(TOKEN)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("a response");
    assert_eq!(cross_site.status().as_u16(), 403);

    let accepted = http
        .post(&cancel)
        .bearer_auth(TOKEN)
        .header(header::ORIGIN, own_origin.as_str())
        .send()
        .await
        .expect("a response");
    let (status, body) = json_of(accepted).await;
    assert_eq!((status, &body["state"]), (200, &json!("cancelled")));
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_foreign_origins_and_hosts_are_refused() {
    let test = support::memory();
    let store = &*test.store;
    let options = fast().allow_host("tasks.internal").allow_origin("https://tasks.internal");
    let server = serve(test.store.clone(), options).await;
    let base = &server.base;
    let http = client();
    let task = enqueue(store, "a", json!({}), EnqueueOptions::new());
    let cancel = format!("{base}/api/tasks/{}/cancel", task.id);

    let foreign = http
        .post(&cancel)
        .header(header::ORIGIN, "http://evil.example")
        .send()
        .await
        .expect("a response");
    let (status, body) = json_of(foreign).await;
    assert_eq!((status, code(&body)), (403, "forbidden_origin"));

    // DNS rebinding: a name that resolves here is still not this dashboard's.
    let mut rebound = HeaderMap::new();
    rebound
        .insert(header::HOST, format!("evil.example:{}", port_of(base)).parse().expect("a header"));
    for path in ["/", "/api/tasks", "/live/events"] {
        let response = http
            .get(format!("{base}{path}"))
            .headers(rebound.clone())
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 403, "{path} for evil.example");
    }
    for host in ["localhost", "tasks.internal", "127.0.0.1"] {
        let mut headers = HeaderMap::new();
        headers
            .insert(header::HOST, format!("{host}:{}", port_of(base)).parse().expect("a header"));
        let response = http
            .get(format!("{base}/api/tasks"))
            .headers(headers)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 200, "{host}");
    }
    let allowed = http
        .post(&cancel)
        .header(header::ORIGIN, "https://tasks.internal")
        .send()
        .await
        .expect("a response");
    assert_eq!(allowed.status().as_u16(), 200, "an allowed origin");
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_carries_a_strict_content_security_policy() {
    let test = support::memory();
    let server = serve(test.store.clone(), DashboardOptions::new()).await;
    let response = client().get(format!("{}/", server.base)).send().await.expect("a response");
    let headers = response.headers();
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("text");
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let page = response.text().await.expect("the page");
    assert!(page.contains("assets/dashboard.js"), "the page loads its own script");
    assert!(!page.contains("http://") && !page.contains("https://"), "nothing from elsewhere");
    server.stop().await.expect("a clean stop");
}
