//! The claim loop: waits for a reason to claim (a local enqueue, a store notification, a slot
//! freed after a claim that filled every slot, a retry or delayed task coming due, the poll
//! interval) and a free slot, then claims and starts as many tasks as it has free slots in one
//! store call (`claim_and_start`: one transaction for both). While final writes are pending the
//! claim goes with the next burst of them instead, in the burst writer's `finish_and_claim`
//! (see the `burst` module). Either way the blocking thread that made the claim gives each
//! claimed task to an attempt as soon as the store answered (`answered`); the claim loop only
//! learns whether to claim again.
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
    ClaimRequest, ClaimedStart, HostEventType, KindClaim, KindSelector, Lease, StoreError,
    TaskRecord, TaskStore,
};
use tokio::sync::{oneshot, watch};
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
        // An attempt gives its slot back when its execution ends, before its final write. While
        // final writes are pending (the burst in flight and the ones waiting for it), the claim
        // goes with the next burst: the writer makes the final writes and then the claim in one
        // store call (`finish_and_claim`), one write and one trip to a blocking thread instead
        // of two. A claim made alongside would mostly queue behind the final writes for the
        // store's writer, and meanwhile more executions end and free their slots, so the claim
        // made after the burst takes those too instead of leaving them to a second, smaller
        // claim. When the host begins to stop, a claim the writer has not taken yet is taken
        // back; one being made is awaited, so that `stop`, which waits for this loop before it
        // waits for the attempts, finds the tasks it took among them (they give them back).
        let outcome = match inner.finishes.claim_with_next_burst() {
            Some(answer) => match with_next_burst(&inner, answer, &mut shutdown).await {
                Some(outcome) => outcome,
                None => continue,
            },
            None => {
                let Some(request) = claim_request(&inner) else { continue };
                let teller = Arc::clone(&inner);
                inner
                    .store
                    .call(move |store: &dyn TaskStore, now| {
                        let items = store.claim_and_start(&request, now);
                        answered(&teller, &request, items)
                    })
                    .await
            }
        };
        match outcome {
            // More may be waiting: claim again as soon as a slot frees up.
            Ok(Answered { saturated: true, .. }) => inner.waker.set_pending(),
            Ok(Answered { saturated: false, .. }) => {}
            Err(error) => inner.emit_store_error("claiming tasks", None, &error),
        }
    }
}

/// Waits for the claim handed to the burst writer; `None` when no claim was made (no slot free
/// for a kind this host runs, the host stopping) or it was taken back because the host began to
/// stop before the writer took it.
async fn with_next_burst(
    inner: &Inner,
    mut answer: oneshot::Receiver<Option<ClaimOutcome>>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<ClaimOutcome> {
    let answered = tokio::select! {
        answered = &mut answer => answered,
        _ = shutdown.changed() => {
            if inner.finishes.withdraw_claim() {
                return None;
            }
            answer.await
        }
    };
    match answered {
        Ok(outcome) => outcome,
        Err(_) => Some(Err(StoreError::Unavailable {
            message: "the claim was abandoned before the store answered".into(),
            source: None,
        })),
    }
}

/// What a claim answered, once its tasks were handed to their attempts.
#[derive(Debug)]
pub(crate) struct Answered {
    /// It took all it was allowed (in all, or of some kind): more may be due.
    pub(crate) saturated: bool,
}

/// What a claim's call answered: the claim's answer, or the store's failure.
pub(crate) type ClaimOutcome = Result<Answered, StoreError>;

/// Tells what a claim took and starts an attempt for each task. Runs on the blocking thread
/// that made the claim, right after the store answered (inside the runtime, as the blocking
/// pool's threads are). Launched here, the attempts start without waiting for the claim loop
/// to be woken and scheduled; their slots are held before the claim loop hears of the claim,
/// as before, so its next claim does not count them as free.
pub(crate) fn answered(
    inner: &Arc<Inner>,
    request: &ClaimRequest,
    items: Result<Vec<ClaimedStart>, StoreError>,
) -> ClaimOutcome {
    inner.claims_answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let claimed = claimed(inner, items?);
    // Told here, right after the durable write and in order; `task:started` only for the
    // tasks that will run here (the store started the others too, and the attempt gives them
    // back or fails them at once).
    inner.emit_tasks(claimed.iter().flat_map(|entry| {
        let started = match &entry.start {
            Start::Started(answer) => answer.as_ref().as_ref().ok(),
            Start::NotStarted => None,
        };
        std::iter::once((HostEventType::TaskClaimed, &entry.record))
            .chain(started.map(|started| (HostEventType::TaskStarted, started)))
    }));
    let saturated = saturated(request, claimed.iter().map(|entry| &entry.record));
    launch(inner, claimed);
    Ok(Answered { saturated })
}

/// The request for this host's free slots, or `None` when no registered kind has one.
pub(crate) fn claim_request(inner: &Inner) -> Option<ClaimRequest> {
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
