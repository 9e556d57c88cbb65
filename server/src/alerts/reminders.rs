//! Reminders: a rule with a repeat interval alerts again about an incident (a failing check, a
//! silent site) for as long as it stays unresolved, each time the interval has passed since
//! its last alert. A reminder goes through the outbox like any alert, so maintenance windows
//! and the hourly limit hold for it too.

use app::db::Db;
use app::services::alerts::AlertEvent;
use chrono::{DateTime, Utc};

use super::outbox::{Outbox, routes_of_rule};
use crate::ingest::Tx;

/// Queues every reminder due at `now`, in one transaction; how many incidents had one.
pub async fn sweep(db: &Db, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let due: Vec<_> = app::db::alerts::unresolved_alerts(db)
        .await?
        .into_iter()
        .filter(|last| {
            last.created_at + chrono::Duration::minutes(last.repeat_minutes.into()) <= now
        })
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let mut tx = Tx::begin(db).await?;
    let mut outbox = Outbox::new(now);
    for last in &due {
        let Ok(alert) = serde_json::from_str::<AlertEvent>(&last.payload) else {
            tracing::warn!(
                "incident {}: its last alert cannot be read",
                last.incident_id
            );
            continue;
        };
        let alert = AlertEvent {
            reminder: true,
            at: now,
            ..alert
        };
        let routes = routes_of_rule(&mut tx, last.rule_id).await?;
        let key = format!(
            "reminder-{}-{}-{}",
            last.incident_id,
            last.rule_id,
            last.created_at.timestamp()
        );
        outbox
            .queue(&mut tx, &routes, last.site_id, &alert, false, &key)
            .await?;
    }
    outbox.flush(&mut tx).await?;
    tx.commit().await?;
    Ok(due.len())
}
