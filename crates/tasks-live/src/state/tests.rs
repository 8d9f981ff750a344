//! The delivery rules, on a hub state driven by hand: in-process progress previews at the
//! revision already sent, and updates held back during a bootstrap read decided against what
//! the bootstrap holds.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tasks_core::{
    ChangeCursor, LifecycleEventName, LifecycleState, NewTask, SubscriptionQuery, TaskFilter,
    TaskLifecycleEvent, TaskLiveMessage, TaskRecord, TaskSnapshot, TaskStatus,
    TaskSubscriptionBootstrap, Timestamp,
};

use super::HubState;
use crate::known::Known;
use crate::subscriber::{GoLive, TaskUpdates};
use crate::update::LiveUpdate;

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

fn task() -> TaskRecord {
    NewTask::new("report", json!({})).into_record(T0).expect("valid task")
}

fn snapshot(
    task: &TaskRecord,
    revision: u64,
    status: TaskStatus,
    percent: Option<f64>,
) -> TaskSnapshot {
    let mut record = task.clone();
    record.revision = revision;
    record.status = status;
    record.progress_percent = percent;
    TaskSnapshot::from_record(&record)
}

fn event(name: LifecycleEventName, snapshot: TaskSnapshot) -> TaskLifecycleEvent {
    TaskLifecycleEvent::of(name, snapshot, T0)
}

/// A state with one subscriber to `query`, and what its listener heard.
fn state_with(query: SubscriptionQuery) -> (HubState, u64, Arc<Mutex<Vec<LiveUpdate>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&heard);
    let mut state = HubState::new(100, 100);
    let id = state.add(
        query,
        Arc::new(move |update| sink.lock().expect("heard").push(update.clone())),
        100,
    );
    (state, id, heard)
}

fn bootstrap(snapshots: Vec<TaskSnapshot>, query: &SubscriptionQuery) -> LiveUpdate {
    let bootstrap = TaskSubscriptionBootstrap {
        query: query.clone(),
        snapshots,
        steps: Default::default(),
        aggregate: None,
        cursor: Some(ChangeCursor::new("c0")),
        timestamp: T0,
    };
    LiveUpdate::new(TaskLiveMessage::Bootstrap(bootstrap), Some(ChangeCursor::new("c0")))
}

/// What each heard message was: "bootstrap", or the event's name and percent.
fn heard_names(heard: &Arc<Mutex<Vec<LiveUpdate>>>) -> Vec<(String, Option<f64>)> {
    heard
        .lock()
        .expect("heard")
        .iter()
        .map(|update| match update.message() {
            TaskLiveMessage::Bootstrap(_) => ("bootstrap".to_owned(), None),
            TaskLiveMessage::Event { event, .. } => (
                event.event.as_str().to_owned(),
                event.snapshot.as_ref().and_then(|snapshot| snapshot.progress.percent),
            ),
        })
        .collect()
}

fn running() -> SubscriptionQuery {
    SubscriptionQuery {
        filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
        ..SubscriptionQuery::default()
    }
}

#[test]
fn progress_previews_at_the_revision_sent_go_out_once_each() {
    let query = SubscriptionQuery::default();
    let (mut state, id, heard) = state_with(query.clone());
    assert_eq!(state.go_live(id, vec![bootstrap(Vec::new(), &query)], None), GoLive::Done);
    let task = task();
    let running = |revision, percent| snapshot(&task, revision, TaskStatus::Running, percent);
    state.host_event(&event(LifecycleEventName::Started, running(3, None)), T0);
    state.host_event(&event(LifecycleEventName::Progress, running(3, Some(10.0))), T0);
    state.host_event(&event(LifecycleEventName::Progress, running(3, Some(10.0))), T0);
    state.host_event(&event(LifecycleEventName::Progress, running(3, Some(20.0))), T0);
    state.host_event(&event(LifecycleEventName::Started, running(3, None)), T0);
    state.host_event(&event(LifecycleEventName::Progress, running(2, Some(30.0))), T0);
    assert_eq!(
        state.known.get(&task.id).map(|known| known.revision),
        Some(3),
        "previews leave the known revision alone"
    );
    state.host_event(&event(LifecycleEventName::Progress, running(4, Some(20.0))), T0);
    assert_eq!(
        heard_names(&heard),
        vec![
            ("bootstrap".to_owned(), None),
            ("started".to_owned(), None),
            ("progress".to_owned(), Some(10.0)),
            ("progress".to_owned(), Some(20.0)),
            ("progress".to_owned(), Some(20.0)),
        ],
        "the same preview twice, the same start twice, and an older revision are dropped"
    );
}

