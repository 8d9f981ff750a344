//! [`run_handler`]: one attempt of a typed handler, from an [`Execution`] to an
//! [`ExecutionOutcome`]. It decodes the input, runs the handler catching panics, and encodes
//! the output. It needs no async runtime, so an in-process executor and the child side of a
//! process executor share it.
//!
//! How each ending maps to an outcome:
//! - input that does not decode: `Failed`, not retryable, code [`INVALID_INPUT_CODE`], the
//!   message and `details.path` naming the field;
//! - a panic: `Failed`, retryable, code [`PANIC_CODE`], the panic's message;
//! - an output that does not encode: `Failed`, not retryable, code [`INVALID_OUTPUT_CODE`];
//! - `Err(failure)` once the cancel signal fired, or a
//!   [`TaskFailure::cancelled`](crate::TaskFailure::cancelled):
//!   `Cancelled` with the signal's reason;
//! - any other `Err(failure)`: `Failed`, retryable as the failure says;
//! - `Ok(output)`: `Succeeded`, even when the signal fired meanwhile (the work is done).

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::json;
use tasks_core::{Execution, ExecutionOutcome, TaskError};

use crate::catch::{CatchUnwind, panic_message};
use crate::context::TaskContext;
use crate::handler::TaskHandler;

/// The code of a task whose input does not decode into its handler's input type.
pub const INVALID_INPUT_CODE: &str = "invalid_input";
/// The code of an attempt whose handler panicked.
pub const PANIC_CODE: &str = "panic";
/// The code of an attempt whose output does not encode as JSON.
pub const INVALID_OUTPUT_CODE: &str = "invalid_output";

/// Runs one attempt of `handler` on `execution` and says how it ended. Never panics because
/// the handler did.
pub async fn run_handler<H: TaskHandler + ?Sized>(
    handler: &H,
    execution: Execution,
) -> ExecutionOutcome {
    let Execution { mut invocation, reporter, cancel } = execution;
    let input = match decode_input::<H::Input>(std::mem::take(&mut invocation.input)) {
        Ok(input) => input,
        Err(error) => return ExecutionOutcome::Failed { error: *error, retryable: false },
    };
    let context = TaskContext::new(invocation, reporter, cancel.clone());
    // Calling `run` may itself panic before any future exists (a closure's synchronous part).
    let future = match catch_unwind(AssertUnwindSafe(|| handler.run(input, context))) {
        Ok(future) => future,
        Err(payload) => return panicked(&panic_message(payload.as_ref())),
    };
    match CatchUnwind::new(future).await {
        Err(message) => panicked(&message),
        Ok(Ok(output)) => match serde_json::to_value(output) {
            Ok(value) => ExecutionOutcome::Succeeded(value),
            Err(error) => ExecutionOutcome::Failed {
                error: TaskError::new(format!("the output does not encode as JSON: {error}"))
                    .with_name("InvalidOutput")
                    .with_code(INVALID_OUTPUT_CODE),
                retryable: false,
            },
        },
        Ok(Err(failure)) if failure.is_cancelled() || cancel.is_cancelled() => {
            let reason = cancel.reason().unwrap_or_else(|| failure.error().message.clone());
            ExecutionOutcome::Cancelled { reason: Some(reason) }
        }
        Ok(Err(failure)) => {
            let retryable = failure.is_retryable();
            ExecutionOutcome::Failed { error: failure.into_error(), retryable }
        }
    }
}

/// Decodes a task's input, naming the field that does not fit.
fn decode_input<T: serde::de::DeserializeOwned>(
    input: serde_json::Value,
) -> Result<T, Box<TaskError>> {
    serde_path_to_error::deserialize(input).map_err(|error| {
        let path = error.path().to_string();
        let reason = error.inner().to_string();
        let message = if path == "." {
            format!("the input does not match the handler's input type: {reason}")
        } else {
            format!("the input does not match the handler's input type at `{path}`: {reason}")
        };
        Box::new(
            TaskError::new(message)
                .with_name("InvalidInput")
                .with_code(INVALID_INPUT_CODE)
                .with_details(json!({ "path": path, "reason": reason })),
        )
    })
}

fn panicked(message: &str) -> ExecutionOutcome {
    ExecutionOutcome::Failed {
        error: TaskError::new(format!("the handler panicked: {message}"))
            .with_name("Panic")
            .with_code(PANIC_CODE),
        retryable: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Input {
        report_id: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        count: u32,
    }

    #[test]
    fn names_the_nested_field_that_does_not_fit() {
        let input = json!({"reportId": "r", "items": [{"count": 1}, {"count": "x"}]});
        let error = decode_input::<Input>(input).expect_err("invalid");
        assert_eq!(error.code.as_deref(), Some(INVALID_INPUT_CODE));
        let path = error.details.as_ref().and_then(|details| details.get("path"));
        assert_eq!(path, Some(&json!("items[1].count")));
        assert!(error.message.contains("items[1].count"));
    }

    #[test]
    fn names_a_missing_field() {
        let error = decode_input::<Input>(json!({"items": []})).expect_err("invalid");
        assert!(error.message.contains("reportId"), "{}", error.message);
    }
}
