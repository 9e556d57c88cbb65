//! The audit log's hash chain: entries are written as they happen (inside the transaction of
//! the change they record) and sealed shortly after, in the order they were sealed: each gets
//! the next `chain_position` and `hash = SHA-256(the hash before, the entry)`. Editing or
//! deleting a sealed entry, or changing the chain's order, breaks every hash from there on;
//! [`verify`] finds the first such entry. Sealing afterwards keeps the many writers of audit
//! entries free of a lock on the chain head, and orders the entries by commit, not by id
//! (ids are handed out before commit, so a lower one can commit later).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::Db;
use crate::on_db;

/// The hash before the first entry.
const GENESIS: &str = "";

/// On PostgreSQL, sealers on several servers take turns on this transaction-scoped lock.
const SEAL_LOCK: i64 = 0x706f_7374_7572_6531;

const ENTRY_COLUMNS: &str =
    "id, actor, action, target, CAST(details AS TEXT) AS details, ip, at, chain_position, hash";

#[derive(Debug, sqlx::FromRow)]
struct Entry {
    id: i64,
    actor: String,
    action: String,
    target: String,
    details: String,
    ip: Option<String>,
    at: DateTime<Utc>,
    chain_position: Option<i64>,
    hash: Option<String>,
}

impl Entry {
    /// The hash of this entry after `previous`: over a JSON array, so no two different
    /// entries serialise alike.
    fn hash_after(&self, previous: &str) -> String {
        let content = serde_json::json!([
            previous,
            self.id,
            self.actor,
            self.action,
            self.target,
            self.details,
            self.ip,
            self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        ]);
        hex::encode(Sha256::digest(content.to_string()))
    }
}

/// Seals up to `limit` unsealed entries, oldest id first; how many it sealed.
pub async fn seal(db: &Db, limit: i64) -> Result<u64, sqlx::Error> {
    // SQLite: take the write lock before reading the head (see `evidence::append`).
    let begin = match db {
        Db::Sqlite(_) => "BEGIN IMMEDIATE",
        Db::Postgres(_) => "BEGIN",
    };
    on_db!(db, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        if matches!(db, Db::Postgres(_)) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SEAL_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let head: Option<(i64, String)> = sqlx::query_as(
            "SELECT chain_position, hash FROM audit_log WHERE chain_position IS NOT NULL \
             ORDER BY chain_position DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let entries: Vec<Entry> = sqlx::query_as(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE hash IS NULL ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let (mut position, mut hash) = head.unwrap_or((0, GENESIS.to_string()));
        for entry in &entries {
            position += 1;
            hash = entry.hash_after(&hash);
            sqlx::query("UPDATE audit_log SET chain_position = $1, hash = $2 WHERE id = $3")
                .bind(position)
                .bind(&hash)
                .bind(entry.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(entries.len() as u64)
    })
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every sealed entry matches its hash; `unsealed` entries are still waiting to be sealed.
    Intact { sealed: u64, unsealed: u64 },
    /// The first sealed entry (in chain order) that does not match: it was changed, or an
    /// entry before it was changed, removed or reordered.
    Broken {
        position: i64,
        entry_id: i64,
        reason: String,
    },
}

/// How many entries [`verify`] reads at a time.
const VERIFY_CHUNK: i64 = 5_000;

/// Walks the whole chain from the first position and recomputes every hash.
pub async fn verify(db: &Db) -> Result<Verdict, sqlx::Error> {
    let (mut expected_position, mut previous) = (1_i64, GENESIS.to_string());
    loop {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE chain_position >= $1 \
             ORDER BY chain_position LIMIT {VERIFY_CHUNK}"
        );
        let entries: Vec<Entry> = on_db!(db, |pool| sqlx::query_as(&sql)
            .bind(expected_position)
            .fetch_all(pool)
            .await?);
        for entry in &entries {
            let position = entry.chain_position.unwrap_or_default();
            let broken = |reason: String| Verdict::Broken {
                position,
                entry_id: entry.id,
                reason,
            };
            if position != expected_position {
                return Ok(broken(format!(
                    "position {expected_position} is missing: an entry was removed"
                )));
            }
            let hash = entry.hash_after(&previous);
            if entry.hash.as_deref() != Some(hash.as_str()) {
                return Ok(broken(
                    "its hash does not match: this entry, or the one before it, was changed"
                        .to_string(),
                ));
            }
            (expected_position, previous) = (position + 1, hash);
        }
        if (entries.len() as i64) < VERIFY_CHUNK {
            break;
        }
    }
    let unsealed: i64 = on_db!(db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE hash IS NULL"
    )
    .fetch_one(pool)
    .await?);
    Ok(Verdict::Intact {
        sealed: (expected_position - 1) as u64,
        unsealed: unsealed as u64,
    })
}
