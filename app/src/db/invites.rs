//! Invitations of clinic staff: stored by the SHA-256 of their link's token; claimed once,
//! together with the account they make.

use chrono::{DateTime, Utc};

use super::Db;
use super::accounts::{NewAccount, NewAudit, insert_account, insert_audit};
use crate::on_db;

/// A live invitation as its link shows it: whose client, for which email.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenInvite {
    pub client_id: i64,
    pub client_name: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// An invitation about to be stored.
pub struct NewInvite<'a> {
    pub token_hash: &'a str,
    pub client_id: i64,
    pub email: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Stores an invitation with its audit entry.
pub async fn insert(db: &Db, invite: &NewInvite<'_>, audit: &NewAudit) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO invites (token_hash, client_id, email, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(invite.token_hash)
        .bind(invite.client_id)
        .bind(invite.email)
        .bind(&audit.actor)
        .bind(audit.at)
        .bind(invite.expires_at)
        .execute(&mut *tx)
        .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    })
}

/// The unused, unexpired invitation whose token hashes to `hash`.
pub async fn find_open(
    db: &Db,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<OpenInvite>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT i.client_id, c.name AS client_name, i.email, i.expires_at \
         FROM invites i JOIN clients c ON c.id = i.client_id \
         WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > $2"
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(pool)
    .await)
}

/// Claims the open invitation `hash` and adds its account in one transaction: `false` (and
/// nothing written) when it was used, expired or never existed. The claim is one conditional
/// UPDATE, so two uses racing cannot both make an account.
pub async fn accept(
    db: &Db,
    hash: &str,
    account: &NewAccount<'_>,
    audit: &NewAudit,
) -> Result<bool, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE invites SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2",
        )
        .bind(hash)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(false);
        }
        let id = insert_account(account, audit.at)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("UPDATE invites SET user_id = $2 WHERE token_hash = $1")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    })
}
