//! Appliance provisioning and API keys.
//!
//! A key is `pst_` followed by 32 random bytes in hex. Only its SHA-256 is stored: for a
//! high-entropy key a fast hash is as safe as argon2 and costs microseconds per request.
//! Revoking and rotating keys are recorded in the audit log.

use anyhow::Context;
use app::cluster;
use app::db::accounts::NewAudit;
use app::db::{Db, appliances};
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
    let appliance_id = appliances::insert_appliance(db, site_id, hostname, &mac, &hash_key(&key))
        .await?
        .with_context(|| format!("no site has the id {site_id:?}"))?;
    Ok(Provisioned { appliance_id, key })
}

/// Marks every live key of `appliance_id` revoked; the number revoked. Servers that looked a
/// key up recently keep accepting it for at most
/// [`KEY_CACHE_TTL`](crate::api::auth::KEY_CACHE_TTL).
pub async fn revoke_keys(db: &Db, appliance_id: i64) -> anyhow::Result<u64> {
    let audit = cli_audit("appliance.revoke", appliance_id);
    let revoked = appliances::replace_keys(db, appliance_id, None, &audit)
        .await?
        .with_context(|| format!("no appliance has the id {appliance_id}"))?;
    keys_revoked(db, appliance_id).await;
    Ok(revoked)
}

/// A new key for `appliance_id`; its old keys are revoked in the same transaction.
pub async fn rotate_key(db: &Db, appliance_id: i64) -> anyhow::Result<String> {
    let key = generate_key();
    let audit = cli_audit("appliance.rotate", appliance_id);
    appliances::replace_keys(db, appliance_id, Some(&hash_key(&key)), &audit)
        .await?
        .with_context(|| format!("no appliance has the id {appliance_id}"))?;
    keys_revoked(db, appliance_id).await;
    Ok(key)
}

/// Running servers on the same PostgreSQL drop the old keys at once.
async fn keys_revoked(db: &Db, appliance: i64) {
    let change = cluster::Change::KeysRevoked { appliance };
    cluster::notify(db, cluster::CLI_ORIGIN, change).await;
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
