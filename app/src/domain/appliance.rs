//! What appliances send: the bodies of the appliance API's requests, shared by its handlers,
//! the ingest pipeline, the simulator and the tests. The API checks them (sizes, names,
//! timestamps) before anything else sees them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::scoring::CheckStatus;
use crate::types::Severity;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub site_id: String,
    /// The appliance's own id for this report (1 to 128 characters), so a retry after a lost
    /// answer is not written twice: a repeat is answered with the first answer.
    #[serde(default)]
    pub report_id: Option<String>,
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    #[serde(default)]
    pub drift: Vec<DriftEvent>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub check_type: String,
    pub hostname: String,
    pub status: CheckStatus,
    pub checked_at: DateTime<Utc>,
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
