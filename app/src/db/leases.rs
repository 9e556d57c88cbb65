//! Leases: a job that one server at a time may run (on PostgreSQL, several servers share the
//! database), held by whoever took it last until it expires.

use chrono::{DateTime, Duration, Utc};

use super::Db;
use crate::on_db;

/// Takes or renews lease `name` for `holder` until `now + ttl`; false while another holder's
/// lease runs.
pub async fn acquire(
    db: &Db,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<bool, sqlx::Error> {
    let taken: Option<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < $4 RETURNING holder"
    )
    .bind(name)
    .bind(holder)
    .bind(now + ttl)
    .bind(now)
    .fetch_optional(pool)
    .await?
    });
    Ok(taken.is_some())
}
