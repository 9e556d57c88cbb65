//! `Authorization: Bearer <key>` → the appliance the key belongs to.

use std::ops::Deref;
use std::time::Duration;

pub use app::appliance_keys::{ApplianceIdentity, KeyCache};
use app::db::Db;
use app::db::appliances;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use super::limits::ApiLimits;
use crate::provision::hash_key;

/// How long a server keeps trusting a key it has looked up: a revoked key is refused by
/// every server within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

/// The authenticated appliance.
#[derive(Debug, Clone)]
pub struct Appliance(pub ApplianceIdentity);

impl Deref for Appliance {
    type Target = ApplianceIdentity;

    fn deref(&self) -> &ApplianceIdentity {
        &self.0
    }
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

impl<S> FromRequestParts<S> for Appliance
where
    S: Send + Sync,
    Db: FromRef<S>,
    KeyCache: FromRef<S>,
    ApiLimits: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
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
        let keys = KeyCache::from_ref(state);
        let identity = match keys.lookup(&hash) {
            Some(cached) => cached,
            None => {
                let found = appliances::find_key(&Db::from_ref(state), &hash).await?;
                keys.remember(hash, found.clone());
                found
            }
        };
        let appliance =
            Appliance(identity.ok_or_else(|| unauthorized("unknown or revoked API key"))?);
        ApiLimits::from_ref(state).admit(appliance.id)?;
        Ok(appliance)
    }
}
