//! [`FinishWriter`]: the final writes of attempts (complete, fail, acknowledge a cancel), which
//! come many at a time, written as a small group commit: one `finish_batch` per burst. (The
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

use std::sync::{Arc, Mutex};

use tasks_core::{Clock, Finish, StoreError, TaskRecord, TaskStore};
use tokio::sync::{Notify, oneshot};

use crate::attempt::event_of_end;
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

/// Final writes waiting for the next burst.
#[derive(Debug, Default)]
pub(crate) struct FinishWriter {
    queue: Mutex<Queue>,
    /// Told whenever a burst was answered.
    landed: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: Vec<(Finish, Reply)>,
    /// A writing loop runs (and will take `waiting` before it stops).
    writing: bool,
    /// Bursts taken to the store so far, and bursts answered so far.
    begun: u64,
    answered: u64,
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

    /// The last burst that holds a write made by now, if one is not answered yet: the burst
    /// in flight, or the next one when writes wait for it. [`FinishWriter::landed`] waits for
    /// it, which takes at most two writes.
    pub(crate) fn pending_burst(&self) -> Option<u64> {
        let queue = lock(&self.queue);
        if !queue.waiting.is_empty() {
            Some(queue.begun + 1)
        } else {
            (queue.answered < queue.begun).then_some(queue.begun)
        }
    }

    /// Waits until burst `ticket` (from [`FinishWriter::pending_burst`]) was answered, or the
    /// writer was reset.
    pub(crate) async fn landed(&self, ticket: u64) {
        loop {
            let notified = self.landed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&self.queue).answered >= ticket {
                return;
            }
            notified.await;
        }
    }

    /// How many writes wait for the next burst (for tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.queue).waiting.len()
    }

    /// Gives up on every waiting write (their callers get an error and may try again), and
    /// lets the next write start a new loop.
    fn abandon(&self) {
        let waiting = {
            let mut queue = lock(&self.queue);
            queue.writing = false;
            if !queue.waiting.is_empty() {
                // The burst they would have gone in counts as answered: nobody waits for it.
                queue.begun += 1;
            }
            queue.answered = queue.begun;
            std::mem::take(&mut queue.waiting)
        };
        self.landed.notify_waiters();
        // Dropping the replies answers their callers with an error.
        drop(waiting);
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

/// Writes bursts until none waits. Runs on a blocking thread.
fn write_bursts(inner: &Arc<Inner>, store: &dyn TaskStore, clock: &dyn Clock) {
    let writer = &inner.finishes;
    let _guard = PanicGuard(writer);
    loop {
        let burst = {
            let mut queue = lock(&writer.queue);
            if queue.waiting.is_empty() {
                queue.writing = false;
                return;
            }
            queue.begun += 1;
            std::mem::take(&mut queue.waiting)
        };
        let (finishes, replies): (Vec<Finish>, Vec<Reply>) = burst.into_iter().unzip();
        let answers = store.finish_batch(&finishes, clock.now());
        answer(inner, replies, answers);
        lock(&writer.queue).answered += 1;
        writer.landed.notify_waiters();
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
