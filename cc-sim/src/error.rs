//! Errors in the CF v3 shape: `{"errors":[{"code":N,"title":"CF-…","detail":"…"}]}`.
//!
//! Handlers return `Result<_, ApiError>`; the codes and titles are the real
//! CC's, so clients written against cc-sim handle the real thing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::broker::BrokerError;

/// One CF v3 error reply.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub title: &'static str,
    pub detail: String,
}

impl ApiError {
    pub fn not_authenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            10002,
            "CF-NotAuthenticated",
            "Authentication error",
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 10010, "CF-ResourceNotFound", detail)
    }

    pub fn unknown_request() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            10000,
            "CF-NotFound",
            "Unknown request",
        )
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            10008,
            "CF-UnprocessableEntity",
            detail,
        )
    }

    pub fn bad_query(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            10005,
            "CF-BadQueryParameter",
            format!("The query parameter is invalid: {}", detail.into()),
        )
    }

    pub fn parse_error(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            1001,
            "CF-MessageParseError",
            format!("Request invalid due to parse error: {}", detail.into()),
        )
    }

    /// A simulated or internal failure: 500 CF-UnknownError.
    pub fn unknown(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            10001,
            "CF-UnknownError",
            detail,
        )
    }

    fn new(status: StatusCode, code: u32, title: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
        }
    }
}

impl From<BrokerError> for ApiError {
    /// A broker that failed or could not be reached: 502, nothing saved.
    fn from(err: BrokerError) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            10001,
            "CF-ServiceBrokerRequestRejected",
            err.to_string(),
        )
    }
}

impl From<rusqlite::Error> for ApiError {
    /// The database failed; the detail stays vague, the log has the cause.
    fn from(err: rusqlite::Error) -> Self {
        tracing::error!(error = %err, "database error");
        Self::unknown("database error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "errors": [{"code": self.code, "title": self.title, "detail": self.detail}]
        });
        (self.status, Json(body)).into_response()
    }
}
