//! Orders queued by operators for a site's appliances.

use chrono::Duration;

use super::Db;
use super::accounts::NewAudit;
use super::accounts::insert_audit;
use super::scope::clients_in;
use crate::domain::client_scope::ClientScope;
use crate::domain::order::OrderStatus;
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

/// The id of the appliance `hostname` of the (active) site `site_id` of `scope`'s clients.
pub async fn appliance_of_site(
    db: &Db,
    scope: &ClientScope,
    site_id: &str,
    hostname: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT a.id FROM appliances a JOIN sites s ON s.id = a.site_id \
         WHERE s.site_id = $1 AND a.hostname = $2 AND s.decommissioned_at IS NULL AND {}",
        clients_in(scope, "s.client_id")
    );
    on_db!(db, |pool| {
        sqlx::query_scalar(&sql)
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
             VALUES ($1, $2, $3, 5, $4, $5, $6) RETURNING id",
        )
        .bind(appliance_id)
        .bind(order_type)
        .bind(sqlx::types::Json(parameters))
        .bind(OrderStatus::Pending.as_str())
        .bind(audit.at)
        .bind(audit.at + ORDER_LIFETIME)
        .fetch_one(&mut *tx)
        .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    })
}

/// What became of an appliance's request to move one of its orders on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Done,
    NoSuchOrder,
    OtherAppliance,
    /// The order is in this status, from which the requested one cannot be reached.
    WrongStatus(OrderStatus),
    Expired,
}

/// Moves order `id` of `appliance_id` to `to` in one conditional UPDATE, so two racing
/// requests cannot both succeed; when nothing matched, says why.
pub async fn advance_order(
    db: &Db,
    id: i64,
    appliance_id: i64,
    to: OrderStatus,
    result: Option<&str>,
) -> Result<Transition, sqlx::Error> {
    let now = chrono::Utc::now();
    let from = to.reached_from();
    let column = if to == OrderStatus::Acknowledged {
        "acknowledged_at"
    } else {
        "completed_at"
    };
    let sql = format!(
        "UPDATE orders SET status = $1, {column} = $2, result = COALESCE($3, result) \
         WHERE id = $4 AND appliance_id = $5 AND status = $6 AND expires_at > $2"
    );
    let updated = on_db!(db, |pool| {
        sqlx::query(&sql)
            .bind(to.as_str())
            .bind(now)
            .bind(result)
            .bind(id)
            .bind(appliance_id)
            .bind(from.map(OrderStatus::as_str))
            .execute(pool)
            .await?
            .rows_affected()
    });
    if updated == 1 {
        return Ok(Transition::Done);
    }
    let current: Option<(i64, String, chrono::DateTime<chrono::Utc>)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT appliance_id, status, expires_at FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    Ok(match current {
        None => Transition::NoSuchOrder,
        Some((owner, _, _)) if owner != appliance_id => Transition::OtherAppliance,
        Some((_, status, _)) if Some(status.as_str()) != from.map(OrderStatus::as_str) => {
            Transition::WrongStatus(OrderStatus::parse(&status).ok_or_else(|| {
                sqlx::Error::Decode(format!("order {id} has an unknown status {status:?}").into())
            })?)
        }
        Some(_) => Transition::Expired,
    })
}
