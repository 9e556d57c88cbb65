//! Alerts written into the outbox in the batch's own transaction: an incident that opens,
//! re-opens or (where a rule asks) resolves gets one delivery per matching rule and channel,
//! committed or lost together with the incident, never one without the other. Past
//! [`ALERTS_PER_HOUR`] in the hour for a rule and channel, an alert is folded into the hour's
//! digest instead.

use std::collections::HashMap;

use app::appliance_keys::ApplianceIdentity;
use app::domain::appliance::DriftEvent;
use app::services::alerts::{ALERTS_PER_HOUR, AlertEvent, DigestPayload};
use app::types::Severity;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::connection::{Tx, in_tx};
use super::{DriftOutcome, IncidentOutcome};

/// A rule's channel that applies to the site's client: (rule id, rule name, least
/// severity, notify on resolve, channel id).
type Route = (i64, String, String, bool, i64);

/// Queues the deliveries `outcomes` (one per event of `events`) call for.
pub async fn enqueue(
    tx: &mut Tx<'_>,
    appliance: &ApplianceIdentity,
    events: &[DriftEvent],
    outcomes: &[IncidentOutcome],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let alerting = || {
        events.iter().zip(outcomes).filter(|(_, o)| {
            matches!(
                o.action,
                DriftOutcome::Opened | DriftOutcome::Reopened | DriftOutcome::Resolved
            )
        })
    };
    if alerting().next().is_none() {
        return Ok(());
    }
    let Some((client_id, clinic, client)) = site_of(tx, appliance.site).await? else {
        return Ok(());
    };
    let routes = routes_for(tx, client_id).await?;
    let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    // Alerts sent this hour per (rule, channel), counted once and then kept up to date here.
    let mut sent_this_hour: HashMap<(i64, i64), i64> = HashMap::new();
    for (event, outcome) in alerting() {
        for (rule_id, rule, least, on_resolve, channel_id) in &routes {
            let least = Severity::parse(least).unwrap_or(Severity::Critical);
            let resolved = outcome.action == DriftOutcome::Resolved;
            if event.severity < least || (resolved && !on_resolve) {
                continue;
            }
            let alert = AlertEvent {
                event: format!("incident.{}", action_name(outcome.action)),
                rule: rule.clone(),
                severity: event.severity.as_str().to_string(),
                client: client.clone(),
                clinic: clinic.clone(),
                site: appliance.site_id.clone(),
                hostname: event.hostname.clone(),
                check_type: event.check_type.clone(),
                incident_id: outcome.id,
                at: event.detected_at,
            };
            let key = format!(
                "incident-{}-{}-{}-rule-{rule_id}-channel-{channel_id}",
                outcome.id.unwrap_or_default(),
                action_name(outcome.action),
                event.detected_at.timestamp_millis(),
            );
            let route = (*rule_id, *channel_id);
            let sent = match sent_this_hour.get(&route) {
                Some(sent) => *sent,
                None => alerts_since(tx, route, hour).await?,
            };
            let digest = if sent >= ALERTS_PER_HOUR {
                Some(hour_digest(tx, route, rule, appliance.site, hour, now).await?)
            } else {
                sent_this_hour.insert(route, sent + 1);
                None
            };
            let new = NewDelivery {
                key: &key,
                route,
                site: appliance.site,
                alert: &alert,
                digest,
            };
            insert(tx, &new, now).await?;
        }
    }
    Ok(())
}

fn action_name(action: DriftOutcome) -> &'static str {
    match action {
        DriftOutcome::Opened => "opened",
        DriftOutcome::Reopened => "reopened",
        DriftOutcome::Resolved => "resolved",
        DriftOutcome::Updated => "updated",
        DriftOutcome::Unchanged => "unchanged",
    }
}

/// The site's client id, clinic name and client name.
async fn site_of(tx: &mut Tx<'_>, site: i64) -> Result<Option<(i64, String, String)>, sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query_as(
            "SELECT s.client_id, s.clinic_name, c.name FROM sites s \
             JOIN clients c ON c.id = s.client_id WHERE s.id = $1",
        )
        .bind(site)
        .fetch_optional(t)
        .await
    })
}

/// The enabled rules of the client, or the defaults when it has none of its own, with their
/// channels.
async fn routes_for(tx: &mut Tx<'_>, client_id: i64) -> Result<Vec<Route>, sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query_as(
            "SELECT r.id, r.name, r.min_severity, r.notify_resolved, l.channel_id \
             FROM alert_rules r JOIN alert_rule_channels l ON l.rule_id = r.id \
             WHERE r.enabled AND (r.client_id = $1 OR (r.client_id IS NULL AND NOT EXISTS \
               (SELECT 1 FROM alert_rules o WHERE o.client_id = $1 AND o.enabled)))",
        )
        .bind(client_id)
        .fetch_all(t)
        .await
    })
}

/// Alerts (not folded, not digests) of `route` queued since `hour` began.
async fn alerts_since(
    tx: &mut Tx<'_>,
    (rule, channel): (i64, i64),
    hour: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM alert_deliveries WHERE rule_id = $1 AND channel_id = $2 \
             AND created_at >= $3 AND kind = 'alert' AND status <> 'folded'",
        )
        .bind(rule)
        .bind(channel)
        .bind(hour)
        .fetch_one(t)
        .await
    })
}

/// The id of the digest of `route` for the hour beginning at `hour`, queued (to be sent when
/// the hour ends) if it was not yet.
async fn hour_digest(
    tx: &mut Tx<'_>,
    (rule_id, channel): (i64, i64),
    rule: &str,
    site: i64,
    hour: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let key = format!(
        "digest-rule-{rule_id}-channel-{channel}-{}",
        hour.timestamp()
    );
    let payload = serde_json::to_string(&DigestPayload {
        rule: rule.to_string(),
    })
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let subject = format!("Alerts from rule {rule:?} held back in the hour");
    in_tx!(tx, |t| {
        sqlx::query(
            "INSERT INTO alert_deliveries (idempotency_key, rule_id, channel_id, site_id, \
             subject, payload, kind, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'digest', 'pending', 0, $7, $8) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&key)
        .bind(rule_id)
        .bind(channel)
        .bind(site)
        .bind(&subject)
        .bind(&payload)
        .bind(hour + TimeDelta::hours(1))
        .bind(now)
        .execute(&mut *t)
        .await?;
        sqlx::query_scalar("SELECT id FROM alert_deliveries WHERE idempotency_key = $1")
            .bind(&key)
            .fetch_one(&mut *t)
            .await
    })
}

/// An alert for the outbox: sent on its own, or folded into `digest`.
struct NewDelivery<'a> {
    key: &'a str,
    route: (i64, i64),
    site: i64,
    alert: &'a AlertEvent,
    digest: Option<i64>,
}

async fn insert(
    tx: &mut Tx<'_>,
    new: &NewDelivery<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(new.alert).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let status = if new.digest.is_some() {
        "folded"
    } else {
        "pending"
    };
    in_tx!(tx, |t| {
        sqlx::query(
            "INSERT INTO alert_deliveries (idempotency_key, rule_id, channel_id, site_id, \
             incident_id, subject, payload, kind, status, folded_into, attempts, \
             next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'alert', $8, $9, 0, $10, $10) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(new.key)
        .bind(new.route.0)
        .bind(new.route.1)
        .bind(new.site)
        .bind(new.alert.incident_id)
        .bind(new.alert.subject())
        .bind(&payload)
        .bind(status)
        .bind(new.digest)
        .bind(now)
        .execute(t)
        .await
        .map(drop)
    })
}
