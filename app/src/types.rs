//! Data shared by the server and the browser.

use serde::{Deserialize, Serialize};

use crate::domain::client_scope::ClientScope;
use crate::domain::ids::{SiteKey, SiteSlug};

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
    pub site_id: SiteKey,
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
    #[cfg_attr(feature = "ssr", sqlx(try_from = "i64"))]
    pub site_id: SiteKey,
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
    #[cfg_attr(feature = "ssr", sqlx(try_from = "i64"))]
    pub site_id: SiteKey,
    /// The site's public id (slug), for its link; filled by `db::incidents::name_sites`.
    #[cfg_attr(feature = "ssr", sqlx(default))]
    pub site: String,
    /// The site's clinic name; filled by `db::incidents::name_sites`.
    #[cfg_attr(feature = "ssr", sqlx(default))]
    pub clinic_name: String,
    /// Set while the incident is suppressed (no alerts) after an operator asked for quiet.
    pub suppressed_until: Option<chrono::DateTime<chrono::Utc>>,
    pub hostname: String,
    pub check_type: String,
    pub category: String,
    pub severity: String,
    pub status: String,
    pub reported_at: chrono::DateTime<chrono::Utc>,
}

/// Which incidents the list shows, and in which order. Empty fields don't narrow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct IncidentFilter {
    pub severity: Option<String>,
    pub status: Option<String>,
    /// A site's public id (its slug).
    pub site: Option<String>,
    pub client: Option<i64>,
    pub category: Option<String>,
    pub check_type: Option<String>,
    /// Reported on or after this day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Reported on or before this day, `YYYY-MM-DD` (UTC).
    pub to: Option<String>,
    /// Part of the hostname, any case.
    pub q: Option<String>,
    pub sort: IncidentSort,
    /// The clients of the user asking, set by the server from their session, never read from
    /// the request: the store adds it to every query of the filter, and windows, counts and
    /// anchors are kept per scope.
    #[serde(skip)]
    pub clients: ClientScope,
}

/// The list's orders; every one is newest first within its groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentSort {
    #[default]
    Reported,
    /// Most severe first.
    Severity,
    /// Grouped by site.
    Site,
}

impl IncidentSort {
    pub const ALL: [IncidentSort; 3] = [
        IncidentSort::Reported,
        IncidentSort::Severity,
        IncidentSort::Site,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentSort::Reported => "reported",
            IncidentSort::Severity => "severity",
            IncidentSort::Site => "site",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// What an operator can do to incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentAction {
    Resolve,
    Escalate,
    /// Quiet for 24 hours: no alerts, still listed.
    Suppress,
}

impl IncidentAction {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentAction::Resolve => "resolve",
            IncidentAction::Escalate => "escalate",
            IncidentAction::Suppress => "suppress",
        }
    }
}

/// One action taken on an incident, for its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct HistoryEntry {
    pub action: String,
    pub actor: String,
    pub note: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The incident detail panel: the row, what the check expected and found, the runbook that
/// remediates it, and what has been done so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDetail {
    pub row: IncidentRow,
    pub expected: String,
    pub actual: String,
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    pub resolution_tier: Option<String>,
    /// (id, name, level) of the runbook for this check.
    pub runbook: Option<(String, String, String)>,
    pub history: Vec<HistoryEntry>,
}

impl IncidentDetail {
    /// What a clinic account sees of an incident: no internal notes (the triage history) and
    /// no runbook.
    pub fn for_clinic(self) -> Self {
        Self {
            history: Vec::new(),
            runbook: None,
            ..self
        }
    }
}

pub const INCIDENT_STATUSES: [&str; 4] = ["open", "resolving", "escalated", "resolved"];

/// How bad an incident is, least severe first: the one ordering of severities. Its rank
/// (1 to 4) is what the database sorts by (`incidents.severity_rank`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub const fn rank(self) -> i64 {
        self as i64 + 1
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The severities' names, least severe first (filter choices).
pub const SEVERITIES: [&str; 4] = [
    Severity::Low.as_str(),
    Severity::Medium.as_str(),
    Severity::High.as_str(),
    Severity::Critical.as_str(),
];

/// One window of the incident list: rows `window * WINDOW_ROWS ..` of the filtered order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct IncidentWindowKey {
    pub filter: IncidentFilter,
    pub window: i64,
}

/// A client organisation with the health of its sites, for cards and lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSummary {
    pub id: i64,
    pub name: String,
    pub sites: i64,
    pub sites_online: i64,
    pub open_incidents: i64,
    /// Mean health of its sites (0..100); `None` when it has no sites.
    pub health: Option<f64>,
    pub worst_level: Option<crate::scoring::HealthLevel>,
}

/// One row of the sites table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRow {
    pub id: SiteKey,
    pub site_id: SiteSlug,
    pub clinic_name: String,
    pub client_id: i64,
    pub client_name: String,
    pub tier: String,
    /// pending, online, stale or offline, from the latest check-in.
    pub status: String,
    pub last_checkin: Option<chrono::DateTime<chrono::Utc>>,
    pub compliance: Option<f64>,
    pub health: f64,
    pub level: crate::scoring::HealthLevel,
    pub open_incidents: i64,
}

/// Columns the sites table sorts by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SiteSort {
    #[default]
    Health,
    Name,
    Client,
    Status,
    Compliance,
    Incidents,
    Checkin,
}

