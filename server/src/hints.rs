//! Invalidation hints: after new data lands, the cached aggregates it affects are dropped and
//! every open dashboard is told which query scopes changed, as a JSON array such as
//! `["stats","sites","site:clinic-7","incidents"]`, so it refetches exactly those.

use std::collections::BTreeSet;
use std::sync::Arc;

use app::cache::{AggregateCache, KEYS_AFFECTED_BY_REPORT};
use app::db::IncidentWindows;
use tokio::sync::{broadcast, watch};

/// Hints buffered per subscriber; one that falls further behind is told to refresh everything.
const CAPACITY: usize = 256;

/// Sent to a subscriber that missed hints.
pub const EVERYTHING: &str = r#"["*"]"#;

#[derive(Clone)]
pub struct Hints {
    sender: broadcast::Sender<Arc<str>>,
    /// True once the server is stopping: event streams end so graceful shutdown can finish.
    closed: Arc<watch::Sender<bool>>,
}

impl Default for Hints {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            closed: Arc::new(watch::channel(false).0),
        }
    }
}

impl Hints {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }

    /// Resolves once [`Hints::close`] has been called.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut closed = self.closed.subscribe();
        async move {
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }

    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// A site's check-in status changed.
    pub async fn site_changed(&self, cache: &AggregateCache, site_id: &str) {
        self.changed(cache, None, [site_id], false).await;
    }

    /// New data for `sites`; `incidents` when incidents were opened, updated or resolved.
    pub async fn changed<'a>(
        &self,
        cache: &AggregateCache,
        windows: Option<&IncidentWindows>,
        sites: impl IntoIterator<Item = &'a str>,
        incidents: bool,
    ) {
        cache.invalidate(&KEYS_AFFECTED_BY_REPORT).await;
        if incidents && let Some(windows) = windows {
            windows.invalidate();
        }
        let mut scopes: BTreeSet<String> = ["stats", "sites"].map(String::from).into();
        scopes.extend(sites.into_iter().map(|s| format!("site:{s}")));
        if incidents {
            scopes.insert("incidents".into());
        }
        let json = serde_json::to_string(&scopes).expect("strings serialise");
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(json.into());
    }
}
