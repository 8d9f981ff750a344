//! The batch `tasks demo` enqueues: reports, thumbnails, a flaky call, two index rebuilds
//! (the second supersedes the first), a repeated report (deduped: the open task is reused)
//! and a delayed, high-priority report. Every task carries the run's channel, so the demo
//! follows and sums up exactly its own tasks.

use std::time::Duration;

use serde_json::json;
use tasks::core::{EnqueueOptions, NewTask};

/// One enqueue of the demo, with what it shows.
pub(crate) struct Planned {
    /// What this enqueue shows, for the log.
    pub(crate) note: &'static str,
    pub(crate) task: NewTask,
}

/// The batch, in enqueue order; `channel` is the run's.
pub(crate) fn plan(channel: &str) -> Vec<Planned> {
    let options = || EnqueueOptions::new().channel(channel);
    let report = |id: &str, pages: u32| {
        NewTask::new("demo.report", json!({ "reportId": id, "pages": pages }))
            .with_options(options().dedupe_key(format!("report:{id}")))
    };
    let index = |reason: &str| {
        NewTask::new("demo.index", json!({ "reason": reason }))
            .with_options(options().supersede("search-index"))
    };
    let mut batch = vec![
        Planned { note: "a report, 4 pages", task: report("rpt_1", 4) },
        Planned { note: "a report, 6 pages", task: report("rpt_2", 6) },
        Planned { note: "a report, 5 pages", task: report("rpt_3", 5) },
        Planned { note: "the same report again: deduped", task: report("rpt_1", 4) },
    ];
    for image in ["img_1", "img_2", "img_3"] {
        batch.push(Planned {
            note: "a thumbnail, by a child process",
            task: NewTask::new("demo.thumbnail", json!({ "image": image })).with_options(options()),
        });
    }
    batch.push(Planned {
        note: "fails once, then succeeds on a retry",
        task: NewTask::new("demo.flaky", json!({})).with_options(options()),
    });
    batch.push(Planned { note: "an index rebuild", task: index("first request") });
    batch
        .push(Planned { note: "another rebuild: supersedes the first", task: index("newer data") });
    batch.push(Planned {
        note: "starts in 2 s, first in line",
        task: NewTask::new("demo.report", json!({ "reportId": "rpt_4", "pages": 3 }))
            .with_options(options().delay(Duration::from_secs(2)).priority(10)),
    });
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasks::core::Timestamp;

    #[test]
    fn the_batch_is_valid_and_on_the_run_channel() {
        let batch = plan("demo:run-1");
        assert_eq!(batch.len(), 11);
        for planned in batch {
            let record = planned.task.into_record(Timestamp::from_millis(0)).expect("valid task");
            assert_eq!(record.channels, vec!["demo:run-1"]);
        }
    }
}
