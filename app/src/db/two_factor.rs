//! Two-factor sign-in's rows: a user's TOTP secret and last accepted step, their recovery
//! codes (hashed), and whether admins must use it. Each change is written with its audit entry
//! in one transaction.

use chrono::{DateTime, Utc};

use super::Db;
use super::accounts::{NewAudit, insert_audit};
use crate::on_db;

/// A user's TOTP: the secret (base32) and whether a first code has confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TotpState {
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
}

pub async fn state(db: &Db, user: i64) -> Result<TotpState, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT totp_secret, totp_enabled FROM users WHERE id = $1"
    )
    .bind(user)
    .fetch_one(pool)
    .await)
}

/// Stores a new secret awaiting its first code; an enabled one is left alone (false).
pub async fn set_pending_secret(db: &Db, user: i64, secret: &str) -> Result<bool, sqlx::Error> {
    let changed = on_db!(db, |pool| {
        sqlx::query(
        "UPDATE users SET totp_secret = $2, totp_last_step = NULL WHERE id = $1 AND NOT totp_enabled"
    )
    .bind(user)
    .bind(secret)
    .execute(pool)
    .await?
    .rows_affected()
    });
    Ok(changed == 1)
}

/// Turns two-factor sign-in on with the first code's `step` accepted and `code_hashes` as
/// the recovery codes.
pub async fn enable(
    db: &Db,
    user: i64,
    step: i64,
    code_hashes: &[String],
    audit: &NewAudit,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE users SET totp_enabled = TRUE, totp_last_step = $2 WHERE id = $1")
            .bind(user)
            .bind(step)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        for hash in code_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await
    })
}

/// Turns two-factor sign-in off: the secret and recovery codes are deleted.
pub async fn disable(db: &Db, user: i64, audit: &NewAudit) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE users SET totp_enabled = FALSE, totp_secret = NULL, totp_last_step = NULL \
             WHERE id = $1",
        )
        .bind(user)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await
    })
}

/// Accepts the code of time step `step` unless one of that step or a later one was accepted
/// already: one conditional UPDATE, so two sign-ins racing with one code cannot both pass.
pub async fn accept_step(db: &Db, user: i64, step: i64) -> Result<bool, sqlx::Error> {
    let changed = on_db!(db, |pool| sqlx::query(
        "UPDATE users SET totp_last_step = $2 \
         WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)"
    )
    .bind(user)
    .bind(step)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(changed == 1)
}

/// Spends the unused recovery code hashed `hash`: false when there is none.
pub async fn spend_recovery_code(
    db: &Db,
    user: i64,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let changed = on_db!(db, |pool| sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL"
    )
    .bind(user)
    .bind(hash)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(changed == 1)
}

/// Recovery codes the user has not used.
pub async fn codes_left(db: &Db, user: i64) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user)
    .fetch_one(pool)
    .await)
}

const ADMINS_NEED_TWO_FACTOR: &str = "admins_need_two_factor";

/// Whether admins must sign in with a second factor.
pub async fn admins_need_two_factor(db: &Db) -> Result<bool, sqlx::Error> {
    let value: Option<String> = on_db!(db, |pool| sqlx::query_scalar(
        "SELECT value FROM settings WHERE name = $1"
    )
    .bind(ADMINS_NEED_TWO_FACTOR)
    .fetch_optional(pool)
    .await?);
    Ok(value.as_deref() == Some("true"))
}

pub async fn set_admins_need_two_factor(
    db: &Db,
    required: bool,
    audit: &NewAudit,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(ADMINS_NEED_TWO_FACTOR)
        .bind(if required { "true" } else { "false" })
        .execute(&mut *tx)
        .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await
    })
}
