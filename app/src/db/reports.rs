//! What a monthly report is made of, read for a set of sites over a span of time, and the
//! reports of closed months as they were first given.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;

use super::Db;
use super::scope::clients_in;
use super::sql::id_list;
use crate::domain::client_scope::ClientScope;
use crate::on_db;
use crate::report::{ReportKind, ReportMonth};

/// A site a report covers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportSite {
    pub id: i64,
    pub site_id: String,
    pub clinic_name: String,
    pub client_id: i64,
    pub client_name: String,
    pub created_at: DateTime<Utc>,
    pub last_checkin_at: Option<DateTime<Utc>>,
}

const SITE_COLUMNS: &str = "s.id, s.site_id, s.clinic_name, s.client_id, c.name AS client_name, \
    s.created_at, s.last_checkin_at FROM sites s JOIN clients c ON c.id = s.client_id";

/// `scope`'s clients (id, name) and their sites (public id, clinic, client name) by name, and
/// when the first of those sites was created.
pub async fn subjects(db: &Db, scope: &ClientScope) -> Result<Subjects, sqlx::Error> {
    let clients = format!(
        "SELECT id, name FROM clients WHERE {} ORDER BY name",
        clients_in(scope, "id")
    );
    let sites = format!(
        "SELECT s.site_id, s.clinic_name, c.name FROM sites s \
         JOIN clients c ON c.id = s.client_id WHERE {} ORDER BY s.clinic_name, s.site_id",
        clients_in(scope, "s.client_id")
    );
    let first = format!(
        "SELECT MIN(created_at) FROM sites WHERE {}",
        clients_in(scope, "client_id")
    );
    on_db!(db, |pool| futures::try_join!(
        sqlx::query_as(&clients).fetch_all(pool),
        sqlx::query_as(&sites).fetch_all(pool),
        sqlx::query_scalar(&first).fetch_one(pool),
    ))
}

/// Clients, sites and the first site's creation, as [`subjects`] reads them.
pub type Subjects = (
    Vec<(i64, String)>,
    Vec<(String, String, String)>,
    Option<DateTime<Utc>>,
);

/// The sites of `client` that existed during `month` (created before its end, not
/// decommissioned before its start), by public id.
pub async fn client_sites(
    db: &Db,
    client: i64,
    month: ReportMonth,
) -> Result<Vec<ReportSite>, sqlx::Error> {
    let sql = format!(
        "SELECT {SITE_COLUMNS} WHERE s.client_id = $1 AND s.created_at < $2 \
         AND (s.decommissioned_at IS NULL OR s.decommissioned_at >= $3) ORDER BY s.site_id"
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(client)
        .bind(month.end())
        .bind(month.start())
        .fetch_all(pool)
        .await)
}

/// The site of `scope`'s clients whose public id is `slug`, decommissioned or not.
pub async fn site(
    db: &Db,
    scope: &ClientScope,
    slug: &str,
) -> Result<Option<ReportSite>, sqlx::Error> {
    let sql = format!(
        "SELECT {SITE_COLUMNS} WHERE s.site_id = $1 AND {}",
        clients_in(scope, "s.client_id")
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(slug)
        .fetch_optional(pool)
        .await)
}

/// When the first of a client's sites was created: no report covers a month before it.
pub async fn client_first_site_at(
    db: &Db,
    client: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_scalar(
        "SELECT MIN(created_at) FROM sites WHERE client_id = $1"
    )
    .bind(client)
    .fetch_one(pool)
    .await)
}

/// (site, day, score, score per category) of the daily snapshots from `from` until `until`.
pub type DaySnapshot = (i64, NaiveDate, Option<f64>, Json<HashMap<String, f64>>);

