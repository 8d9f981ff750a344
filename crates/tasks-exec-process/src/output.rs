//! [`StdoutHandler`]: turns a child's stdout lines into reports (progress, steps, heartbeats)
//! and remembers the outcome line (`result` or `error`).
//!
//! Rules, in the order they apply to a line:
//! - a line over the limit is cut: a `warn` log step notes it (and a cut `result` line is
//!   remembered, so the attempt fails instead of passing with no output);
//! - a line that looks like a `result` message but is not valid JSON (nested too deep for the
//!   reader, say) is remembered the same way, with a `warn` log step saying why;
//! - invalid UTF-8 and NUL bytes are replaced by U+FFFD, a trailing `\r` dropped, a blank
//!   line skipped;
//! - a protocol message is reported; one the host refuses (a percent over 100, an empty step
//!   message) becomes a `warn` log step saying why;
//! - a JSON object claiming a protocol type with fields that do not fit becomes a `warn` log
//!   step; any other line a plain `info` log step, up to the log-step budget;
//! - the first outcome line decides; a later one is noted and ignored.
//!
//! When the host refuses a report because the lease is lost or the execution is over, the
//! handler fires the internal stop (the child is stopped) and reports nothing more, but keeps
//! draining the pipe so the child never blocks on a full one.

use std::sync::Arc;

use serde_json::json;
use tasks_core::limits::MAX_TEXT_LEN;
use tasks_core::{
    CancelHandle, NewStep, ReportError, StepKind, StepLevel, TaskError, TaskReporter,
};
use tokio::io::AsyncBufRead;

use crate::limits::OutputLimits;
use crate::lines::{LineInfo, LineReader};
use crate::outcome::BadResult;
use crate::protocol::{Decoded, Message, decode, looks_like_result};

/// The outcome a child declared on its stdout.
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Declared {
    /// A `result` line.
    Result(serde_json::Value),
    /// An `error` line.
    Error {
        /// The error.
        error: TaskError,
        /// Its retryable flag.
        retryable: bool,
    },
}

/// What the stdout of one attempt said.
pub(crate) struct StdoutHandler {
    reporter: Arc<dyn TaskReporter>,
    limits: OutputLimits,
    stop: CancelHandle,
    /// Set once the host refused a report for good.
    closed: bool,
    log_steps: u64,
    dropped_lines: u64,
    pub(crate) declared: Option<Declared>,
    /// The first `result` line that could not be taken.
    pub(crate) bad_result: Option<BadResult>,
}

impl StdoutHandler {
    pub(crate) fn new(
        reporter: Arc<dyn TaskReporter>,
        limits: OutputLimits,
        stop: CancelHandle,
    ) -> Self {
        StdoutHandler {
            reporter,
            limits,
            stop,
            closed: false,
            log_steps: 0,
            dropped_lines: 0,
            declared: None,
            bad_result: None,
        }
    }

    /// Reads `stdout` to its end, handling each line.
    pub(crate) async fn read_all<R: AsyncBufRead + Unpin>(&mut self, stdout: R) {
        let mut lines = LineReader::new(stdout, self.limits.max_line_bytes);
        let mut line = Vec::new();
        while let Some(info) = lines.next_line(&mut line).await {
            self.handle(&line, info);
        }
    }

    /// Reports what the stream left unsaid: how many plain lines were over the budget.
    pub(crate) fn finish(&mut self) {
        if self.dropped_lines > 0 {
            let message = format!(
                "{} more output lines were not recorded (at most {} log steps per attempt)",
                self.dropped_lines, self.limits.max_log_steps
            );
            let meta = json!({ "droppedLines": self.dropped_lines });
            self.report_step(warn_log(message, meta));
        }
    }

