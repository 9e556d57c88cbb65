//! Appliances and their API keys: provisioning, key lookups and rotation, check-ins.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::Db;
use super::accounts::{NewAudit, insert_audit};
use crate::appliance_keys::ApplianceIdentity;
use crate::domain::appliance::PendingOrder;
use crate::domain::order::OrderStatus;
use crate::on_db;

/// The appliance a live key (by its hash) belongs to; a decommissioned site's keys are refused.
pub async fn find_key(db: &Db, key_hash: &str) -> Result<Option<ApplianceIdentity>, sqlx::Error> {
    let row: Option<(i64, i64, String)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT a.id, s.id, s.site_id FROM appliance_keys k \
             JOIN appliances a ON a.id = k.appliance_id JOIN sites s ON s.id = a.site_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND s.decommissioned_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(|(id, site, site_id)| ApplianceIdentity { id, site, site_id }))
}

/// When a site heard from at `now`, last heard from at `previous`, went offline: the offline
/// threshold after `previous`, if that has passed.
fn offline_since(previous: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let began = previous? + chrono::Duration::seconds(crate::scoring::OFFLINE_AFTER_SECONDS);
    (began < now).then_some(began)
}

/// Records a check-in of `appliance` at `now` on it and its site, and the offline span it
/// ends, if any. Returns when the site was last heard from before, and the appliance's
/// pending orders, most urgent first.
pub async fn check_in(
    db: &Db,
    appliance: &ApplianceIdentity,
    agent_version: &str,
    now: DateTime<Utc>,
) -> Result<(Option<DateTime<Utc>>, Vec<PendingOrder>), sqlx::Error> {
    type OrderRecord = (
        i64,
        String,
        Json<serde_json::Value>,
        i64,
        DateTime<Utc>,
        DateTime<Utc>,
    );
    let (previous, orders): (Option<DateTime<Utc>>, Vec<OrderRecord>) = on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE appliances SET last_checkin_at = $1, agent_version = $2 WHERE id = $3")
            .bind(now)
            .bind(agent_version)
            .bind(appliance.id)
            .execute(&mut *tx)
            .await?;
        let previous: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT last_checkin_at FROM sites WHERE id = $1")
                .bind(appliance.site)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("UPDATE sites SET last_checkin_at = $1 WHERE id = $2")
            .bind(now)
            .bind(appliance.site)
            .execute(&mut *tx)
            .await?;
        if let Some(began) = offline_since(previous, now) {
            // Two appliances of the site coming back at once record the span once.
            sqlx::query(
                "INSERT INTO offline_spans (site_id, started_at, ended_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(appliance.site)
            .bind(began)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let orders = sqlx::query_as(
            "SELECT id, order_type, parameters, priority, created_at, expires_at FROM orders \
             WHERE appliance_id = $1 AND status = $2 AND expires_at > $3 ORDER BY priority, id",
        )
        .bind(appliance.id)
        .bind(OrderStatus::Pending.as_str())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        (previous, orders)
    });
    let orders = orders
        .into_iter()
        .map(
            |(id, order_type, parameters, priority, created_at, expires_at)| PendingOrder {
                id,
                order_type,
                parameters: parameters.0,
                priority,
                created_at,
                expires_at,
            },
        )
        .collect();
    Ok((previous, orders))
}

/// A new appliance of the site whose public id is `site_slug`, with one key (by its hash);
/// its id, or `None` when no site has that id. The agent version is `unknown` until its first
/// check-in.
pub async fn insert_appliance(
    db: &Db,
    site_slug: &str,
    hostname: &str,
    mac: &str,
    key_hash: &str,
) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let site: Option<i64> = sqlx::query_scalar("SELECT id FROM sites WHERE site_id = $1")
            .bind(site_slug)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(site) = site else {
            return Ok(None);
        };
        let appliance_id: i64 = sqlx::query_scalar(
            "INSERT INTO appliances (site_id, hostname, mac, agent_version) \
             VALUES ($1, $2, $3, 'unknown') RETURNING id",
        )
        .bind(site)
        .bind(hostname)
        .bind(mac)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO appliance_keys (appliance_id, key_hash) VALUES ($1, $2)")
            .bind(appliance_id)
            .bind(key_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(appliance_id))
    })
}

/// Revokes every live key of `appliance_id` and, with `new_key_hash`, gives it that one
/// instead, audited, in one transaction. How many keys were revoked, or `None` when there is
/// no such appliance (and nothing changed).
pub async fn replace_keys(
    db: &Db,
    appliance_id: i64,
    new_key_hash: Option<&str>,
    audit: &NewAudit,
) -> Result<Option<u64>, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM appliances WHERE id = $1")
            .bind(appliance_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let revoked = sqlx::query(
            "UPDATE appliance_keys SET revoked_at = $1 \
             WHERE appliance_id = $2 AND revoked_at IS NULL",
        )
        .bind(audit.at)
        .bind(appliance_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if let Some(key_hash) = new_key_hash {
            sqlx::query("INSERT INTO appliance_keys (appliance_id, key_hash) VALUES ($1, $2)")
                .bind(appliance_id)
                .bind(key_hash)
                .execute(&mut *tx)
                .await?;
        }
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(revoked))
    })
}

/// Forgets the `report_id`s received before `before`; returns how many.
pub async fn purge_report_ids(db: &Db, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_db!(db, |pool| {
        let result = sqlx::query("DELETE FROM ingest_reports WHERE received_at < $1")
            .bind(before)
            .execute(pool)
            .await?;
        Ok(result.rows_affected())
    })
}
