//! The maintenance loops every host runs while started: the watchdog (marks silent tasks
//! stale), lease recovery (requeues or fails tasks whose runner stopped renewing its lease),
//! retention (compacts on its interval) and the health check (reports the store's warnings). They act on the whole store, so any host sharing it
//! recovers the tasks of one that died.

use std::sync::Arc;
use std::time::Duration;

use tasks_core::{HostEventType, RetentionPolicy, TaskRecord, TaskStatus, TaskStore};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::inner::Inner;

/// Runs `tick` every `period` until the host stops.
async fn every<F, Fut>(period: Duration, mut shutdown: watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = interval.tick() => tick().await,
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Marks tasks silent for longer than the watchdog allows stale, and emits `stale`.
pub(crate) async fn watchdog_loop(inner: Arc<Inner>, shutdown: watch::Receiver<bool>) {
    let Some(silent_for) = inner.options.watchdog else { return };
    let period = inner.options.watchdog_scan_interval;
    every(period, shutdown, || watchdog_scan(&inner, silent_for)).await;
}

async fn watchdog_scan(inner: &Arc<Inner>, silent_for: Duration) {
    let limit = inner.options.stale_scan_limit;
    let reason = format!("no heartbeat or progress for {} ms", silent_for.as_millis());
    let marked =
        inner.store.call(move |store, now| store.mark_stale(silent_for, &reason, limit, now)).await;
    match marked {
        Ok(records) => {
            for record in &records {
                inner.emit_task(HostEventType::TaskStale, record);
            }
        }
        Err(error) => inner.emit_store_error("marking stale tasks", None, &error),
    }
}

/// Recovers tasks whose lease ran out: `task:lease_lost` for each (with the recovered task),
/// `task:failed` or `task:cancelled` for those that ended, one `task:stale_requeued` with the
/// count.
pub(crate) async fn recovery_loop(inner: Arc<Inner>, shutdown: watch::Receiver<bool>) {
    let period = inner.options.stale_scan_interval;
    every(period, shutdown, || recover(&inner)).await;
}

/// One recovery scan.
pub(crate) async fn recover(inner: &Arc<Inner>) {
    let limit = inner.options.stale_scan_limit;
    let teller = Arc::clone(inner);
    let recover = move |store: &dyn TaskStore, now| {
        let records = store.recover_expired(limit, now)?;
        // Told from the blocking thread right after the store answered, before any host can
        // claim a requeued task: `lease_lost` comes before the next attempt's `claimed`.
        tell_recovered(&teller, &records);
        Ok(records)
    };
    match inner.store.call(recover).await {
        Ok(records) => {
            for record in &records {
                // An attempt of this host whose lease ran out must stop at once. Only that
                // attempt: by now the claim loop may already run the task's next attempt here.
                if let Some(attempt) = inner.running_attempt_number(&record.id, record.attempt)
                    && record.lease_owner.as_deref() == Some(inner.runner_id.as_str())
                {
                    attempt.mark_lease_lost();
                }
            }
            if records.iter().any(|record| record.status == TaskStatus::Queued) {
                inner.waker.wake();
            }
        }
        Err(error) => inner.emit_store_error("recovering expired leases", None, &error),
    }
}

fn tell_recovered(inner: &Inner, records: &[TaskRecord]) {
    for record in records {
        inner.emit_task_with(HostEventType::TaskLeaseLost, record, |event| {
            event.message = Some(format!(
                "task {} recovered after the lease of {} expired",
                record.id,
                record.lease_owner.as_deref().unwrap_or("an unknown runner")
            ));
        });
        if record.status.is_terminal() {
            let event_type = if record.status == TaskStatus::Cancelled {
                HostEventType::TaskCancelled
            } else {
                HostEventType::TaskFailed
            };
            inner.emit_task(event_type, record);
        }
    }
    if !records.is_empty() {
        let count = records.len() as u64;
        inner.emit_runner(HostEventType::TaskStaleRequeued, |event| event.count = Some(count));
    }
}

/// Asks the store for warnings on the health check interval, and reports each as a
/// `runner:warning` event (every time it is found, for as long as the condition lasts).
pub(crate) async fn health_loop(inner: Arc<Inner>, shutdown: watch::Receiver<bool>) {
    let period = inner.options.health_check_interval;
    every(period, shutdown, || check_health(&inner)).await;
}

async fn check_health(inner: &Arc<Inner>) {
    match inner.store.call(|store, now| store.warnings(now)).await {
        Ok(warnings) => {
            for warning in warnings {
                inner.emit_runner(HostEventType::RunnerWarning, |event| {
                    event.error = Some(
                        tasks_core::TaskError::new(warning.message.clone())
                            .with_name("StoreWarning")
                            .with_code(warning.code),
                    );
                    event.message = Some(warning.message);
                });
            }
        }
        Err(error) => inner.emit_store_error("checking the store's health", None, &error),
    }
}

/// Applies the retention policy on its interval.
pub(crate) async fn retention_loop(inner: Arc<Inner>, shutdown: watch::Receiver<bool>) {
    let Some(policy) = inner.options.retention_policy.clone() else { return };
    let period = inner.options.retention_interval;
    every(period, shutdown, || {
        let policy = policy.clone();
        let inner = Arc::clone(&inner);
        async move {
            if let Err(error) = compact(&inner, policy).await {
                inner.emit_store_error("applying retention", None, &error);
            }
        }
    })
    .await;
}

/// Applies `policy` once and emits `retention_completed`.
pub(crate) async fn compact(
    inner: &Arc<Inner>,
    policy: RetentionPolicy,
) -> Result<tasks_core::RetentionReport, tasks_core::StoreError> {
    let report = inner.store.call(move |store, now| store.compact(&policy, now)).await?;
    inner.emit_runner(HostEventType::RetentionCompleted, |event| {
        event.retention = Some(report);
        event.message = Some(format!(
            "retention deleted {} tasks and {} steps",
            report.deleted_tasks, report.deleted_steps
        ));
    });
    Ok(report)
}
