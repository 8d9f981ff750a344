//! The change-feed follower: reads the store's feed from its cursor (on a poll interval, or at
//! once when woken), re-reads each changed task (its record, and its steps after the last `seq`
//! sent), names the events ([`crate::naming`]) and delivers them. Also the replay of a
//! resuming subscriber.
//!
//! All store calls run on blocking threads, in one call per page. The follower idles (no
//! store call at all) while nobody subscribes, and drops its position then; the next
//! subscriber sets a fresh one before its bootstrap read, so nothing falls in between.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Weak};

use tasks_core::{
    ChangeCursor, ChangeKind, LifecycleEventName, StepQuery, StepRecord, StoreError,
    StoreErrorKind, SubscriptionQuery, TaskId, TaskLifecycleEvent, TaskLiveMessage, TaskRecord,
    TaskSnapshot, TaskStore, Timestamp,
};

use crate::error::LiveError;
use crate::hub::{Served, Shared};
use crate::known::Known;
use crate::naming::events_of;
use crate::subscriber::{GoLive, TaskUpdates};
use crate::update::LiveUpdate;

/// A task read back after a change.
struct Reread {
    record: TaskRecord,
    steps: Vec<StepRecord>,
}

/// The follower's loop: one cycle per wake-up or poll interval, until the hub is gone.
pub(crate) async fn follow(hub: Weak<Shared>) {
    loop {
        let Some(shared) = hub.upgrade() else { return };
        let Some(feed) = &shared.feed else { return };
        let (wake, interval) = (Arc::clone(&feed.wake), shared.options.poll_interval);
        cycle(&shared).await;
        drop(shared);
        // The interval bounds the latency of updates from other processes; a wake-up (a
        // catch-up request, a store notification) cuts the wait short.
        let _ = tokio::time::timeout(interval, wake.notified()).await;
    }
}

/// Reads the feed to its end (or the first error) and delivers what changed.
async fn cycle(shared: &Arc<Shared>) {
    let Some(feed) = &shared.feed else { return };
    // Read before the feed: a catch-up asked before this point is served by this cycle.
    let request = feed.requested.load(std::sync::atomic::Ordering::SeqCst);
    let mut position = feed.cursor.lock().await;
    let error = if shared.lock().subscriber_count() == 0 {
        // Nobody listens: no store call; the next subscriber sets a fresh position.
        *position = None;
        None
    } else {
        read_to_end(shared, &mut position).await.err().map(|error| error.to_string())
    };
    drop(position);
    feed.served.send_modify(|served| {
        if request > served.request {
            *served = Served { request, error };
        }
    });
}

async fn read_to_end(
    shared: &Arc<Shared>,
    position: &mut Option<ChangeCursor>,
) -> Result<(), StoreError> {
    let Some(feed) = &shared.feed else { return Ok(()) };
    let store = feed.store.clone();
    let (page_size, window) = (shared.options.page_size.max(1), shared.options.step_window);
    loop {
        let cursor = match position.clone() {
            Some(cursor) => cursor,
            None => store.call(|store| store.change_cursor()).await?,
        };
        let after = cursor.clone();
        let page = match store.call(move |store| store.read_changes(Some(&after), page_size)).await
        {
            Ok(page) => page,
            Err(error) if error.kind() == StoreErrorKind::CursorExpired => {
                // The follower fell behind what the store keeps: start from now, and give
                // every subscriber a fresh bootstrap (what it missed is in there).
                *position = Some(store.call(|store| store.change_cursor()).await?);
                resync_all(shared);
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let full = page.changes.len() >= page_size as usize;
        // Which tasks need a re-read: those changed past what was sent.
        let mut wanted: BTreeMap<TaskId, (u64, Option<u64>)> = BTreeMap::new();
        let mut deleted = Vec::new();
        {
            let state = shared.lock();
            for change in &page.changes {
                if change.kind == ChangeKind::Deleted {
                    deleted.push(change.task_id.clone());
                    continue;
                }
                let known = state.known.get(&change.task_id);
                if known.is_some_and(|known| known.revision >= change.revision) {
                    continue;
                }
                let entry = wanted
                    .entry(change.task_id.clone())
                    .or_insert((0, known.map(|known| known.last_seq)));
                entry.0 = entry.0.max(change.revision);
            }
        }
        let plan: Vec<(TaskId, Option<u64>)> =
            wanted.into_iter().map(|(id, (_, after))| (id, after)).collect();
        let rereads = if plan.is_empty() {
            Vec::new()
        } else {
            store.call(move |store| reread(store, plan, window)).await?
        };
        let now = shared.clock.now();
        {
            let mut state = shared.lock();
            for id in &deleted {
                state.known.remove(id);
            }
            let mut batch = Vec::with_capacity(rereads.len());
            for reread in rereads {
                if let Some(updates) = updates_of(&mut state.known, reread, now) {
                    batch.push(updates);
                }
            }
            state.deliver(&batch, Some(&page.next));
        }
        *position = Some(page.next);
        if !full {
            return Ok(());
        }
    }
}

/// Reads back changed tasks: each record, and its steps after `after` (the most recent
/// `window` of them; the most recent `window` when nothing was sent yet).
fn reread(
    store: &dyn TaskStore,
    plan: Vec<(TaskId, Option<u64>)>,
    window: u32,
) -> Result<Vec<Reread>, StoreError> {
    let window = window.min(tasks_core::limits::MAX_PAGE_LIMIT);
    let mut rereads = Vec::with_capacity(plan.len());
    for (id, after) in plan {
        let Some(record) = store.get(&id)? else { continue };
        let query = match after {
            Some(after) if record.last_step_seq <= after => None,
            Some(after) => {
                Some(StepQuery { after_seq: Some(after), limit: Some(window), latest: true })
            }
            None if record.last_step_seq == 0 => None,
            None => Some(StepQuery::recent(window)),
        };
        let steps = match query {
            None => Vec::new(),
            Some(query) => match store.list_steps(&id, &query) {
                Ok(steps) => steps,
                // Deleted between the two reads: its deletion is in the feed.
                Err(error) if error.kind() == StoreErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            },
        };
        rereads.push(Reread { record, steps });
    }
    Ok(rereads)
}

/// The updates a re-read task makes, given what was sent of it; records what is sent now.
fn updates_of(
    known: &mut crate::known::KnownTasks,
    reread: Reread,
    now: Timestamp,
) -> Option<TaskUpdates> {
    let Reread { record, steps } = reread;
    let previous = known.get(&record.id);
    let sent_seq = previous.map_or(0, |known| known.last_seq);
    // Steps an in-process event may have sent meanwhile are dropped here.
    let steps: Vec<StepRecord> = steps.into_iter().filter(|step| step.seq > sent_seq).collect();
    let newer = previous.is_none_or(|known| record.revision > known.revision);
    if !newer && steps.is_empty() {
        return None;
    }
    let last_seq = steps.iter().map(|step| step.seq).max().unwrap_or(0).max(sent_seq);
    let snapshot = TaskSnapshot::from_record(&record);
    let events = if newer {
        events_of(previous, &record, &steps, now)
    } else {
        step_events(&snapshot, &steps, now)
    };
    let next = match previous {
        Some(known) if !newer => Known { last_seq, ..known },
        _ => Known::of(&snapshot, last_seq.max(record.last_step_seq)),
    };
    known.set(&record.id, next);
    let updates = events
        .into_iter()
        .map(|event| LiveUpdate::new(TaskLiveMessage::Event { event, timestamp: now }, None))
        .collect();
    Some(TaskUpdates { snapshot, previous, updates })
}

fn step_events(
    snapshot: &TaskSnapshot,
    steps: &[StepRecord],
    now: Timestamp,
) -> Vec<TaskLifecycleEvent> {
    steps
        .iter()
        .map(|step| {
            TaskLifecycleEvent::of(LifecycleEventName::Step, snapshot.clone(), now)
                .with_step(step.clone())
        })
        .collect()
}

/// Gives every live subscriber a fresh bootstrap, each in a task of its own.
fn resync_all(shared: &Arc<Shared>) {
    let restarted = shared.lock().restart_all();
    for (id, query) in restarted {
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            // A failed read leaves the subscriber buffering until its next try; keep trying
            // at the poll interval while it exists.
            while shared.bootstrap_into(id, &query).await.is_err() {
                if !shared.lock().contains(id) {
                    return;
                }
                tokio::time::sleep(shared.options.poll_interval).await;
            }
        });
    }
}

