//! Alert channels, rules and the outbox of deliveries.

use chrono::{DateTime, Utc};

use super::Db;
use super::accounts::{NewAudit, insert_audit};
use super::scope::sites_in;
use crate::alerts::{
    AlertChannel, AlertRule, ChannelInput, ChannelKind, DeliveryRow, DeliveryStatus, RuleDelivery,
    RuleEvent, RuleInput, RuleOptions,
};
use crate::domain::client_scope::ClientScope;
use crate::on_db;
use crate::types::Severity;

/// An `alert_channels` row as stored.
#[derive(sqlx::FromRow)]
struct ChannelRecord {
    id: i64,
    name: String,
    kind: String,
    target: String,
    secret: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<ChannelRecord> for AlertChannel {
    type Error = sqlx::Error;

    fn try_from(row: ChannelRecord) -> Result<Self, sqlx::Error> {
        Ok(AlertChannel {
            kind: ChannelKind::parse(&row.kind)
                .ok_or_else(|| unknown("channel", row.id, &row.kind))?,
            id: row.id,
            name: row.name,
            target: row.target,
            secret: row.secret,
            created_at: row.created_at,
        })
    }
}

const CHANNEL_COLUMNS: &str = "id, name, kind, target, secret, created_at";

pub async fn list_channels(db: &Db) -> Result<Vec<AlertChannel>, sqlx::Error> {
    let sql = format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels ORDER BY name");
    let rows: Vec<ChannelRecord> = on_db!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
    rows.into_iter().map(AlertChannel::try_from).collect()
}

pub async fn find_channel(db: &Db, id: i64) -> Result<Option<AlertChannel>, sqlx::Error> {
    let sql = format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE id = $1");
    let row: Option<ChannelRecord> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    row.map(AlertChannel::try_from).transpose()
}

pub async fn channel_name_taken(db: &Db, name: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM alert_channels WHERE lower(name) = lower($1)"
    )
    .bind(name)
    .fetch_optional(pool)
    .await?);
    Ok(found.is_some())
}

pub async fn insert_channel(
    db: &Db,
    channel: &ChannelInput,
    secret: &str,
    audit: &NewAudit,
) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_channels (name, kind, target, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(channel.name.trim())
        .bind(channel.kind.as_str())
        .bind(channel.target.trim())
        .bind(secret)
        .bind(audit.at)
        .fetch_one(&mut *tx)
        .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    })
}

/// How many of `ids` are channels.
pub async fn count_channels(db: &Db, ids: &[i64]) -> Result<usize, sqlx::Error> {
    let channels = list_channels(db).await?;
    Ok(ids
        .iter()
        .filter(|id| channels.iter().any(|c| c.id == **id))
        .count())
}

pub async fn client_exists(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM clients WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(pool)
    .await?);
    Ok(found.is_some())
}

pub async fn insert_rule(db: &Db, rule: &RuleInput, audit: &NewAudit) -> Result<i64, sqlx::Error> {
    let options = &rule.options;
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alert_rules (name, client_id, event, min_severity, notify_resolved, \
             enabled, created_at, warn_after_minutes, critical_after_minutes, below_percent, \
             repeat_minutes, delivery) \
             VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(rule.name.trim())
        .bind(rule.client_id)
        .bind(rule.event.as_str())
        .bind(rule.min_severity.as_str())
        .bind(rule.notify_resolved)
        .bind(audit.at)
        .bind(options.warn_after_minutes)
        .bind(options.critical_after_minutes)
        .bind(options.below_percent)
        .bind(options.repeat_minutes)
        .bind(options.delivery.as_str())
        .fetch_one(&mut *tx)
        .await?;
        for channel in &rule.channels {
            sqlx::query("INSERT INTO alert_rule_channels (rule_id, channel_id) VALUES ($1, $2)")
                .bind(id)
                .bind(channel)
                .execute(&mut *tx)
                .await?;
        }
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    })
}

