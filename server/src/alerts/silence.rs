//! The silence step of the alert sweep (`super::sweep`): each site whose appliance stopped
//! checking in gets an incident `appliance_silent`: high once the site is stale, raised to
//! critical once it is offline (the thresholds of the site's status, so every page agrees),
//! and resolved at the first sweep after its next check-in.
//!
//! Each `silent` rule alerts on its own thresholds while the incident is open: a warning after
//! its first, a critical alert after its second, each once per incident, and a clearing notice
//! to the channels it alerted. All in one transaction per sweep.

use std::collections::HashSet;

use app::alerts::RuleEvent;
use app::db::Db;
use app::scoring::{OFFLINE_AFTER_SECONDS, STALE_AFTER_SECONDS};
use app::services::alerts::AlertEvent;
use app::types::Severity;
use chrono::{DateTime, Utc};

use super::outbox::{Outbox, Route};
use crate::ingest::{Tx, in_tx};

/// The incidents' check type and dedup key.
pub const CHECK_TYPE: &str = "appliance_silent";

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

/// The alert a silent rule owes a site silent for `age_minutes`: critical past its second
/// threshold, a warning (high) past its first, else none.
fn rule_stage(route: &Route, age_minutes: i64) -> Option<Severity> {
    let warn = route
        .warn_after_minutes
        .map_or(STALE_AFTER_SECONDS / 60, i64::from);
    match route.critical_after_minutes.map(i64::from) {
        Some(critical) if age_minutes >= critical => Some(Severity::Critical),
        _ if age_minutes >= warn => Some(Severity::High),
        _ => None,
    }
}

/// One sweep at `now`: the public ids of the sites whose silence incident changed.
pub async fn sweep(db: &Db, now: DateTime<Utc>) -> Result<Vec<String>, sqlx::Error> {
    let stale_before = now - chrono::Duration::seconds(STALE_AFTER_SECONDS);
    let states = app::db::alerts::silence_states(db, CHECK_TYPE, stale_before).await?;
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let alerted: HashSet<String> = app::db::alerts::open_incident_alert_keys(db, CHECK_TYPE)
        .await?
        .into_iter()
        .collect();
    let mut tx = Tx::begin(db).await?;
    let mut outbox = Outbox::new(now);
    let mut changed = Vec::new();
    for (site, slug, last_checkin, open_id, open_rank) in states {
        let age = (now - last_checkin).num_seconds();
        let step = Step::for_site(age, open_id.zip(open_rank));
        let silence = Silence {
            site,
            slug: &slug,
            alerted: &alerted,
            now,
        };
        let open_incident = match step {
            Some(Step::Open(severity)) => {
                Some(open(&mut tx, site, severity, last_checkin, now).await?)
            }
            Some(Step::Raise(id, severity)) => {
                raise(&mut tx, id, severity).await?;
                Some(id)
            }
            Some(Step::Resolve(id)) => {
                resolve(&mut tx, id, now).await?;
                silence.queue_cleared(&mut tx, &mut outbox, id).await?;
                None
            }
            None => open_id,
        };
        if let Some(id) = open_incident {
            silence
                .queue_stages(&mut tx, &mut outbox, id, age / 60)
                .await?;
        }
        if step.is_some() {
            changed.push(slug);
        }
    }
    outbox.flush(&mut tx).await?;
    tx.commit().await?;
    Ok(changed)
}

/// One silent site in a sweep, with the alert keys already queued for open silence incidents.
struct Silence<'a> {
    site: i64,
    slug: &'a str,
    alerted: &'a HashSet<String>,
    now: DateTime<Utc>,
}

