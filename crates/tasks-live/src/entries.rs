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