/// An `alert_rules` row as stored.
#[derive(sqlx::FromRow)]
struct RuleRecord {
    id: i64,
    name: String,
    client_id: Option<i64>,
    client_name: Option<String>,
    event: String,
    min_severity: String,
    notify_resolved: bool,
    enabled: bool,
    warn_after_minutes: Option<i32>,
    critical_after_minutes: Option<i32>,
    below_percent: Option<i32>,
    repeat_minutes: Option<i32>,
    delivery: String,
}

/// A stored value that should have been one of an enum's names, as a decoding error.
fn unknown(what: &str, id: i64, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("{what} {id} holds an unknown value {value:?}").into())
}

impl RuleRecord {
    fn into_rule(self, channels: Vec<(i64, String)>) -> Result<AlertRule, sqlx::Error> {
        let id = self.id;
        Ok(AlertRule {
            id,
            name: self.name,
            client: self.client_id.zip(self.client_name),
            event: RuleEvent::parse(&self.event).ok_or_else(|| unknown("rule", id, &self.event))?,
            min_severity: Severity::parse(&self.min_severity)
                .ok_or_else(|| unknown("rule", id, &self.min_severity))?,
            notify_resolved: self.notify_resolved,
            enabled: self.enabled,
            channels,
            options: RuleOptions {
                warn_after_minutes: self.warn_after_minutes,
                critical_after_minutes: self.critical_after_minutes,
                below_percent: self.below_percent,
                repeat_minutes: self.repeat_minutes,
                delivery: RuleDelivery::parse(&self.delivery)
                    .ok_or_else(|| unknown("rule", id, &self.delivery))?,
            },
        })
    }
}

pub async fn list_rules(db: &Db) -> Result<Vec<AlertRule>, sqlx::Error> {
    let rules: Vec<RuleRecord> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT r.id, r.name, r.client_id, c.name AS client_name, r.event, r.min_severity, \
             r.notify_resolved, r.enabled, r.warn_after_minutes, r.critical_after_minutes, \
             r.below_percent, r.repeat_minutes, r.delivery \
             FROM alert_rules r LEFT JOIN clients c ON c.id = r.client_id \
             ORDER BY c.name IS NOT NULL, c.name, r.name",
        )
        .fetch_all(pool)
        .await?
    });
    let links: Vec<(i64, i64, String)> = on_db!(db, |pool| sqlx::query_as(
        "SELECT l.rule_id, ch.id, ch.name FROM alert_rule_channels l \
         JOIN alert_channels ch ON ch.id = l.channel_id ORDER BY ch.name"
    )
    .fetch_all(pool)
    .await?);
    rules
        .into_iter()
        .map(|rule| {
            let channels = links
                .iter()
                .filter(|(id, _, _)| *id == rule.id)
                .map(|(_, channel, name)| (*channel, name.clone()))
                .collect();
            rule.into_rule(channels)
        })
        .collect()
}

/// A row of the delivery log as the query reads it.
#[derive(sqlx::FromRow)]
struct DeliveryRecord {
    id: i64,
    subject: String,
    channel: String,
    status: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    held_back_by: Option<String>,
}

impl TryFrom<DeliveryRecord> for DeliveryRow {
    type Error = sqlx::Error;

    fn try_from(row: DeliveryRecord) -> Result<Self, sqlx::Error> {
        Ok(DeliveryRow {
            status: DeliveryStatus::parse(&row.status)
                .ok_or_else(|| unknown("delivery", row.id, &row.status))?,
            id: row.id,
            subject: row.subject,
            channel: row.channel,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error,
            created_at: row.created_at,
            sent_at: row.sent_at,
            held_back_by: row.held_back_by,
        })
    }
}

