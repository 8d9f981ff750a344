//! Refused reads: bad filters, limits and cursors on the store, and a live subscription with a
//! huge channel list (from a query string, as the HTTP bridge reads it) or a garbage resume
//! cursor. Reads change nothing; what matters is a typed error (never a backend error or a
//! panic) and that a garbage cursor is refused or answered with a fresh bootstrap.

use std::sync::Arc;

use tasks_core::{
    ChangeCursor, StepQuery, StoreError, StoreErrorKind, SubscriptionQuery, TaskFilter, TaskId,
    TaskListQuery, TaskStore, Timestamp,
};
use tasks_live::{LiveErrorKind, LiveSource, SubscribeOptions, TaskLiveHub};

use super::refused;
use crate::Violation;
use crate::abuse_support::runtime::runtime;

fn invalid(error: &StoreError) -> bool {
    error.kind() == StoreErrorKind::InvalidInput
}

fn filter(change: impl FnOnce(&mut TaskFilter)) -> TaskFilter {
    let mut filter = TaskFilter::all();
    change(&mut filter);
    filter
}

pub(super) fn check(store: &Arc<dyn TaskStore>) -> Result<u32, Violation> {
    let mut tally = 0;
    let bad_filters: Vec<(&str, TaskFilter)> = vec![
        (
            "100,000 channels",
            filter(|f| f.channels = (0..100_000).map(|n| format!("c:{n}")).collect()),
        ),
        ("33 channels", filter(|f| f.channels = (0..33).map(|n| format!("c:{n}")).collect())),
        ("a channel with a tab", filter(|f| f.channels = vec!["a\tb".into()])),
        ("a kind with SQL in it", filter(|f| f.kinds = vec!["a' OR '1'='1".into()])),
        ("a 600-byte dedupe key", filter(|f| f.dedupe_key = Some("k".repeat(600)))),
        ("a concurrency key with a NUL", filter(|f| f.concurrency_key = Some("a\0b".into()))),
        (
            "10,001 task ids",
            filter(|f| {
                f.task_ids =
                    (0..10_001).filter_map(|n| TaskId::new(format!("id-{n}")).ok()).collect();
            }),
        ),
    ];
    for (what, bad) in bad_filters {
        let list = store.list(&TaskListQuery::filtered(bad.clone()));
        refused(&mut tally, &format!("a list with {what}"), list, invalid)?;
        refused(&mut tally, &format!("an aggregate with {what}"), store.aggregate(&bad), invalid)?;
    }
    for limit in [0, 10_001, u32::MAX] {
        let list = store.list(&TaskListQuery::all().limit(limit));
        refused(&mut tally, &format!("a list limit of {limit}"), list, invalid)?;
    }
    let seeded = store.list(&TaskListQuery::all().limit(1))?;
    if let Some(task) = seeded.first() {
        for limit in [0, 10_001] {
            let query = StepQuery { limit: Some(limit), ..StepQuery::default() };
            let steps = store.list_steps(&task.id, &query);
            refused(&mut tally, &format!("a step limit of {limit}"), steps, invalid)?;
        }
    }
    let unknown = TaskId::new("no-such-task").map_err(|e| Violation(e.to_string()))?;
    refused(
        &mut tally,
        "steps of an unknown task",
        store.list_steps(&unknown, &StepQuery::default()),
        |e| e.kind() == StoreErrorKind::NotFound,
    )?;
    refused(
        &mut tally,
        "cancelling an unknown task",
        store.cancel(&unknown, None, Timestamp::now_utc()),
        |e| e.kind() == StoreErrorKind::NotFound,
    )?;
    if store.capabilities().change_feed {
        for garbage in
            ["", "not-a-cursor", "-1", "99999999999999999999999", "1;DROP", "\u{0}", "１２"]
        {
            let cursor = ChangeCursor::new(garbage);
            let read = store.read_changes(Some(&cursor), 10);
            refused(&mut tally, &format!("the change cursor {garbage:?}"), read, |e| {
                matches!(e.kind(), StoreErrorKind::InvalidInput | StoreErrorKind::CursorExpired)
            })?;
        }
    }
    tally += live(store)?;
    Ok(tally)
}

/// A live hub on the store, asked for bad subscriptions.
fn live(store: &Arc<dyn TaskStore>) -> Result<u32, Violation> {
    let text: String = (0..100_000).map(|n| format!("channels=c%3A{n}&")).collect();
    let (huge, _) = tasks_live::http::query::parse_query_string(&text)
        .map_err(|error| Violation(format!("a long query string did not parse: {error}")))?;
    let runtime = runtime()?;
    let store = Arc::clone(store);
    runtime.block_on(async move {
        let mut tally = 0;
        let hub = TaskLiveHub::new(LiveSource::store_arc(store))?;
        match hub.bootstrap(huge.clone()).await {
            Err(error) if error.kind() == LiveErrorKind::InvalidQuery => tally += 1,
            other => {
                return Err(Violation(format!(
                    "a live bootstrap of 100,000 channels: {:?}",
                    other.map(|bootstrap| bootstrap.snapshots.len())
                )));
            }
        }
        match hub.subscribe(huge, |_| {}).await {
            Err(error) if error.kind() == LiveErrorKind::InvalidQuery => tally += 1,
            other => {
                return Err(Violation(format!(
                    "a live subscription to 100,000 channels: {}",
                    if other.is_ok() { "accepted" } else { "refused with the wrong error" }
                )));
            }
        }
        for garbage in ["not-a-cursor", "-5", "18446744073709551616"] {
            let options = SubscribeOptions::new(SubscriptionQuery::default())
                .resume_from(Some(ChangeCursor::new(garbage)));
            match hub.subscribe_updates(options, |_| {}).await {
                Ok(_) => tally += 1,
                Err(error)
                    if matches!(
                        error.kind(),
                        LiveErrorKind::InvalidQuery
                            | LiveErrorKind::Store(StoreErrorKind::InvalidInput)
                            | LiveErrorKind::Store(StoreErrorKind::CursorExpired)
                    ) =>
                {
                    tally += 1;
                }
                Err(error) => {
                    return Err(Violation(format!(
                        "a live resume from the cursor {garbage:?} failed with {error:?}"
                    )));
                }
            }
        }
        Ok::<_, Violation>(tally)
    })
}