    fn handle(&mut self, raw: &[u8], info: LineInfo) {
        if info.cut {
            if looks_like_result(raw) {
                self.bad_result.get_or_insert(BadResult::Cut);
            }
            // No store keeps NUL in text (a cut line of zero bytes, say): replaced like an invalid byte.
            let head = cut_text(&String::from_utf8_lossy(raw).replace('\0', "\u{fffd}"), 1024);
            let message = format!(
                "an output line of {} bytes was cut to {} bytes: {head}",
                info.total_bytes, self.limits.max_line_bytes
            );
            let meta = json!({ "truncated": true, "lineBytes": info.total_bytes });
            self.log(warn_log(message, meta));
            return;
        }
        let mut text = String::from_utf8_lossy(raw);
        if text.contains('\0') {
            // No store keeps NUL in text: it is replaced like an invalid byte.
            text = text.replace('\0', "\u{fffd}").into();
        }
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if text.trim().is_empty() {
            return;
        }
        match decode(text) {
            Decoded::UnreadableResult { reason } => self.unreadable_result(text, reason),
            Decoded::Plain => self.log(plain_log(text)),
            Decoded::Malformed { kind, reason } => {
                let message = cut_text(
                    &format!("a malformed {kind} message: {reason}: {text}"),
                    MAX_TEXT_LEN,
                );
                self.log(warn_log(message, json!({ "protocolError": reason })));
            }
            Decoded::Message(message) => self.dispatch(message),
        }
    }

    /// A line claiming to be a `result` that no JSON reader takes: remembered (the attempt
    /// fails rather than passing with no output) and noted.
    fn unreadable_result(&mut self, text: &str, reason: String) {
        let message = cut_text(
            &format!("a result line that is not valid JSON was ignored: {reason}: {text}"),
            MAX_TEXT_LEN,
        );
        self.log(warn_log(message, json!({ "unreadableResult": reason })));
        self.bad_result.get_or_insert(BadResult::Unreadable(reason));
    }

    fn dispatch(&mut self, message: Message) {
        let refused = |what: &str, error: &ReportError| {
            warn_log(format!("the child's {what} was refused: {error}"), json!({ "refused": what }))
        };
        match message {
            Message::Progress(update) => {
                if let Err(error) = self.report(|reporter| reporter.set_progress(update)) {
                    self.report_step(refused("progress", &error));
                }
            }
            Message::Step(step) => {
                if let Err(error) = self.report(|reporter| reporter.append_step(step)) {
                    self.report_step(refused("step", &error));
                }
            }
            Message::Heartbeat => {
                let _ = self.report(|reporter| reporter.heartbeat());
            }
            Message::Result(result) => self.declare(Declared::Result(result.output)),
            Message::Error(error) => {
                let (error, retryable) = error.into_error();
                self.declare(Declared::Error { error, retryable });
            }
        }
    }

    fn declare(&mut self, declared: Declared) {
        if self.declared.is_none() {
            self.declared = Some(declared);
        } else {
            let message = "a second result or error line was ignored: the first one decides";
            self.report_step(warn_log(message.to_owned(), json!({ "ignored": true })));
        }
    }

    /// A plain line's step, within the budget.
    fn log(&mut self, step: NewStep) {
        if self.log_steps >= self.limits.max_log_steps {
            self.dropped_lines += 1;
            return;
        }
        self.log_steps += 1;
        self.report_step(step);
    }

    /// Appends a step of the executor's own; a refusal is dealt with in [`Self::report`].
    fn report_step(&mut self, step: NewStep) {
        let _ = self.report(|reporter| reporter.append_step(step));
    }

    /// Calls the reporter unless it is closed. `Err` only for an invalid report; a lost lease
    /// or a finished execution stops the child and closes the handler.
    fn report(
        &mut self,
        call: impl FnOnce(&dyn TaskReporter) -> Result<(), ReportError>,
    ) -> Result<(), ReportError> {
        if self.closed {
            return Ok(());
        }
        match call(&*self.reporter) {
            Err(ReportError::Invalid(invalid)) => Err(ReportError::Invalid(invalid)),
            Err(error) => {
                self.closed = true;
                self.stop.cancel(error.to_string());
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}

/// A plain line's step: `log`, `info`, the text cut to the step message limit (and noted).
fn plain_log(text: &str) -> NewStep {
    let step = NewStep::info(cut_text(text, MAX_TEXT_LEN)).kind(StepKind::Log);
    if text.len() <= MAX_TEXT_LEN {
        return step;
    }
    let mut meta = tasks_core::JsonObject::new();
    meta.insert("truncated".to_owned(), json!(true));
    meta.insert("lineBytes".to_owned(), json!(text.len()));
    step.meta(meta)
}

fn warn_log(message: String, meta: serde_json::Value) -> NewStep {
    let step =
        NewStep::info(cut_text(&message, MAX_TEXT_LEN)).kind(StepKind::Log).level(StepLevel::Warn);
    match meta {
        serde_json::Value::Object(meta) => step.meta(meta),
        _ => step,
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn cut_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