/// The newest `limit` deliveries.
/// The newest `limit` deliveries about sites of `scope`'s clients (a scoped user sees no
/// digest: one names sites of several clients).
pub async fn list_deliveries(
    db: &Db,
    scope: &ClientScope,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let sql = format!(
        "SELECT d.id, d.subject, ch.name AS channel, d.status, d.attempts, d.next_attempt_at, \
             d.last_error, d.created_at, d.sent_at, CASE WHEN d.suppressed_by IS NULL THEN NULL \
               WHEN mw.id IS NULL THEN 'a maintenance window since deleted' \
               ELSE 'maintenance window #' || mw.id || ' (' || mw.reason || ', by ' || mw.created_by || ')' \
             END AS held_back_by \
             FROM alert_deliveries d JOIN alert_channels ch ON ch.id = d.channel_id \
             LEFT JOIN maintenance_windows mw ON mw.id = d.suppressed_by \
             WHERE {} ORDER BY d.id DESC LIMIT $1",
        sites_in(scope, "d.site_id")
    );
    let rows: Vec<DeliveryRecord> = on_db!(db, |pool| {
        sqlx::query_as(&sql).bind(limit).fetch_all(pool).await?
    });
    rows.into_iter().map(DeliveryRow::try_from).collect()
}

/// Puts a dead delivery back in line with a fresh count of attempts; false when `id` is not a
/// dead delivery.
pub async fn retry_delivery(db: &Db, id: i64, audit: &NewAudit) -> Result<bool, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let retried = sqlx::query(
            "UPDATE alert_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE id = $2 AND status = 'dead'",
        )
        .bind(audit.at)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if retried {
            insert_audit(audit).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(retried)
    })
}

/// A delivery claimed for one attempt, with where it goes.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub idempotency_key: String,
    pub subject: String,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub channel: AlertChannel,
    /// A digest of the alerts folded into it, rather than one alert.
    pub digest: bool,
}

/// The subjects of the alerts folded into digest `id`, oldest first.
pub async fn folded_subjects(db: &Db, id: i64) -> Result<Vec<String>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_scalar(
        "SELECT subject FROM alert_deliveries WHERE folded_into = $1 ORDER BY id"
    )
    .bind(id)
    .fetch_all(pool)
    .await)
}

type ClaimedRecord = (i64, String, String, String, i32, i64, String);

/// Claims up to `limit` due deliveries for one attempt each: their attempt is counted and
/// their next one set `lease` ahead, so a server that dies mid-send leaves them to be sent
/// again (at least once), and a second server skips the rows the first has locked.
pub async fn claim_due(
    db: &Db,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let lock = match db {
        Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = $3 \
         WHERE id IN (SELECT id FROM alert_deliveries WHERE status = 'pending' \
           AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2 {lock}) \
         RETURNING id, idempotency_key, subject, payload, attempts, channel_id, kind"
    );
    let rows: Vec<ClaimedRecord> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(now)
        .bind(limit)
        .bind(now + lease)
        .fetch_all(pool)
        .await?);
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let channels = list_channels(db).await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, idempotency_key, subject, payload, attempts, channel_id, kind)| {
                // A channel deleted since takes its deliveries with it (ON DELETE CASCADE).
                let channel = channels.iter().find(|c| c.id == channel_id)?.clone();
                Some(Claimed {
                    id,
                    idempotency_key,
                    subject,
                    payload,
                    attempts,
                    channel,
                    digest: kind == "digest",
                })
            },
        )
        .collect())
}

pub async fn mark_sent(db: &Db, id: i64, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| sqlx::query(
        "UPDATE alert_deliveries SET status = 'sent', sent_at = $1, last_error = NULL WHERE id = $2"
    )
    .bind(at)
    .bind(id)
    .execute(pool)
    .await
    .map(drop))
}

