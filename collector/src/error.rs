//! The one error type HTTP handlers return, and its JSON body.
//!
//! Every client error answers `{"error": "<message>", "field": "<path>"}` so a
//! sender can tell exactly which value was refused (DESIGN.md, principle 6);
//! server faults answer 500 with a generic message and are logged.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::store::StoreError;

/// An HTTP error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Status code to answer with.
    pub status: StatusCode,
    /// Human-readable message.
    pub message: String,
    /// Path of the offending value (`beacons[0].view_id`), when there is one.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, a message and an optional field path.
    pub fn new(status: StatusCode, message: impl Into<String>, field: Option<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field,
        }
    }

    /// 400 naming the offending field.
    pub fn bad_request(message: impl Into<String>, field: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, Some(field.into()))
    }

    /// 404 for a missing resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message, None)
    }

    /// 500; the detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", None)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(err)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> Self {
        ApiError::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            field: self.field.as_deref(),
        };
        (self.status, Json(body)).into_response()
    }
}
