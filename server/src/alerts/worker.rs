//! The delivery worker: claims due deliveries from the outbox, sends each, and records the
//! answer; a failure is tried again after a capped exponential wait with full jitter, and
//! after the last attempt the delivery is dead (shown in `/admin/alerts`, retryable).
//!
//! Claims are leased (`LEASE`), so a server killed mid-send leaves its claims to be sent
//! again once the lease runs out: at least once, with the delivery's idempotency key on
//! every attempt. On PostgreSQL several servers claim side by side (`FOR UPDATE SKIP LOCKED`).

use std::time::Duration;

use app::db::Db;
use app::db::alerts::{self as store, Claimed};
use app::services::alerts::send::{ATTEMPT_TIMEOUT, AlertSender};
use app::services::alerts::{AlertEvent, DigestPayload, Message, digest, next_attempt};
use chrono::Utc;
use futures::StreamExt;

/// How often the outbox is looked at when it was empty.
const POLL: Duration = Duration::from_millis(250);
/// Deliveries claimed per round.
const BATCH: i64 = 32;
/// Deliveries of a round sent at once.
const CONCURRENT: usize = 8;
/// How long a claim holds: longer than an attempt can take.
const LEASE: chrono::Duration = chrono::Duration::seconds(ATTEMPT_TIMEOUT.as_secs() as i64 * 3);

/// Starts the worker; it stops when `closed` resolves.
pub fn start(
    db: Db,
    sender: AlertSender,
    closed: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(closed);
        loop {
            let claimed = match store::claim_due(&db, Utc::now(), LEASE, BATCH).await {
                Ok(claimed) => deliver_all(&db, &sender, claimed).await,
                Err(err) => {
                    tracing::warn!("claiming alert deliveries failed; retried shortly: {err}");
                    0
                }
            };
            // A full round may have left more due: look again at once.
            if claimed < BATCH as usize {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = &mut closed => break,
                }
            }
        }
    })
}

/// Sends every claimed delivery and records each outcome; how many were claimed.
async fn deliver_all(db: &Db, sender: &AlertSender, claimed: Vec<Claimed>) -> usize {
    let count = claimed.len();
    futures::stream::iter(claimed)
        .for_each_concurrent(CONCURRENT, |delivery| deliver(db, sender, delivery))
        .await;
    count
}

async fn deliver(db: &Db, sender: &AlertSender, delivery: Claimed) {
    let outcome = match message_of(db, &delivery).await {
        Ok(message) => {
            sender
                .send(&delivery.channel, &message, &delivery.idempotency_key)
                .await
        }
        Err(err) => Err(err),
    };
    let now = Utc::now();
    let recorded = match &outcome {
        Ok(_) => {
            metrics::counter!("posture_alert_deliveries_total", "outcome" => "sent").increment(1);
            store::mark_sent(db, delivery.id, now).await
        }
        Err(error) => {
            let retry_at = next_attempt(delivery.attempts, now, &mut rand::rng());
            let outcome = if retry_at.is_some() { "retry" } else { "dead" };
            metrics::counter!("posture_alert_deliveries_total", "outcome" => outcome).increment(1);
            tracing::warn!(
                "alert delivery {} to {:?} failed (attempt {}): {error}",
                delivery.id,
                delivery.channel.name,
                delivery.attempts
            );
            store::mark_failed(db, delivery.id, error, retry_at).await
        }
    };
    if let Err(err) = recorded {
        // The lease runs out and the delivery is claimed again: sent twice at worst, with
        // the same idempotency key.
        tracing::warn!("recording alert delivery {} failed: {err}", delivery.id);
    }
}

/// The message a delivery sends: its alert, or the digest of the alerts folded into it.
async fn message_of(db: &Db, delivery: &Claimed) -> Result<Message, String> {
    if delivery.digest {
        let payload: DigestPayload = serde_json::from_str(&delivery.payload)
            .map_err(|e| format!("the stored digest cannot be read: {e}"))?;
        let subjects = store::folded_subjects(db, delivery.id)
            .await
            .map_err(|e| format!("the digest's alerts cannot be read: {e}"))?;
        return Ok(digest(&payload, &subjects));
    }
    serde_json::from_str::<AlertEvent>(&delivery.payload)
        .map(|event| event.message())
        .map_err(|e| format!("the stored alert cannot be read: {e}"))
}
