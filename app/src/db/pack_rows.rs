//! The raw rows of a month an evidence pack carries, read a page at a time (keyset paging),
//! so a pack of any size holds one page in memory.

use chrono::{DateTime, Utc};

use super::Db;
use super::sql::id_list;
use crate::on_db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckResultRow {
    pub id: i64,
    pub bundle_id: i64,
    pub hostname: String,
    pub check_type: String,
    pub status: String,
    pub checked_at: DateTime<Utc>,
}

/// A site's check results in `from .. until` after `after` (checked at, id), in that order.
pub async fn check_results(
    db: &Db,
    site: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    after: (DateTime<Utc>, i64),
    limit: i64,
) -> Result<Vec<CheckResultRow>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT id, bundle_id, hostname, check_type, status, checked_at FROM check_results \
         WHERE site_id = $1 AND checked_at >= $2 AND checked_at < $3 \
         AND (checked_at > $4 OR (checked_at = $4 AND id > $5)) \
         ORDER BY checked_at, id LIMIT $6"
    )
    .bind(site)
    .bind(from.max(after.0))
    .bind(until)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRecord {
    pub id: i64,
    pub site_id: i64,
    pub hostname: String,
    pub check_type: String,
    pub category: String,
    pub severity: String,
    pub status: String,
    pub resolution_tier: Option<String>,
    pub reported_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub details: String,
}

/// The sites' incidents open at some time in `from .. until`, after id `after`, by id.
pub async fn incidents(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> Result<Vec<IncidentRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT id, site_id, hostname, check_type, category, severity, status, resolution_tier, \
         reported_at, resolved_at, CAST(details AS TEXT) AS details FROM incidents \
         WHERE site_id IN ({}) AND reported_at < $1 AND (resolved_at IS NULL OR resolved_at >= $2) \
         AND id > $3 ORDER BY id LIMIT $4",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(until)
        .bind(from)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)
}

/// The history of the incidents [`incidents`] reads: (id, incident, action, actor, note, at).
pub type HistoryRecord = (i64, i64, String, String, String, DateTime<Utc>);

pub async fn incident_history(
    db: &Db,
    sites: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> Result<Vec<HistoryRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT h.id, h.incident_id, h.action, h.actor, h.note, h.at FROM incident_history h \
         JOIN incidents i ON i.id = h.incident_id WHERE i.site_id IN ({}) \
         AND i.reported_at < $1 AND (i.resolved_at IS NULL OR i.resolved_at >= $2) \
         AND h.id > $3 ORDER BY h.id LIMIT $4",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(until)
        .bind(from)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)
}

/// A bundle of a site's evidence chain: (position, hash, previous hash, appended at).
pub type ChainBundle = (i64, String, Option<String>, DateTime<Utc>);

/// A site's evidence bundles appended in `from .. until` after position `after`, in order.
pub async fn chain_bundles(
    db: &Db,
    site: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    after: i64,
    limit: i64,
) -> Result<Vec<ChainBundle>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT position, bundle_hash, prev_hash, created_at FROM evidence_bundles \
         WHERE site_id = $1 AND created_at >= $2 AND created_at < $3 AND position > $4 \
         ORDER BY position LIMIT $5"
    )
    .bind(site)
    .bind(from)
    .bind(until)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// The ids of the sites' appliances.
pub async fn appliance_ids(db: &Db, sites: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT id FROM appliances WHERE site_id IN ({})",
        id_list(sites)
    );
    on_db!(db, |pool| sqlx::query_scalar(&sql).fetch_all(pool).await)
}
