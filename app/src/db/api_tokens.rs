//! API tokens people make for scripts: stored as their SHA-256, each with an expiry.

use chrono::{DateTime, Duration, Utc};

use super::Db;
use super::accounts::{NewAudit, insert_audit};
use crate::accounts::ApiTokenRow;
use crate::auth::{Role, SessionUser};
use crate::on_db;

const COLUMNS: &str = "id, name, created_at, expires_at, revoked_at, last_used_at";

/// Stores a token (by `hash`) of `user` named `name`, valid until `expires`, with its audit
/// entry.
pub async fn insert(
    db: &Db,
    user: i64,
    name: &str,
    hash: &str,
    expires: DateTime<Utc>,
    audit: &NewAudit,
) -> Result<ApiTokenRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let row = sqlx::query_as(&sql)
            .bind(user)
            .bind(name)
            .bind(hash)
            .bind(audit.at)
            .bind(expires)
            .fetch_one(&mut *tx)
            .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(row)
    })
}

/// The user's tokens, newest first.
pub async fn list(db: &Db, user: i64) -> Result<Vec<ApiTokenRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC");
    on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(user)
        .fetch_all(pool)
        .await)
}

/// Revokes the user's live token `id`, with its audit entry; false when they have none such.
pub async fn revoke(db: &Db, user: i64, id: i64, audit: &NewAudit) -> Result<bool, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(user)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            insert_audit(audit).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(changed == 1)
    })
}

/// Who a live token (by `hash`) speaks for, as a read-only user (a clinic account's as itself):
/// tokens read and never change anything, whatever their owner's role, and see their owner's clients as they are
/// now (never more). Marks it used, at most once a minute.
pub async fn resolve(
    db: &Db,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionUser>, sqlx::Error> {
    let sql = format!(
        "SELECT u.id, u.email, u.display_name, {}, {} FROM api_tokens t \
         JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND NOT u.disabled",
        super::accounts::role_of("u"),
        super::accounts::client_scope_of("u")
    );
    let row: Option<(i64, String, String, String, Option<String>)> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
    });
    if row.is_some() {
        on_db!(db, |pool| {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 \
                 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(hash)
            .bind(now)
            .bind(now - Duration::minutes(1))
            .execute(pool)
            .await?;
        });
    }
    Ok(
        row.map(|(id, email, display_name, role, scope)| SessionUser {
            id,
            email,
            display_name,
            role: Role::parse(&role).map_or(Role::Clinic, |role| role.min(Role::Readonly)),
            must_enrol_two_factor: false,
            clients: super::accounts::scope_of(scope),
        }),
    )
}
