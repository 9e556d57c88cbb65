//! A site's evidence chain: bundles linked by hash, appended to by its appliance.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::Db;
use super::sql::rows_per_statement;
use crate::domain::appliance::EvidenceBundle;
use crate::on_db;

const HEAD_SQL: &str = "SELECT position, bundle_hash FROM evidence_bundles WHERE site_id = $1 \
    ORDER BY position DESC LIMIT 1";

/// Where a site's chain ends: its last position and hash, `None` before its first bundle.
pub async fn chain_head(db: &Db, site: i64) -> Result<Option<(i64, String)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(HEAD_SQL)
            .bind(site)
            .fetch_optional(pool)
            .await
    })
}

/// What came of appending bundles to a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    Stored,
    /// The bundles do not continue the chain, which ends here (position 0: no bundle yet).
    Elsewhere {
        position: i64,
        hash: Option<String>,
    },
    /// Another batch extended the chain first.
    Raced,
}

/// Appends `bundles` (consecutive, each naming the previous one's hash) to the chain of
/// `site`, all or none. A bundle dated after `now` is stored as of `now`.
pub async fn append_chain(
    db: &Db,
    site: i64,
    bundles: &[EvidenceBundle],
    now: DateTime<Utc>,
) -> Result<Appended, sqlx::Error> {
    let Some(first) = bundles.first() else {
        return Ok(Appended::Stored);
    };
    // SQLite: take the write lock before reading the chain head, or a writer committing in
    // between makes the upgrade fail at once instead of waiting its turn.
    let begin = match db {
        Db::Sqlite(_) => "BEGIN IMMEDIATE",
        Db::Postgres(_) => "BEGIN",
    };
    on_db!(db, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        let head: Option<(i64, String)> = sqlx::query_as(HEAD_SQL)
            .bind(site)
            .fetch_optional(&mut *tx)
            .await?;
        let (position, hash) = head.map_or((0, None), |(p, h)| (p, Some(h)));
        if first.position != position + 1 || first.prev_hash != hash {
            return Ok(Appended::Elsewhere { position, hash });
        }
        for chunk in bundles.chunks(rows_per_statement(5)) {
            let inserted = QueryBuilder::new(
                "INSERT INTO evidence_bundles (site_id, position, bundle_hash, prev_hash, created_at) ",
            )
            .push_values(chunk, |mut b, e| {
                b.push_bind(site)
                    .push_bind(e.position)
                    .push_bind(&e.bundle_hash)
                    .push_bind(&e.prev_hash)
                    .push_bind(e.created_at.min(now));
            })
            .build()
            .persistent(false)
            .execute(&mut *tx)
            .await;
            match inserted {
                Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                    return Ok(Appended::Raced);
                }
                other => other?,
            };
        }
        tx.commit().await?;
        Ok(Appended::Stored)
    })
}
