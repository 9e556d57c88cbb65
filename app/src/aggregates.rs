//! The cached aggregates server functions read: scores, site rows and the overview, each
//! computed at most once per cache TTL (see [`crate::cache`]) for each scope of clients.

use chrono::Utc;
use leptos::prelude::use_context;

use crate::cache::{AggregateCache, Cached, OVERVIEW_KEY, SITE_ROWS_KEY, SITE_SCORES_KEY};
use crate::db::{self, Db};
use crate::domain::client_scope::ClientScope;
use crate::error::AppError;
use crate::types::{OverviewData, SiteRow, SiteScore};

/// The database and the aggregate cache the server provided to this request.
pub fn request_state() -> Result<(Db, AggregateCache), AppError> {
    match (use_context::<Db>(), use_context::<AggregateCache>()) {
        (Some(db), Some(cache)) => Ok((db, cache)),
        _ => Err(AppError::Database(
            "the server has no database configured".into(),
        )),
    }
}

/// The scores of the sites of `scope`'s clients.
pub async fn site_scores(
    db: &Db,
    cache: &AggregateCache,
    scope: &ClientScope,
) -> Result<Cached<Vec<SiteScore>>, AppError> {
    cache
        .get_or_compute(SITE_SCORES_KEY, &scope.key(), || async {
            Ok(db::site_scores(db, scope, Utc::now()).await?)
        })
        .await
}

/// The rows of the sites of `scope`'s clients.
pub async fn site_rows(
    db: &Db,
    cache: &AggregateCache,
    scope: &ClientScope,
) -> Result<Cached<Vec<SiteRow>>, AppError> {
    cache
        .get_or_compute(SITE_ROWS_KEY, &scope.key(), || async {
            let scores = site_scores(db, cache, scope).await?.value;
            Ok(db::site_rows(db, scope, &scores, Utc::now()).await?)
        })
        .await
}

/// How many of the least healthy sites the overview lists.
const NEEDING_ATTENTION: usize = 8;

/// The overview of `scope`'s clients.
pub async fn overview(
    db: &Db,
    cache: &AggregateCache,
    scope: &ClientScope,
) -> Result<Cached<OverviewData>, AppError> {
    cache
        .get_or_compute(OVERVIEW_KEY, &scope.key(), || async {
            let now = Utc::now();
            let scores = site_scores(db, cache, scope).await?.value;
            let rows = site_rows(db, cache, scope).await?.value;
            let (stats, top_incident_types) = futures::try_join!(
                db::fleet_stats(db, scope, &scores, now),
                db::top_incident_types(db, scope, now)
            )?;
            let mut needing_attention: Vec<SiteRow> = rows
                .iter()
                .filter(|r| r.level.urgency() > crate::scoring::HealthLevel::Healthy.urgency())
                .cloned()
                .collect();
            needing_attention.sort_by(|a, b| a.health.total_cmp(&b.health));
            needing_attention.truncate(NEEDING_ATTENTION);
            Ok(OverviewData {
                stats,
                top_incident_types,
                needing_attention,
            })
        })
        .await
}

/// Gives the answer of this request the ETag `etag`, when the request is a server function's
/// own call (`/api/...`; a page rendering the same data has its own caching): the ETag layer
/// then answers `If-None-Match` without hashing the body. `etag` must change whenever the
/// answer does, so an answer built from a cached value and the call's arguments names both
/// ([`etag_with`]).
pub fn tag_answer(etag: &str) {
    let is_call = use_context::<http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with("/api/"));
    if let (true, Ok(value)) = (is_call, http::HeaderValue::from_str(etag)) {
        leptos::prelude::expect_context::<leptos_axum::ResponseOptions>()
            .insert_header(http::header::ETAG, value);
    }
}

/// The ETag of an answer made from the cached value tagged `etag` and `arguments`.
pub fn etag_with(etag: &str, arguments: &impl serde::Serialize) -> String {
    let mut named = etag.as_bytes().to_vec();
    named.extend(serde_json::to_vec(arguments).unwrap_or_default());
    crate::cache::etag_of(&named)
}
