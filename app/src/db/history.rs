//! History and retention: a compliance snapshot per site and day, kept (HIPAA asks for six
//! years; nothing here deletes them), and the raw check results pruned after the retention.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sqlx::QueryBuilder;

use super::Db;
use crate::on_db;
use crate::scoring::{self, CheckStatus};

/// A site's snapshot: (site, overall score, score per category with data).
type Snapshot = (i64, Option<f64>, sqlx::types::Json<HashMap<String, f64>>);

/// Takes today's (UTC) snapshot of every site that has ever checked in or reported and has
/// none for today yet, from its latest results of the last 24 h (score `NULL` without any);
/// how many it wrote. Every server may run it: the day's unique index makes a second writer
/// a no-op.
pub async fn snapshot_today(db: &Db, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let day = now.date_naive();
    let (sites, latest): (Vec<i64>, Vec<(i64, String, String)>) = on_db!(db, |pool| {
        futures::try_join!(
            sqlx::query_scalar(
                "SELECT id FROM sites s WHERE (last_checkin_at IS NOT NULL \
                   OR EXISTS (SELECT 1 FROM check_latest l WHERE l.site_id = s.id)) \
                 AND NOT EXISTS \
                 (SELECT 1 FROM compliance_snapshots c WHERE c.site_id = s.id AND c.day = $1)",
            )
            .bind(day)
            .fetch_all(pool),
            sqlx::query_as(
                "SELECT site_id, check_type, status FROM check_latest WHERE checked_at >= $1"
            )
            .bind(now - Duration::hours(24))
            .fetch_all(pool),
        )?
    });
    if sites.is_empty() {
        return Ok(0);
    }
    let mut results: HashMap<i64, Vec<(String, CheckStatus)>> = HashMap::new();
    for (site, check_type, status) in latest {
        if let Some(status) = CheckStatus::parse(&status) {
            results.entry(site).or_default().push((check_type, status));
        }
    }
    let snapshots: Vec<Snapshot> = sites
        .into_iter()
        .map(|site| {
            let compliance = scoring::compliance(
                results
                    .get(&site)
                    .into_iter()
                    .flatten()
                    .map(|(check, status)| (check.as_str(), *status)),
            );
            let categories = compliance
                .categories
                .into_iter()
                .filter_map(|(category, score)| score.map(|s| (category, s.round())))
                .collect();
            (site, compliance.overall, sqlx::types::Json(categories))
        })
        .collect();
    let mut written = 0;
    for chunk in snapshots.chunks(500) {
        written += on_db!(db, |pool| {
            let mut insert = QueryBuilder::new(
                "INSERT INTO compliance_snapshots (site_id, snapshot_at, day, score, category_scores) ",
            );
            insert.push_values(chunk, |mut row, (site, score, categories)| {
                row.push_bind(*site)
                    .push_bind(now)
                    .push_bind(day)
                    .push_bind(*score)
                    .push_bind(categories);
            });
            insert.push(" ON CONFLICT (site_id, day) DO NOTHING");
            insert.build().execute(pool).await?.rows_affected()
        });
    }
    Ok(written)
}

/// Deletes up to `batch` check results older than `before`, oldest id first; how many. Small
/// batches, each its own statement, so ingestion's writes interleave with a long prune.
pub async fn prune_check_results(
    db: &Db,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let sql = "DELETE FROM check_results WHERE id IN \
               (SELECT id FROM check_results WHERE checked_at < $1 ORDER BY id LIMIT $2)";
    Ok(on_db!(db, |pool| sqlx::query(sql)
        .bind(before)
        .bind(batch)
        .execute(pool)
        .await?
        .rows_affected()))
}

/// A site's snapshot of `day`: (overall score, score per category).
pub async fn snapshot_of(
    db: &Db,
    site: i64,
    day: chrono::NaiveDate,
) -> Result<Option<(Option<f64>, sqlx::types::Json<HashMap<String, f64>>)>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT score, category_scores FROM compliance_snapshots WHERE site_id = $1 AND day = $2"
    )
    .bind(site)
    .bind(day)
    .fetch_optional(pool)
    .await)
}

/// A site's latest result per (check type, host) among those of `from .. until`.
pub async fn latest_between(
    db: &Db,
    site: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(String, CheckStatus)>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = on_db!(db, |pool| sqlx::query_as(
        "SELECT check_type, hostname, status FROM check_results \
         WHERE site_id = $1 AND checked_at >= $2 AND checked_at < $3 ORDER BY checked_at, id"
    )
    .bind(site)
    .bind(from)
    .bind(until)
    .fetch_all(pool)
    .await?);
    let mut latest: HashMap<(String, String), CheckStatus> = HashMap::new();
    for (check, host, status) in rows {
        if let Some(status) = CheckStatus::parse(&status) {
            latest.insert((check, host), status);
        }
    }
    Ok(latest
        .into_iter()
        .map(|((check, _), status)| (check, status))
        .collect())
}

/// Where a site's evidence chain ended at `until`: its last position and hash.
pub async fn chain_head_at(
    db: &Db,
    site: i64,
    until: DateTime<Utc>,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT position, bundle_hash FROM evidence_bundles WHERE site_id = $1 AND created_at < $2 \
         ORDER BY position DESC LIMIT 1"
    )
    .bind(site)
    .bind(until)
    .fetch_optional(pool)
    .await)
}
