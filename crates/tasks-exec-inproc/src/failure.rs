//! [`TaskFailure`]: what a handler returns when its attempt fails. It carries the
//! [`TaskError`] to store (message, name, code, details) and whether another attempt may help.
//!
//! Any `std::error::Error` converts into a retryable failure, so `?` works on the errors a
//! handler meets; [`TaskFailure::fatal`] marks a failure no retry can fix (bad input, a
//! refused permission), and [`TaskFailure::cancelled`] says the handler stopped on its
//! cancellation signal.

use std::fmt;

use tasks_core::TaskError;
use tasks_core::transition::CANCELLED_CODE;

/// The failure of one attempt: the error to record and whether to retry.
#[derive(Clone, PartialEq, Debug)]
pub struct TaskFailure {
    // Boxed: handlers return `Result<_, TaskFailure>` everywhere, and a small error keeps
    // their happy path cheap.
    error: Box<TaskError>,
    retryable: bool,
    cancelled: bool,
}

impl TaskFailure {
    /// A retryable failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        TaskFailure { error: Box::new(TaskError::new(message)), retryable: true, cancelled: false }
    }

    /// A failure no retry can fix: the task fails at once, whatever attempts remain.
    pub fn fatal(message: impl Into<String>) -> Self {
        TaskFailure::new(message).retryable(false)
    }

    /// The handler stopped because its cancellation signal fired.
    pub fn cancelled(reason: impl Into<String>) -> Self {
        TaskFailure {
            error: Box::new(
                TaskError::new(reason).with_name("TaskCancelled").with_code(CANCELLED_CODE),
            ),
            retryable: false,
            cancelled: true,
        }
    }

    /// A failure carrying a complete [`TaskError`]; retryable.
    pub fn from_task_error(error: TaskError) -> Self {
        TaskFailure { error: Box::new(error), retryable: true, cancelled: false }
    }

    /// The same failure, retryable or not.
    #[must_use]
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// The same failure with a class name (`ValidationError`).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.error.name = Some(name.into());
        self
    }

    /// The same failure with a stable machine-readable code (`quota_exceeded`).
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.error.code = Some(code.into());
        self
    }

    /// The same failure with details kept next to the error.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.error.details = Some(details);
        self
    }

    /// The error to record.
    pub fn error(&self) -> &TaskError {
        &self.error
    }

    /// Whether another attempt may help.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Whether the handler reported that it stopped on its cancellation signal.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The error to record, consuming the failure.
    pub fn into_error(self) -> TaskError {
        *self.error
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.message)
    }
}

/// Any error converts into a retryable failure named after its type, so handlers use `?`.
///
/// `TaskFailure` itself does not implement `std::error::Error`; that is what allows this
/// blanket conversion (the same trade `anyhow::Error` makes).
impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskFailure {
    fn from(error: E) -> Self {
        TaskFailure::new(error.to_string()).with_name(short_type_name::<E>())
    }
}

/// The last path segment of a type's name, without generic arguments: `std::io::Error` gives
/// `Error`, `serde_json::Error` gives `Error`, `my::ParseError<T>` gives `ParseError`.
fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct QuotaExceeded;
    impl fmt::Display for QuotaExceeded {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("quota exceeded")
        }
    }
    impl std::error::Error for QuotaExceeded {}

    fn fails() -> Result<(), TaskFailure> {
        Err(QuotaExceeded)?;
        Ok(())
    }

    #[test]
    fn errors_convert_with_their_type_name() {
        let failure = fails().expect_err("it fails");
        assert!(failure.is_retryable());
        assert_eq!(failure.error().name.as_deref(), Some("QuotaExceeded"));
        assert_eq!(failure.error().message, "quota exceeded");
    }

    #[test]
    fn builders_set_every_field() {
        let failure = TaskFailure::fatal("bad")
            .with_code("bad_request")
            .with_name("Validation")
            .with_details(serde_json::json!({"field": "x"}));
        assert!(!failure.is_retryable());
        assert!(!failure.is_cancelled());
        assert_eq!(failure.error().code.as_deref(), Some("bad_request"));
        let cancelled = TaskFailure::cancelled("stop");
        assert!(cancelled.is_cancelled());
        assert_eq!(cancelled.error().code.as_deref(), Some(CANCELLED_CODE));
        assert_eq!(short_type_name::<Vec<String>>(), "Vec");
    }
}