/// Resumes subscriber `id` after `from`: the tasks changed since, re-read, as events, then
/// live. Returns `false` when it cannot (no feed, a cursor too old, more than `limit`
/// messages to replay): the caller reads a fresh bootstrap.
///
/// Every changed task makes at least one message when it concerns the subscriber, so the
/// feed is read only until more than `limit` distinct tasks changed: past that, the replay is
/// likely too large, and a bootstrap is one read where the replay is one per task.
pub(crate) async fn resume(
    shared: &Arc<Shared>,
    id: u64,
    query: &SubscriptionQuery,
    from: ChangeCursor,
    limit: usize,
) -> Result<bool, LiveError> {
    let Some(feed) = &shared.feed else { return Ok(false) };
    let Some(filter) = shared.lock().filter(id) else { return Ok(true) };
    let (page_size, window, max) =
        (shared.options.page_size.max(1), shared.options.step_window, shared.options.max_replay);
    let window = query.recent_steps.map_or(window, |asked| asked.max(window));
    let read = feed
        .store
        .call(move |store| {
            let mut cursor = from;
            let mut order = Vec::new();
            let mut seen = HashSet::new();
            let mut count = 0usize;
            loop {
                let page = store.read_changes(Some(&cursor), page_size)?;
                count += page.changes.len();
                if count > max {
                    return Ok(None);
                }
                let full = page.changes.len() >= page_size as usize;
                for change in page.changes {
                    if change.kind == ChangeKind::Updated && seen.insert(change.task_id.clone()) {
                        order.push((change.task_id, None));
                        if order.len() > limit {
                            return Ok(None);
                        }
                    }
                }
                cursor = page.next;
                if !full {
                    break;
                }
            }
            Ok(Some((reread(store, order, window)?, cursor)))
        })
        .await;
    let (rereads, end) = match read {
        Ok(Some(read)) => read,
        Ok(None) => return Ok(false),
        Err(error) if error.kind() == StoreErrorKind::CursorExpired => return Ok(false),
        Err(error) => return Err(error.into()),
    };
    let now = shared.clock.now();
    let mut first: Vec<LiveUpdate> = Vec::new();
    for Reread { record, steps } in rereads {
        let snapshot = TaskSnapshot::from_record(&record);
        // Sent even when it no longer matches the moving part of the filter, so the
        // subscriber's tracker drops it.
        if !filter.fixed_matches(&snapshot) {
            continue;
        }
        for event in events_of(None, &record, &steps, now) {
            first.push(LiveUpdate::new(TaskLiveMessage::Event { event, timestamp: now }, None));
        }
    }
    if first.len() > limit {
        return Ok(false);
    }
    if let Some(last) = first.pop() {
        first.push(last.with_cursor(Some(end.clone())));
    }
    match shared.lock().go_live(id, first, Some(end)) {
        GoLive::Done | GoLive::Gone => Ok(true),
        // Too much arrived meanwhile: a fresh bootstrap covers it.
        GoLive::Overflowed => Ok(false),
    }
}
