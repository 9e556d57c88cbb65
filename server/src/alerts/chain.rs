//! Alerts on a break in a site's evidence chain: its appliance sent bundles that do not
//! continue the chain the server holds (a gap, or a different history). A batch resent after
//! it was stored is not a break. The same broken batch sent again alerts once.

use app::alerts::RuleEvent;
use app::db::Db;
use app::domain::appliance::EvidenceBundle;
use app::services::alerts::AlertEvent;
use chrono::{DateTime, Utc};

use super::outbox::Outbox;
use crate::ingest::{Tx, in_tx};

/// Queues the `chain` rules' alerts about `first`, the first bundle of a batch refused because
/// the chain of `site` ends at `head` (position 0: no bundle yet).
pub async fn broken(
    db: &Db,
    site: i64,
    first: &EvidenceBundle,
    head: (i64, Option<&str>),
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = Tx::begin(db).await?;
    if stored_already(&mut tx, site, first).await? {
        return Ok(());
    }
    let mut outbox = Outbox::new(now);
    let Some(names) = outbox.site(&mut tx, site).await? else {
        return Ok(());
    };
    let routes = outbox
        .routes(&mut tx, names.client_id, RuleEvent::Chain)
        .await?;
    if routes.is_empty() {
        return Ok(());
    }
    let (position, hash) = head;
    let alert = AlertEvent {
        event: "chain.broken".into(),
        rule: String::new(),
        severity: "critical".into(),
        client: names.client,
        clinic: names.clinic,
        site: names.site,
        hostname: "appliance".into(),
        check_type: "evidence_chain".into(),
        incident_id: None,
        at: now,
        detail: format!(
            "a batch claimed position {} after {}; the chain ends at position {position} ({})",
            first.position,
            short(first.prev_hash.as_deref()),
            short(hash),
        ),
        reminder: false,
    };
    let key = format!(
        "chain-{site}-{}-{}",
        first.position,
        first.prev_hash.as_deref().unwrap_or("none")
    );
    outbox
        .queue(&mut tx, &routes, site, &alert, false, &key)
        .await?;
    outbox.flush(&mut tx).await?;
    tx.commit().await
}

/// A hash as the alert names it: its first 12 digits.
fn short(hash: Option<&str>) -> String {
    hash.map_or_else(|| "no bundle".to_string(), |h| h.chars().take(12).collect())
}

/// Whether `bundle` is in the chain already (a batch resent after it was stored).
async fn stored_already(
    tx: &mut Tx<'_>,
    site: i64,
    bundle: &EvidenceBundle,
) -> Result<bool, sqlx::Error> {
    let stored: Option<String> = in_tx!(tx, |t| {
        sqlx::query_scalar(
            "SELECT bundle_hash FROM evidence_bundles WHERE site_id = $1 AND position = $2",
        )
        .bind(site)
        .bind(bundle.position)
        .fetch_optional(t)
        .await
    })?;
    Ok(stored.as_deref() == Some(bundle.bundle_hash.as_str()))
}
