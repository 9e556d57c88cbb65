//! The error type every server function returns, shown to users through `ErrorBoundary`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("The database could not answer: {0}")]
    Database(String),
    #[error("The server could not be reached: {0}")]
    Transport(String),
    #[error("Not found: {0}")]
    NotFound(String),
    #[error("Invalid request: {0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("You are not allowed to do this: {0}")]
    Forbidden(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    /// What went wrong stays in the log: the error's text can name hosts, users, tables and
    /// SQL, none of which a browser needs.
    fn from(err: sqlx::Error) -> Self {
        tracing::error!("database error: {err}");
        AppError::Database("try again shortly.".into())
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Sets the HTTP status this error deserves on the response under way (a server function's
    /// answer, or the page being rendered), then returns the error.
    pub fn with_status(self) -> Self {
        let status = match &self {
            AppError::NotFound(_) => http::StatusCode::NOT_FOUND,
            AppError::Invalid(_) => http::StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => http::StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => http::StatusCode::FORBIDDEN,
            AppError::Database(_) | AppError::Transport(_) => {
                http::StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        self
    }
}
