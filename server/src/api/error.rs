//! The API's error body: `{"error": "...", "field": "..."}`, `field` naming the offending
//! request field (a JSON path such as `checks[3].status`) when there is one.

use app::error::DbFailure;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Seconds a client is asked to wait when the database cannot be reached.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
    /// Seconds for `Retry-After`, on 429 and 503.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// A 422 about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message).with_field(field)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!("appliance API: {err}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// A 503 with `Retry-After`: the database cannot be reached now; nothing was written.
    /// 507: nothing was stored because the disk under the database is full.
    pub fn storage_full() -> Self {
        Self {
            retry_after: Some(UNAVAILABLE_RETRY_AFTER_SECS),
            ..Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "the server's disk is full; nothing was stored, send it again later",
            )
        }
    }

    pub fn unavailable(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database cannot be reached; nothing was stored, retry later",
            )
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match DbFailure::of(&err) {
            DbFailure::Full => {
                tracing::error!("appliance API: the database's disk is full: {err}");
                Self::storage_full()
            }
            failure if failure.is_transient() => {
                tracing::warn!("appliance API: database unavailable: {err}");
                Self::unavailable(UNAVAILABLE_RETRY_AFTER_SECS)
            }
            _ => Self::internal(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: &self.message,
            field: self.field.as_deref(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
