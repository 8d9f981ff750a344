//! Pagination holds with 100,000 tasks in SQLite: seeded with `enqueue_batch`, the API pages
//! from the first task to the last with every task seen exactly once, in order, with the right
//! total; a filtered list has its own total and last page; and the last page of 50 (what the page's
//! "Oldest" button asks for) is answered. Timings are printed (`PAGINATION` lines), not
//! asserted: the machine is shared.

mod support;

use std::collections::HashSet;
use std::time::Instant;

use serde_json::{Value, json};
use tasks_core::{EnqueueOptions, NewTask};

use support::{client, fast, json_of, serve};

const TASKS: usize = 100_000;
const BATCH: usize = 5_000;
/// The API's largest page: the walk to the end takes 100 requests.
const WALK_PAGE: usize = 1_000;

async fn page(base: &str, query: &str) -> Value {
    let response =
        client().get(format!("{base}/api/tasks?{query}")).send().await.expect("a response");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|task| task["taskId"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_to_the_end_of_100k_tasks_in_sqlite() {
    let test = support::sqlite();
    let seeding = Instant::now();
    for batch in 0..TASKS / BATCH {
        let kind = if batch % 2 == 0 { "even.batch" } else { "odd.batch" };
        let tasks = (0..BATCH)
            .map(|n| {
                NewTask::new(kind, json!({ "n": batch * BATCH + n })).with_options(
                    EnqueueOptions::new().channel(format!("scope:batch-{}", batch % 4)),
                )
            })
            .collect();
        let store = test.store.clone();
        tokio::task::spawn_blocking(move || store.enqueue_batch(tasks, support::now()))
            .await
            .expect("the seeding thread")
            .expect("a batch");
    }
    println!("PAGINATION seeded {TASKS} tasks in {:?}", seeding.elapsed());
    let server = serve(test.store.clone(), fast()).await;
    let base = &server.base;

    // Walk every page, newest first.
    let walking = Instant::now();
    let mut seen = HashSet::with_capacity(TASKS);
    let mut previous_created: Option<String> = None;
    let mut offset = 0;
    loop {
        let body = page(base, &format!("limit={WALK_PAGE}&offset={offset}")).await;
        assert_eq!(body["total"], json!(TASKS));
        let tasks = body["tasks"].as_array().expect("tasks");
        for task in tasks {
            let created = task["createdAt"].as_str().expect("a time").to_owned();
            if let Some(previous) = &previous_created {
                assert!(created <= *previous, "newest first across pages");
            }
            previous_created = Some(created);
            assert!(seen.insert(task["taskId"].as_str().expect("an id").to_owned()), "seen once");
        }
        if tasks.len() < WALK_PAGE {
            break;
        }
        offset += WALK_PAGE;
    }
    assert_eq!(seen.len(), TASKS, "every task, once");
    println!("PAGINATION walked {TASKS} tasks in pages of {WALK_PAGE} in {:?}", walking.elapsed());

    // The page's own size, at the far end: the "Oldest" button.
    let last_offset = TASKS - 50;
    let at_end = Instant::now();
    let last = page(base, &format!("limit=50&offset={last_offset}")).await;
    println!("PAGINATION last page of 50 at offset {last_offset} in {:?}", at_end.elapsed());
    assert_eq!(ids(&last).len(), 50);
    let oldest = page(base, "limit=50&order=created_asc").await;
    let mut reversed = ids(&oldest);
    reversed.reverse();
    assert_eq!(ids(&last), reversed, "the last page is the 50 oldest");
    let beyond = page(base, &format!("limit=50&offset={TASKS}")).await;
    assert_eq!(ids(&beyond).len(), 0, "past the end: an empty page, not an error");

    // A filtered list (a quarter of the tasks) has its own total and its own last page.
    let filtered_end = Instant::now();
    let first = page(base, "channel=scope:batch-1&limit=50").await;
    assert_eq!(first["total"], json!(TASKS / 4));
    let last =
        page(base, &format!("channel=scope:batch-1&limit=50&offset={}", TASKS / 4 - 50)).await;
    assert_eq!(ids(&last).len(), 50);
    for task in last["tasks"].as_array().expect("tasks") {
        assert_eq!(task["channels"], json!(["scope:batch-1"]));
    }
    println!("PAGINATION first and last page of a channel's tasks in {:?}", filtered_end.elapsed());

    let counting = Instant::now();
    let response = client().get(format!("{base}/api/aggregate")).send().await.expect("a response");
    let (_, aggregate) = json_of(response).await;
    println!("PAGINATION aggregate of {TASKS} tasks in {:?}", counting.elapsed());
    assert_eq!(aggregate["byState"]["queued"], json!(TASKS));
    assert_eq!(aggregate["byKind"]["even.batch"], json!(TASKS / 2));
    server.stop().await.expect("a clean stop");
}
