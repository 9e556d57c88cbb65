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

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    pub site_id: String,
    pub agent_version: String,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct CheckinResponse {
    pub server_time: DateTime<Utc>,
    pub orders: Vec<PendingOrder>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PendingOrder {
    pub id: i64,
    pub order_type: String,
    pub parameters: serde_json::Value,
    pub priority: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBatch {
    pub site_id: String,
    pub bundles: Vec<EvidenceBundle>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    /// 1 for a site's first bundle, then consecutive.
    pub position: i64,
    /// SHA-256, 64 lowercase hex digits.
    pub bundle_hash: String,
    /// The previous bundle's hash; null only at position 1.
    pub prev_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct EvidenceStored {
    pub stored: usize,
    /// The chain's last position and hash after this batch.
    pub head_position: i64,
    pub head_hash: String,
}

/// Where a site's chain ends: position 0 and no hash before its first bundle.
#[derive(Debug, Deserialize, Serialize)]
pub struct EvidenceHead {
    pub head_position: i64,
    pub head_hash: Option<String>,
}