/// Records a failed attempt: the next one at `retry_at`, or dead when there is none.
pub async fn mark_failed(
    db: &Db,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    let status = if retry_at.is_some() {
        "pending"
    } else {
        "dead"
    };
    on_db!(db, |pool| sqlx::query(
        "UPDATE alert_deliveries SET status = $1, last_error = $2, \
         next_attempt_at = COALESCE($3, next_attempt_at) WHERE id = $4"
    )
    .bind(status)
    .bind(error)
    .bind(retry_at)
    .bind(id)
    .execute(pool)
    .await
    .map(drop))
}

/// A site that is silent, or was and has an open silence incident: (site key, public id,
/// latest check-in, the open incident's id and severity rank).
pub type SilenceState = (i64, String, DateTime<Utc>, Option<i64>, Option<i64>);

/// Sites whose latest check-in is before `stale_before`, and sites with an open incident
/// `check_type` (to be resolved once they check in again). Decommissioned sites are left out.
pub async fn silence_states(
    db: &Db,
    check_type: &str,
    stale_before: DateTime<Utc>,
) -> Result<Vec<SilenceState>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT s.id, s.site_id, s.last_checkin_at, i.id, CAST(i.severity_rank AS BIGINT) \
         FROM sites s LEFT JOIN incidents i ON i.site_id = s.id AND i.dedup_key = $1 \
           AND i.status <> 'resolved' \
         WHERE s.decommissioned_at IS NULL AND s.last_checkin_at IS NOT NULL \
           AND (s.last_checkin_at < $2 OR i.id IS NOT NULL)"
    )
    .bind(check_type)
    .bind(stale_before)
    .fetch_all(pool)
    .await)
}

/// The idempotency keys of the deliveries of every open incident `check_type`: which alerts
/// each has had.
pub async fn open_incident_alert_keys(
    db: &Db,
    check_type: &str,
) -> Result<Vec<String>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_scalar(
        "SELECT d.idempotency_key FROM alert_deliveries d JOIN incidents i ON i.id = d.incident_id \
         WHERE i.check_type = $1 AND i.status <> 'resolved'"
    )
    .bind(check_type)
    .fetch_all(pool)
    .await)
}

/// The newest alert of an open incident from a rule that repeats: its alert again, once the
/// rule's interval has passed since.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unresolved {
    pub incident_id: i64,
    pub rule_id: i64,
    pub site_id: i64,
    pub created_at: DateTime<Utc>,
    pub payload: String,
    pub repeat_minutes: i32,
}

/// The newest alert per (open incident, repeating rule).
pub async fn unresolved_alerts(db: &Db) -> Result<Vec<Unresolved>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT d.incident_id, d.rule_id, i.site_id, d.created_at, d.payload, r.repeat_minutes \
         FROM alert_deliveries d JOIN alert_rules r ON r.id = d.rule_id \
         JOIN incidents i ON i.id = d.incident_id \
         WHERE d.kind = 'alert' AND r.enabled AND r.repeat_minutes IS NOT NULL \
           AND i.status <> 'resolved' \
           AND d.id = (SELECT MAX(e.id) FROM alert_deliveries e \
             WHERE e.incident_id = d.incident_id AND e.rule_id = d.rule_id AND e.kind = 'alert')"
    )
    .fetch_all(pool)
    .await)
}

/// A compliance rule's hold on a site below its threshold.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Condition {
    pub rule_id: i64,
    pub site_id: i64,
    pub last_alert_at: DateTime<Utc>,
}

pub async fn conditions(db: &Db) -> Result<Vec<Condition>, sqlx::Error> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT rule_id, site_id, last_alert_at FROM alert_conditions"
    )
    .fetch_all(pool)
    .await)
}

/// Whether any enabled rule alerts on `event`.
pub async fn any_rule_for(db: &Db, event: RuleEvent) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_db!(db, |pool| sqlx::query_scalar(
        "SELECT id FROM alert_rules WHERE enabled AND event = $1 LIMIT 1"
    )
    .bind(event.as_str())
    .fetch_optional(pool)
    .await?);
    Ok(found.is_some())
}
