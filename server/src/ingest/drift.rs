//! Drift events applied to incidents, one per event in the batch's transaction: a drift opens
//! the incident of its dedup key, updates the open one, or re-opens one resolved shortly
//! before; a remediation resolves it.

use app::appliance_keys::ApplianceIdentity;
use app::domain::appliance::{DriftEvent, DriftState};
use chrono::Duration;
use sqlx::types::Json;

use super::connection::{Tx, in_tx};
use super::{DriftOutcome, IncidentOutcome};

/// A drift within this long of its incident's resolution re-opens that incident.
pub const REOPEN_WINDOW_MINUTES: i64 = 30;

/// Applies `event` of `appliance` and says what became of its incident.
pub async fn apply(
    tx: &mut Tx<'_>,
    appliance: &ApplianceIdentity,
    event: &DriftEvent,
) -> Result<IncidentOutcome, sqlx::Error> {
    let dedup_key = format!("{}:{}", event.hostname, event.check_type);
    let (id, action, keys_changed) = match event.state {
        DriftState::Drifted => drifted(tx, appliance, event, &dedup_key).await?,
        DriftState::Remediated => match resolve(tx, appliance.site, event, &dedup_key).await? {
            Some(id) => (Some(id), DriftOutcome::Resolved, false),
            None => (None, DriftOutcome::Unchanged, false),
        },
    };
    Ok(IncidentOutcome {
        dedup_key,
        id,
        action,
        keys_changed,
    })
}

/// The incident's id, what happened to it, and whether it moved in some list order or filter
/// (its severity changed).
async fn drifted(
    tx: &mut Tx<'_>,
    appliance: &ApplianceIdentity,
    event: &DriftEvent,
    dedup_key: &str,
) -> Result<(Option<i64>, DriftOutcome, bool), sqlx::Error> {
    if let Some((id, rank)) = open_incident(tx, appliance.site, dedup_key).await? {
        update(tx, id, event).await?;
        return Ok((
            Some(id),
            DriftOutcome::Updated,
            rank != event.severity.rank(),
        ));
    }
    if let Some(id) = reopen(tx, appliance.site, event, dedup_key).await? {
        return Ok((Some(id), DriftOutcome::Reopened, false));
    }
    let id = open(tx, appliance, event, dedup_key).await?;
    Ok((Some(id), DriftOutcome::Opened, false))
}

/// The unresolved incident of `dedup_key` at `site`, and its severity rank.
async fn open_incident(
    tx: &mut Tx<'_>,
    site: i64,
    dedup_key: &str,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query_as(
            "SELECT id, CAST(severity_rank AS BIGINT) FROM incidents \
             WHERE site_id = $1 AND dedup_key = $2 AND status <> 'resolved'",
        )
        .bind(site)
        .bind(dedup_key)
        .fetch_optional(t)
        .await
    })
}

async fn update(tx: &mut Tx<'_>, id: i64, event: &DriftEvent) -> Result<(), sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query(
            "UPDATE incidents SET severity = $1, severity_rank = $2, details = $3 WHERE id = $4",
        )
        .bind(event.severity.as_str())
        .bind(event.severity.rank())
        .bind(Json(&event.details))
        .bind(id)
        .execute(t)
        .await
        .map(drop)
    })
}

/// Re-opens the incident of `dedup_key` resolved within [`REOPEN_WINDOW_MINUTES`] before the
/// event, if there is one.
async fn reopen(
    tx: &mut Tx<'_>,
    site: i64,
    event: &DriftEvent,
    dedup_key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let cutoff = event
        .detected_at
        .checked_sub_signed(Duration::minutes(REOPEN_WINDOW_MINUTES))
        .ok_or_else(|| {
            sqlx::Error::InvalidArgument(format!(
                "detected_at {} is out of range",
                event.detected_at
            ))
        })?;
    in_tx!(tx, |t| {
        sqlx::query_scalar(
            "UPDATE incidents SET status = 'open', resolved_at = NULL, \
             resolution_tier = NULL, severity = $1, severity_rank = $2, details = $3 \
             WHERE id = (SELECT id FROM incidents WHERE site_id = $4 \
             AND dedup_key = $5 AND status = 'resolved' AND resolved_at >= $6 \
             ORDER BY resolved_at DESC LIMIT 1) RETURNING id",
        )
        .bind(event.severity.as_str())
        .bind(event.severity.rank())
        .bind(Json(&event.details))
        .bind(site)
        .bind(dedup_key)
        .bind(cutoff)
        .fetch_optional(t)
        .await
    })
}

async fn open(
    tx: &mut Tx<'_>,
    appliance: &ApplianceIdentity,
    event: &DriftEvent,
    dedup_key: &str,
) -> Result<i64, sqlx::Error> {
    let category = app::scoring::category_of(&event.check_type).unwrap_or("other");
    in_tx!(tx, |t| {
        sqlx::query_scalar(
            "INSERT INTO incidents (site_id, client_id, appliance_id, hostname, check_type, \
             category, severity, severity_rank, status, dedup_key, details, reported_at) \
             VALUES ($1, (SELECT client_id FROM sites WHERE id = $1), $2, $3, $4, $5, $6, $7, \
             'open', $8, $9, $10) RETURNING id",
        )
        .bind(appliance.site)
        .bind(appliance.id)
        .bind(&event.hostname)
        .bind(&event.check_type)
        .bind(category)
        .bind(event.severity.as_str())
        .bind(event.severity.rank())
        .bind(dedup_key)
        .bind(Json(&event.details))
        .bind(event.detected_at)
        .fetch_one(t)
        .await
    })
}

/// Resolves the unresolved incident of `dedup_key` at `site`, if there is one.
async fn resolve(
    tx: &mut Tx<'_>,
    site: i64,
    event: &DriftEvent,
    dedup_key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query_scalar(
            "UPDATE incidents SET status = 'resolved', resolved_at = $1, resolution_tier = 'L1' \
             WHERE site_id = $2 AND dedup_key = $3 AND status <> 'resolved' RETURNING id",
        )
        .bind(event.detected_at)
        .bind(site)
        .bind(dedup_key)
        .fetch_optional(t)
        .await
    })
}
