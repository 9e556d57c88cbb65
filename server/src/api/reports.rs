//! `POST /api/v1/reports`: a compliance bundle (check results) and drift events.
//! Validated here, then queued; the answer comes once the batch holding it is committed.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Appliance;
use super::body::{ApiJson, Validate, rules};
use super::error::ApiError;
use crate::ingest::{Report, ReportOutcome};
use crate::state::AppState;

pub const MAX_CHECKS: usize = 2_000;
pub const MAX_DRIFT: usize = 500;
/// Largest `details` object of a drift event, as JSON.
pub const MAX_DETAILS_BYTES: usize = 4_096;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub site_id: String,
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    #[serde(default)]
    pub drift: Vec<DriftEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub check_type: String,
    pub hostname: String,
    pub status: CheckStatus,
    pub checked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn rank(self) -> i64 {
        self as i64 + 1
    }
}

/// `drifted` opens (or updates, or re-opens) the incident of its dedup key; `remediated`
/// resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftState {
    Drifted,
    Remediated,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DriftEvent {
    pub check_type: String,
    pub hostname: String,
    pub severity: Severity,
    pub state: DriftState,
    pub detected_at: DateTime<Utc>,
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl Validate for ReportRequest {
    fn validate(&self) -> Result<(), ApiError> {
        rules::name("site_id", &self.site_id)?;
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
    ApiJson(request): ApiJson<ReportRequest>,
) -> Result<Json<ReportOutcome>, ApiError> {
    appliance.check_site(&request.site_id)?;
    let outcome = state
        .ingest
        .submit(Report {
            appliance,
            checks: request.checks,
            drift: request.drift,
        })
        .await?;
    Ok(Json(outcome))
}
