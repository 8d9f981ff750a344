//! The stdout parser without a child (feature `fuzzing`), for fuzzers: [`read_stdout`] runs
//! the executor's own line reader and message rules over any bytes, with the host's report
//! validation, and says what they came to. Not part of the stable API.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tasks_core::transition;
use tasks_core::{CancelHandle, NewStep, ProgressUpdate, ReportError, TaskError, TaskReporter};

use crate::limits::OutputLimits;
use crate::outcome::BadResult;
use crate::output::{Declared, StdoutHandler};

/// What a child's stdout came to, read as the executor reads it.
#[derive(Clone, PartialEq, Debug, Default)]
#[non_exhaustive]
pub struct StdoutReading {
    /// The progress reports the host took, in order.
    pub progress: Vec<ProgressUpdate>,
    /// The steps the host took (protocol steps and the executor's log steps), in order.
    pub steps: Vec<NewStep>,
    /// Heartbeats reported.
    pub heartbeats: u64,
    /// The `result` output the stdout declared, if that came first.
    pub result: Option<serde_json::Value>,
    /// The `error` the stdout declared (with its retryable flag), if that came first.
    pub error: Option<(TaskError, bool)>,
    /// Whether a `result` line was cut at the line limit.
    pub cut_result: bool,
    /// Whether a `result` line was not valid JSON.
    pub unreadable_result: bool,
}

/// A reporter that validates as the host does and keeps what it took.
#[derive(Default)]
struct Recorder(Mutex<StdoutReading>);

impl Recorder {
    fn with<T>(&self, change: impl FnOnce(&mut StdoutReading) -> T) -> T {
        change(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl TaskReporter for Recorder {
    fn set_progress(&self, update: ProgressUpdate) -> Result<(), ReportError> {
        transition::validate_progress(&update)?;
        self.with(|reading| reading.progress.push(update));
        Ok(())
    }

    fn append_step(&self, step: NewStep) -> Result<(), ReportError> {
        transition::validate_step(&step)?;
        self.with(|reading| reading.steps.push(step));
        Ok(())
    }

    fn heartbeat(&self) -> Result<(), ReportError> {
        self.with(|reading| reading.heartbeats += 1);
        Ok(())
    }
}

/// Reads `stdout` to its end with the executor's rules and `limits`.
pub async fn read_stdout<R>(stdout: R, limits: OutputLimits) -> StdoutReading
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let recorder = Arc::new(Recorder::default());
    let mut handler = StdoutHandler::new(recorder.clone(), limits, CancelHandle::new());
    handler.read_all(stdout).await;
    handler.finish();
    let mut reading = recorder.with(std::mem::take);
    match handler.bad_result.take() {
        Some(BadResult::Cut) => reading.cut_result = true,
        Some(BadResult::Unreadable(_)) => reading.unreadable_result = true,
        None => {}
    }
    match handler.declared.take() {
        Some(Declared::Result(output)) => reading.result = Some(output),
        Some(Declared::Error { error, retryable }) => reading.error = Some((error, retryable)),
        None => {}
    }
    reading
}

/// [`read_stdout`] over bytes in memory, without an async runtime: reading memory never
/// waits, so the future is polled to its end on the spot.
pub fn read_stdout_bytes(stdout: &[u8], limits: OutputLimits) -> StdoutReading {
    let mut future = std::pin::pin!(read_stdout(stdout, limits));
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(reading) = future.as_mut().poll(&mut context) {
            return reading;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_messages_plain_lines_and_invalid_utf8() {
        let stdout = b"{\"type\":\"progress\",\"percent\":40}\nplain \xff line\n\
            {\"type\":\"progress\",\"percent\":400}\n{\"type\":\"result\",\"output\":{\"a\":1}}\n";
        let reading = read_stdout_bytes(stdout, OutputLimits::default());
        assert_eq!(reading.progress, vec![ProgressUpdate::percent(40.0)]);
        // The plain line (with U+FFFD for the bad byte) and the refused progress, as log steps.
        assert_eq!(reading.steps.len(), 2);
        assert_eq!(reading.steps[0].message, "plain \u{fffd} line");
        assert_eq!(reading.result, Some(json!({"a": 1})));
        assert!(reading.error.is_none() && !reading.cut_result);
    }

    #[test]
    fn a_cut_result_is_noticed() {
        let line = format!("{{\"type\":\"result\",\"output\":\"{}\"}}", "x".repeat(100));
        let reading =
            read_stdout_bytes(line.as_bytes(), OutputLimits::default().max_line_bytes(50));
        assert!(reading.cut_result);
        assert!(reading.result.is_none());
    }

    #[test]
    fn a_result_too_deep_to_read_is_noticed() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let line =
            format!("{{\"type\":\"result\",\"output\":{deep}}}\nplain {{ \"type\":\"result\"\n");
        let reading = read_stdout_bytes(line.as_bytes(), OutputLimits::default());
        assert!(reading.unreadable_result && !reading.cut_result);
        assert!(reading.result.is_none());
        // The unreadable line is noted; a plain line merely mentioning a result is not one.
        assert_eq!(reading.steps.len(), 2);
        assert!(
            reading.steps[0]
                .meta
                .as_ref()
                .is_some_and(|meta| meta.contains_key("unreadableResult"))
        );
    }
}
