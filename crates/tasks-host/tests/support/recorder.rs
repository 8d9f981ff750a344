//! [`Recorder`]: keeps every host and lifecycle event a host emits, and lets a test wait for
//! the one it expects (woken by each new event, never by a timer).

use std::sync::{Arc, Mutex, PoisonError};

use tasks_core::{HostEventType, LifecycleEventName, TaskHostEvent, TaskId, TaskLifecycleEvent};
use tasks_host::TaskHost;
use tokio::sync::watch;

use super::PATIENCE;

/// Every event of one host.
#[derive(Clone)]
pub(crate) struct Recorder {
    host: Arc<Mutex<Vec<TaskHostEvent>>>,
    lifecycle: Arc<Mutex<Vec<TaskLifecycleEvent>>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Recorder {
    /// Listens to `host`.
    pub(crate) fn attach(host: &TaskHost) -> Self {
        let recorder = Recorder {
            host: Arc::default(),
            lifecycle: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
        };
        let sink = recorder.clone();
        host.on_event(move |event| {
            sink.host.lock().unwrap_or_else(PoisonError::into_inner).push(event.clone());
            sink.changed.send_modify(|count| *count += 1);
        });
        let sink = recorder.clone();
        host.on_lifecycle_event(move |event| {
            sink.lifecycle.lock().unwrap_or_else(PoisonError::into_inner).push(event.clone());
            sink.changed.send_modify(|count| *count += 1);
        });
        recorder
    }

    pub(crate) fn lifecycle(&self) -> Vec<TaskLifecycleEvent> {
        self.lifecycle.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn host_events(&self) -> Vec<TaskHostEvent> {
        self.host.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The lifecycle event names of one task, in order.
    pub(crate) fn names(&self, id: &TaskId) -> Vec<LifecycleEventName> {
        self.lifecycle()
            .iter()
            .filter(|event| &event.task_id == id)
            .map(|event| event.event)
            .collect()
    }

    /// How many lifecycle events named `name` task `id` got.
    pub(crate) fn count(&self, id: &TaskId, name: LifecycleEventName) -> usize {
        self.names(id).iter().filter(|seen| **seen == name).count()
    }

    /// Waits for a lifecycle event matching `matches`, and returns it.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        matches: impl Fn(&TaskLifecycleEvent) -> bool,
    ) -> TaskLifecycleEvent {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(event) = self.lifecycle().into_iter().find(|event| matches(event)) {
                return event;
            }
            let waited = tokio::time::timeout_at(deadline, changes.changed()).await;
            assert!(
                waited.is_ok(),
                "timed out waiting for {what}; lifecycle events seen: {:#?}",
                self.lifecycle()
                    .iter()
                    .map(|e| (e.task_id.to_string(), e.event))
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Waits for lifecycle event `name` of task `id`.
    pub(crate) async fn wait(&self, id: &TaskId, name: LifecycleEventName) -> TaskLifecycleEvent {
        let what = format!("{} of task {id}", name.as_str());
        self.wait_for(&what, |event| &event.task_id == id && event.event == name).await
    }

    /// Waits for a host event matching `matches`.
    pub(crate) async fn wait_host(
        &self,
        what: &str,
        matches: impl Fn(&TaskHostEvent) -> bool,
    ) -> TaskHostEvent {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(event) = self.host_events().into_iter().find(|event| matches(event)) {
                return event;
            }
            let waited = tokio::time::timeout_at(deadline, changes.changed()).await;
            assert!(waited.is_ok(), "timed out waiting for {what}");
        }
    }

    /// How many host events of `event_type` were seen.
    pub(crate) fn host_count(&self, event_type: HostEventType) -> usize {
        self.host_events().iter().filter(|event| event.event_type == event_type).count()
    }
}
