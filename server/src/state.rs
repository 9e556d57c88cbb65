//! What every request handler can reach.

use app::cache::AggregateCache;
use app::db::{Db, IncidentWindows};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::api::auth::KeyCache;
use crate::config::CacheArgs;
use crate::health::Readiness;
use crate::hints::Hints;
use crate::ingest::IngestQueue;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub cache: AggregateCache,
    pub windows: IncidentWindows,
    pub readiness: Readiness,
    /// Where the appliance API queues reports for the batcher.
    pub ingest: IngestQueue,
    /// Invalidation hints for open dashboards (`/api/v1/events`).
    pub hints: Hints,
    /// Appliance keys looked up recently.
    pub keys: KeyCache,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl CacheArgs {
    pub fn build(&self) -> anyhow::Result<AggregateCache> {
        let ttl = std::time::Duration::from_secs(self.cache_ttl_secs);
        Ok(match &self.redis_url {
            Some(url) => AggregateCache::redis(url, ttl)
                .map_err(|e| anyhow::anyhow!("invalid REDIS_URL: {e}"))?,
            None => AggregateCache::in_process(ttl),
        })
    }
}
