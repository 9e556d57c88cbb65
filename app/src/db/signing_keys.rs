//! The server's evidence-pack signing key: one row, made by whichever server starts first.

use chrono::{DateTime, Utc};

use super::Db;
use crate::on_db;

/// The stored key pair (secret, public), both base64.
pub async fn load(db: &Db) -> Result<Option<(String, String)>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT secret_key, public_key FROM signing_keys WHERE id = 1"
    )
    .fetch_optional(pool)
    .await)
}

/// Stores `made` unless a key is stored already, and returns the key stored: ours, or the one
/// another server stored first.
pub async fn store_first(
    db: &Db,
    made: (String, String),
    now: DateTime<Utc>,
) -> Result<(String, String), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO signing_keys (id, secret_key, public_key, created_at) \
             VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&made.0)
        .bind(&made.1)
        .bind(now)
        .execute(pool)
        .await?;
    });
    load(db).await?.ok_or(sqlx::Error::RowNotFound)
}
