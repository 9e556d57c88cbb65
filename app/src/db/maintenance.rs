//! Maintenance windows.

use chrono::{DateTime, Utc};

use super::Db;
use super::accounts::{NewAudit, insert_audit};
use super::scope::clients_in;
use crate::domain::client_scope::ClientScope;
use crate::on_db;

/// A window as stored: when it is (see `services::maintenance`) and what it covers.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredWindow {
    pub id: i64,
    pub site_id: Option<i64>,
    pub client_id: Option<i64>,
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
    pub weekly: bool,
    pub time_zone: String,
    pub created_by: String,
    /// A clinic and its site id, or the client's name.
    pub covers: String,
}

const COLUMNS: &str = "w.id, w.site_id, w.client_id, w.reason, w.starts_at, \
    CAST(w.duration_minutes AS BIGINT) AS duration_minutes, w.weekly, w.time_zone, w.created_by, \
    COALESCE(s.clinic_name || ' (' || s.site_id || ')', 'every site of ' || c.name) AS covers";
const FROM: &str = "maintenance_windows w LEFT JOIN sites s ON s.id = w.site_id \
    LEFT JOIN clients c ON c.id = w.client_id";

/// The query of the windows that meet `condition` (over `w`, the window, `s` its site).
pub fn windows_sql(condition: &str) -> String {
    format!("SELECT {COLUMNS} FROM {FROM} WHERE {condition} ORDER BY w.starts_at")
}

/// The windows that cover sites of `scope`'s clients.
pub async fn list_windows(db: &Db, scope: &ClientScope) -> Result<Vec<StoredWindow>, sqlx::Error> {
    let sql = windows_sql(&clients_in(scope, "COALESCE(w.client_id, s.client_id)"));
    on_db!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
}

/// The windows that touch the sites of `site` (by key) of `client`: its own and its
/// client's; or, without a site, the client's and those of every one of its sites.
pub async fn windows_of(
    db: &Db,
    site: Option<i64>,
    client: i64,
) -> Result<Vec<StoredWindow>, sqlx::Error> {
    let condition = match site {
        Some(_) => "w.site_id = $1 OR w.client_id = $2",
        None => "$1 IS NULL AND COALESCE(w.client_id, s.client_id) = $2",
    };
    let sql = windows_sql(condition);
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(site)
        .bind(client)
        .fetch_all(pool)
        .await)
}

/// The key and client of the active site `slug` of `scope`'s clients.
pub async fn site_and_client(
    db: &Db,
    scope: &ClientScope,
    slug: &str,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT id, client_id FROM sites WHERE site_id = $1 AND decommissioned_at IS NULL AND {}",
        clients_in(scope, "client_id")
    );
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(slug)
        .fetch_optional(pool)
        .await)
}

/// A window as the service checked it.
pub struct NewWindow {
    pub site_id: Option<i64>,
    pub client_id: Option<i64>,
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
    pub weekly: bool,
    pub time_zone: String,
}

pub async fn insert_window(
    db: &Db,
    window: &NewWindow,
    audit: &NewAudit,
) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO maintenance_windows (site_id, client_id, reason, starts_at, \
             duration_minutes, weekly, time_zone, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(window.site_id)
        .bind(window.client_id)
        .bind(&window.reason)
        .bind(window.starts_at)
        .bind(window.duration_minutes as i32)
        .bind(window.weekly)
        .bind(&window.time_zone)
        .bind(&audit.actor)
        .bind(audit.at)
        .fetch_one(&mut *tx)
        .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    })
}

/// Deletes window `id`; false when there is none. Alerts it held back stay logged as such.
pub async fn delete_window(db: &Db, id: i64, audit: &NewAudit) -> Result<bool, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if deleted {
            insert_audit(audit).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(deleted)
    })
}
