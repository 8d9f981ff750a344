//! [`FinishWriter`]: the final writes of attempts (complete, fail, acknowledge a cancel), which
//! come many at a time, written as a small group commit: one store call per burst,
//! `finish_batch`, or `finish_and_claim` when the claim loop's claim goes with it (below). (The
//! starts once went through here too, as a second kind of burst; the claim now starts what it
//! claims in the same transaction, `claim_and_start`.)
//!
//! A write that finds no write of its kind in flight goes to the store at once; the ones that
//! arrive while a write is in flight wait for it to end and then go together, whatever their
//! number. Nothing ever waits on a timer: a burst is exactly what piled up during the previous
//! write.
//!
//! Every item keeps the meaning of its single write. The store fences and answers each on its
//! own (a stale lease or a refused output refuses only its item); each caller gets its own
//! answer back and reacts as it would to the single call (a lost lease, a retry later). The
//! event that tells how a write left its task is emitted from the blocking thread right after
//! the store answered, before the answers go back: after the durable write, in the burst's
//! order, and before another host can claim a task that went back to the queue.
//!
//! Each writing loop runs on one blocking thread for as long as writes keep arriving, so a
//! busy host pays one hop to the blocking pool per busy stretch, not one per task.
//!
//! The claim loop, when it wants to claim while final writes are pending, hands its claim to
//! the writing loop ([`FinishWriter::claim_with_next_burst`]): the next burst goes with the
//! claim in one store call, `finish_and_claim`, the final writes first. The free slots are
//! counted when that burst is taken. A busy host then makes one write per cycle where it made
//! two, and its claims take every slot the burst freed. The tasks claimed go to their attempts
//! on the writer's thread (`claim::answered`) before the claim loop gets the outcome.

use std::sync::{Arc, Mutex};

use tasks_core::{Clock, Finish, FinishedAndClaimed, StoreError, TaskRecord, TaskStore};
use tokio::sync::oneshot;

use crate::attempt::event_of_end;
use crate::claim::{ClaimOutcome, answered, claim_request};
use crate::inner::{Inner, lock};

/// The per-item answers of one batched store call.
type Answers = Result<Vec<Result<TaskRecord, StoreError>>, StoreError>;

/// Where the answer to one write goes.
type Reply = oneshot::Sender<Result<TaskRecord, StoreError>>;

/// The answer to one write, once its burst was written.
#[derive(Debug)]
pub(crate) struct Pending(oneshot::Receiver<Result<TaskRecord, StoreError>>);

impl Pending {
    /// Waits for the answer. A write abandoned before the store answered (its runtime shut
    /// down, its store panicked) gets a transient error: it may be tried again.
    pub(crate) async fn answer(self) -> Result<TaskRecord, StoreError> {
        self.0.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable {
                message: "the write was abandoned before the store answered".into(),
                source: None,
            })
        })
    }
}

/// Where the claim made with a burst goes: what it answered (its tasks already handed to their
/// attempts), or `None` when no claim was made (no slot free for any kind this host runs, or
/// the host began to stop).
type ClaimReply = oneshot::Sender<Option<ClaimOutcome>>;

/// Final writes waiting for the next burst.
#[derive(Default)]
pub(crate) struct FinishWriter {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(Finish, Reply)>,
    /// The claim loop's claim, to be made right after the next burst (in the same store call).
    claim: Option<ClaimReply>,
    /// A writing loop runs (and will take `waiting` and `claim` before it stops).
    writing: bool,
}

impl FinishWriter {
    /// Writes `item` in the next burst, and returns its own answer, as the single write would.
    pub(crate) async fn write(inner: &Arc<Inner>, item: Finish) -> Result<TaskRecord, StoreError> {
        let (reply, answer) = oneshot::channel();
        Self::enqueue(inner, (item, reply));
        Pending(answer).answer().await
    }

