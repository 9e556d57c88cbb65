//! A monthly compliance report of a client or a site: the month it covers and what it holds;
//! and a site as it stood on a past day. Wire types, shared with the browser; the server
//! builds them in `services::reports` and stores the reports of closed months as first given.

use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::types::ControlState;

/// A calendar month (UTC), written `YYYY-MM` in URLs and file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReportMonth(NaiveDate);

impl ReportMonth {
    /// Reads `YYYY-MM`; anything else is refused with what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let refused =
            || format!("the month must be written YYYY-MM, such as 2026-10, not {text:?}");
        let (year, month) = text.split_once('-').ok_or_else(refused)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(refused());
        }
        let (year, month) = (
            year.parse().map_err(|_| refused())?,
            month.parse().map_err(|_| refused())?,
        );
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(Self)
            .ok_or_else(refused)
    }

    /// The month `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Self {
        Self(at.date_naive().with_day(1).unwrap_or(at.date_naive()))
    }

    pub fn first_day(self) -> NaiveDate {
        self.0
    }

    pub fn previous(self) -> Self {
        Self(self.0 - Months::new(1))
    }

    pub fn next(self) -> Self {
        Self(self.0 + Months::new(1))
    }

    /// The month's first instant.
    pub fn start(self) -> DateTime<Utc> {
        self.0.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
    }

    /// The next month's first instant: the month is `start() .. end()`.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    /// The month's days, in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        let next = self.next().0;
        self.0.iter_days().take_while(move |day| *day < next)
    }

    /// "October 2026".
    pub fn label(self) -> String {
        self.0.format("%B %Y").to_string()
    }
}

impl fmt::Display for ReportMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m"))
    }
}

impl TryFrom<String> for ReportMonth {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<ReportMonth> for String {
    fn from(month: ReportMonth) -> Self {
        month.to_string()
    }
}

/// Whose report: a client (all its sites) or one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    Client,
    Site,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Client => "client",
            ReportKind::Site => "site",
        }
    }
}

/// What the report picker offers: every client, every site, and the months with data (the
/// month under way first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSubjects {
    /// (id, name), by name.
    pub clients: Vec<(i64, String)>,
    /// (public id, clinic name, client name), by clinic name.
    pub sites: Vec<(String, String, String)>,
    pub months: Vec<ReportMonth>,
}

/// A month of one client or site, as given to its reader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthlyReport {
    pub kind: ReportKind,
    /// The client's name, or the site's clinic name.
    pub title: String,
    pub client_id: i64,
    pub client_name: String,
    pub month: ReportMonth,
    pub generated_at: DateTime<Utc>,
    /// The month is over: this report is final and stored as given. A report of the month
    /// under way covers it up to `generated_at`.
    pub closed: bool,
    pub compliance: ComplianceSummary,
    pub controls: Vec<ReportControl>,
    pub incidents: IncidentSummary,
    pub sites: Vec<SiteSummary>,
}

impl MonthlyReport {
    /// Where this report is read.
    pub fn path(&self) -> String {
        match (self.kind, self.sites.first()) {
            (ReportKind::Site, Some(site)) => {
                report_path(ReportKind::Site, &site.site_id, self.month)
            }
            _ => report_path(ReportKind::Client, &self.client_id.to_string(), self.month),
        }
    }
}

