//! The silence sweep: every `--silence-sweep-secs` (30 s), on one server at a time (a lease), each site
//! whose appliance stopped checking in gets an incident `appliance_silent`: high once the
//! site is stale, raised to critical once it is offline (the thresholds of the site's status,
//! so every page agrees), and resolved at the first sweep after its next check-in. Each step
//! queues its alerts on the `silent` rules in the same transaction.

use std::time::Duration;

use app::alerts::RuleEvent;
use app::cluster::IncidentChanges;
use app::db::Db;
use app::scoring::{OFFLINE_AFTER_SECONDS, STALE_AFTER_SECONDS};
use app::services::alerts::AlertEvent;
use app::types::Severity;
use chrono::{DateTime, Utc};

use super::outbox::Outbox;
use crate::hints::Hints;
use crate::ingest::{Tx, in_tx};

/// The incidents' check type and dedup key.
pub const CHECK_TYPE: &str = "appliance_silent";
const LEASE_NAME: &str = "silence-sweep";

/// What a sweep does to one site's silence incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Open(Severity),
    Raise(i64, Severity),
    Resolve(i64),
}

impl Step {
    /// The step for a site last heard from `age_seconds` ago whose open silence incident (if
    /// any) has `open`: (id, severity rank).
    fn for_site(age_seconds: i64, open: Option<(i64, i64)>) -> Option<Step> {
        let stage = if age_seconds >= OFFLINE_AFTER_SECONDS {
            Some(Severity::Critical)
        } else if age_seconds >= STALE_AFTER_SECONDS {
            Some(Severity::High)
        } else {
            None
        };
        match (stage, open) {
            (Some(severity), None) => Some(Step::Open(severity)),
            (Some(severity), Some((id, rank))) if severity.rank() > rank => {
                Some(Step::Raise(id, severity))
            }
            (None, Some((id, _))) => Some(Step::Resolve(id)),
            _ => None,
        }
    }
}

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
                Ok(true) => match sweep(&db, now).await {
                    Ok(sites) if !sites.is_empty() => {
                        hints.changed(
                            sites.iter().map(String::as_str),
                            true,
                            IncidentChanges::rebuild(),
                        );
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!("the silence sweep failed; retried next round: {err}")
                    }
                },
                Ok(false) => {}
                Err(err) => tracing::warn!("taking the silence sweep's lease failed: {err}"),
            }
        }
    })
}

/// One sweep at `now`: the public ids of the sites whose silence incident changed.
pub async fn sweep(db: &Db, now: DateTime<Utc>) -> Result<Vec<String>, sqlx::Error> {
    let stale_before = now - chrono::Duration::seconds(STALE_AFTER_SECONDS);
    let states = app::db::alerts::silence_states(db, CHECK_TYPE, stale_before).await?;
    let mut changed = Vec::new();
    for (site, slug, last_checkin, open_id, open_rank) in states {
        let age = (now - last_checkin).num_seconds();
        let Some(step) = Step::for_site(age, open_id.zip(open_rank)) else {
            continue;
        };
        let mut tx = Tx::begin(db).await?;
        apply(&mut tx, site, &slug, last_checkin, step, now).await?;
        tx.commit().await?;
        changed.push(slug);
    }
    Ok(changed)
}

async fn apply(
    tx: &mut Tx<'_>,
    site: i64,
    slug: &str,
    last_checkin: DateTime<Utc>,
    step: Step,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (id, severity, event) = match step {
        Step::Open(severity) => (
            open(tx, site, severity, last_checkin, now).await?,
            severity,
            "opened",
        ),
        Step::Raise(id, severity) => {
            raise(tx, id, severity).await?;
            (id, severity, "raised")
        }
        Step::Resolve(id) => {
            resolve(tx, id, now).await?;
            (id, Severity::Critical, "resolved")
        }
    };
    let mut outbox = Outbox::new(now);
    let Some((client_id, clinic, client)) = outbox.site(tx, site).await? else {
        return Ok(());
    };
    let routes = outbox.routes(tx, client_id, RuleEvent::Silent).await?;
    let alert = AlertEvent {
        event: format!("site.silent.{event}"),
        rule: String::new(),
        severity: severity.as_str().to_string(),
        client,
        clinic,
        site: slug.to_string(),
        hostname: "appliance".into(),
        check_type: CHECK_TYPE.into(),
        incident_id: Some(id),
        at: now,
    };
    let key = format!("silence-{id}-{event}-{}", severity.as_str());
    let resolved = matches!(step, Step::Resolve(_));
    outbox
        .queue(tx, &routes, site, &alert, resolved, &key)
        .await
}

async fn open(
    tx: &mut Tx<'_>,
    site: i64,
    severity: Severity,
    last_checkin: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let details = sqlx::types::Json(serde_json::json!({
        "expected": format!("a check-in at least every {} minutes", STALE_AFTER_SECONDS / 60),
        "actual": format!("no check-in since {}", last_checkin.format("%Y-%m-%d %H:%M UTC")),
        "last_checkin_at": last_checkin,
    }));
    in_tx!(tx, |t| {
        sqlx::query_scalar(
            "INSERT INTO incidents (site_id, hostname, check_type, category, severity, \
             severity_rank, status, dedup_key, details, reported_at) \
             VALUES ($1, 'appliance', $2, 'availability', $3, $4, 'open', $2, $5, $6) RETURNING id",
        )
        .bind(site)
        .bind(CHECK_TYPE)
        .bind(severity.as_str())
        .bind(severity.rank())
        .bind(&details)
        .bind(now)
        .fetch_one(t)
        .await
    })
}

async fn raise(tx: &mut Tx<'_>, id: i64, severity: Severity) -> Result<(), sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query("UPDATE incidents SET severity = $1, severity_rank = $2 WHERE id = $3")
            .bind(severity.as_str())
            .bind(severity.rank())
            .bind(id)
            .execute(t)
            .await
            .map(drop)
    })
}

async fn resolve(tx: &mut Tx<'_>, id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query(
            "UPDATE incidents SET status = 'resolved', resolved_at = $1, resolution_tier = 'L1' \
             WHERE id = $2 AND status <> 'resolved'",
        )
        .bind(now)
        .bind(id)
        .execute(t)
        .await
        .map(drop)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_staged_raised_and_cleared() {
        let minutes = |m: i64| m * 60;
        assert_eq!(Step::for_site(minutes(14), None), None);
        assert_eq!(
            Step::for_site(minutes(15), None),
            Some(Step::Open(Severity::High))
        );
        assert_eq!(
            Step::for_site(minutes(61), None),
            Some(Step::Open(Severity::Critical))
        );
        let high = Some((7, Severity::High.rank()));
        assert_eq!(Step::for_site(minutes(30), high), None);
        assert_eq!(
            Step::for_site(minutes(60), high),
            Some(Step::Raise(7, Severity::Critical))
        );
        let critical = Some((7, Severity::Critical.rank()));
        assert_eq!(Step::for_site(minutes(90), critical), None);
        assert_eq!(Step::for_site(0, critical), Some(Step::Resolve(7)));
    }
}
