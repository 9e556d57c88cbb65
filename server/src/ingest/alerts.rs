//! The alerts of a batch's drift: an incident that opens, re-opens or (where a rule asks)
//! resolves is queued in the batch's own transaction (`crate::alerts::outbox`).

use app::alerts::RuleEvent;
use app::appliance_keys::ApplianceIdentity;
use app::domain::appliance::DriftEvent;
use app::services::alerts::AlertEvent;

use super::connection::Tx;
use super::{DriftOutcome, IncidentOutcome};
use crate::alerts::outbox::Outbox;

/// Queues the alerts `outcomes` (one per event of `events`) call for, in the batch's `outbox`.
pub async fn enqueue(
    tx: &mut Tx<'_>,
    outbox: &mut Outbox,
    appliance: &ApplianceIdentity,
    events: &[DriftEvent],
    outcomes: &[IncidentOutcome],
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
    let Some(names) = outbox.site(tx, appliance.site).await? else {
        return Ok(());
    };
    let routes = outbox
        .routes(tx, names.client_id, RuleEvent::Incident)
        .await?;
    if routes.is_empty() {
        return Ok(());
    }
    for (event, outcome) in alerting() {
        let action = action_name(outcome.action);
        let alert = AlertEvent {
            event: format!("incident.{action}"),
            rule: String::new(),
            severity: event.severity.as_str().to_string(),
            client: names.client.clone(),
            clinic: names.clinic.clone(),
            site: appliance.site_id.clone(),
            hostname: event.hostname.clone(),
            check_type: event.check_type.clone(),
            incident_id: outcome.id,
            at: event.detected_at,
            detail: String::new(),
            reminder: false,
        };
        let key = format!(
            "incident-{}-{action}-{}",
            outcome.id.unwrap_or_default(),
            event.detected_at.timestamp_millis(),
        );
        let resolved = outcome.action == DriftOutcome::Resolved;
        outbox
            .queue(tx, &routes, appliance.site, &alert, resolved, &key)
            .await?;
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
