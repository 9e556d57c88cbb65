//! Request bodies: size limits, optional gzip, and JSON errors that name the bad field.
//!
//! The body is read up to [`MAX_BODY_BYTES`] as sent; a gzip body is inflated through a reader
//! capped at [`MAX_DECOMPRESSED_BYTES`], so a gzip bomb costs at most that much memory before
//! it is refused with 413. Nothing is written unless the whole body parsed and validated.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_ENCODING;
use flate2::read::GzDecoder;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest body accepted on the wire (compressed or not).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Largest body once inflated.
pub const MAX_DECOMPRESSED_BYTES: usize = 16 * 1024 * 1024;

/// Checks a parsed request beyond what its types say; the error names the field.
pub trait Validate {
    fn validate(&self) -> Result<(), ApiError>;
}

/// A JSON body of `T`, parsed and validated.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let encoding = req
            .headers()
            .get(CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("?").to_ascii_lowercase());
        let raw = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| too_large(format!("the body exceeds {MAX_BODY_BYTES} bytes")))?;
        let json = match encoding.as_deref() {
            None | Some("identity") => raw,
            Some("gzip") => tokio::task::spawn_blocking(move || gunzip(&raw))
                .await
                .map_err(ApiError::internal)??,
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
        Ok(ApiJson(value))
    }
}

fn too_large(message: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
}

/// Inflates `raw`, refusing anything that grows past [`MAX_DECOMPRESSED_BYTES`].
pub fn gunzip(raw: &[u8]) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    GzDecoder::new(raw)
        .take(MAX_DECOMPRESSED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("invalid gzip body: {e}"))
                .with_field("Content-Encoding")
        })?;
    if out.len() > MAX_DECOMPRESSED_BYTES {
        return Err(too_large(format!(
            "the decompressed body exceeds {MAX_DECOMPRESSED_BYTES} bytes"
        )));
    }
    Ok(out.into())
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

    pub fn timestamp(field: impl Display, value: DateTime<Utc>) -> Result<(), ApiError> {
        if value > Utc::now() + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
            return Err(ApiError::field(
                field.to_string(),
                format!("{field} is in the future"),
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
