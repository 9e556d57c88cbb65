//! `POST /api/v1/evidence/batch`: evidence bundles extending the site's hash chain, usually
//! gzip-compressed. Either the whole batch continues the chain and is stored, or nothing is.

use app::db::evidence::{self, Appended};
pub use app::domain::appliance::{EvidenceBatch, EvidenceBundle, EvidenceHead, EvidenceStored};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;

use super::auth::Appliance;
use super::body::{ApiJson, Validate, rules};
use super::error::ApiError;
use crate::state::AppState;

pub const MAX_BUNDLES: usize = 1_000;

/// `GET /api/v1/evidence/head`: the chain head of the key's site, so an appliance that lost
/// its state knows where to continue.
pub async fn head(
    State(state): State<AppState>,
    appliance: Appliance,
) -> Result<Json<EvidenceHead>, ApiError> {
    let head = evidence::chain_head(&state.db, appliance.site).await?;
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
    let last = batch.bundles.last().expect("validated as non-empty");
    let now = Utc::now();
    match evidence::append_chain(&state.db, appliance.site, &batch.bundles, now).await? {
        Appended::Stored => Ok(Json(EvidenceStored {
            stored: batch.bundles.len(),
            head_position: last.position,
            head_hash: last.bundle_hash.clone(),
        })),
        Appended::Elsewhere { position, hash } => {
            let first = &batch.bundles[0];
            crate::alerts::chain::broken(
                &state.db,
                appliance.site,
                first,
                (position, hash.as_deref()),
                now,
            )
            .await?;
            Err(broken_chain(format!(
                "the chain continues at position {} with prev_hash {}",
                position + 1,
                hash.as_deref().unwrap_or("null")
            )))
        }
        Appended::Raced => Err(broken_chain(
            "another batch extended the chain first; re-read and retry".into(),
        )),
    }
}
