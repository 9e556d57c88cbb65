//! Housekeeping while the server runs: rows that can no longer be used are deleted every
//! [`INTERVAL`], so tables written on every sign-in or report do not grow without end.

use std::time::Duration;

use app::db::Db;
use app::db::{accounts, audit_chain};
use chrono::Utc;

/// How often the purges run.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// How long a report's `report_id` is remembered: an appliance retries within minutes, and
/// one that comes back from a week offline sends new reports.
pub const REPORT_ID_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// How often new audit entries are sealed into the hash chain: how long an entry stays
/// editable without a trace.
pub const SEAL_INTERVAL: Duration = Duration::from_secs(5);

/// Entries sealed per transaction; a backlog takes several rounds, back to back.
const SEAL_BATCH: i64 = 1_000;

/// Seals new audit entries into the chain (`app::db::audit_chain`) every [`SEAL_INTERVAL`],
/// for as long as the server runs; servers sharing a PostgreSQL take turns.
pub fn start_sealing(db: Db) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SEAL_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            loop {
                match audit_chain::seal(&db, SEAL_BATCH).await {
                    Ok(sealed) if sealed as i64 == SEAL_BATCH => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!("sealing the audit log failed; retried later: {err}");
                        break;
                    }
                }
            }
        }
    });
}

/// Starts the purges, for as long as the server runs. A failed purge is logged and retried at
/// the next interval.
pub fn start(db: Db) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = Utc::now();
            log(
                "expired or idle sessions",
                accounts::purge_sessions(&db, now).await,
            );
            log(
                "remembered report ids",
                app::db::appliances::purge_report_ids(&db, now - REPORT_ID_RETENTION).await,
            );
        }
    });
}

fn log(what: &str, purged: Result<u64, sqlx::Error>) {
    match purged {
        Ok(0) => {}
        Ok(count) => tracing::info!("purged {count} {what}"),
        Err(err) => tracing::warn!("purging {what} failed; retried later: {err}"),
    }
}