impl SiteSort {
    pub const ALL: [SiteSort; 7] = [
        SiteSort::Health,
        SiteSort::Name,
        SiteSort::Client,
        SiteSort::Status,
        SiteSort::Compliance,
        SiteSort::Incidents,
        SiteSort::Checkin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SiteSort::Health => "health",
            SiteSort::Name => "name",
            SiteSort::Client => "client",
            SiteSort::Status => "status",
            SiteSort::Compliance => "compliance",
            SiteSort::Incidents => "incidents",
            SiteSort::Checkin => "checkin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What the sites table shows: it lives in the URL (`?q=&status=&sort=&desc=`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteFilter {
    /// Words matched against clinic name, site id and client name.
    pub q: String,
    /// Empty for all, else one of pending/online/stale/offline.
    pub status: String,
    pub sort: SiteSort,
    pub desc: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplianceRow {
    pub hostname: String,
    pub mac: String,
    pub agent_version: String,
    pub last_checkin: Option<chrono::DateTime<chrono::Utc>>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OrderRow {
    pub id: i64,
    pub appliance: String,
    pub order_type: String,
    pub priority: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Whether a site's evidence bundles form an unbroken hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceStatus {
    pub length: i64,
    pub last_hash: Option<String>,
    pub last_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Position of the first bundle whose previous hash does not match, if any.
    pub broken_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub at: chrono::DateTime<chrono::Utc>,
    pub score: Option<f64>,
}

/// Everything the site detail page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteDetail {
    pub site: SiteRow,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub onboarding_stage: String,
    /// Score per category (no data = `None`), in the scoring module's order.
    pub categories: Vec<(String, Option<f64>)>,
    /// The last 30 days of snapshots, oldest first.
    pub trend: Vec<TrendPoint>,
    pub appliances: Vec<ApplianceRow>,
    pub recent_incidents: Vec<IncidentRow>,
    pub pending_orders: Vec<OrderRow>,
    pub evidence: EvidenceStatus,
    /// The HIPAA Security Rule controls, in the rule's order, with this site's state.
    pub controls: Vec<ControlStatus>,
}

impl SiteDetail {
    /// What a clinic account sees of its site: no appliance details and no orders.
    pub fn for_clinic(self) -> Self {
        Self {
            appliances: Vec::new(),
            pending_orders: Vec::new(),
            ..self
        }
    }
}

/// Whether a site's latest results meet a HIPAA control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlState {
    Pass,
    Failing,
    NoData,
}

/// One HIPAA Security Rule control at one site: the checks behind it and their worst latest
/// result across the site's hosts (`None`: no result in the last 24 hours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlStatus {
    pub citation: String,
    pub title: String,
    pub required: bool,
    pub state: ControlState,
    pub checks: Vec<(String, Option<crate::scoring::CheckStatus>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientDetail {
    pub client: ClientSummary,
    pub sites: Vec<SiteRow>,
}

/// Incidents reported in the last 7 days by check type, most frequent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTypeCount {
    pub check_type: String,
    pub count: i64,
}

/// The Overview page's data beyond the client cards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub stats: GlobalStats,
    pub top_incident_types: Vec<IncidentTypeCount>,
    /// The least healthy sites, worst first.
    pub needing_attention: Vec<SiteRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub check_types: Vec<String>,
    pub level: String,
    pub hipaa_controls: Vec<String>,
    pub steps: Vec<String>,
    pub disruptive: bool,
    pub execution_count: i64,
    pub success_rate: f64,
    pub avg_duration_seconds: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct RunbookFilter {
    /// Every word must appear in the name, id, description or HIPAA controls.
    pub q: String,
    pub level: String,
    pub category: String,
}

impl RunbookFilter {
    pub fn matches(&self, runbook: &Runbook) -> bool {
        let haystack = format!(
            "{} {} {} {}",
            runbook.name,
            runbook.id,
            runbook.description,
            runbook.hipaa_controls.join(" ")
        )
        .to_lowercase();
        (self.level.is_empty() || runbook.level == self.level)
            && (self.category.is_empty() || runbook.category == self.category)
            && self
                .q
                .split_whitespace()
                .all(|word| haystack.contains(&word.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::{Runbook, RunbookFilter};

    fn runbook() -> Runbook {
        Runbook {
            id: "RB-BKP-003".into(),
            name: "Run a test restore of patient records".into(),
            description: "Used when backup restore test checks fail.".into(),
            category: "backup".into(),
            check_types: vec!["backup_restore_test".into()],
            level: "L2".into(),
            hipaa_controls: vec!["164.308(a)(7)(ii)(B)".into()],
            steps: vec![],
            disruptive: false,
            execution_count: 3,
            success_rate: 0.9,
            avg_duration_seconds: 60.0,
        }
    }

    #[test]
    fn runbook_search_is_an_and_of_words_over_name_id_description_and_controls() {
        let matches = |q: &str| {
            RunbookFilter {
                q: q.into(),
                ..Default::default()
            }
            .matches(&runbook())
        };
        assert!(matches(""));
        assert!(matches("restore PATIENT"));
        assert!(matches("rb-bkp"));
        assert!(matches("164.308(a)(7)"));
        assert!(!matches("restore firewall"), "every word must match");
        let level = |level: &str| {
            RunbookFilter {
                level: level.into(),
                ..Default::default()
            }
            .matches(&runbook())
        };
        assert!(level("L2") && !level("L1"));
    }
}
