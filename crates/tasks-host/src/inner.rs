//! [`Inner`]: the state one host shares between its handle, its claim loop, its attempts and
//! its maintenance loops, with the small helpers they all use (emitting events, freeing slots).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use tasks_core::{
    HostEventType, SeededRandom, StoreError, TaskError, TaskHostEvent, TaskId, TaskRecord,
};
use tokio::sync::Notify;

use crate::attempt::Attempt;
use crate::blocking::StoreCaller;
use crate::burst::FinishWriter;
use crate::events::EventBus;
use crate::lifecycle::RunState;
use crate::options::RunnerOptions;
use crate::registration::HandlerRegistration;
use crate::slots::Slots;
use crate::wake::ClaimWaker;

/// What one host shares between its parts.
pub(crate) struct Inner {
    pub(crate) runner_id: String,
    pub(crate) options: RunnerOptions,
    pub(crate) store: StoreCaller,
    pub(crate) handlers: RwLock<HashMap<String, Arc<HandlerRegistration>>>,
    pub(crate) events: EventBus,
    pub(crate) waker: ClaimWaker,
    pub(crate) slots: Mutex<Slots>,
    /// The final writes of attempts, written in bursts.
    pub(crate) finishes: FinishWriter,
    /// Attempts running here, by task and attempt number: a task whose lease this host lost
    /// may be claimed again here while its old attempt is still winding down.
    pub(crate) running: Mutex<HashMap<(TaskId, u32), Arc<Attempt>>>,
    /// Notified whenever an attempt ends, for `stop` to wait on.
    pub(crate) drained: Notify,
    pub(crate) random: Mutex<SeededRandom>,
    /// Set from the moment `stop` begins until the next `start`: no new attempt starts.
    pub(crate) stopping: AtomicBool,
    /// Claims the store has answered so far: an attempt whose slot was freed before its final
    /// write notes the count, to know whether a claim ran while the store still counted its
    /// task active.
    pub(crate) claims_answered: AtomicU64,
    pub(crate) run: Mutex<RunState>,
}

/// Locks a mutex, recovering from poisoning: every critical section here leaves its data
/// consistent before it can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn handler(&self, kind: &str) -> Option<Arc<HandlerRegistration>> {
        self.handlers.read().unwrap_or_else(PoisonError::into_inner).get(kind).cloned()
    }

    /// Emits a task event about `record`, attributed to this runner.
    pub(crate) fn emit_task(&self, event_type: HostEventType, record: &TaskRecord) {
        self.emit_task_with(event_type, record, |_| {});
    }

    /// Emits a task event about `record` after `extra` filled in its other fields. Builds
    /// nothing when no one listens.
    pub(crate) fn emit_task_with(
        &self,
        event_type: HostEventType,
        record: &TaskRecord,
        extra: impl FnOnce(&mut TaskHostEvent),
    ) {
        if !self.events.has_listeners() {
            return;
        }
        let mut event = TaskHostEvent::task(event_type, record.clone(), self.store.now())
            .with_runner(self.runner_id.clone());
        extra(&mut event);
        self.events.emit(event);
    }

    /// Emits task events about these records, in order, as one batch (see `events`).
    pub(crate) fn emit_tasks<'r>(
        &self,
        events: impl IntoIterator<Item = (HostEventType, &'r TaskRecord)>,
    ) {
        if !self.events.has_listeners() {
            return;
        }
        let now = self.store.now();
        let events = events
            .into_iter()
            .map(|(event_type, record)| {
                TaskHostEvent::task(event_type, record.clone(), now)
                    .with_runner(self.runner_id.clone())
            })
            .collect();
        self.events.emit_all(events);
    }

    /// Emits a runner event (started, stopped, error, retention).
    pub(crate) fn emit_runner(
        &self,
        event_type: HostEventType,
        extra: impl FnOnce(&mut TaskHostEvent),
    ) {
        if !self.events.has_listeners() {
            return;
        }
        let mut event = TaskHostEvent::new(event_type, self.store.now());
        event.runner_id = Some(self.runner_id.clone());
        extra(&mut event);
        self.events.emit(event);
    }

    /// Reports a store failure the runner met in one of its loops (it keeps going).
    pub(crate) fn emit_store_error(&self, doing: &str, task: Option<&TaskId>, error: &StoreError) {
        self.emit_runner(HostEventType::RunnerError, |event| {
            event.task_id = task.cloned();
            event.message = Some(format!("{doing}: {error}"));
            event.error = Some(
                TaskError::new(error.to_string())
                    .with_name("StoreError")
                    .with_code(format!("{:?}", error.kind()).to_lowercase()),
            );
        });
    }

    /// Forgets a finished attempt: frees its slot, wakes the claim loop and `stop`.
    pub(crate) fn attempt_ended(&self, attempt: &Attempt) {
        let mut claim_again = false;
        {
            let mut running = lock(&self.running);
            // The slot is freed before the attempt leaves the map, so that once `stop` sees no
            // attempt, the state shows no active task either.
            let key = (attempt.id.clone(), attempt.number);
            if running.contains_key(&key) {
                if attempt.holds_slot.swap(false, Ordering::SeqCst) {
                    lock(&self.slots).release(&attempt.kind);
                } else {
                    // The slot was freed before the final write. A claim made since then saw
                    // this task still claimed or running (its concurrency key held, its kind's
                    // store-wide count one higher) and may have come back short: claim again
                    // now that the write has landed, not at the next poll.
                    let freed_at = attempt.slot_freed_at.load(Ordering::SeqCst);
                    claim_again = self.claims_answered.load(Ordering::SeqCst) != freed_at;
                }
                running.remove(&key);
            }
        }
        if claim_again {
            self.waker.wake();
        } else {
            self.waker.nudge();
        }
        self.drained.notify_waiters();
    }

    /// Gives back the slot of an attempt whose execution ended, before its final write: the
    /// host's concurrency bounds the executions, and the claim loop may fill the slot while
    /// the final write is made. The attempt stays known (`running`) until it ends.
    pub(crate) fn free_slot(&self, attempt: &Attempt) {
        if attempt.holds_slot.swap(false, Ordering::SeqCst) {
            attempt
                .slot_freed_at
                .store(self.claims_answered.load(Ordering::SeqCst), Ordering::SeqCst);
            lock(&self.slots).release(&attempt.kind);
            self.waker.nudge();
        }
    }

    /// The newest attempt of task `id` running on this host, if any.
    pub(crate) fn running_attempt(&self, id: &TaskId) -> Option<Arc<Attempt>> {
        lock(&self.running)
            .iter()
            .filter(|((task, _), _)| task == id)
            .max_by_key(|((_, number), _)| *number)
            .map(|(_, attempt)| Arc::clone(attempt))
    }

    /// Attempt `number` of task `id` running on this host, if any.
    pub(crate) fn running_attempt_number(&self, id: &TaskId, number: u32) -> Option<Arc<Attempt>> {
        lock(&self.running).get(&(id.clone(), number)).cloned()
    }
}
