//! Data shared by the server and the browser.

use serde::{Deserialize, Serialize};

/// Headline counts for the Overview page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OverviewCounts {
    pub clients: i64,
    pub sites: i64,
    /// Incidents not yet resolved: open, resolving or escalated.
    pub open_incidents: i64,
    /// When the server read these counts, in milliseconds since the Unix epoch.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub as_of_ms: i64,
}

/// Sites by live status, from the age of their latest check-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteStatusCounts {
    pub online: i64,
    pub stale: i64,
    pub offline: i64,
    pub pending: i64,
}

/// Unresolved incidents by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub low: i64,
    pub medium: i64,
    pub high: i64,
    pub critical: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub count: i64,
}

/// The fleet-wide numbers of the Overview page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalStats {
    pub clients: i64,
    pub sites: SiteStatusCounts,
    pub open_incidents: SeverityCounts,
    /// Mean overall compliance of the sites that have compliance data.
    pub average_compliance: Option<f64>,
    pub incidents_24h: i64,
    pub incidents_7d: i64,
    /// The last 14 days, oldest first, every day present.
    pub daily_incidents: Vec<DailyCount>,
    pub as_of_ms: i64,
}

/// One site's scores (see [`crate::scoring`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteScore {
    pub site_id: i64,
    pub compliance: Option<f64>,
    pub freshness: f64,
    pub health: f64,
    pub level: crate::scoring::HealthLevel,
}

/// A compliance report's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct BundleSummary {
    pub id: i64,
    pub site_id: i64,
    pub appliance_id: i64,
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub pass_count: i64,
    pub warn_count: i64,
    pub fail_count: i64,
}

/// One row of the incident table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct IncidentRow {
    pub id: i64,
    pub site_id: i64,
    pub hostname: String,
    pub check_type: String,
    pub category: String,
    pub severity: String,
    pub status: String,
    pub reported_at: chrono::DateTime<chrono::Utc>,
}

/// Which incidents a window is taken from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IncidentFilter {
    pub severity: Option<String>,
}