pub async fn snapshots(
    db: &Db,
    sites: &[i64],
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<DaySnapshot>, sqlx::Error> {
    let sql = format!(
        "SELECT site_id, day, score, category_scores FROM compliance_snapshots \
         WHERE site_id IN ({}) AND day >= $1 AND day < $2 ORDER BY day",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(from)
        .bind(until)
        .fetch_all(pool)
        .await)
}

/// Check results of a span, counted per (check type, status): (check type, status, results,
/// hosts).
pub async fn check_tallies(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT check_type, status, COUNT(*), COUNT(DISTINCT hostname) FROM check_results \
         WHERE site_id IN ({}) AND checked_at >= $1 AND checked_at < $2 \
         GROUP BY check_type, status",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(from)
        .bind(until)
        .fetch_all(pool)
        .await)
}

/// An incident that was open at some time in a span.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentSpan {
    pub id: i64,
    pub site_id: i64,
    pub hostname: String,
    pub check_type: String,
    pub severity: String,
    pub reported_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The incidents reported before `until` and not resolved before `from`.
pub async fn incidents(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<IncidentSpan>, sqlx::Error> {
    let sql = format!(
        "SELECT id, site_id, hostname, check_type, severity, reported_at, resolved_at \
         FROM incidents WHERE site_id IN ({}) AND reported_at < $1 \
         AND (resolved_at IS NULL OR resolved_at >= $2) ORDER BY id",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(until)
        .bind(from)
        .fetch_all(pool)
        .await)
}

/// An operator's action on an incident: (incident, site, host, check, actor, note, at).
pub type ActionRecord = (i64, i64, String, String, String, String, DateTime<Utc>);

/// The `action`s (`suppress`, `escalate`) taken in a span on the sites' incidents, in order.
pub async fn incident_actions(
    db: &Db,
    sites: &[i64],
    action: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<ActionRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT h.incident_id, i.site_id, i.hostname, i.check_type, h.actor, h.note, h.at \
         FROM incident_history h JOIN incidents i ON i.id = h.incident_id \
         WHERE i.site_id IN ({}) AND h.action = $1 AND h.at >= $2 AND h.at < $3 \
         ORDER BY h.at, h.id",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(action)
        .bind(from)
        .bind(until)
        .fetch_all(pool)
        .await)
}

/// Alerts of the sites held back by a maintenance window in a span, per window: (reason,
/// created by, alerts); a deleted window's are counted under `None`.
pub async fn held_alerts(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(Option<String>, Option<String>, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT w.reason, w.created_by, COUNT(*) FROM alert_deliveries d \
         LEFT JOIN maintenance_windows w ON w.id = d.suppressed_by \
         WHERE d.site_id IN ({}) AND d.status = 'suppressed' \
         AND d.created_at >= $1 AND d.created_at < $2 \
         GROUP BY w.id, w.reason, w.created_by ORDER BY COUNT(*) DESC",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(from)
        .bind(until)
        .fetch_all(pool)
        .await)
}

/// The recorded offline spans of the sites overlapping a span: (site, started, ended).
pub async fn offline_spans(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>, DateTime<Utc>)>, sqlx::Error> {
    let sql = format!(
        "SELECT site_id, started_at, ended_at FROM offline_spans \
         WHERE site_id IN ({}) AND started_at < $1 AND ended_at > $2",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(until)
        .bind(from)
        .fetch_all(pool)
        .await)
}

/// Appliances of the sites, installed before `until`, that sent no report in the span:
/// (site, hostname).
pub async fn silent_appliances(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let sql = format!(
        "SELECT a.site_id, a.hostname FROM appliances a WHERE a.site_id IN ({}) \
         AND a.created_at < $1 AND NOT EXISTS (SELECT 1 FROM compliance_bundles b \
         WHERE b.site_id = a.site_id AND b.appliance_id = a.id \
         AND b.submitted_at >= $2 AND b.submitted_at < $1) ORDER BY a.hostname",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(until)
        .bind(from)
        .fetch_all(pool)
        .await)
}

/// A link of a site's evidence chain: (site, position, hash, hash of the one before, whether
/// it was appended before the span).
pub type ChainLink = (i64, i64, String, Option<String>, bool);

