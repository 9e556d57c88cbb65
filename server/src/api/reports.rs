//! `POST /api/v1/reports`: a compliance bundle (check results) and drift events.
//! Validated here, then queued; the answer comes once the batch holding it is committed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::auth::Appliance;
use super::body::{ApiJson, Validate, rules};
use super::error::{ApiError, UNAVAILABLE_RETRY_AFTER_SECS};
use crate::ingest::{IngestError, Report, ReportOutcome};
use crate::state::AppState;
pub use app::domain::appliance::{CheckResult, DriftEvent, DriftState, ReportRequest};

/// Seconds a client is asked to wait when the queue is full or its report was not answered.
pub const RETRY_AFTER_SECS: u64 = 1;

pub const MAX_CHECKS: usize = 2_000;
pub const MAX_DRIFT: usize = 500;
/// Largest `details` object of a drift event, as JSON.
pub const MAX_DETAILS_BYTES: usize = 4_096;

impl Validate for ReportRequest {
    fn validate(&self) -> Result<(), ApiError> {
        rules::name("site_id", &self.site_id)?;
        if let Some(id) = &self.report_id {
            rules::report_id("report_id", id)?;
        }
        rules::count("checks", self.checks.len(), MAX_CHECKS)?;
        rules::count("drift", self.drift.len(), MAX_DRIFT)?;
        if self.checks.is_empty() && self.drift.is_empty() {
            return Err(ApiError::field(
                "checks",
                "a report needs at least one check result or drift event",
            ));
        }
        for (i, check) in self.checks.iter().enumerate() {
            rules::check_type(format_args!("checks[{i}].check_type"), &check.check_type)?;
            rules::name(format_args!("checks[{i}].hostname"), &check.hostname)?;
            rules::timestamp(format_args!("checks[{i}].checked_at"), check.checked_at)?;
        }
        for (i, event) in self.drift.iter().enumerate() {
            rules::check_type(format_args!("drift[{i}].check_type"), &event.check_type)?;
            rules::name(format_args!("drift[{i}].hostname"), &event.hostname)?;
            rules::timestamp(format_args!("drift[{i}].detected_at"), event.detected_at)?;
            let size = serde_json::to_string(&event.details).map_or(usize::MAX, |s| s.len());
            if size > MAX_DETAILS_BYTES {
                return Err(ApiError::field(
                    format!("drift[{i}].details"),
                    format!("details is {size} bytes as JSON; at most {MAX_DETAILS_BYTES}"),
                ));
            }
        }
        Ok(())
    }
}

pub async fn report(
    State(state): State<AppState>,
    appliance: Appliance,
    ApiJson(request, memory): ApiJson<ReportRequest>,
) -> Result<Json<ReportOutcome>, ApiError> {
    appliance.check_site(&request.site_id)?;
    let outcome = state
        .ingest
        .submit(
            Report {
                appliance: appliance.0,
                report_id: request.report_id,
                checks: request.checks,
                drift: request.drift,
            },
            Some(memory),
        )
        .await?;
    Ok(Json(outcome))
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        let (status, message, retry_after) = match err {
            IngestError::Busy => (
                StatusCode::TOO_MANY_REQUESTS,
                "the ingest queue is full; retry later",
                Some(RETRY_AFTER_SECS),
            ),
            IngestError::Unavailable => return ApiError::unavailable(UNAVAILABLE_RETRY_AFTER_SECS),
            IngestError::StorageFull => return ApiError::storage_full(),
            IngestError::Failed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the report could not be stored",
                None,
            ),
            IngestError::TimedOut => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the report was not acknowledged in time; retry with the same report_id",
                Some(RETRY_AFTER_SECS),
            ),
            IngestError::ShuttingDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
                Some(RETRY_AFTER_SECS),
            ),
        };
        ApiError {
            retry_after,
            ..ApiError::new(status, message)
        }
    }
}
