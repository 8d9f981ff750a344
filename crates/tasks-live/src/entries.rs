//! Event entries: the spec's `TaskEventEntry` normalizers and adapters (from `tasks-core`,
//! re-exported here where the spec lists them), and the adapter for live messages, so a
//! timeline or log fed by a live subscription gets the same rows.

use tasks_core::TaskLiveMessage;
pub use tasks_core::{
    TaskEventEntry, TaskEventEntryType, host_event_adapter, lifecycle_event_adapter,
    normalize_host_event_entry, normalize_lifecycle_event_entry,
};

/// The entry of a live message: its event's entry; `None` for a bootstrap.
pub fn normalize_live_message_entry(message: &TaskLiveMessage) -> Option<TaskEventEntry> {
    match message {
        TaskLiveMessage::Bootstrap(_) => None,
        TaskLiveMessage::Event { event, .. } => Some(normalize_lifecycle_event_entry(event)),
    }
}

/// Wraps a sink of entries into a live listener (for [`crate::TaskLiveHub::subscribe`]):
/// every event becomes an entry; bootstraps are skipped.
pub fn live_message_adapter<F>(sink: F) -> impl Fn(&TaskLiveMessage) + Send + Sync
where
    F: Fn(TaskEventEntry) + Send + Sync,
{
    move |message| {
        if let Some(entry) = normalize_live_message_entry(message) {
            sink(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tasks_core::{
        LifecycleEventName, LifecycleState, NewTask, StepId, StepKind, StepLevel, StepRecord,
        SubscriptionQuery, TaskError, TaskLifecycleEvent, TaskRecord, TaskSnapshot, TaskStatus,
        TaskSubscriptionBootstrap, Timestamp,
    };

    use super::*;

    const T0: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    fn record(status: TaskStatus) -> TaskRecord {
        let options = tasks_core::EnqueueOptions::new().channel("scope:a");
        let mut record = NewTask::new("report", json!({}))
            .with_options(options)
            .into_record(T0)
            .expect("valid task");
        record.status = status;
        record.revision = 4;
        record.progress_percent = Some(40.0);
        record.progress_label = Some("halfway".into());
        record.lease_owner = Some("runner-1".into());
        record.error = Some(TaskError::new("boom"));
        record.output = Some(json!({ "rows": 3 }));
        record
    }

    fn step(task: &TaskRecord) -> StepRecord {
        StepRecord {
            id: StepId::generate(),
            task_id: task.id.clone(),
            seq: 7,
            attempt: 1,
            kind: StepKind::Checkpoint,
            level: StepLevel::Warn,
            message: "rows written".into(),
            meta: None,
            percent: Some(75.0),
            created_at: T0,
        }
    }

    /// The status a task has after each event, so the snapshot agrees with the name.
    fn status_after(name: LifecycleEventName) -> TaskStatus {
        use LifecycleEventName as L;
        match name {
            L::Enqueued | L::Retried | L::LeaseLost => TaskStatus::Queued,
            L::Claimed => TaskStatus::Claimed,
            L::Started | L::Progress | L::Step | L::Stale => TaskStatus::Running,
            L::Succeeded => TaskStatus::Succeeded,
            L::Failed => TaskStatus::Failed,
            L::Cancelled => TaskStatus::Cancelled,
        }
    }

    fn message_of(name: LifecycleEventName) -> (TaskLiveMessage, TaskRecord) {
        let record = record(status_after(name));
        let mut event = TaskLifecycleEvent::of(name, TaskSnapshot::from_record(&record), T0);
        if name == LifecycleEventName::Step {
            event = event.with_step(step(&record));
        }
        (TaskLiveMessage::Event { event, timestamp: T0 }, record)
    }

    #[test]
    fn a_bootstrap_has_no_entry() {
        let bootstrap = TaskSubscriptionBootstrap {
            query: SubscriptionQuery::default(),
            snapshots: vec![TaskSnapshot::from_record(&record(TaskStatus::Running))],
            steps: BTreeMap::new(),
            aggregate: None,
            cursor: None,
            timestamp: T0,
        };
        assert_eq!(normalize_live_message_entry(&TaskLiveMessage::Bootstrap(bootstrap)), None);
    }

    #[test]
    fn every_event_kind_gets_its_entry() {
        use LifecycleEventName as L;
        for name in LifecycleEventName::ALL {
            let (message, record) = message_of(name);
            let entry = normalize_live_message_entry(&message).expect("an event has an entry");
            let (level, text, percent) = match name {
                L::Step => (StepLevel::Warn, "rows written", Some(75.0)),
                L::Enqueued => (StepLevel::Info, "Task enqueued", Some(40.0)),
                L::Claimed => (StepLevel::Info, "Task claimed", Some(40.0)),
                L::Started => (StepLevel::Info, "Task started", Some(40.0)),
                L::Progress => (StepLevel::Info, "Task progress updated", Some(40.0)),
                L::Retried => (StepLevel::Warn, "Task scheduled for retry", Some(40.0)),
                L::Succeeded => (StepLevel::Success, "Task succeeded", Some(40.0)),
                L::Failed => (StepLevel::Error, "Task failed", Some(40.0)),
                L::Cancelled => (StepLevel::Warn, "Task cancelled", Some(40.0)),
                L::Stale => (StepLevel::Warn, "Task marked stale", Some(40.0)),
                L::LeaseLost => (StepLevel::Error, "Task lease lost", Some(40.0)),
            };
            assert_eq!(entry.entry_type, TaskEventEntryType::from(name), "{name:?}");
            assert_eq!(entry.level, level, "{name:?}");
            assert_eq!(entry.message, text, "{name:?}");
            assert_eq!(entry.percent, percent, "{name:?}");
            assert_eq!(entry.timestamp, T0);
            assert_eq!(entry.task_id.as_ref(), Some(&record.id));
            assert_eq!(entry.kind.as_deref(), Some("report"));
            assert_eq!(entry.state, Some(LifecycleState::of(&record)), "{name:?}");
            assert_eq!(entry.channels, vec!["scope:a".to_owned()]);
            assert_eq!(entry.runner_id.as_deref(), Some("runner-1"));
            assert_eq!(entry.step_id.is_some(), name == L::Step, "{name:?}");
            let metadata = entry.metadata.clone().unwrap_or_default();
            assert_eq!(metadata.get("progressLabel"), Some(&json!("halfway")), "{name:?}");
            // Only a success carries the output, only a failure-like event the error.
            assert_eq!(metadata.contains_key("output"), name == L::Succeeded, "{name:?}");
            let with_error = matches!(name, L::Failed | L::Retried | L::Cancelled | L::LeaseLost);
            assert_eq!(metadata.contains_key("error"), with_error, "{name:?}");
        }
    }

    #[test]
    fn the_adapter_turns_each_event_into_its_entry_and_skips_bootstraps() {
        let entries = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&entries);
        let listener = live_message_adapter(move |entry| sink.lock().expect("entries").push(entry));
        let bootstrap = TaskSubscriptionBootstrap {
            query: SubscriptionQuery::default(),
            snapshots: Vec::new(),
            steps: BTreeMap::new(),
            aggregate: None,
            cursor: None,
            timestamp: T0,
        };
        listener(&TaskLiveMessage::Bootstrap(bootstrap));
        let names =
            [LifecycleEventName::Started, LifecycleEventName::Step, LifecycleEventName::Succeeded];
        let messages: Vec<TaskLiveMessage> = names.iter().map(|name| message_of(*name).0).collect();
        for message in &messages {
            listener(message);
        }
        let entries = entries.lock().expect("entries").clone();
        let types: Vec<TaskEventEntryType> = entries.iter().map(|entry| entry.entry_type).collect();
        assert_eq!(
            types,
            vec![
                TaskEventEntryType::Started,
                TaskEventEntryType::Step,
                TaskEventEntryType::Succeeded
            ]
        );
        for (entry, message) in entries.iter().zip(&messages) {
            assert_eq!(Some(entry), normalize_live_message_entry(message).as_ref());
        }
    }
}
