//! Tracker behaviour: bootstrap, event ordering, step accumulation, filtering, listeners.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tasks_core::{
    EnqueueOptions, LifecycleEventName, LifecycleState, NewStep, NewTask, StepRecord,
    SubscriptionQuery, TaskFilter, TaskLifecycleEvent, TaskLiveMessage, TaskRecord, TaskSnapshot,
    TaskStatus, TaskSubscriptionBootstrap, Timestamp,
};
use tasks_live::TaskLiveTracker;

const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

fn record(id: &str, kind: &str) -> TaskRecord {
    let options = EnqueueOptions::new().id(tasks_core::TaskId::new(id).expect("valid id"));
    NewTask::new(kind, json!({})).with_options(options).into_record(T0).expect("valid task")
}

fn with_revision(mut record: TaskRecord, revision: u64, status: TaskStatus) -> TaskSnapshot {
    record.revision = revision;
    record.status = status;
    TaskSnapshot::from_record(&record)
}

fn step(task: &TaskRecord, seq: u64) -> StepRecord {
    let new = NewStep::info(format!("step {seq}"));
    StepRecord {
        id: tasks_core::StepId::generate(),
        task_id: task.id.clone(),
        seq,
        attempt: 1,
        kind: new.kind,
        level: new.level,
        message: new.message,
        meta: None,
        percent: None,
        created_at: T0,
    }
}

fn bootstrap(query: SubscriptionQuery, snapshots: Vec<TaskSnapshot>) -> TaskLiveMessage {
    TaskLiveMessage::Bootstrap(TaskSubscriptionBootstrap {
        query,
        snapshots,
        steps: BTreeMap::new(),
        aggregate: None,
        cursor: None,
        timestamp: T0,
    })
}

fn event(
    name: LifecycleEventName,
    snapshot: TaskSnapshot,
    step: Option<StepRecord>,
) -> TaskLiveMessage {
    let mut event = TaskLifecycleEvent::of(name, snapshot, T0);
    event.step = step;
    TaskLiveMessage::Event { event, timestamp: T0 }
}

#[test]
fn events_older_than_what_is_held_are_ignored() {
    let task = record("a", "k");
    let mut tracker = TaskLiveTracker::new();
    tracker.apply(&bootstrap(
        SubscriptionQuery::default(),
        vec![with_revision(task.clone(), 5, TaskStatus::Running)],
    ));
    assert!(!tracker.apply(&event(
        LifecycleEventName::Claimed,
        with_revision(task.clone(), 3, TaskStatus::Claimed),
        None
    )));
    assert!(!tracker.apply(&event(
        LifecycleEventName::Progress,
        with_revision(task.clone(), 5, TaskStatus::Running),
        None
    )));
    assert!(tracker.apply(&event(
        LifecycleEventName::Succeeded,
        with_revision(task.clone(), 6, TaskStatus::Succeeded),
        None
    )));
    let state = tracker.state();
    assert_eq!(state.snapshots[0].status, TaskStatus::Succeeded);
    assert_eq!(state.aggregate.by_state.succeeded, 1);
}

#[test]
fn a_bootstrap_never_regresses_a_newer_snapshot() {
    let task = record("a", "k");
    let mut tracker = TaskLiveTracker::new();
    tracker.apply(&bootstrap(SubscriptionQuery::default(), vec![]));
    tracker.apply(&event(
        LifecycleEventName::Enqueued,
        with_revision(task.clone(), 1, TaskStatus::Queued),
        None,
    ));
    tracker.apply(&event(
        LifecycleEventName::Started,
        with_revision(task.clone(), 4, TaskStatus::Running),
        None,
    ));
    // A resync bootstrap read before the start lands after it.
    tracker.apply(&bootstrap(
        SubscriptionQuery::default(),
        vec![with_revision(task.clone(), 2, TaskStatus::Claimed)],
    ));
    assert_eq!(tracker.snapshot(&task.id).map(|s| s.revision), Some(4));
}

