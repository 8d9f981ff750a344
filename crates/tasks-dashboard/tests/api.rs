//! The JSON API over plain HTTP: list pages with filters, detail with steps, step replay by
//! `afterSeq`, the aggregate, cancel and retry with their refusals, typed JSON errors for bad
//! input, the live bridge mounted at `/live`, and `serve` returning on shutdown with a live
//! stream open. On the memory store and on SQLite.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, TaskStore, TaskStoreExt};
use tasks_dashboard::{DashboardErrorKind, DashboardOptions};

use support::{
    TestStore, claim_and_start, client, code, enqueue, failed_task, fast, json_of, progress, serve,
    step,
};

async fn get(url: String) -> (u16, Value) {
    json_of(client().get(url).send().await.expect("a response")).await
}

async fn post(url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = client().post(url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_of(request.send().await.expect("a response")).await
}

fn ids(page: &Value) -> Vec<String> {
    page["tasks"]
        .as_array()
        .expect("a task list")
        .iter()
        .map(|task| task["taskId"].as_str().expect("an id").to_owned())
        .collect()
}

async fn reads_filters_and_pages(test: TestStore) {
    let store = &*test.store;
    for n in 0..5 {
        enqueue(store, "mail.send", json!({"n": n}), EnqueueOptions::new().channel("scope:a"));
    }
    for n in 0..3 {
        enqueue(store, "report.build", json!({"n": n}), EnqueueOptions::new().channel("scope:b"));
    }
    let lease = claim_and_start(store, "report.build");
    progress(store, &lease, 40.0, "halfway-ish");
    let server = serve(test.store.clone(), fast()).await;
    let base = &server.base;

    let (status, page) = get(format!("{base}/api/tasks")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (page["total"].as_u64(), page["offset"].as_u64(), page["limit"].as_u64()),
        (Some(8), Some(0), Some(50))
    );
    assert_eq!(ids(&page).len(), 8);

    let (_, running) = get(format!("{base}/api/tasks?state=running")).await;
    assert_eq!(ids(&running), vec![lease.task_id.to_string()]);
    assert_eq!(running["tasks"][0]["progress"]["percent"], json!(40.0));
    assert_eq!(running["tasks"][0]["progress"]["label"], json!("halfway-ish"));

    let (_, mail) = get(format!("{base}/api/tasks?kind=mail.send&channel=scope:a")).await;
    assert_eq!(mail["total"], json!(5));
    let (_, none) = get(format!("{base}/api/tasks?kind=mail.send&channel=scope:b")).await;
    assert_eq!(none["total"], json!(0));

    // Pages of 3, newest first, cover every task once.
    let mut seen = Vec::new();
    for offset in [0, 3, 6] {
        let (_, page) = get(format!("{base}/api/tasks?limit=3&offset={offset}")).await;
        seen.extend(ids(&page));
    }
    let (_, all) = get(format!("{base}/api/tasks?limit=8")).await;
    assert_eq!(seen, ids(&all));
    let (_, oldest) = get(format!("{base}/api/tasks?limit=8&order=created_asc")).await;
    let mut reversed = ids(&oldest);
    reversed.reverse();
    assert_eq!(reversed, ids(&all));

    let (status, aggregate) = get(format!("{base}/api/aggregate")).await;
    assert_eq!(status, 200);
    assert_eq!(aggregate["total"], json!(8));
    assert_eq!(aggregate["byState"]["running"], json!(1));
    assert_eq!(aggregate["byState"]["queued"], json!(7));
    assert_eq!(aggregate["byKind"]["mail.send"], json!(5));
    let (_, filtered) = get(format!("{base}/api/aggregate?kind=report.build")).await;
    assert_eq!(filtered["total"], json!(3));
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_filters_and_pages_on_memory() {
    reads_filters_and_pages(support::memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_filters_and_pages_on_sqlite() {
    reads_filters_and_pages(support::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_and_steps_replay_from_a_cursor() {
    let test = support::sqlite();
    let store = &*test.store;
    enqueue(store, "import", json!({"file": "a.csv"}), EnqueueOptions::new());
    let lease = claim_and_start(store, "import");
    for n in 1..=5 {
        step(store, &lease, &format!("row batch {n}"));
    }
    store.complete(&lease, json!({"rows": 500}), support::now()).expect("complete");
    let server = serve(test.store.clone(), fast()).await;
    let base = &server.base;
    let id = lease.task_id.to_string();

    let (status, detail) = get(format!("{base}/api/tasks/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(detail["taskId"], json!(id));
    assert_eq!(detail["state"], json!("succeeded"));
    assert_eq!(detail["input"], json!({"file": "a.csv"}));
    assert_eq!(detail["output"], json!({"rows": 500}));
    assert_eq!(detail["steps"].as_array().map(Vec::len), Some(5));
    assert!(detail.get("leaseToken").is_none(), "a snapshot never shows the lease token");

    let (_, two) = get(format!("{base}/api/tasks/{id}?steps=2")).await;
    let seqs: Vec<u64> = two["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, vec![4, 5], "the most recent steps");
    let (_, none) = get(format!("{base}/api/tasks/{id}?steps=0")).await;
    assert_eq!(none["steps"], json!([]));

    let (status, after) = get(format!("{base}/api/tasks/{id}/steps?afterSeq=2&limit=2")).await;
    assert_eq!(status, 200);
    let messages: Vec<&str> = after["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["message"].as_str().expect("text"))
        .collect();
    assert_eq!(messages, vec!["row batch 3", "row batch 4"]);
    assert_eq!(after["nextAfterSeq"], json!(4));
    let (_, rest) = get(format!("{base}/api/tasks/{id}/steps?afterSeq=4")).await;
    assert_eq!(rest["steps"].as_array().map(Vec::len), Some(1));
    let (_, end) = get(format!("{base}/api/tasks/{id}/steps?afterSeq=5")).await;
    assert_eq!((end["steps"].clone(), end["nextAfterSeq"].clone()), (json!([]), json!(5)));
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_retry_change_state_or_say_why_not() {
    let test = support::memory();
    let store = &*test.store;
    let queued = enqueue(store, "a", json!({}), EnqueueOptions::new());
    enqueue(store, "b", json!({}), EnqueueOptions::new());
    let running = claim_and_start(store, "b");
    let failed = failed_task(store, "c");
    let later =
        enqueue(store, "d", json!({}), EnqueueOptions::new().delay(Duration::from_secs(3600)));
    let server = serve(test.store.clone(), fast()).await;
    let base = &server.base;

    let (status, cancelled) = post(format!("{base}/api/tasks/{}/cancel", queued.id), None).await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["state"], json!("cancelled"));

    let reason = json!({"reason": "operator said so"});
    let (status, asked) =
        post(format!("{base}/api/tasks/{}/cancel", running.task_id), Some(reason)).await;
    assert_eq!(status, 200);
    assert_eq!(asked["state"], json!("running"), "a running task is asked to stop");
    assert!(asked["cancelRequestedAt"].is_string());

    let (status, again) = post(format!("{base}/api/tasks/{}/cancel", queued.id), None).await;
    assert_eq!((status, code(&again)), (409, "refused"), "a finished task cannot be cancelled");

    let (status, retried) = post(format!("{base}/api/tasks/{}/retry", failed.id), None).await;
    assert_eq!(status, 200);
    assert_eq!(retried["state"], json!("queued"));
    assert_eq!(retried["error"], Value::Null);

    let (status, due) = post(format!("{base}/api/tasks/{}/retry", later.id), Some(json!({}))).await;
    assert_eq!(status, 200);
    let record = store.get(&later.id).expect("a read").expect("the task");
    assert!(record.scheduled_at < later.scheduled_at, "due now instead of in an hour");
    assert_eq!(due["revision"], json!(record.revision));

    let (status, refused) = post(format!("{base}/api/tasks/{}/retry", running.task_id), None).await;
    assert_eq!((status, code(&refused)), (409, "refused"), "a running task is not retried");

    let (status, missing) = post(format!("{base}/api/tasks/no-such-task/retry"), None).await;
    assert_eq!((status, code(&missing)), (404, "not_found"));
    let (status, missing) = post(format!("{base}/api/tasks/no-such-task/cancel"), None).await;
    assert_eq!((status, code(&missing)), (404, "not_found"));
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_typed_json_errors() {
    let test = support::memory();
    let server = serve(test.store.clone(), fast()).await;
    let base = &server.base;
    let cases = [
        ("/api/tasks?state=sleeping", 400, "invalid_query"),
        ("/api/tasks?limit=0", 400, "invalid_query"),
        ("/api/tasks?limit=5000", 400, "invalid_query"),
        ("/api/tasks?offset=minus", 400, "invalid_query"),
        ("/api/tasks?order=random", 400, "invalid_query"),
        ("/api/tasks?stat=running", 400, "invalid_query"),
        ("/api/tasks?kind=bad%20kind", 400, "invalid_input"),
        ("/api/tasks?channel=a%20b", 400, "invalid_input"),
        ("/api/tasks/bad%20id", 400, "invalid_input"),
        ("/api/tasks/unknown-task", 404, "not_found"),
        ("/api/tasks/unknown-task/steps", 404, "not_found"),
        ("/api/tasks/x/steps?afterSeq=-1", 400, "invalid_query"),
        ("/api/tasks/x?steps=100000", 400, "invalid_query"),
        ("/api/nothing-here", 404, "not_found"),
        ("/api/tasks/x/cancel", 405, "method_not_allowed"),
    ];
    for (path, status, expected) in cases {
        let (got, body) = get(format!("{base}{path}")).await;
        assert_eq!((got, code(&body)), (status, expected), "{path}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}");
    }
    let task = enqueue(&*test.store, "a", json!({}), EnqueueOptions::new());
    let url = format!("{base}/api/tasks/{}/cancel", task.id);
    let response = client().post(&url).body("{not json").send().await.expect("a response");
    let (status, body) = json_of(response).await;
    assert_eq!((status, code(&body)), (400, "invalid_body"));
    let (status, body) = post(url.clone(), Some(json!({"reason": "x", "extra": 1}))).await;
    assert_eq!((status, code(&body)), (400, "invalid_body"));
    let huge = "x".repeat(64 * 1024);
    let (status, body) = post(url, Some(json!({ "reason": huge }))).await;
    assert_eq!((status, code(&body)), (413, "payload_too_large"));
    let record = test.store.get(&task.id).expect("a read").expect("the task");
    assert_eq!(record.revision, 1, "refused requests changed nothing");
    server.stop().await.expect("a clean stop");
}

/// Reads a response stream until its text holds `needle` (30 s at most).
async fn read_until<S>(body: &mut S, text: &mut String, needle: &str)
where
    S: futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin,
{
    let read = async {
        while !text.contains(needle) {
            let chunk = body.next().await.expect("more of the stream").expect("bytes");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("{needle} in time"));
}

/// The live bridge is mounted at `/live`: its SSE stream starts with a bootstrap, then
/// carries the store's changes; and `serve` returns on shutdown though the stream is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stream_is_served_and_ended_by_shutdown() {
    let test = support::sqlite();
    let store = &*test.store;
    enqueue(store, "a", json!({}), EnqueueOptions::new());
    let server = serve(test.store.clone(), fast()).await;
    let response = client()
        .get(format!("{}/live/events?recentSteps=0", server.base))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    read_until(&mut body, &mut text, "\"type\":\"bootstrap\"").await;
    let lease = claim_and_start(store, "a");
    progress(store, &lease, 55.0, "live");
    read_until(&mut body, &mut text, "\"label\":\"live\"").await;

    // The stream is still open: stopping must end it and return.
    server.stop().await.expect("a clean stop");
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(rest.is_ok(), "the stream ended with the server");
}

#[test]
fn building_outside_a_runtime_is_a_typed_error() {
    let test = support::memory();
    let error = tasks_dashboard::router(test.store.clone(), DashboardOptions::new())
        .expect_err("no runtime");
    assert_eq!(error.kind(), DashboardErrorKind::NoRuntime);
}

#[tokio::test]
async fn invalid_options_are_refused_before_serving() {
    let test = support::memory();
    let error = tasks_dashboard::router(test.store.clone(), DashboardOptions::new().token("a b"))
        .expect_err("a token with a space");
    assert_eq!(error.kind(), DashboardErrorKind::InvalidOption);
    // The store is still usable: nothing was changed by the refusal.
    assert!(
        test.store
            .read_snapshot(&tasks_core::TaskId::generate(), &Default::default())
            .expect("a read")
            .is_none()
    );
}
