//! Request bodies: size limits, optional gzip, and JSON errors that name the bad field.
//!
//! The body is read up to [`MAX_BODY_BYTES`] as sent; a gzip body is inflated through a reader
//! capped at [`MAX_DECOMPRESSED_BYTES`], so a gzip bomb costs at most that much memory before
//! it is refused with 413. Every byte held is first reserved from the server's memory budget
//! ([`super::limits`]): a body that does not fit is refused with 503 before it is read, so
//! thousands of large bodies at once cannot exhaust memory. Nothing is written unless the
//! whole body parsed and validated.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use flate2::read::GzDecoder;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::limits::ApiLimits;
use crate::memory_budget::MemoryPermit;

/// Largest body accepted on the wire (compressed or not).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Largest body once inflated.
pub const MAX_DECOMPRESSED_BYTES: usize = 16 * 1024 * 1024;

/// Checks a parsed request beyond what its types say; the error names the field.
pub trait Validate {
    fn validate(&self) -> Result<(), ApiError>;
}

/// A JSON body of `T`, parsed and validated, and the share of the server's memory budget it
/// holds until the request is answered.
pub struct ApiJson<T>(pub T, pub MemoryPermit);

/// Bytes reserved at a time while a gzip body inflates.
const INFLATE_STEP: usize = 256 * 1024;

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    ApiLimits: FromRef<S>,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limits = ApiLimits::from_ref(state);
        let encoding = req
            .headers()
            .get(CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("?").to_ascii_lowercase());
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
            return Err(body_too_large());
        }
        let mut permit = limits.reserve(declared.unwrap_or(MAX_BODY_BYTES))?;
        let raw = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| body_too_large())?;
        permit.shrink_to(raw.len());
        let json = match encoding.as_deref() {
            None | Some("identity") => raw,
            Some("gzip") => {
                let (json, grown) =
                    tokio::task::spawn_blocking(move || gunzip(&raw, &limits, permit))
                        .await
                        .map_err(ApiError::internal)??;
                permit = grown;
                json
            }
            Some(other) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("unsupported Content-Encoding {other:?}; use gzip or none"),
                )
                .with_field("Content-Encoding"));
            }
        };
        let value = parse::<T>(&json)?;
        value.validate()?;
        permit.shrink_to(json.len());
        Ok(ApiJson(value, permit))
    }
}

fn body_too_large() -> ApiError {
    too_large(format!("the body exceeds {MAX_BODY_BYTES} bytes"))
}

fn too_large(message: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
}

/// Inflates `raw`, refusing anything that grows past [`MAX_DECOMPRESSED_BYTES`], and growing
/// `permit` with the output so inflating bodies cannot take more than the memory budget.
pub fn gunzip(
    raw: &[u8],
    limits: &ApiLimits,
    mut permit: MemoryPermit,
) -> Result<(Bytes, MemoryPermit), ApiError> {
    let invalid = |e: std::io::Error| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("invalid gzip body: {e}"))
            .with_field("Content-Encoding")
    };
    let mut reader = GzDecoder::new(raw).take(MAX_DECOMPRESSED_BYTES as u64 + 1);
    let mut out = Vec::new();
    loop {
        let needed = raw.len() + out.len() + INFLATE_STEP;
        if needed > permit.bytes() {
            let more = needed - permit.bytes();
            limits.grow(&mut permit, more)?;
        }
        let before = out.len();
        (&mut reader)
            .take(INFLATE_STEP as u64)
            .read_to_end(&mut out)
            .map_err(invalid)?;
        if out.len() > MAX_DECOMPRESSED_BYTES {
            return Err(too_large(format!(
                "the decompressed body exceeds {MAX_DECOMPRESSED_BYTES} bytes"
            )));
        }
        if out.len() == before {
            return Ok((out.into(), permit));
        }
    }
}

/// Malformed JSON is a 400; well-formed JSON with a missing or mistyped field a 422 naming it.
pub fn parse<T: DeserializeOwned>(json: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let status = match inner.classify() {
            serde_json::error::Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        let message = inner.to_string();
        // serde names a missing field only in its message; the path stops at the object
        // holding it.
        let named = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), named) {
            (".", Some(name)) => Some(name.to_string()),
            (_, Some(name)) => Some(format!("{path}.{name}")),
            (".", None) => None,
            (_, None) => Some(path),
        };
        let error = ApiError::new(status, message);
        match field {
            Some(field) => error.with_field(field),
            None => error,
        }
    })
}

/// Shared field rules.
/// Field names are `Display`, so `format_args!("checks[{i}].hostname")` costs nothing
/// unless the field is wrong.
pub mod rules {
    use std::fmt::Display;

    use chrono::{DateTime, Duration, Utc};

    use crate::api::error::ApiError;

    pub const MAX_NAME_CHARS: usize = 253;
    /// Clocks drift: a timestamp may be this far in the future.
    pub const MAX_CLOCK_SKEW_MINUTES: i64 = 5;

    pub fn name(field: impl Display, value: &str) -> Result<(), ApiError> {
        if value.trim().is_empty() {
            return Err(ApiError::field(
                field.to_string(),
                format!("{field} must not be empty"),
            ));
        }
        if value.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::field(
                field.to_string(),
                format!("{field} is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        Ok(())
    }

    /// The earliest timestamp an appliance may send: nothing it checks is older, and a bound
    /// keeps every later date calculation far from chrono's limits.
    pub fn earliest_timestamp() -> DateTime<Utc> {
        DateTime::from_timestamp(946_684_800, 0).unwrap_or_default()
    }

    pub fn timestamp(field: impl Display, value: DateTime<Utc>) -> Result<(), ApiError> {
        if value > Utc::now() + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
            return Err(ApiError::field(
                field.to_string(),
                format!(
                    "{field} is in the future (more than {MAX_CLOCK_SKEW_MINUTES} min ahead of the server)"
                ),
            ));
        }
        if value < earliest_timestamp() {
            return Err(ApiError::field(
                field.to_string(),
                format!("{field} is before 2000-01-01T00:00:00Z"),
            ));
        }
        Ok(())
    }

    pub const MAX_REPORT_ID_CHARS: usize = 128;

    /// A client-chosen id: printable ASCII without spaces, so it reads the same in logs.
    pub fn report_id(field: impl Display, value: &str) -> Result<(), ApiError> {
        let printable = value.bytes().all(|b| b.is_ascii_graphic());
        if value.is_empty() || value.len() > MAX_REPORT_ID_CHARS || !printable {
            return Err(ApiError::field(
                field.to_string(),
                format!(
                    "{field} must be 1 to {MAX_REPORT_ID_CHARS} printable ASCII characters without spaces"
                ),
            ));
        }
        Ok(())
    }

    pub fn count(field: impl Display, len: usize, max: usize) -> Result<(), ApiError> {
        if len > max {
            return Err(ApiError::field(
                field.to_string(),
                format!("{field} holds {len} items; at most {max} are accepted"),
            ));
        }
        Ok(())
    }

    pub fn check_type(field: impl Display, value: &str) -> Result<(), ApiError> {
        if app::scoring::category_of(value).is_none() {
            return Err(ApiError::field(
                field.to_string(),
                format!("{field}: unknown check type {value:?}"),
            ));
        }
        Ok(())
    }
}
