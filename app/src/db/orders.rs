//! Orders queued by operators for a site's appliances.

use chrono::Duration;

use super::Db;
use super::accounts::NewAudit;
use crate::audit_insert;
use crate::on_db;

/// How long an order waits for its appliance before it expires.
pub const ORDER_LIFETIME: Duration = Duration::hours(24);

pub async fn runbook_exists(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT id FROM runbooks WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    Ok(found.is_some())
}

/// The id of the appliance `hostname` of the (active) site `site_id`.
pub async fn appliance_of_site(
    db: &Db,
    site_id: &str,
    hostname: &str,
) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT a.id FROM appliances a JOIN sites s ON s.id = a.site_id \
             WHERE s.site_id = $1 AND a.hostname = $2 AND s.decommissioned_at IS NULL",
        )
        .bind(site_id)
        .bind(hostname)
        .fetch_optional(pool)
        .await
    })
}

pub async fn insert_order(
    db: &Db,
    appliance_id: i64,
    order_type: &str,
    parameters: &serde_json::Value,
    audit: &NewAudit,
) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO orders (appliance_id, order_type, parameters, priority, status, created_at, expires_at) \
             VALUES ($1, $2, $3, 5, 'pending', $4, $5) RETURNING id",
        )
        .bind(appliance_id)
        .bind(order_type)
        .bind(sqlx::types::Json(parameters))
        .bind(audit.at)
        .bind(audit.at + ORDER_LIFETIME)
        .fetch_one(&mut *tx)
        .await?;
        audit_insert!(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    })
}