/// Each site's evidence bundles appended in a span, with the last one before it (to check
/// the first link), in chain order.
pub async fn chain_links(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<ChainLink>, sqlx::Error> {
    let list = id_list(sites);
    let sql = format!(
        "SELECT site_id, position, bundle_hash, prev_hash, created_at < $2 FROM evidence_bundles e \
         WHERE site_id IN ({list}) AND created_at < $1 AND (created_at >= $2 \
           OR position = (SELECT MAX(position) FROM evidence_bundles p \
                          WHERE p.site_id = e.site_id AND p.created_at < $2)) \
         ORDER BY site_id, position"
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(until)
        .bind(from)
        .fetch_all(pool)
        .await)
}

/// The stored report of `subject` for `month`, as JSON.
pub async fn stored_report(
    db: &Db,
    kind: ReportKind,
    subject: i64,
    month: ReportMonth,
) -> Result<Option<String>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
        "SELECT body FROM monthly_reports WHERE subject_kind = $1 AND subject_id = $2 AND month = $3"
    )
    .bind(kind.as_str())
    .bind(subject)
    .bind(month.to_string())
    .fetch_optional(pool)
    .await
    })
}

/// Stores a closed month's report unless one is stored already (another server, or another
/// reader, got there first); the report stored, ours or theirs.
pub async fn store_report(
    db: &Db,
    kind: ReportKind,
    subject: i64,
    month: ReportMonth,
    generated_at: DateTime<Utc>,
    body: &str,
) -> Result<String, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO monthly_reports (subject_kind, subject_id, month, generated_at, body) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(subject)
        .bind(month.to_string())
        .bind(generated_at)
        .bind(body)
        .execute(pool)
        .await?;
    });
    stored_report(db, kind, subject, month)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// The clients with a site created before `until` and without a stored report of `month`:
/// those the monthly schedule still has to generate.
pub async fn clients_without_report(db: &Db, month: ReportMonth) -> Result<Vec<i64>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_scalar(
        "SELECT c.id FROM clients c WHERE EXISTS \
           (SELECT 1 FROM sites s WHERE s.client_id = c.id AND s.created_at < $1) \
         AND NOT EXISTS (SELECT 1 FROM monthly_reports r WHERE r.subject_kind = 'client' \
           AND r.subject_id = c.id AND r.month = $2) ORDER BY c.id"
    )
    .bind(month.end())
    .bind(month.to_string())
    .fetch_all(pool)
    .await)
}

/// The month's stored client reports not mailed yet: (client, name, its sites' contact
/// addresses).
pub async fn unmailed_client_reports(
    db: &Db,
    month: ReportMonth,
) -> Result<Vec<(i64, String, Vec<String>)>, sqlx::Error> {
    let reports: Vec<(i64, String)> = on_db!(db, |pool| {
        sqlx::query_as(
        "SELECT r.subject_id, c.name FROM monthly_reports r JOIN clients c ON c.id = r.subject_id \
         WHERE r.subject_kind = 'client' AND r.month = $1 AND r.mailed_at IS NULL \
         ORDER BY r.subject_id"
    )
    .bind(month.to_string())
    .fetch_all(pool)
    .await?
    });
    let mut unmailed = Vec::with_capacity(reports.len());
    for (client, name) in reports {
        let contacts = on_db!(db, |pool| sqlx::query_scalar(
            "SELECT DISTINCT contact_email FROM sites WHERE client_id = $1 \
             AND decommissioned_at IS NULL AND contact_email IS NOT NULL AND contact_email <> '' \
             ORDER BY contact_email"
        )
        .bind(client)
        .fetch_all(pool)
        .await?);
        unmailed.push((client, name, contacts));
    }
    Ok(unmailed)
}

/// Records that a client's report of `month` was mailed (or why nobody was).
pub async fn mark_mailed(
    db: &Db,
    client: i64,
    month: ReportMonth,
    at: DateTime<Utc>,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE monthly_reports SET mailed_at = $1, mail_outcome = $2 \
             WHERE subject_kind = 'client' AND subject_id = $3 AND month = $4",
        )
        .bind(at)
        .bind(outcome)
        .bind(client)
        .bind(month.to_string())
        .execute(pool)
        .await?;
    });
    Ok(())
}
