//! The cached aggregates server functions read: scores, site rows and the overview, each
//! computed at most once per cache TTL (see [`crate::cache`]).

use chrono::Utc;
use leptos::prelude::use_context;

use crate::cache::{AggregateCache, OVERVIEW_KEY, SITE_ROWS_KEY, SITE_SCORES_KEY};
use crate::db::{self, Db};
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

pub async fn site_scores(db: &Db, cache: &AggregateCache) -> Result<Vec<SiteScore>, AppError> {
    cache
        .get_or_compute(SITE_SCORES_KEY, || async {
            Ok(db::all_site_scores(db, Utc::now()).await?)
        })
        .await
}

pub async fn site_rows(db: &Db, cache: &AggregateCache) -> Result<Vec<SiteRow>, AppError> {
    cache
        .get_or_compute(SITE_ROWS_KEY, || async {
            let scores = site_scores(db, cache).await?;
            Ok(db::site_rows(db, &scores, Utc::now()).await?)
        })
        .await
}

/// How many of the least healthy sites the overview lists.
const NEEDING_ATTENTION: usize = 8;

pub async fn overview(db: &Db, cache: &AggregateCache) -> Result<OverviewData, AppError> {
    cache
        .get_or_compute(OVERVIEW_KEY, || async {
            let now = Utc::now();
            let scores = site_scores(db, cache).await?;
            let rows = site_rows(db, cache).await?;
            let (stats, top_incident_types) = futures::try_join!(
                db::global_stats(db, &scores, now),
                db::top_incident_types(db, now)
            )?;
            let mut needing_attention: Vec<SiteRow> = rows
                .into_iter()
                .filter(|r| r.level != crate::scoring::HealthLevel::Healthy)
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
