//! Housekeeping while the server runs: every [`INTERVAL`], rows that can no longer be used are
//! deleted, so tables written on every sign-in or report do not grow without end, and the
//! day's compliance snapshots are taken; once a day, check results past the retention are
//! pruned.

use std::time::Duration;

use app::db::Db;
use app::db::{accounts, audit_chain, history};
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

/// How often check results past the retention are looked for: the search walks the table.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::days(1);

/// Check results deleted per statement, and the pause between statements.
const PRUNE_BATCH: i64 = 5_000;
const PRUNE_PAUSE: Duration = Duration::from_millis(50);

/// Starts the housekeeping, for as long as the server runs; check results are kept for
/// `retention`. A failed step is logged and retried at the next interval.
pub fn start(db: Db, retention: chrono::Duration) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned_at = None;
        loop {
            every.tick().await;
            let now = Utc::now();
            log(
                "took",
                "daily compliance snapshots",
                history::snapshot_today(&db, now).await,
            );
            if pruned_at.is_none_or(|at| now - at >= PRUNE_EVERY) {
                pruned_at = Some(now);
                log(
                    "pruned",
                    "check results past the retention",
                    prune(&db, now - retention).await,
                );
            }
            log(
                "purged",
                "expired or idle sessions",
                accounts::purge_sessions(&db, now).await,
            );
            log(
                "purged",
                "remembered report ids",
                app::db::appliances::purge_report_ids(&db, now - REPORT_ID_RETENTION).await,
            );
        }
    });
}

/// Deletes every check result older than `before`, a batch at a time with a pause between.
async fn prune(db: &Db, before: chrono::DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = history::prune_check_results(db, before, PRUNE_BATCH).await?;
        total += deleted;
        if deleted < PRUNE_BATCH as u64 {
            return Ok(total);
        }
        tokio::time::sleep(PRUNE_PAUSE).await;
    }
}

/// Logs what a step did (`done`: "purged", "took", ...) to how many of `what`.
fn log(done: &str, what: &str, result: Result<u64, sqlx::Error>) {
    match result {
        Ok(0) => {}
        Ok(count) => tracing::info!("{done} {count} {what}"),
        Err(err) => tracing::warn!("{done} {what}: failed; retried later: {err}"),
    }
}
