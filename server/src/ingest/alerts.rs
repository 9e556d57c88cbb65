//! Alerts written into the outbox in the batch's own transaction: an incident that opens,
//! re-opens or (where a rule asks) resolves gets one delivery per matching rule and channel,
//! committed or lost together with the incident, never one without the other.

use app::appliance_keys::ApplianceIdentity;
use app::domain::appliance::DriftEvent;
use app::services::alerts::AlertEvent;
use app::types::Severity;
use chrono::{DateTime, Utc};

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
            insert(tx, &key, *rule_id, *channel_id, appliance.site, &alert, now).await?;
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

async fn insert(
    tx: &mut Tx<'_>,
    key: &str,
    rule_id: i64,
    channel_id: i64,
    site: i64,
    alert: &AlertEvent,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(alert).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    in_tx!(tx, |t| {
        sqlx::query(
            "INSERT INTO alert_deliveries (idempotency_key, rule_id, channel_id, site_id, \
             incident_id, subject, payload, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(key)
        .bind(rule_id)
        .bind(channel_id)
        .bind(site)
        .bind(alert.incident_id)
        .bind(alert.subject())
        .bind(payload)
        .bind(now)
        .execute(t)
        .await
        .map(drop)
    })
}
