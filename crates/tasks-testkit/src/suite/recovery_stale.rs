//! Behaviours of the watchdog writes: `recover_expired` (tasks whose lease ran out) and
//! `mark_stale` (tasks silent for too long), and how a sign of life clears a stale mark.

use std::time::Duration;

use tasks_core::transition::LEASE_EXPIRED_CODE;
use tasks_core::{
    EnqueueOptions, LifecycleState, NewStep, ProgressUpdate, StepKind, TaskStatus, TaskStore,
    Timestamp,
};

use super::support::{
    LEASE, T0, at, at_s, claim, claim_id, fetch, ids, lease, picture, put, request, running, seqs,
    steps, task_id, task_with,
};

fn recover(store: &dyn TaskStore, limit: u32, now: Timestamp) -> Vec<tasks_core::TaskRecord> {
    store.recover_expired(limit, now).expect("recover_expired succeeds")
}

fn stale(
    store: &dyn TaskStore,
    silent_for: Duration,
    now: Timestamp,
) -> Vec<tasks_core::TaskRecord> {
    store.mark_stale(silent_for, "no heartbeat", 100, now).expect("mark_stale succeeds")
}

/// `recover_expired`: "Each is queued again, due now, while attempts remain ... with a
/// `LeaseExpired` error and an `event` step saying so"; "Tasks whose lease still runs are
/// untouched"; the task is claimable again at once, as attempt 2.
pub fn recover_expired_requeues_task(store: &dyn TaskStore) {
    let busy = running(store, task_id("work", "t1"), T0);
    store.append_steps(&lease(&busy), &[NewStep::info("working")], at_s(1)).expect("append");
    let busy = fetch(store, &busy.id);
    let before = picture(store);
    assert!(recover(store, 10, at(29_999)).is_empty(), "the lease still runs");
    assert_eq!(picture(store), before, "nothing is touched before the lease runs out");
    let recovered = recover(store, 10, at_s(30));
    assert_eq!(ids(&recovered), ["t1"]);
    let record = &recovered[0];
    assert_eq!(record.status, TaskStatus::Queued);
    assert_eq!(LifecycleState::of(record), LifecycleState::Retrying);
    assert_eq!(record.scheduled_at, at_s(30), "due now");
    assert_eq!(record.attempt, 1);
    assert_eq!((record.lease_token.as_ref(), record.lease_expires_at), (None, None));
    let error = record.error.clone().expect("the error says why");
    assert_eq!(error.code.as_deref(), Some(LEASE_EXPIRED_CODE));
    assert_eq!(error.name.as_deref(), Some("LeaseExpired"));
    assert_eq!(record.revision, busy.revision + 1, "one revision for the update and its step");
    assert_eq!(record.last_step_seq, 2);
    assert_eq!(&fetch(store, &busy.id), record);
    let log = steps(store, &busy.id);
    assert_eq!(seqs(&log), [1, 2]);
    assert_eq!(log[1].kind, StepKind::Event);
    assert_eq!((log[1].attempt, log[1].created_at), (1, at_s(30)));
    assert!(recover(store, 10, at_s(31)).is_empty(), "a recovered task is not recovered twice");
    let again = claim_id(store, &busy.id, at_s(30));
    assert_eq!(again.attempt, 2);
}

/// `recover_expired`: "... else failed (cancelled when a cancel was requested)": at the last
/// attempt the task fails for good; with a cancel requested it ends cancelled.
pub fn recover_expired_fails_at_max_attempts(store: &dyn TaskStore) {
    let options = EnqueueOptions::new().max_attempts(1);
    let last = running(store, task_with("work", "last", options), T0);
    let recovered = recover(store, 10, at_s(30));
    assert_eq!(ids(&recovered), ["last"]);
    assert_eq!(recovered[0].status, TaskStatus::Failed);
    assert_eq!(recovered[0].finished_at, Some(at_s(30)));
    let code = recovered[0].error.as_ref().and_then(|e| e.code.clone());
    assert_eq!(code.as_deref(), Some(LEASE_EXPIRED_CODE));
    assert_eq!(seqs(&steps(store, &last.id)), [1], "the event step is recorded");
    assert_eq!(fetch(store, &last.id), recovered[0]);

    let asked = running(store, task_id("work", "asked"), at_s(40));
    store.cancel(&asked.id, None, at_s(41)).expect("cancel succeeds");
    let recovered = recover(store, 10, at_s(70));
    assert_eq!(ids(&recovered), ["asked"]);
    assert_eq!(recovered[0].status, TaskStatus::Cancelled);
    assert!(claim(store, &request(5), at_s(71)).is_empty());
}

