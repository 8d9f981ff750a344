//! The claim loop: waits for a reason to claim (a local enqueue, a store notification, a slot
//! freed after a claim that filled every slot, a retry or delayed task coming due, the poll
//! interval) and a free slot, then claims as many tasks as it has free slots in one store call,
//! and starts an attempt for each.
//!
//! The request names only the kinds registered here (`KindSelector::Only`), each limited to its
//! free slots on this host (`KindClaim::limit`) and to its store-wide cap (`max_active`, when
//! the registration sets one); the request's own limit is the host's free slots.

use std::sync::Arc;

use tasks_core::lease::MAX_CLAIM_BATCH;
use tasks_core::{ClaimRequest, HostEventType, KindClaim, KindSelector, TaskRecord};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use crate::attempt::{Attempt, drive};
use crate::inner::{Inner, lock};

/// Runs until the host stops.
pub(crate) async fn claim_loop(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let mut poll = tokio::time::interval(inner.options.poll_interval);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let due = inner.waker.next_due();
            if lock(&inner.slots).free(inner.options.concurrency) > 0 && inner.waker.take_pending()
            {
                break;
            }
            let far = Instant::now() + std::time::Duration::from_secs(3600);
            tokio::select! {
                () = inner.waker.state.notify.notified() => {}
                _ = poll.tick() => inner.waker.set_pending(),
                () = sleep_until(due.unwrap_or(far)), if due.is_some() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
        let Some(request) = claim_request(&inner) else { continue };
        let asked = request.clone();
        let teller = Arc::clone(&inner);
        let claim = move |store: &dyn tasks_core::TaskStore, now| {
            let records = store.claim(&request, now)?;
            for record in &records {
                teller.emit_task(HostEventType::TaskClaimed, record);
            }
            Ok(records)
        };
        match inner.store.call(claim).await {
            Ok(records) => {
                if saturated(&asked, &records) {
                    // More may be waiting: claim again as soon as a slot frees up.
                    inner.waker.set_pending();
                }
                launch(&inner, records);
            }
            Err(error) => inner.emit_store_error("claiming tasks", None, &error),
        }
    }
}

/// The request for this host's free slots, or `None` when no registered kind has one.
fn claim_request(inner: &Inner) -> Option<ClaimRequest> {
    let handlers = inner.handlers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let slots = lock(&inner.slots);
    let free = slots.free(inner.options.concurrency).min(MAX_CLAIM_BATCH);
    if free == 0 {
        return None;
    }
    let kinds: Vec<KindClaim> = handlers
        .values()
        .filter_map(|registration| {
            let limit = registration
                .concurrency
                .map(|limit| limit.saturating_sub(slots.active_of(&registration.kind)).min(free));
            (limit != Some(0)).then(|| KindClaim {
                kind: registration.kind.clone(),
                limit,
                max_active: registration.max_active,
            })
        })
        .collect();
    if kinds.is_empty() {
        return None;
    }
    Some(ClaimRequest {
        runner: inner.runner_id.clone(),
        limit: free,
        kinds: KindSelector::Only(kinds),
        max_active: None,
        lease: inner.options.lease,
    })
}

/// Whether a claim took all it was allowed (in all, or of some kind): more may be due.
fn saturated(request: &ClaimRequest, records: &[TaskRecord]) -> bool {
    if records.len() >= request.limit as usize {
        return true;
    }
    let KindSelector::Only(kinds) = &request.kinds else { return false };
    kinds.iter().any(|claim| {
        claim.limit.is_some_and(|limit| {
            let taken = records.iter().filter(|record| record.kind == claim.kind).count();
            taken >= limit as usize
        })
    })
}

/// Starts an attempt for each claimed task.
pub(crate) fn launch(inner: &Arc<Inner>, records: Vec<TaskRecord>) {
    for record in records {
        let Some(lease) = record.lease() else { continue };
        let registration = inner.handler(&record.kind);
        let attempt = Arc::new(Attempt::new(record.clone(), lease));
        lock(&inner.slots).acquire(&record.kind);
        lock(&inner.running).insert((record.id.clone(), record.attempt), Arc::clone(&attempt));
        tokio::spawn(drive(Arc::clone(inner), attempt, registration));
    }
}
