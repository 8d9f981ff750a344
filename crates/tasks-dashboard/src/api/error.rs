//! [`ApiError`]: a failed request as JSON, `{"error": {"code": "...", "message": "..."}}`, with
//! the HTTP status its [`ErrorCode`] implies. Clients match on `code`; `message` is for people.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tasks_core::{StoreError, StoreErrorKind};

/// The `code` of an error response, and its status.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// `400`: a query parameter is unknown or unreadable.
    InvalidQuery,
    /// `400`: the request body is not the JSON expected.
    InvalidBody,
    /// `400`: the store refused the input (a task id, a filter value, a limit).
    InvalidInput,
    /// `401`: the dashboard's token is required and was missing or wrong.
    Unauthorized,
    /// `403`: a state-changing request came from another origin.
    ForbiddenOrigin,
    /// `403`: the `Host` is not one this dashboard answers to without a token.
    HostNotAllowed,
    /// `404`: no such task, or no such endpoint.
    NotFound,
    /// `405`: the endpoint exists, but not for this method.
    MethodNotAllowed,
    /// `409`: the task's state does not allow this (cancel a finished task, retry a running one).
    Refused,
    /// `413`: the request body is too large.
    PayloadTooLarge,
    /// `501`: the store does not support this operation.
    Unsupported,
    /// `503`: the store cannot be reached.
    Unavailable,
    /// `500`: the store failed otherwise.
    Internal,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidQuery | ErrorCode::InvalidBody | ErrorCode::InvalidInput => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::ForbiddenOrigin | ErrorCode::HostNotAllowed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Refused => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unsupported => StatusCode::NOT_IMPLEMENTED,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failed request. Its response is JSON with the code's status.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a ApiError,
}

impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("ApiError", 2)?;
        out.serialize_field("code", &self.code)?;
        out.serialize_field("message", &self.message)?;
        out.end()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.code.status(), axum::Json(Body { error: &self })).into_response();
        if self.code == ErrorCode::Unauthorized {
            let challenge = HeaderValue::from_static("Bearer realm=\"tasks-dashboard\"");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let code = match error.kind() {
            StoreErrorKind::InvalidInput => ErrorCode::InvalidInput,
            StoreErrorKind::NotFound => ErrorCode::NotFound,
            StoreErrorKind::Refused | StoreErrorKind::LeaseLost => ErrorCode::Refused,
            StoreErrorKind::Unsupported => ErrorCode::Unsupported,
            StoreErrorKind::Unavailable => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        };
        ApiError::new(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasks_core::{TaskId, TaskStatus, TransitionRefusal};

    #[test]
    fn store_errors_map_to_codes_and_statuses() {
        let id = TaskId::new("t1").expect("valid id");
        let refused = StoreError::Refused {
            id: id.clone(),
            refusal: TransitionRefusal::WrongStatus {
                operation: "cancel",
                status: TaskStatus::Succeeded,
            },
        };
        let cases = [
            (StoreError::NotFound { id }, ErrorCode::NotFound, 404),
            (refused, ErrorCode::Refused, 409),
            (StoreError::Unsupported { operation: "retry" }, ErrorCode::Unsupported, 501),
        ];
        for (error, code, status) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.code, code);
            assert_eq!(api.code.status().as_u16(), status);
        }
    }

    #[test]
    fn the_body_names_code_and_message() {
        let json =
            serde_json::to_value(Body { error: &ApiError::new(ErrorCode::ForbiddenOrigin, "no") })
                .expect("encodes");
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "forbidden_origin", "message": "no"}})
        );
    }
}