/// `/reports/clients/7/2026-10` or `/reports/sites/clinic-7/2026-10`.
pub fn report_path(kind: ReportKind, subject: &str, month: ReportMonth) -> String {
    format!("/reports/{}s/{subject}/{month}", kind.as_str())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceSummary {
    /// Each day of the month (up to the report's day) with the mean of its sites' snapshots.
    pub daily: Vec<DailyScore>,
    /// The mean of the daily points, and of the previous month's.
    pub average: Option<f64>,
    pub previous_average: Option<f64>,
    pub categories: Vec<CategoryScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyScore {
    pub day: NaiveDate,
    pub score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub category: String,
    pub average: Option<f64>,
    pub previous_average: Option<f64>,
}

/// A HIPAA control over the month: failing when any of its checks failed on any host at any
/// time in it, passing when its checks reported and none failed, no data otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportControl {
    pub citation: String,
    pub title: String,
    pub required: bool,
    pub state: ControlState,
    pub failing_checks: Vec<FailingCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingCheck {
    pub check_type: String,
    /// Failed results in the month, and on how many hosts.
    pub failures: i64,
    pub hosts: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentSummary {
    /// Critical first; every severity listed, zeros included.
    pub by_severity: Vec<SeverityFigures>,
    /// Over the incidents resolved in the month.
    pub mean_minutes_to_resolve: Option<f64>,
    pub p90_minutes_to_resolve: Option<f64>,
    /// Unresolved at the month's end (or now), most severe and oldest first; at most
    /// [`LISTED_OPEN`] of `open_total`.
    pub still_open: Vec<OpenIncident>,
    pub open_total: i64,
    pub suppressions: Vec<IncidentAction>,
    pub escalations: Vec<IncidentAction>,
    /// Alerts held back by maintenance windows, per window.
    pub held_alerts: Vec<HeldAlerts>,
}

/// How many still-open incidents a report lists by name.
pub const LISTED_OPEN: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityFigures {
    pub severity: String,
    pub opened: i64,
    pub resolved: i64,
    pub open_at_end: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub id: i64,
    pub site_id: String,
    pub hostname: String,
    pub check_type: String,
    pub severity: String,
    pub reported_at: DateTime<Utc>,
}

/// An operator's suppression or escalation of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAction {
    pub incident_id: i64,
    pub site_id: String,
    pub hostname: String,
    pub check_type: String,
    pub actor: String,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldAlerts {
    pub reason: String,
    pub created_by: String,
    pub alerts: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSummary {
    pub site_id: String,
    pub clinic_name: String,
    pub average: Option<f64>,
    /// Minutes offline (no check-in for longer than the offline threshold) within the
    /// monitored part of the month, and the share of it online; `None` before a first check-in.
    pub offline_minutes: i64,
    pub availability: Option<f64>,
    /// Appliances that sent no report in the month.
    pub silent_appliances: Vec<String>,
    pub evidence: ChainSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSummary {
    /// Bundles appended in the month.
    pub bundles: i64,
    /// The chain's last position and hash at the month's end.
    pub head_position: Option<i64>,
    pub head_hash: Option<String>,
    /// Positions in the month whose link to the one before does not hold.
    pub breaks: Vec<i64>,
}

/// A site as it stood at the end of a past day (`/sites/:site_id?at=DATE`): that day's
/// snapshot, the controls from the results of the 24 hours up to its end, and what was open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteOnDay {
    pub site_id: crate::domain::ids::SiteSlug,
    pub clinic_name: String,
    pub client_id: i64,
    pub client_name: String,
    pub day: chrono::NaiveDate,
    /// The day's snapshot: overall and per category (in the scoring module's order).
    pub score: Option<f64>,
    pub categories: Vec<(String, Option<f64>)>,
    pub controls: Vec<crate::types::ControlStatus>,
    /// Check results the controls were read from; none once the retention has pruned them.
    pub results: usize,
    /// Unresolved at the day's end, most severe first; at most 50 of `open_total`.
    pub open_incidents: Vec<OpenIncident>,
    pub open_total: i64,
    /// The evidence chain's last position and hash at the day's end.
    pub evidence_head: Option<(i64, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_read_from_yyyy_mm_only() {
        let october = ReportMonth::parse("2026-10").unwrap();
        assert_eq!(october.to_string(), "2026-10");
        assert_eq!(october.label(), "October 2026");
        assert_eq!(october.days().count(), 31);
        assert_eq!(october.previous().to_string(), "2026-09");
        assert_eq!(
            ReportMonth::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        assert_eq!(october.end() - october.start(), chrono::Duration::days(31));
        for bad in [
            "2026-13",
            "2026-1",
            "26-10",
            "2026/10",
            "2026-10-01",
            "",
            "abcd-ef",
        ] {
            let refused = ReportMonth::parse(bad).unwrap_err();
            assert!(refused.contains("YYYY-MM"), "{bad}: {refused}");
        }
    }

    #[test]
    fn report_paths_name_the_subject_and_month() {
        let month = ReportMonth::parse("2026-02").unwrap();
        assert_eq!(
            report_path(ReportKind::Client, "7", month),
            "/reports/clients/7/2026-02"
        );
        assert_eq!(
            report_path(ReportKind::Site, "clinic-7", month),
            "/reports/sites/clinic-7/2026-02"
        );
        assert_eq!(month.days().last().unwrap().to_string(), "2026-02-28");
    }
}
