//! The alert sweep: every `--silence-sweep-secs` (30 s), on one server at a time (a lease), it
//! looks for what no single request raises: sites gone silent ([`super::silence`]), sites
//! whose compliance fell below a rule's threshold ([`super::compliance`]), and alerts due again
//! while unresolved ([`super::reminders`]).

use std::time::Duration;

use app::cluster::IncidentChanges;
use app::db::Db;
use chrono::{DateTime, Utc};

use crate::hints::Hints;

const LEASE_NAME: &str = "silence-sweep";

/// Starts the sweep as `holder` (this server's name for the lease), every `interval`, until
/// `closed` resolves.
pub fn start(
    db: Db,
    hints: Hints,
    holder: String,
    interval: Duration,
    closed: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(closed);
        let lease = chrono::Duration::from_std(interval * 3).unwrap_or(chrono::Duration::MAX);
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = &mut closed => break,
            }
            let now = Utc::now();
            match app::db::leases::acquire(&db, LEASE_NAME, &holder, now, lease).await {
                Ok(true) => sweep(&db, &hints, now).await,
                Ok(false) => {}
                Err(err) => tracing::warn!("taking the alert sweep's lease failed: {err}"),
            }
        }
    })
}

/// Runs each step at `now`; one that fails is retried next round.
pub async fn sweep(db: &Db, hints: &Hints, now: DateTime<Utc>) {
    match super::silence::sweep(db, now).await {
        Ok(sites) if !sites.is_empty() => {
            hints.changed(
                sites.iter().map(String::as_str),
                true,
                IncidentChanges::rebuild(),
            );
        }
        Ok(_) => {}
        Err(err) => tracing::warn!("the silence sweep failed; retried next round: {err}"),
    }
    if let Err(err) = super::compliance::sweep(db, now).await {
        tracing::warn!("the compliance sweep failed; retried next round: {err}");
    }
    if let Err(err) = super::reminders::sweep(db, now).await {
        tracing::warn!("the reminder sweep failed; retried next round: {err}");
    }
}