#[test]
fn steps_accumulate_by_seq_without_duplicates_and_stay_bounded() {
    let task = record("a", "k");
    let mut tracker = TaskLiveTracker::new().with_max_steps_per_task(3);
    tracker.apply(&bootstrap(
        SubscriptionQuery::default(),
        vec![with_revision(task.clone(), 1, TaskStatus::Running)],
    ));
    for (revision, seq) in [(2, 1), (3, 3), (4, 2), (4, 2), (5, 4)] {
        let snapshot = with_revision(task.clone(), revision, TaskStatus::Running);
        tracker.apply(&event(LifecycleEventName::Step, snapshot, Some(step(&task, seq))));
    }
    let seqs: Vec<u64> = tracker.state().steps["a"].iter().map(|s| s.seq).collect();
    assert_eq!(seqs, vec![2, 3, 4]);
}

#[test]
fn tasks_leaving_the_filter_are_dropped_and_new_matching_ones_added() {
    let query = SubscriptionQuery {
        filter: TaskFilter { states: vec![LifecycleState::Running], ..TaskFilter::default() },
        ..SubscriptionQuery::default()
    };
    let a = record("a", "k");
    let b = record("b", "k");
    let mut tracker = TaskLiveTracker::new();
    tracker.apply(&bootstrap(query, vec![with_revision(a.clone(), 3, TaskStatus::Running)]));
    tracker.apply(&event(
        LifecycleEventName::Succeeded,
        with_revision(a.clone(), 4, TaskStatus::Succeeded),
        None,
    ));
    assert!(tracker.snapshot(&a.id).is_none());
    assert!(!tracker.apply(&event(
        LifecycleEventName::Enqueued,
        with_revision(b.clone(), 1, TaskStatus::Queued),
        None
    )));
    tracker.apply(&event(
        LifecycleEventName::Started,
        with_revision(b.clone(), 3, TaskStatus::Running),
        None,
    ));
    let state = tracker.state();
    assert_eq!(state.snapshots.len(), 1);
    assert_eq!(state.aggregate.total, 1);
    assert_eq!(state.aggregate.by_kind.get("k"), Some(&1));
}

#[test]
fn listeners_hear_changes_only() {
    let task = record("a", "k");
    let heard = Arc::new(Mutex::new(Vec::new()));
    let mut tracker = TaskLiveTracker::new();
    let sink = Arc::clone(&heard);
    let id = tracker.on_change(move |state| {
        sink.lock().expect("not poisoned").push(state.snapshots.len());
    });
    tracker.apply(&bootstrap(
        SubscriptionQuery::default(),
        vec![with_revision(task.clone(), 1, TaskStatus::Queued)],
    ));
    tracker.apply(&event(
        LifecycleEventName::Enqueued,
        with_revision(task.clone(), 1, TaskStatus::Queued),
        None,
    ));
    assert!(tracker.remove_listener(id));
    tracker.apply(&event(
        LifecycleEventName::Claimed,
        with_revision(task, 2, TaskStatus::Claimed),
        None,
    ));
    assert_eq!(*heard.lock().expect("not poisoned"), vec![1]);
}

#[test]
fn progress_at_the_held_revision_is_applied_but_other_events_are_not() {
    let task = record("a", "k");
    let mut tracker = TaskLiveTracker::new();
    tracker.apply(&bootstrap(
        SubscriptionQuery::default(),
        vec![with_revision(task.clone(), 4, TaskStatus::Running)],
    ));
    let mut reported = with_revision(task.clone(), 4, TaskStatus::Running);
    reported.progress.percent = Some(40.0);
    assert!(tracker.apply(&event(LifecycleEventName::Progress, reported.clone(), None)));
    assert!(!tracker.apply(&event(LifecycleEventName::Progress, reported, None)), "same content");
    assert_eq!(tracker.snapshot(&task.id).and_then(|s| s.progress.percent), Some(40.0));
    let mut other = with_revision(task.clone(), 4, TaskStatus::Running);
    other.progress.percent = Some(10.0);
    assert!(!tracker.apply(&event(LifecycleEventName::Claimed, other, None)));
    assert_eq!(tracker.snapshot(&task.id).and_then(|s| s.progress.percent), Some(40.0));
}
