//! The compliance step of the alert sweep: a `compliance` rule alerts when a site's compliance
//! (the score every page shows) falls below its percentage, again each repeat interval while
//! it stays below, and (if asked) once it is back. Which sites are below each rule is kept in
//! `alert_conditions`, so each crossing alerts once, whichever server sweeps.

use std::collections::HashMap;

use app::alerts::RuleEvent;
use app::db::Db;
use app::services::alerts::AlertEvent;
use chrono::{DateTime, Utc};

use super::outbox::{Outbox, Route};
use crate::ingest::{Tx, in_tx};

/// One sweep at `now`: how many alerts it queued (before limits and windows).
pub async fn sweep(db: &Db, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    if !app::db::alerts::any_rule_for(db, RuleEvent::Compliance).await? {
        return Ok(0);
    }
    let scores =
        app::db::site_scores(db, &app::domain::client_scope::ClientScope::All, now).await?;
    let mut holds: HashMap<(i64, i64), DateTime<Utc>> = app::db::alerts::conditions(db)
        .await?
        .into_iter()
        .map(|c| ((c.rule_id, c.site_id), c.last_alert_at))
        .collect();
    let mut tx = Tx::begin(db).await?;
    let mut outbox = Outbox::new(now);
    let mut queued = 0;
    for score in scores {
        let site = score.site_id.0;
        let Some(names) = outbox.site(&mut tx, site).await? else {
            continue;
        };
        let Some(compliance) = score.compliance else {
            continue;
        };
        let routes = outbox
            .routes(&mut tx, names.client_id, RuleEvent::Compliance)
            .await?;
        for rule in routes.chunk_by(|a, b| a.rule_id == b.rule_id) {
            let held = holds.remove(&(rule[0].rule_id, site));
            let Some(change) = Change::of(&rule[0], compliance, held, now) else {
                continue;
            };
            change.record(&mut tx, rule[0].rule_id, site, now).await?;
            let alert = AlertEvent {
                event: change.event().into(),
                rule: String::new(),
                severity: "high".into(),
                client: names.client.clone(),
                clinic: names.clinic.clone(),
                site: names.site.clone(),
                hostname: "-".into(),
                check_type: "compliance".into(),
                incident_id: None,
                at: now,
                detail: format!(
                    "{compliance:.0}% (threshold {}%)",
                    rule[0].below_percent.unwrap_or_default()
                ),
                reminder: change == Change::Still,
            };
            let key = format!("compliance-{}-{site}-{}", rule[0].rule_id, now.timestamp());
            let resolved = change == Change::Back;
            outbox
                .queue(&mut tx, rule, site, &alert, resolved, &key)
                .await?;
            queued += 1;
        }
    }
    // Holds left over: the rule no longer covers the site (its client took rules of its own,
    // or the site left): dropped without a word.
    for (rule_id, site) in holds.into_keys() {
        Change::Back.record(&mut tx, rule_id, site, now).await?;
    }
    outbox.flush(&mut tx).await?;
    tx.commit().await?;
    Ok(queued)
}

/// What a sweep finds of a rule and a site: below its threshold now, still below with a
/// reminder due, or back above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Below,
    Still,
    Back,
}

impl Change {
    /// The change for a site at `compliance` percent, which the rule has held below its
    /// threshold since its last alert at `held` (if it has).
    fn of(
        rule: &Route,
        compliance: f64,
        held: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<Change> {
        let below = compliance < f64::from(rule.below_percent?);
        let repeat = rule
            .repeat_minutes
            .map(|m| chrono::Duration::minutes(m.into()));
        match (below, held) {
            (true, None) => Some(Change::Below),
            (true, Some(last)) => repeat
                .filter(|every| last + *every <= now)
                .map(|_| Change::Still),
            (false, Some(_)) => Some(Change::Back),
            (false, None) => None,
        }
    }

    fn event(self) -> &'static str {
        match self {
            Change::Below | Change::Still => "compliance.below",
            Change::Back => "compliance.resolved",
        }
    }

    /// Writes the rule's hold on the site: taken, renewed, or dropped.
    async fn record(
        self,
        tx: &mut Tx<'_>,
        rule: i64,
        site: i64,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let (sql, at) = match self {
            Change::Below => (
                "INSERT INTO alert_conditions (rule_id, site_id, since, last_alert_at) \
                 VALUES ($1, $2, $3, $3)",
                Some(now),
            ),
            Change::Still => (
                "UPDATE alert_conditions SET last_alert_at = $3 WHERE rule_id = $1 AND site_id = $2",
                Some(now),
            ),
            Change::Back => (
                "DELETE FROM alert_conditions WHERE rule_id = $1 AND site_id = $2",
                None,
            ),
        };
        in_tx!(tx, |t| {
            let query = sqlx::query(sql).bind(rule).bind(site);
            match at {
                Some(at) => query.bind(at).execute(t).await,
                None => query.execute(t).await,
            }
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(below: i32, repeat: Option<i32>) -> Route {
        Route {
            rule_id: 1,
            rule: "Compliance".into(),
            min_severity: "low".into(),
            notify_resolved: true,
            channel_id: 1,
            delivery: "instant".into(),
            warn_after_minutes: None,
            critical_after_minutes: None,
            below_percent: Some(below),
            repeat_minutes: repeat,
        }
    }

    #[test]
    fn a_crossing_alerts_once_then_repeats_and_clears() {
        let now = Utc::now();
        let hour_ago = now - chrono::Duration::minutes(60);
        let once = rule(80, None);
        assert_eq!(Change::of(&once, 79.5, None, now), Some(Change::Below));
        assert_eq!(Change::of(&once, 79.5, Some(hour_ago), now), None);
        assert_eq!(
            Change::of(&once, 80.0, Some(hour_ago), now),
            Some(Change::Back)
        );
        assert_eq!(Change::of(&once, 95.0, None, now), None);
        let hourly = rule(80, Some(60));
        assert_eq!(
            Change::of(&hourly, 50.0, Some(hour_ago), now),
            Some(Change::Still)
        );
        assert_eq!(
            Change::of(
                &hourly,
                50.0,
                Some(now - chrono::Duration::minutes(59)),
                now
            ),
            None
        );
    }
}
