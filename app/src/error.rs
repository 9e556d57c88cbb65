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

    /// On the server, the errors server functions raise before our code runs are about the
    /// request: arguments that cannot be read (400, with the field named by `codec`). In the
    /// browser, they are about reaching the server.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        if let Some(invalid) = AppError::of_bad_arguments(&value) {
            return invalid.with_status();
        }
        AppError::Transport(value.to_string())
    }
}

/// What kind of database failure an error is, in words safe to show anyone.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// No connection could be had: the database is down, refusing, or the pool is closed.
    Unreachable,
    /// No connection (or, on SQLite, no write lock) came free in time.
    TimedOut,
    /// The disk under the database is full: nothing more can be written until space returns.
    Full,
    /// The database answered, with an error.
    QueryFailed,
}

#[cfg(feature = "ssr")]
impl DbFailure {
    /// PostgreSQL: 53100 is a full disk; SQLSTATE classes 08 (connection), 53 (other
    /// resources: out of memory, too many connections) and 57 (operator intervention:
    /// shutdown, a cancelled statement) are unreachable; 40 (serialization failure, deadlock)
    /// is worth a retry like a timeout. SQLite: full (result code 13) is a full disk; busy and
    /// locked (5, 6) time out; I/O error and cannot-open (10, 14) are unreachable.
    pub fn of(err: &sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut => DbFailure::TimedOut,
            sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::BeginFailed
            | sqlx::Error::WorkerCrashed => DbFailure::Unreachable,
            sqlx::Error::Database(db) => Self::of_database(db.as_ref()),
            _ => DbFailure::QueryFailed,
        }
    }

    fn of_database(err: &dyn sqlx::error::DatabaseError) -> Self {
        if let Some(pg) = err.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            if pg.code() == "53100" {
                return DbFailure::Full;
            }
            return match pg.code().get(..2) {
                Some("08" | "53" | "57") => DbFailure::Unreachable,
                Some("40") => DbFailure::TimedOut,
                _ => DbFailure::QueryFailed,
            };
        }
        let sqlite = err
            .try_downcast_ref::<sqlx::sqlite::SqliteError>()
            .and_then(sqlx::error::DatabaseError::code)
            .and_then(|code| code.parse::<i32>().ok());
        match sqlite.map(|code| code & 0xff) {
            Some(5 | 6) => DbFailure::TimedOut,
            Some(13) => DbFailure::Full,
            Some(10 | 14) => DbFailure::Unreachable,
            _ => DbFailure::QueryFailed,
        }
    }

    /// Whether the same request may succeed later as it is (the database was busy or away),
    /// as opposed to failing on its own data.
    pub fn is_transient(self) -> bool {
        self != DbFailure::QueryFailed
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DbFailure::Unreachable => "unreachable",
            DbFailure::TimedOut => "timed out",
            DbFailure::Full => "disk full",
            DbFailure::QueryFailed => "query failed",
        }
    }
}

/// Seconds a caller is asked to wait after a 503 for a database that is away or busy.
#[cfg(feature = "ssr")]
pub const RETRY_AFTER_SECS: u64 = 5;

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    /// What went wrong stays in the log: the error's text can name hosts, users, tables and
    /// SQL, none of which a browser needs. A database that cannot be reached (or has no free
    /// connection) answers 503, so clients and proxies know to retry; any other failure 500.
    fn from(err: sqlx::Error) -> Self {
        tracing::error!("database error: {err}");
        if DbFailure::of(&err).is_transient() {
            set_status(http::StatusCode::SERVICE_UNAVAILABLE);
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response.insert_header(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(RETRY_AFTER_SECS),
                );
            }
        } else {
            set_status(http::StatusCode::INTERNAL_SERVER_ERROR);
        }
        AppError::Database("try again shortly.".into())
    }
}

/// Sets the HTTP status of the response under way (a server function's answer, or the page
/// being rendered).
#[cfg(feature = "ssr")]
fn set_status(status: http::StatusCode) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    fn of_bad_arguments(error: &ServerFnErrorErr) -> Option<Self> {
        let problem = match error {
            ServerFnErrorErr::Args(problem) | ServerFnErrorErr::Deserialization(problem) => {
                problem.clone()
            }
            ServerFnErrorErr::MissingArg(name) => format!("{name}: missing"),
            _ => return None,
        };
        Some(AppError::Invalid(format!(
            "the arguments could not be read: {problem}"
        )))
    }

    /// Sets the HTTP status this error deserves on the response under way, then returns the
    /// error.
    pub fn with_status(self) -> Self {
        set_status(match &self {
            AppError::NotFound(_) => http::StatusCode::NOT_FOUND,
            AppError::Invalid(_) => http::StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => http::StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => http::StatusCode::FORBIDDEN,
            AppError::Database(_) | AppError::Transport(_) => {
                http::StatusCode::INTERNAL_SERVER_ERROR
            }
        });
        self
    }
}