impl Silence<'_> {
    /// The site's silent rules and the alert each would send.
    async fn routes(
        &self,
        tx: &mut Tx<'_>,
        outbox: &mut Outbox,
        event: &str,
        incident: i64,
    ) -> Result<Option<(Vec<Route>, AlertEvent)>, sqlx::Error> {
        let Some(names) = outbox.site(tx, self.site).await? else {
            return Ok(None);
        };
        let routes = outbox
            .routes(tx, names.client_id, RuleEvent::Silent)
            .await?;
        let alert = AlertEvent {
            event: format!("site.silent.{event}"),
            rule: String::new(),
            severity: Severity::Critical.as_str().to_string(),
            client: names.client,
            clinic: names.clinic,
            site: self.slug.to_string(),
            hostname: "appliance".into(),
            check_type: CHECK_TYPE.into(),
            incident_id: Some(incident),
            at: self.now,
            detail: String::new(),
            reminder: false,
        };
        Ok(Some((routes, alert)))
    }

    /// Whether `route` was sent the alert whose key starts `prefix`.
    fn was_sent(&self, prefix: &str, route: &Route) -> bool {
        self.alerted.contains(&format!(
            "{prefix}-rule-{}-channel-{}",
            route.rule_id, route.channel_id
        ))
    }

    /// Queues, per rule, the stage it has reached and not yet alerted on.
    async fn queue_stages(
        &self,
        tx: &mut Tx<'_>,
        outbox: &mut Outbox,
        incident: i64,
        age_minutes: i64,
    ) -> Result<(), sqlx::Error> {
        let Some((routes, alert)) = self.routes(tx, outbox, "opened", incident).await? else {
            return Ok(());
        };
        for (severity, stage, event) in [
            (Severity::High, "stale", "site.silent.opened"),
            (Severity::Critical, "offline", "site.silent.raised"),
        ] {
            let key = format!("silence-{incident}-{stage}");
            let due: Vec<Route> = routes
                .iter()
                .filter(|r| rule_stage(r, age_minutes) == Some(severity) && !self.was_sent(&key, r))
                .cloned()
                .collect();
            let alert = AlertEvent {
                event: event.into(),
                severity: severity.as_str().into(),
                detail: app::alerts::minutes_in_words(
                    i32::try_from(age_minutes).unwrap_or(i32::MAX),
                ),
                ..alert.clone()
            };
            outbox
                .queue(tx, &due, self.site, &alert, false, &key)
                .await?;
        }
        Ok(())
    }

    /// Queues the clearing notice to the channels that were alerted about the incident.
    async fn queue_cleared(
        &self,
        tx: &mut Tx<'_>,
        outbox: &mut Outbox,
        incident: i64,
    ) -> Result<(), sqlx::Error> {
        let Some((routes, alert)) = self.routes(tx, outbox, "resolved", incident).await? else {
            return Ok(());
        };
        let alerted: Vec<Route> = routes
            .into_iter()
            .filter(|r| {
                ["stale", "offline"]
                    .iter()
                    .any(|stage| self.was_sent(&format!("silence-{incident}-{stage}"), r))
            })
            .collect();
        let key = format!("silence-{incident}-resolved");
        outbox
            .queue(tx, &alerted, self.site, &alert, true, &key)
            .await
    }
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
            "INSERT INTO incidents (site_id, client_id, hostname, check_type, category, \
             severity, severity_rank, status, dedup_key, details, reported_at) \
             VALUES ($1, (SELECT client_id FROM sites WHERE id = $1), 'appliance', $2, \
             'availability', $3, $4, 'open', $2, $5, $6) RETURNING id",
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

    fn silent_rule(warn: Option<i32>, critical: Option<i32>) -> Route {
        Route {
            rule_id: 1,
            rule: "Silence".into(),
            min_severity: "low".into(),
            notify_resolved: true,
            channel_id: 1,
            delivery: "instant".into(),
            warn_after_minutes: warn,
            critical_after_minutes: critical,
            below_percent: None,
            repeat_minutes: None,
        }
    }

    #[test]
    fn each_rule_alerts_on_its_own_thresholds() {
        let rule = silent_rule(Some(30), Some(120));
        assert_eq!(rule_stage(&rule, 29), None);
        assert_eq!(rule_stage(&rule, 30), Some(Severity::High));
        assert_eq!(rule_stage(&rule, 119), Some(Severity::High));
        assert_eq!(rule_stage(&rule, 120), Some(Severity::Critical));
        let warning_only = silent_rule(Some(20), None);
        assert_eq!(rule_stage(&warning_only, 600), Some(Severity::High));
    }

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
