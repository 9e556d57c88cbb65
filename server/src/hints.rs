//! Invalidation hints: after new data lands, the cached aggregates it affects are dropped and
//! every open dashboard is told which query scopes changed (a JSON array of
//! [`Scope`]s such as `["stats","sites","site:clinic-7","incidents"]`), so it refetches exactly
//! those.
//!
//! Changes are coalesced: the first one is published at once, later ones at most every
//! [`PUBLISH_INTERVAL`]. Under a load of hundreds of batches a second the cache then still
//! serves most reads, and a dashboard refetches twice a second at most. Each published change
//! also goes to the other servers on the same PostgreSQL (`crate::cluster`), whose dashboards
//! are told the same scopes.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::cache::{AggregateCache, KEYS_AFFECTED_BY_REPORT};
use app::cluster::{Change, IncidentChanges, Peers};
use app::db::IncidentWindows;
use app::domain::ids::SiteSlug;
use app::domain::scope::Scope;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

/// Hints buffered per subscriber; one that falls further behind is told to refresh everything.
const CAPACITY: usize = 64;

/// Shortest time between two published hints.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(500);

/// Sent to a subscriber that missed hints.
pub fn everything() -> Arc<str> {
    serialise(&BTreeSet::from([Scope::Everything]))
}

pub fn serialise(scopes: &BTreeSet<Scope>) -> Arc<str> {
    serde_json::to_string(scopes)
        .expect("scopes serialise")
        .into()
}

#[derive(Clone)]
pub struct Hints {
    sender: broadcast::Sender<Arc<str>>,
    pending: Arc<Mutex<Pending>>,
    wake: Arc<Notify>,
    /// True once the server is stopping: event streams end so graceful shutdown can finish.
    closed: Arc<watch::Sender<bool>>,
}

#[derive(Default)]
struct Pending {
    sites: BTreeSet<SiteSlug>,
    incidents: bool,
    /// For the other servers' incident windows (this server's follow them already).
    windows: IncidentChanges,
}

impl Default for Hints {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            pending: Arc::default(),
            wake: Arc::default(),
            closed: Arc::new(watch::channel(false).0),
        }
    }
}

impl Hints {
    /// Open event streams on this server.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.sender.subscribe()
    }

    /// New data for `sites`; `incidents` when incidents were opened, updated or resolved;
    /// `windows`: how the incident windows' anchors follow (on this server, `windows.rebuild`
    /// is applied when published; the rest is the caller's to apply).
    /// Published by the task [`Hints::publish`] started.
    pub fn changed<'a>(
        &self,
        sites: impl IntoIterator<Item = &'a str>,
        incidents: bool,
        windows: IncidentChanges,
    ) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending
                .sites
                .extend(sites.into_iter().map(|s| SiteSlug(s.to_string())));
            pending.incidents |= incidents;
            pending.windows.extend(windows);
        }
        self.wake.notify_one();
    }

    /// Tells this server's subscribers that `scopes` changed.
    pub fn broadcast(&self, scopes: &BTreeSet<Scope>) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(serialise(scopes));
    }

    /// Starts publishing recorded changes: each time, the cached aggregates (and the incident
    /// windows' anchors, when they could not be kept in step) are invalidated, subscribers
    /// told, and then the other servers on the same PostgreSQL (`peers`).
    pub fn publish(
        &self,
        cache: AggregateCache,
        windows: IncidentWindows,
        peers: Peers,
    ) -> JoinHandle<()> {
        let hints = self.clone();
        tokio::spawn(async move {
            let closed = hints.closed();
            tokio::pin!(closed);
            loop {
                tokio::select! {
                    () = hints.wake.notified() => {}
                    () = &mut closed => break,
                }
                let Pending {
                    sites,
                    incidents,
                    windows: changes,
                } = std::mem::take(
                    &mut *hints.pending.lock().unwrap_or_else(PoisonError::into_inner),
                );
                cache.invalidate(&KEYS_AFFECTED_BY_REPORT).await;
                if changes.rebuild {
                    windows.invalidate();
                }
                let mut scopes = BTreeSet::from([Scope::Stats, Scope::Sites]);
                scopes.extend(sites.into_iter().map(Scope::Site));
                if incidents {
                    scopes.insert(Scope::Incidents);
                }
                hints.broadcast(&scopes);
                let incidents = changes;
                peers.tell(Change::Data { scopes, incidents }).await;
                tokio::time::sleep(PUBLISH_INTERVAL).await;
            }
        })
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
}
