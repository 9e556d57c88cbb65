//! `Authorization: Bearer <key>` → the appliance the key belongs to.

use std::time::Duration;

use app::on_db;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::provision::hash_key;
use crate::state::AppState;

/// How long a server keeps trusting a key it has looked up: a revoked key is refused by
/// every server within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

/// Appliances by key hash. Appliances send a report every few seconds to minutes; with the
/// key looked up once per [`KEY_CACHE_TTL`] instead of per request, authenticating costs no
/// database read (on SQLite that read would also drop the reading connection's page cache
/// after every batch the writer commits).
#[derive(Clone)]
pub struct KeyCache(moka::sync::Cache<String, Appliance>);

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        )
    }
}

/// The authenticated appliance.
#[derive(Debug, Clone)]
pub struct Appliance {
    pub id: i64,
    /// `sites.id`, the key every table references.
    pub site: i64,
    /// `sites.site_id`, the public id requests name.
    pub site_id: String,
}

impl Appliance {
    /// A key only writes for its own site: 403 when a request names another.
    pub fn check_site(&self, site_id: &str) -> Result<(), ApiError> {
        if site_id == self.site_id {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this appliance's key cannot write for that site",
            )
            .with_field("site_id"))
        }
    }
}

impl FromRequestParts<AppState> for Appliance {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |message: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, message).with_field("Authorization")
        };
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| unauthorized("an `Authorization: Bearer <key>` header is required"))?;
        let hash = hash_key(key);
        if let Some(appliance) = state.keys.0.get(&hash) {
            return Ok(appliance);
        }
        let row: Option<(i64, i64, String)> = on_db!(&state.db, |pool| {
            sqlx::query_as(
                "SELECT a.id, s.id, s.site_id FROM appliance_keys k \
                 JOIN appliances a ON a.id = k.appliance_id JOIN sites s ON s.id = a.site_id \
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
            )
            .bind(&hash)
            .fetch_optional(pool)
            .await?
        });
        let (id, site, site_id) = row.ok_or_else(|| unauthorized("unknown or revoked API key"))?;
        let appliance = Appliance { id, site, site_id };
        state.keys.0.insert(hash, appliance.clone());
        Ok(appliance)
    }
}
