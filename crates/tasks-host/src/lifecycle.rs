//! Starting and stopping a host. `start` spawns the claim loop and the maintenance loops;
//! `stop` drains: the loops end (no new claims), running attempts get the stop timeout to
//! finish, then the rest are stopped and their tasks released, so another host claims them at
//! once instead of waiting for their leases to run out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tasks_core::{HostEventType, Timestamp};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::attempt::StopCause;
use crate::claim::claim_loop;
use crate::error::HostError;
use crate::inner::{Inner, lock};
use crate::maintenance::{health_loop, recovery_loop, retention_loop, watchdog_loop};
use crate::state::HostStatus;

/// The host's lifecycle state and the handles of its loops.
pub(crate) struct RunState {
    pub(crate) status: HostStatus,
    pub(crate) started_at: Option<Timestamp>,
    shutdown: Option<watch::Sender<bool>>,
    loops: Vec<JoinHandle<()>>,
}

impl RunState {
    pub(crate) fn new() -> Self {
        RunState { status: HostStatus::Idle, started_at: None, shutdown: None, loops: Vec::new() }
    }
}

pub(crate) fn start(inner: &Arc<Inner>) -> Result<(), HostError> {
    tokio::runtime::Handle::try_current()
        .map_err(|error| HostError::NoRuntime { message: error.to_string() })?;
    {
        let mut run = lock(&inner.run);
        match run.status {
            HostStatus::Running => return Ok(()),
            HostStatus::Stopping => {
                return Err(HostError::InvalidState { operation: "start", state: "stopping" });
            }
            HostStatus::Idle | HostStatus::Stopped => {}
        }
        inner.stopping.store(false, Ordering::SeqCst);
        let (shutdown, receiver) = watch::channel(false);
        run.loops = vec![
            tokio::spawn(claim_loop(Arc::clone(inner), receiver.clone())),
            tokio::spawn(watchdog_loop(Arc::clone(inner), receiver.clone())),
            tokio::spawn(recovery_loop(Arc::clone(inner), receiver.clone())),
            tokio::spawn(retention_loop(Arc::clone(inner), receiver.clone())),
            tokio::spawn(health_loop(Arc::clone(inner), receiver)),
        ];
        run.shutdown = Some(shutdown);
        run.status = HostStatus::Running;
        run.started_at = Some(inner.store.now());
    }
    inner.emit_runner(HostEventType::RunnerStarted, |_| {});
    inner.waker.wake();
    Ok(())
}

pub(crate) async fn stop(inner: &Arc<Inner>) -> Result<(), HostError> {
    let loops = {
        let mut run = lock(&inner.run);
        if run.status != HostStatus::Running {
            return Ok(());
        }
        run.status = HostStatus::Stopping;
        inner.stopping.store(true, Ordering::SeqCst);
        if let Some(shutdown) = run.shutdown.take() {
            let _ = shutdown.send(true);
        }
        std::mem::take(&mut run.loops)
    };
    for handle in loops {
        // A loop that panicked has nothing left to stop.
        let _ = handle.await;
    }
    if !drained(inner, Some(inner.options.stop_timeout)).await {
        let running: Vec<_> = lock(&inner.running).values().cloned().collect();
        for attempt in running {
            attempt.stop(StopCause::Stopping);
        }
        // Each attempt now ends within the cancel grace plus its release.
        drained(inner, None).await;
    }
    lock(&inner.run).status = HostStatus::Stopped;
    inner.emit_runner(HostEventType::RunnerStopped, |_| {});
    Ok(())
}

/// Waits until no attempt runs, at most `limit`; whether they all ended.
async fn drained(inner: &Inner, limit: Option<Duration>) -> bool {
    let deadline = limit.map(|limit| Instant::now() + limit);
    loop {
        let notified = inner.drained.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if lock(&inner.running).is_empty() {
            return true;
        }
        match deadline {
            Some(deadline) => {
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    return lock(&inner.running).is_empty();
                }
            }
            None => notified.await,
        }
    }
}
