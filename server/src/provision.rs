//! Appliance provisioning and API keys.
//!
//! A key is `pst_` followed by 32 random bytes in hex. Only its SHA-256 is stored: for a
//! high-entropy key a fast hash is as safe as argon2 and costs microseconds per request.
//! Revoking and rotating keys are recorded in the audit log.

use anyhow::Context;
use app::db::Db;
use app::db::accounts::NewAudit;
use app::db::accounts::insert_audit;
use app::on_db;
use rand::RngCore;
use sha2::{Digest, Sha256};

const KEY_PREFIX: &str = "pst_";

/// A freshly provisioned appliance; `key` is never stored and cannot be shown again.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub appliance_id: i64,
    pub key: String,
}

pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// What `appliance_keys.key_hash` holds for `key`.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Adds an appliance to the site whose public id is `site_id` and returns its new API key.
/// The MAC address is a random locally administered one until the appliance reports its own;
/// the agent version is `unknown` until its first check-in.
pub async fn provision_appliance(
    db: &Db,
    site_id: &str,
    hostname: &str,
) -> anyhow::Result<Provisioned> {
    let hostname = hostname.trim();
    anyhow::ensure!(
        !hostname.is_empty() && hostname.len() <= 253,
        "the hostname must be 1 to 253 characters"
    );
    let mut mac = [0u8; 6];
    rand::rng().fill_bytes(&mut mac);
    mac[0] = (mac[0] | 0x02) & 0xfe;
    let mac = mac.map(|b| format!("{b:02x}")).join(":");
    let key = generate_key();
    let key_hash = hash_key(&key);
    let appliance_id = on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let site: Option<i64> = sqlx::query_scalar("SELECT id FROM sites WHERE site_id = $1")
            .bind(site_id)
            .fetch_optional(&mut *tx)
            .await?;
        let site = site.with_context(|| format!("no site has the id {site_id:?}"))?;
        let appliance_id: i64 = sqlx::query_scalar(
            "INSERT INTO appliances (site_id, hostname, mac, agent_version) \
             VALUES ($1, $2, $3, 'unknown') RETURNING id",
        )
        .bind(site)
        .bind(hostname)
        .bind(&mac)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO appliance_keys (appliance_id, key_hash) VALUES ($1, $2)")
            .bind(appliance_id)
            .bind(&key_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        appliance_id
    });
    Ok(Provisioned { appliance_id, key })
}

/// Revokes the live keys of an existing appliance inside `$tx`; the number revoked.
macro_rules! revoke {
    ($tx:ident, $appliance_id:expr, $at:expr) => {{
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM appliances WHERE id = $1")
            .bind($appliance_id)
            .fetch_optional(&mut *$tx)
            .await?;
        exists.with_context(|| format!("no appliance has the id {}", $appliance_id))?;
        sqlx::query(
            "UPDATE appliance_keys SET revoked_at = $1 \
             WHERE appliance_id = $2 AND revoked_at IS NULL",
        )
        .bind($at)
        .bind($appliance_id)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
    }};
}

/// Marks every live key of `appliance_id` revoked; the number revoked. Servers that looked a
/// key up recently keep accepting it for at most
/// [`KEY_CACHE_TTL`](crate::api::auth::KEY_CACHE_TTL).
pub async fn revoke_keys(db: &Db, appliance_id: i64) -> anyhow::Result<u64> {
    let audit = cli_audit("appliance.revoke", appliance_id);
    let revoked = on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let revoked = revoke!(tx, appliance_id, audit.at);
        insert_audit(&audit).execute(&mut *tx).await?;
        tx.commit().await?;
        revoked
    });
    Ok(revoked)
}

/// A new key for `appliance_id`; its old keys are revoked in the same transaction.
pub async fn rotate_key(db: &Db, appliance_id: i64) -> anyhow::Result<String> {
    let key = generate_key();
    let audit = cli_audit("appliance.rotate", appliance_id);
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        revoke!(tx, appliance_id, audit.at);
        sqlx::query("INSERT INTO appliance_keys (appliance_id, key_hash) VALUES ($1, $2)")
            .bind(appliance_id)
            .bind(hash_key(&key))
            .execute(&mut *tx)
            .await?;
        insert_audit(&audit).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(key)
}

fn cli_audit(action: &'static str, appliance_id: i64) -> NewAudit {
    NewAudit {
        actor: "cli".into(),
        action,
        target: format!("appliance {appliance_id}"),
        details: serde_json::Value::Null,
        ip: None,
        at: chrono::Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashes_are_stable() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 64);
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_eq!(hash_key(&a).len(), 64);
    }
}
