//! The claim loop: waits for a reason to claim (a local enqueue, a store notification, a slot
//! freed after a claim that filled every slot, a retry or delayed task coming due, the poll
//! interval) and a free slot, then claims and starts as many tasks as it has free slots in one
//! store call (`claim_and_start`: one transaction for both), and gives each to an attempt.
//!
//! The request names only the kinds registered here (`KindSelector::Only`), each limited to its
//! free slots on this host (`KindClaim::limit`) and to its store-wide cap (`max_active`, when
//! the registration sets one); the request's own limit is the host's free slots.
//!
//! A task claimed just as the host began to stop is not run (its attempt gives it back); a task
//! of a kind this host has no handler for is not run either (its attempt fails it).

use std::sync::Arc;

use tasks_core::lease::MAX_CLAIM_BATCH;
use tasks_core::{
    ClaimRequest, ClaimedStart, HostEventType, KindClaim, KindSelector, Lease, TaskRecord,
    TaskStore,
};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use crate::attempt::{Attempt, Start, drive};
use crate::inner::{Inner, lock};
use crate::registration::HandlerRegistration;

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
        // An attempt gives its slot back when its execution ends, before its final write. Wait
        // for the final writes made by now (at most the burst in flight and the next one): a
        // claim would mostly queue behind them for the store's writer, and meanwhile more
        // executions end and free their slots, so this claim takes those too instead of leaving
        // them to a second, smaller claim. Bursts begun later are not waited for, so a busy
        // writer cannot hold claims back for long.
        if let Some(ticket) = inner.finishes.pending_burst() {
            tokio::select! {
                () = inner.finishes.landed(ticket) => {}
                _ = shutdown.changed() => continue,
            }
            // Best effort: one yield lets executions that are ending give their slots back
            // before this claim counts free slots. Nothing waits for them: a slot still held
            // then is taken by a later claim.
            tokio::task::yield_now().await;
        }
        let Some(request) = claim_request(&inner) else { continue };
        let teller = Arc::clone(&inner);
        let claim = move |store: &dyn TaskStore, now| {
            let items = store.claim_and_start(&request, now);
            teller.claims_answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let items = items?;
            let claimed = claimed(&teller, items);
            // Told here, on the blocking thread, right after the durable write and in order;
            // `task:started` only for the tasks that will run here (the store started the
            // others too, and the attempt gives them back or fails them at once).
            teller.emit_tasks(claimed.iter().flat_map(|entry| {
                let started = match &entry.start {
                    Start::Started(answer) => answer.as_ref().as_ref().ok(),
                    Start::NotStarted => None,
                };
                std::iter::once((HostEventType::TaskClaimed, &entry.record))
                    .chain(started.map(|started| (HostEventType::TaskStarted, started)))
            }));
            let saturated = saturated(&request, claimed.iter().map(|entry| &entry.record));
            Ok((saturated, claimed))
        };
        match inner.store.call(claim).await {
            Ok((saturated, claimed)) => {
                if saturated {
                    // More may be waiting: claim again as soon as a slot frees up.
                    inner.waker.set_pending();
                }
                launch(&inner, claimed);
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
fn saturated<'a>(
    request: &ClaimRequest,
    records: impl ExactSizeIterator<Item = &'a TaskRecord> + Clone,
) -> bool {
    if records.len() >= request.limit as usize {
        return true;
    }
    let KindSelector::Only(kinds) = &request.kinds else { return false };
    kinds.iter().any(|claim| {
        claim.limit.is_some_and(|limit| {
            let taken = records.clone().filter(|record| record.kind == claim.kind).count();
            taken >= limit as usize
        })
    })
}

/// A task this host claimed, on its way to its attempt.
struct Claimed {
    record: TaskRecord,
    lease: Lease,
    registration: Option<Arc<HandlerRegistration>>,
    start: Start,
}

/// What each attempt is given: the start the store made, or none for a task that should not run
/// here (the host began to stop, or it has no handler for the kind).
fn claimed(inner: &Arc<Inner>, items: Vec<ClaimedStart>) -> Vec<Claimed> {
    let stopping = inner.is_stopping();
    items
        .into_iter()
        .filter_map(|ClaimedStart { claimed, started }| {
            let lease = claimed.lease()?;
            let registration = inner.handler(&claimed.kind);
            let start = if stopping || registration.is_none() {
                Start::NotStarted
            } else {
                Start::Started(Box::new(started))
            };
            Some(Claimed { record: claimed, lease, registration, start })
        })
        .collect()
}

/// Starts an attempt for each claimed task.
fn launch(inner: &Arc<Inner>, claimed: Vec<Claimed>) {
    for Claimed { record, lease, registration, start } in claimed {
        let attempt = Arc::new(Attempt::new(record, lease, &inner.options));
        lock(&inner.slots).acquire(&attempt.kind);
        let key = (attempt.id.clone(), attempt.number);
        lock(&inner.running).insert(key, Arc::clone(&attempt));
        // Boxed: the attempt's future holds its records and every state of its writes, and
        // tokio moves an unboxed future by value several times while spawning and polling it.
        tokio::spawn(Box::pin(drive(Arc::clone(inner), attempt, registration, start)));
    }
}