    /// Queues `write` for the next burst, starting a writing loop if none runs.
    fn enqueue(inner: &Arc<Inner>, write: (Finish, Reply)) {
        let writer = &inner.finishes;
        let start_loop = {
            let mut queue = lock(&writer.queue);
            queue.waiting.push(write);
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_loop {
            let looping = Arc::clone(inner);
            let spawned =
                inner.store.spawn_session(move |store, clock| write_bursts(&looping, store, clock));
            if !spawned {
                writer.abandon();
            }
        }
    }

    /// Has the writing loop claim for this host right after its next burst, in the same store
    /// call, and returns where the claim's outcome will come; `None` when no loop runs (no final
    /// write is pending), so the caller claims on its own.
    pub(crate) fn claim_with_next_burst(&self) -> Option<oneshot::Receiver<Option<ClaimOutcome>>> {
        let mut queue = lock(&self.queue);
        if !queue.writing {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        // One claim loop per host, so no claim is already waiting; were one, it would be
        // answered as abandoned.
        queue.claim = Some(reply);
        Some(answer)
    }

    /// How many writes wait for the next burst (for tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.queue).waiting.len()
    }

    /// Takes back a claim handed over by [`FinishWriter::claim_with_next_burst`] that the
    /// writing loop has not taken yet; `false` when it is being made (or was made).
    pub(crate) fn withdraw_claim(&self) -> bool {
        lock(&self.queue).claim.take().is_some()
    }

    /// Whether a writing loop runs (for tests).
    #[cfg(test)]
    pub(crate) fn is_writing(&self) -> bool {
        lock(&self.queue).writing
    }

    /// Gives up on every waiting write (their callers get an error and may try again), and
    /// lets the next write start a new loop.
    fn abandon(&self) {
        let (waiting, claim) = {
            let mut queue = lock(&self.queue);
            queue.writing = false;
            (std::mem::take(&mut queue.waiting), queue.claim.take())
        };
        // Dropping the replies answers their callers with an error, the claim loop included.
        drop(waiting);
        drop(claim);
    }
}

/// Resets the writer if its loop panics (a store that panicked): the writes of the burst in
/// hand get an error when their replies are dropped, the waiting ones by `abandon`.
struct PanicGuard<'a>(&'a FinishWriter);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandon();
        }
    }
}

/// Writes bursts until none waits, each with the claim loop's claim when it asked for one.
/// Runs on a blocking thread.
fn write_bursts(inner: &Arc<Inner>, store: &dyn TaskStore, clock: &dyn Clock) {
    let writer = &inner.finishes;
    let _guard = PanicGuard(writer);
    loop {
        let (burst, claim) = {
            let mut queue = lock(&writer.queue);
            if queue.waiting.is_empty() && queue.claim.is_none() {
                queue.writing = false;
                return;
            }
            (std::mem::take(&mut queue.waiting), queue.claim.take())
        };
        let (finishes, replies): (Vec<Finish>, Vec<Reply>) = burst.into_iter().unzip();
        // The free slots are counted now: the slots of this burst's attempts were given back
        // before their writes were queued. A host that began to stop claims nothing more (what
        // it claimed would only be given back).
        let request =
            claim.as_ref().filter(|_| !inner.is_stopping()).and_then(|_| claim_request(inner));
        let claimed = match request {
            Some(request) => match store.finish_and_claim(&finishes, &request, clock.now()) {
                Ok(FinishedAndClaimed { finished, claimed }) => {
                    answer(inner, replies, Ok(finished));
                    Some(answered(inner, &request, claimed))
                }
                Err(error) => {
                    // Nothing was written. The final writes need not share the claim's fate (a
                    // claim that kept losing to other claimers, say): they go on their own.
                    write_alone(inner, store, clock, &finishes, replies);
                    Some(answered(inner, &request, Err(error)))
                }
            },
            None => {
                write_alone(inner, store, clock, &finishes, replies);
                None
            }
        };
        if let Some(claim) = claim {
            // A claim loop that went away (its runtime shut down) needs no answer.
            let _ = claim.send(claimed);
        }
    }
}

/// Writes a burst with no claim (`finish_batch`) and answers it; an empty burst needs nothing.
fn write_alone(
    inner: &Inner,
    store: &dyn TaskStore,
    clock: &dyn Clock,
    finishes: &[Finish],
    replies: Vec<Reply>,
) {
    if !finishes.is_empty() {
        answer(inner, replies, store.finish_batch(finishes, clock.now()));
    }
}

/// Tells listeners how each accepted write left its task, then answers each caller.
fn answer(inner: &Inner, replies: Vec<Reply>, answers: Answers) {
    match answers {
        Ok(answers) => {
            let told = answers.iter().flatten();
            inner.emit_tasks(told.map(|record| (event_of_end(record), record)));
            let mut answers = answers.into_iter();
            for reply in replies {
                let answer = answers.next().unwrap_or_else(|| {
                    Err(StoreError::Backend {
                        message: "the store answered fewer final writes than it was given"
                            .to_owned(),
                        source: None,
                    })
                });
                // A caller that went away (its runtime shut down) needs no answer.
                let _ = reply.send(answer);
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(error.duplicate()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
