//! `POST /api/v1/evidence/batch`: evidence bundles extending the site's hash chain, usually
//! gzip-compressed. Either the whole batch continues the chain and is stored, or nothing is.

use app::db::Db;
use app::on_db;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;

use super::auth::Appliance;
use super::body::{ApiJson, Validate, rules};
use super::error::ApiError;
use crate::state::AppState;

pub const MAX_BUNDLES: usize = 1_000;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBatch {
    pub site_id: String,
    pub bundles: Vec<EvidenceBundle>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    /// 1 for a site's first bundle, then consecutive.
    pub position: i64,
    /// SHA-256, 64 lowercase hex digits.
    pub bundle_hash: String,
    /// The previous bundle's hash; null only at position 1.
    pub prev_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct EvidenceStored {
    pub stored: usize,
    /// The chain's last position and hash after this batch.
    pub head_position: i64,
    pub head_hash: String,
}

/// Where a site's chain ends: position 0 and no hash before its first bundle.
#[derive(Debug, Deserialize, Serialize)]
pub struct EvidenceHead {
    pub head_position: i64,
    pub head_hash: Option<String>,
}

/// `GET /api/v1/evidence/head`: the chain head of the key's site, so an appliance that lost
/// its state knows where to continue.
pub async fn head(
    State(state): State<AppState>,
    appliance: Appliance,
) -> Result<Json<EvidenceHead>, ApiError> {
    let head: Option<(i64, String)> = on_db!(&state.db, |pool| {
        sqlx::query_as(
            "SELECT position, bundle_hash FROM evidence_bundles WHERE site_id = $1 \
             ORDER BY position DESC LIMIT 1",
        )
        .bind(appliance.site)
        .fetch_optional(pool)
        .await?
    });
    Ok(Json(match head {
        Some((position, hash)) => EvidenceHead {
            head_position: position,
            head_hash: Some(hash),
        },
        None => EvidenceHead {
            head_position: 0,
            head_hash: None,
        },
    }))
}

fn sha256_hex(field: std::fmt::Arguments, value: &str) -> Result<(), ApiError> {
    if value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::field(
            field.to_string(),
            format!("{field} must be a SHA-256 in 64 lowercase hex digits"),
        ))
    }
}

impl Validate for EvidenceBatch {
    fn validate(&self) -> Result<(), ApiError> {
        rules::name("site_id", &self.site_id)?;
        rules::count("bundles", self.bundles.len(), MAX_BUNDLES)?;
        if self.bundles.is_empty() {
            return Err(ApiError::field("bundles", "bundles must not be empty"));
        }
        for (i, bundle) in self.bundles.iter().enumerate() {
            sha256_hex(
                format_args!("bundles[{i}].bundle_hash"),
                &bundle.bundle_hash,
            )?;
            if let Some(prev) = &bundle.prev_hash {
                sha256_hex(format_args!("bundles[{i}].prev_hash"), prev)?;
            }
            rules::timestamp(format_args!("bundles[{i}].created_at"), bundle.created_at)?;
            if bundle.position < 1 {
                return Err(ApiError::field(
                    format!("bundles[{i}].position"),
                    "positions start at 1",
                ));
            }
            if i > 0 {
                let before = &self.bundles[i - 1];
                if bundle.position != before.position + 1 {
                    return Err(ApiError::field(
                        format!("bundles[{i}].position"),
                        format!("expected position {}", before.position + 1),
                    ));
                }
                if bundle.prev_hash.as_deref() != Some(before.bundle_hash.as_str()) {
                    return Err(ApiError::field(
                        format!("bundles[{i}].prev_hash"),
                        "prev_hash must equal the previous bundle's bundle_hash",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn broken_chain(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, message).with_field("bundles[0].prev_hash")
}

pub async fn batch(
    State(state): State<AppState>,
    appliance: Appliance,
    ApiJson(batch, _memory): ApiJson<EvidenceBatch>,
) -> Result<Json<EvidenceStored>, ApiError> {
    appliance.check_site(&batch.site_id)?;
    let first = &batch.bundles[0];
    let last = batch.bundles.last().expect("validated as non-empty");
    let now = Utc::now();
    // SQLite: take the write lock before reading the chain head, or a writer committing in
    // between makes the upgrade fail at once instead of waiting its turn.
    let begin = match state.db {
        Db::Sqlite(_) => "BEGIN IMMEDIATE",
        Db::Postgres(_) => "BEGIN",
    };
    on_db!(&state.db, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        let head: Option<(i64, String)> = sqlx::query_as(
            "SELECT position, bundle_hash FROM evidence_bundles WHERE site_id = $1 \
             ORDER BY position DESC LIMIT 1",
        )
        .bind(appliance.site)
        .fetch_optional(&mut *tx)
        .await?;
        let (expected_position, expected_prev) = match &head {
            Some((position, hash)) => (position + 1, Some(hash.as_str())),
            None => (1, None),
        };
        if first.position != expected_position || first.prev_hash.as_deref() != expected_prev {
            return Err(broken_chain(format!(
                "the chain continues at position {expected_position} with prev_hash {}",
                expected_prev.unwrap_or("null")
            )));
        }
        for chunk in batch.bundles.chunks(app::db::sql::rows_per_statement(5)) {
            QueryBuilder::new(
                "INSERT INTO evidence_bundles (site_id, position, bundle_hash, prev_hash, created_at) ",
            )
            .push_values(chunk, |mut b, e| {
                b.push_bind(appliance.site)
                    .push_bind(e.position)
                    .push_bind(&e.bundle_hash)
                    .push_bind(&e.prev_hash)
                    .push_bind(e.created_at.min(now));
            })
            .build()
            .persistent(false)
            .execute(&mut *tx)
            .await
            .map_err(|err| match &err {
                // Another batch for this site committed first.
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    broken_chain("another batch extended the chain first; re-read and retry".into())
                }
                _ => ApiError::from(err),
            })?;
        }
        tx.commit().await?;
        Ok(Json(EvidenceStored {
            stored: batch.bundles.len(),
            head_position: last.position,
            head_hash: last.bundle_hash.clone(),
        }))
    })
}
