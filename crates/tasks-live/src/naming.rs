//! Names the lifecycle events of a change read back from the store: the change feed says only
//! "task X reached revision R", so the hub re-reads the task and compares it with what it last
//! sent ([`Known`]) to say what happened (claimed, started, retried, lease lost...), then adds
//! one `step` event per new step.
//!
//! Pure, so the rules are tested without a store.

use tasks_core::transition::LEASE_EXPIRED_CODE;
use tasks_core::{
    LifecycleEventName, LifecycleState, StepRecord, TaskLifecycleEvent, TaskRecord, TaskSnapshot,
    TaskStatus, Timestamp,
};

use crate::known::Known;

/// The event that names how a task got from `previous` to `record`; `None` when it only
/// gained steps (its step events say it all).
pub(crate) fn transition_name(
    previous: Option<Known>,
    record: &TaskRecord,
    gained_steps: bool,
) -> Option<LifecycleEventName> {
    use LifecycleEventName as L;
    let state = LifecycleState::of(record);
    let lease_expired = record
        .error
        .as_ref()
        .is_some_and(|error| error.code.as_deref() == Some(LEASE_EXPIRED_CODE));
    let Some(previous) = previous else {
        // Nothing known of before: name the state it is in.
        return Some(match record.status {
            TaskStatus::Queued if state == LifecycleState::Retrying => L::Retried,
            TaskStatus::Queued => L::Enqueued,
            TaskStatus::Claimed if state == LifecycleState::Stale => L::Stale,
            TaskStatus::Claimed => L::Claimed,
            TaskStatus::Running if state == LifecycleState::Stale => L::Stale,
            TaskStatus::Running if gained_steps => return None,
            TaskStatus::Running => L::Progress,
            TaskStatus::Succeeded => L::Succeeded,
            TaskStatus::Failed => L::Failed,
            TaskStatus::Cancelled => L::Cancelled,
        });
    };
    let was_active = previous.status.is_active();
    if previous.status != record.status {
        return Some(match record.status {
            TaskStatus::Queued if was_active && lease_expired => L::LeaseLost,
            TaskStatus::Queued if state == LifecycleState::Retrying => L::Retried,
            TaskStatus::Queued => L::Enqueued,
            TaskStatus::Claimed => L::Claimed,
            TaskStatus::Running => L::Started,
            TaskStatus::Succeeded => L::Succeeded,
            TaskStatus::Failed if was_active && lease_expired => L::LeaseLost,
            TaskStatus::Failed => L::Failed,
            TaskStatus::Cancelled => L::Cancelled,
        });
    }
    if state == LifecycleState::Stale && previous.state != LifecycleState::Stale {
        return Some(L::Stale);
    }
    // Same status: progress, a heartbeat, a cancel request, a stale mark cleared, or steps.
    (!gained_steps).then_some(L::Progress)
}

/// The events of a re-read task: its transition (if any) and one `step` event per new step,
/// each carrying the task's current snapshot. The transition comes first, except a finish,
/// which comes after the steps.
pub(crate) fn events_of(
    previous: Option<Known>,
    record: &TaskRecord,
    steps: &[StepRecord],
    now: Timestamp,
) -> Vec<TaskLifecycleEvent> {
    let snapshot = TaskSnapshot::from_record(record);
    let mut events: Vec<TaskLifecycleEvent> = steps
        .iter()
        .map(|step| {
            TaskLifecycleEvent::of(LifecycleEventName::Step, snapshot.clone(), now)
                .with_step(step.clone())
        })
        .collect();
    if let Some(name) = transition_name(previous, record, !steps.is_empty()) {
        let transition = TaskLifecycleEvent::of(name, snapshot, now);
        // Steps are written before a task finishes and after it starts: tell them in that order.
        if record.status.is_terminal() {
            events.push(transition);
        } else {
            events.insert(0, transition);
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tasks_core::{NewTask, TaskError};

    const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    fn record(status: TaskStatus) -> TaskRecord {
        let mut record = NewTask::new("k", json!({})).into_record(T0).expect("valid task");
        record.status = status;
        record.revision = 2;
        record
    }

    fn known(status: TaskStatus, state: LifecycleState) -> Option<Known> {
        Some(Known { revision: 1, last_seq: 0, status, state, preview: None })
    }

    #[test]
    fn status_changes_name_the_transition() {
        use LifecycleEventName as L;
        let queued = known(TaskStatus::Queued, LifecycleState::Queued);
        let running = known(TaskStatus::Running, LifecycleState::Running);
        assert_eq!(transition_name(queued, &record(TaskStatus::Claimed), false), Some(L::Claimed));
        let claimed = known(TaskStatus::Claimed, LifecycleState::Claimed);
        assert_eq!(transition_name(claimed, &record(TaskStatus::Running), false), Some(L::Started));
        assert_eq!(
            transition_name(running, &record(TaskStatus::Succeeded), true),
            Some(L::Succeeded)
        );
        let mut retrying = record(TaskStatus::Queued);
        retrying.retry_scheduled_at = Some(T0);
        assert_eq!(transition_name(running, &retrying, false), Some(L::Retried));
        let mut expired = record(TaskStatus::Queued);
        expired.error = Some(TaskError::new("gone").with_code(LEASE_EXPIRED_CODE));
        assert_eq!(transition_name(running, &expired, false), Some(L::LeaseLost));
        let mut released = record(TaskStatus::Queued);
        released.error = None;
        assert_eq!(transition_name(running, &released, false), Some(L::Enqueued));
    }

    #[test]
    fn same_status_is_progress_stale_or_only_steps() {
        use LifecycleEventName as L;
        let running = known(TaskStatus::Running, LifecycleState::Running);
        assert_eq!(
            transition_name(running, &record(TaskStatus::Running), false),
            Some(L::Progress)
        );
        assert_eq!(transition_name(running, &record(TaskStatus::Running), true), None);
        let mut stale = record(TaskStatus::Running);
        stale.stale_at = Some(T0);
        assert_eq!(transition_name(running, &stale, false), Some(L::Stale));
        let already = known(TaskStatus::Running, LifecycleState::Stale);
        assert_eq!(transition_name(already, &stale, false), Some(L::Progress));
    }

    #[test]
    fn unknown_tasks_are_named_by_their_state() {
        use LifecycleEventName as L;
        assert_eq!(transition_name(None, &record(TaskStatus::Queued), false), Some(L::Enqueued));
        assert_eq!(transition_name(None, &record(TaskStatus::Failed), false), Some(L::Failed));
        assert_eq!(transition_name(None, &record(TaskStatus::Running), true), None);
    }

    #[test]
    fn steps_become_step_events_after_the_transition() {
        let running = known(TaskStatus::Claimed, LifecycleState::Claimed);
        let record = record(TaskStatus::Running);
        let step = |seq| StepRecord {
            id: tasks_core::StepId::generate(),
            task_id: record.id.clone(),
            seq,
            attempt: 1,
            kind: tasks_core::StepKind::Step,
            level: tasks_core::StepLevel::Info,
            message: format!("s{seq}"),
            meta: None,
            percent: None,
            created_at: T0,
        };
        let events = events_of(running, &record, &[step(1), step(2)], T0);
        let names: Vec<_> = events.iter().map(|event| event.event).collect();
        assert_eq!(
            names,
            vec![LifecycleEventName::Started, LifecycleEventName::Step, LifecycleEventName::Step]
        );
        assert!(events.iter().all(|event| event.revision == 2));
        assert_eq!(events[2].step.as_ref().map(|step| step.seq), Some(2));
    }
}
