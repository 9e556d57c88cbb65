//! Applying what the other servers on the same PostgreSQL tell this one (`app::cluster`): a
//! listener on the notification channel that reconnects by itself and, after any gap in which
//! notices may have been missed, drops everything it holds in memory and tells its dashboards
//! to refresh everything. On SQLite there are no other servers and nothing is started.

use std::collections::BTreeSet;
use std::time::Duration;

use app::appliance_keys::KeyCache;
use app::auth::signed_in::SignedIn;
use app::cache::{AggregateCache, KEYS_AFFECTED_BY_REPORT, KEYS_AFFECTED_BY_SITE_CHANGE};
use app::cluster::{CHANNEL, Change, IncidentChanges, Notice, Peers};
use app::db::{Db, IncidentWindows};
use app::domain::scope::Scope;
use sqlx::postgres::PgListener;

use crate::hints::Hints;

/// Wait before connecting again after the listener's connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// What this server holds in memory that the others' changes make stale.
#[derive(Clone)]
pub struct Targets {
    pub cache: AggregateCache,
    pub windows: IncidentWindows,
    pub keys: KeyCache,
    pub hints: Hints,
    pub signed_in: SignedIn,
}

/// Starts listening for the other servers' notices (PostgreSQL only); ends with the server.
pub fn listen(peers: Peers, targets: Targets) {
    let Db::Postgres(pool) = peers.db().clone() else {
        return;
    };
    tokio::spawn(async move {
        let closed = targets.hints.closed();
        tokio::select! {
            () = run(pool, peers.origin(), &targets) => {}
            () = closed => {}
        }
    });
}

async fn run(pool: sqlx::PgPool, origin: u64, targets: &Targets) {
    let mut connected_before = false;
    loop {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!("cluster: cannot listen for other servers' changes: {err}");
                tokio::time::sleep(RECONNECT_AFTER).await;
                continue;
            }
        };
        if connected_before {
            missed(targets).await;
        }
        connected_before = true;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    match serde_json::from_str::<Notice>(notification.payload()) {
                        Ok(notice) if notice.origin != origin => {
                            let lag_ms = chrono::Utc::now().timestamp_millis() - notice.sent_ms;
                            metrics::histogram!("posture_cluster_notice_lag_seconds")
                                .record(lag_ms.max(0) as f64 / 1000.0);
                            apply(targets, notice.change).await;
                        }
                        Ok(_) => {}
                        Err(err) => tracing::warn!("cluster: an unreadable notice: {err}"),
                    }
                }
                // The connection was lost (the next call reconnects): notices may be missed.
                Ok(None) => {
                    metrics::counter!("posture_cluster_reconnects_total").increment(1);
                    missed(targets).await;
                }
                Err(err) => {
                    tracing::warn!("cluster: the listener failed: {err}");
                    tokio::time::sleep(RECONNECT_AFTER).await;
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Brings this server's memory in step with another server's change.
pub async fn apply(targets: &Targets, change: Change) {
    match change {
        Change::Data { scopes, incidents } => {
            if incidents.rebuild || scopes.contains(&Scope::Everything) {
                targets.windows.invalidate();
            } else {
                targets.windows.note_inserted(&incidents.inserted);
                targets.windows.note_changed(&incidents.changed);
            }
            // The leading parts of a change split over several notices name no scope.
            if !scopes.is_empty() {
                targets.cache.forget_here(&KEYS_AFFECTED_BY_REPORT).await;
                targets.hints.broadcast(&scopes);
            }
        }
        Change::SiteChanged { site } => {
            targets.keys.forget_site(site);
            targets
                .cache
                .forget_here(&KEYS_AFFECTED_BY_SITE_CHANGE)
                .await;
            targets
                .hints
                .broadcast(&BTreeSet::from([Scope::Sites, Scope::Stats]));
        }
        Change::KeysRevoked { appliance } => targets.keys.forget_appliance(appliance),
        Change::SessionEnded { .. } | Change::UserChanged { .. } => {
            targets.signed_in.apply(&change);
        }
    }
}

/// Notices may have been missed: whatever they said, this server now knows nothing for sure.
async fn missed(targets: &Targets) {
    tracing::info!("cluster: reconnected; dropping what may have changed meanwhile");
    targets.keys.forget_all();
    targets.signed_in.forget_all();
    let scopes = BTreeSet::from([Scope::Everything]);
    let incidents = IncidentChanges::rebuild();
    apply(targets, Change::Data { scopes, incidents }).await;
    targets
        .cache
        .forget_here(&KEYS_AFFECTED_BY_SITE_CHANGE)
        .await;
}