/// The follower last saw the task queued; the bootstrap, read meanwhile, holds it running; the
/// update in which it finishes arrives during the read. It is outside the filter in both
/// states the hub knows of, but the subscriber holds it: it must be sent.
#[test]
fn an_update_held_back_during_the_read_reaches_a_subscriber_whose_bootstrap_holds_the_task() {
    let query = running();
    let (mut state, id, heard) = state_with(query.clone());
    let task = task();
    let queued = Known::of(&snapshot(&task, 1, TaskStatus::Queued, None), 0);
    let done = snapshot(&task, 5, TaskStatus::Succeeded, None);
    let finished = LiveUpdate::new(
        TaskLiveMessage::Event {
            event: event(LifecycleEventName::Succeeded, done.clone()),
            timestamp: T0,
        },
        None,
    );
    let batch = TaskUpdates { snapshot: done, previous: Some(queued), updates: vec![finished] };
    state.deliver(std::slice::from_ref(&batch), Some(&ChangeCursor::new("c1")));
    let read = bootstrap(vec![snapshot(&task, 4, TaskStatus::Running, None)], &query);
    assert_eq!(state.go_live(id, vec![read], Some(ChangeCursor::new("c0"))), GoLive::Done);
    assert_eq!(
        heard_names(&heard),
        vec![("bootstrap".to_owned(), None), ("succeeded".to_owned(), None)]
    );
    let last = heard.lock().expect("heard").last().and_then(|u| u.cursor().cloned());
    assert_eq!(last, Some(ChangeCursor::new("c1")), "the batch's cursor came with it");
    assert_eq!(state.cursor(id), Some(ChangeCursor::new("c1")));

    // Once live, the task is no longer held: its later changes outside the filter are not sent.
    let again = snapshot(&task, 6, TaskStatus::Succeeded, None);
    let update = LiveUpdate::new(
        TaskLiveMessage::Event {
            event: event(LifecycleEventName::Progress, again.clone()),
            timestamp: T0,
        },
        None,
    );
    let previous = state.known.get(&task.id);
    let batch = TaskUpdates { snapshot: again, previous, updates: vec![update] };
    state.deliver(std::slice::from_ref(&batch), None);
    assert_eq!(heard.lock().expect("heard").len(), 2);
}

/// An update held back and then not sent (the subscriber never held the task) hands its
/// batch's cursor to the next update sent, so the subscriber's resume position moves on.
#[test]
fn a_cursor_on_a_dropped_held_back_update_moves_to_the_next_one_sent() {
    let query = running();
    let (mut state, id, heard) = state_with(query.clone());
    let (other, task) = (self::task(), self::task());
    let cancelled = snapshot(&other, 2, TaskStatus::Cancelled, None);
    let told = LiveUpdate::new(
        TaskLiveMessage::Event {
            event: event(LifecycleEventName::Cancelled, cancelled.clone()),
            timestamp: T0,
        },
        None,
    );
    let queued = Known::of(&snapshot(&other, 1, TaskStatus::Queued, None), 0);
    let batch = TaskUpdates { snapshot: cancelled, previous: Some(queued), updates: vec![told] };
    state.deliver(std::slice::from_ref(&batch), Some(&ChangeCursor::new("c1")));
    state.host_event(
        &event(LifecycleEventName::Started, snapshot(&task, 3, TaskStatus::Running, None)),
        T0,
    );
    assert_eq!(state.go_live(id, vec![bootstrap(Vec::new(), &query)], None), GoLive::Done);
    assert_eq!(
        heard_names(&heard),
        vec![("bootstrap".to_owned(), None), ("started".to_owned(), None)],
        "the cancelled task never was running, so it is not sent"
    );
    let last = heard.lock().expect("heard").last().and_then(|u| u.cursor().cloned());
    assert_eq!(last, Some(ChangeCursor::new("c1")));
}

#[test]
fn a_restart_buffers_again_and_a_second_restart_waits_for_the_first() {
    let query = running();
    let (mut state, id, _heard) = state_with(query.clone());
    assert_eq!(state.restart(id), None, "still buffering: its bootstrap is on its way");
    assert_eq!(state.go_live(id, vec![bootstrap(Vec::new(), &query)], None), GoLive::Done);
    assert_eq!(state.restart(id), Some(query.clone()));
    assert_eq!(state.restart(id), None);
    assert_eq!(state.restart_all(), Vec::new(), "nobody live");
    state.remove(id);
    assert_eq!(state.restart(id), None);
}