/// `recover_expired`: "Recovers up to `limit`" tasks, the oldest lease first (the shared
/// brief's claim of `recover_expired`), claimed tasks as well as running ones.
pub fn recover_expired_respects_limit_oldest_first(store: &dyn TaskStore) {
    let first = running(store, task_id("work", "first"), T0);
    let second = put(store, task_id("work", "second"), at_s(1));
    claim_id(store, &second.id, at_s(1));
    running(store, task_id("work", "third"), at_s(2));
    store.heartbeat(&lease(&first), LEASE, at_s(3)).expect("heartbeat");
    // Leases now run out at 31s (second), 32s (third), 33s (first).
    let now = at_s(40);
    assert_eq!(ids(&recover(store, 2, now)), ["second", "third"]);
    assert_eq!(ids(&recover(store, 2, now)), ["first"]);
    assert!(recover(store, 2, now).is_empty());
}

/// `mark_stale`: "Sets `staleAt` and `staleReason` on each; tasks already stale or heard from
/// recently are untouched", up to `limit`; queued and finished tasks are never stale.
pub fn mark_stale_marks_silent_tasks(store: &dyn TaskStore) {
    let long = Duration::from_secs(3600);
    let quiet = put(store, task_id("work", "quiet"), T0);
    let quiet = claim_id(store, &quiet.id, T0);
    let quiet = store.heartbeat(&lease(&quiet), long, T0).expect("a long lease");
    let chatty = running(store, task_id("work", "chatty"), at_s(1));
    store.heartbeat(&lease(&chatty), long, at_s(1)).expect("a long lease");
    store.heartbeat(&lease(&chatty), long, at_s(50)).expect("heartbeat");
    // Due only far ahead, so the claims below never take it.
    let later = EnqueueOptions::new().scheduled_at(at_s(100_000));
    let queued = put(store, task_with("work", "queued", later), at_s(2));
    let silent = Duration::from_secs(60);
    let before = picture(store);
    assert!(stale(store, silent, at(59_999)).is_empty(), "not silent long enough yet");
    assert_eq!(picture(store), before);
    let marked = stale(store, silent, at_s(60));
    assert_eq!(ids(&marked), ["quiet"]);
    let record = &marked[0];
    assert_eq!(record.stale_at, Some(at_s(60)));
    assert_eq!(record.stale_reason.as_deref(), Some("no heartbeat"));
    assert_eq!(LifecycleState::of(record), LifecycleState::Stale);
    assert_eq!(record.status, TaskStatus::Claimed, "the status stays");
    assert_eq!(record.revision, quiet.revision + 1);
    assert_eq!(&fetch(store, &quiet.id), record);
    assert!(stale(store, silent, at_s(70)).is_empty(), "already stale: untouched");
    assert_eq!(ids(&stale(store, silent, at_s(110))), ["chatty"]);
    assert_eq!(fetch(store, &queued.id), queued, "a queued task is never stale");

    for n in 0..3 {
        running(store, task_id("work", &format!("batch{n}")), at_s(200 + n));
    }
    let limited = store.mark_stale(Duration::ZERO, "limit", 2, at_s(300)).expect("mark_stale");
    assert_eq!(limited.len(), 2, "at most `limit` per call");
    let rest = store.mark_stale(Duration::ZERO, "limit", 2, at_s(300)).expect("mark_stale");
    assert_eq!(rest.len(), 1);
}

/// `mark_stale`: "The next sign of life clears the mark": a heartbeat, a progress update and
/// a step each clear it (`heartbeat`: "Clears a stale mark"; `set_progress`: "Counts as a sign
/// of life").
pub fn stale_mark_cleared_by_sign_of_life(store: &dyn TaskStore) {
    let long = Duration::from_secs(3600);
    let tasks: Vec<_> = ["by-heartbeat", "by-progress", "by-step"]
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let record = running(store, task_id("work", id), at_s(i64::try_from(n).unwrap_or(0)));
            store.heartbeat(&lease(&record), long, at_s(3)).expect("a long lease")
        })
        .collect();
    let marked = stale(store, Duration::from_secs(60), at_s(100));
    assert_eq!(marked.len(), 3);
    let now = at_s(101);
    let beat = store.heartbeat(&lease(&tasks[0]), long, now).expect("heartbeat");
    let progress = store
        .set_progress(&lease(&tasks[1]), &ProgressUpdate::percent(5.0), now)
        .expect("progress");
    let step = store.append_steps(&lease(&tasks[2]), &[NewStep::info("alive")], now).expect("step");
    for record in [beat, progress, step.task] {
        assert_eq!(
            (record.stale_at, record.stale_reason.as_deref()),
            (None, None),
            "{}",
            record.id
        );
        assert_eq!(LifecycleState::of(&record), LifecycleState::Running);
        assert_eq!(record.last_heartbeat_at, Some(now));
        assert_eq!(fetch(store, &record.id), record);
    }
    assert!(stale(store, Duration::from_secs(60), at_s(150)).is_empty(), "heard 49s ago");
    assert_eq!(stale(store, Duration::from_secs(60), at_s(161)).len(), 3, "silent again");
}
