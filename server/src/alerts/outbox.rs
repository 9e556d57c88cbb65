//! Alerts written into the outbox inside the transaction of the event that raised them (an
//! ingest batch, a silence sweep), so an alert is committed or lost with its event, never one
//! without the other. Each goes to every channel of the client's rules for that kind of event
//! (the client's own rules, else the defaults) that it passes; past [`ALERTS_PER_HOUR`] in the
//! hour for a rule and channel, it is folded into the hour's digest instead, and inside a
//! maintenance window of its site or client it is logged as suppressed and never sent.

use std::collections::HashMap;

use app::alerts::RuleEvent;
use app::db::maintenance::StoredWindow;
use app::services::alerts::{ALERTS_PER_HOUR, AlertEvent, DigestPayload};
use app::types::Severity;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::ingest::{Tx, in_tx};

/// A rule's channel: (rule id, rule name, least severity, notify on resolve, channel id).
pub type Route = (i64, String, String, bool, i64);

/// The alerts of one transaction (an ingest batch, a sweep step), with what it has looked up:
/// a storm of thousands of incidents in a batch costs one INSERT per alert, not a lookup each.
pub struct Outbox {
    now: DateTime<Utc>,
    hour: DateTime<Utc>,
    /// Alerts queued this hour per (rule, channel), counted once, then kept up to date here.
    sent_this_hour: HashMap<(i64, i64), i64>,
    /// Per site, the maintenance window holding its alerts back now, if any.
    held_back: HashMap<i64, Option<i64>>,
    /// Per route, this hour's digest.
    digests: HashMap<(i64, i64), i64>,
    /// Per site key: its client's id, its clinic's and client's names.
    sites: HashMap<i64, Option<(i64, String, String)>>,
    /// Per client and event, the rules' routes.
    routes: HashMap<(i64, RuleEvent), Vec<Route>>,
}

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

/// The enabled `event` rules of the client, or the defaults when it has none of its own,
/// with their channels.
async fn routes_for(
    tx: &mut Tx<'_>,
    client_id: i64,
    event: RuleEvent,
) -> Result<Vec<Route>, sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query_as(
            "SELECT r.id, r.name, r.min_severity, r.notify_resolved, l.channel_id \
             FROM alert_rules r JOIN alert_rule_channels l ON l.rule_id = r.id \
             WHERE r.enabled AND r.event = $2 AND (r.client_id = $1 OR (r.client_id IS NULL \
               AND NOT EXISTS (SELECT 1 FROM alert_rules o \
                 WHERE o.client_id = $1 AND o.enabled AND o.event = $2)))",
        )
        .bind(client_id)
        .bind(event.as_str())
        .fetch_all(t)
        .await
    })
}

impl Outbox {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            hour: now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now),
            sent_this_hour: HashMap::new(),
            held_back: HashMap::new(),
            digests: HashMap::new(),
            sites: HashMap::new(),
            routes: HashMap::new(),
        }
    }

    /// The site's client id, clinic name and client name.
    pub async fn site(
        &mut self,
        tx: &mut Tx<'_>,
        site: i64,
    ) -> Result<Option<(i64, String, String)>, sqlx::Error> {
        if let Some(found) = self.sites.get(&site) {
            return Ok(found.clone());
        }
        let found = site_of(tx, site).await?;
        self.sites.insert(site, found.clone());
        Ok(found)
    }

    /// The routes of the client's `event` rules (its own, else the defaults).
    pub async fn routes(
        &mut self,
        tx: &mut Tx<'_>,
        client: i64,
        event: RuleEvent,
    ) -> Result<Vec<Route>, sqlx::Error> {
        if let Some(routes) = self.routes.get(&(client, event)) {
            return Ok(routes.clone());
        }
        let routes = routes_for(tx, client, event).await?;
        self.routes.insert((client, event), routes.clone());
        Ok(routes)
    }

    /// The maintenance window covering `site` now, if any (looked up once per site).
    async fn window_over(
        &mut self,
        tx: &mut Tx<'_>,
        site: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        if let Some(window) = self.held_back.get(&site) {
            return Ok(*window);
        }
        let sql = app::db::maintenance::windows_sql(
            "w.site_id = $1 OR w.client_id = (SELECT client_id FROM sites WHERE id = $1)",
        );
        let windows: Vec<StoredWindow> =
            in_tx!(tx, |t| sqlx::query_as(&sql).bind(site).fetch_all(t).await)?;
        let window = app::services::maintenance::covering(&windows, self.now).map(|w| w.id);
        self.held_back.insert(site, window);
        Ok(window)
    }

    /// Queues `alert` (about `site`; `resolved` when it tells of an end) on every route it
    /// passes. `key` names the event once: a repeat of it queues nothing twice.
    pub async fn queue(
        &mut self,
        tx: &mut Tx<'_>,
        routes: &[Route],
        site: i64,
        alert: &AlertEvent,
        resolved: bool,
        key: &str,
    ) -> Result<(), sqlx::Error> {
        let severity = Severity::parse(&alert.severity).unwrap_or(Severity::Low);
        let window = if routes.is_empty() {
            None
        } else {
            self.window_over(tx, site).await?
        };
        for (rule_id, rule, least, on_resolve, channel_id) in routes {
            let least = Severity::parse(least).unwrap_or(Severity::Critical);
            if severity < least || (resolved && !on_resolve) {
                continue;
            }
            let alert = &AlertEvent {
                rule: rule.clone(),
                ..alert.clone()
            };
            let route = (*rule_id, *channel_id);
            let held = match window {
                Some(window) => Held::Suppressed(window),
                None => self.within_limit(tx, route, rule, site).await?,
            };
            let new = NewDelivery {
                key: &format!("{key}-rule-{rule_id}-channel-{channel_id}"),
                route,
                site,
                alert,
                held,
            };
            insert(tx, &new, self.now).await?;
        }
        Ok(())
    }

    /// Whether one more alert on `route` fits this hour, or folds into the hour's digest.
    async fn within_limit(
        &mut self,
        tx: &mut Tx<'_>,
        route: (i64, i64),
        rule: &str,
        site: i64,
    ) -> Result<Held, sqlx::Error> {
        let sent = match self.sent_this_hour.get(&route) {
            Some(sent) => *sent,
            None => alerts_since(tx, route, self.hour).await?,
        };
        self.sent_this_hour.insert(route, sent);
        if sent >= ALERTS_PER_HOUR {
            let digest = match self.digests.get(&route) {
                Some(digest) => *digest,
                None => self.hour_digest(tx, route, rule, site).await?,
            };
            self.digests.insert(route, digest);
            return Ok(Held::Folded(digest));
        }
        self.sent_this_hour.insert(route, sent + 1);
        Ok(Held::No)
    }

    /// The id of the digest of `route` for this hour, queued (to be sent when the hour ends)
    /// if it was not yet.
    async fn hour_digest(
        &self,
        tx: &mut Tx<'_>,
        (rule_id, channel): (i64, i64),
        rule: &str,
        site: i64,
    ) -> Result<i64, sqlx::Error> {
        let key = format!(
            "digest-rule-{rule_id}-channel-{channel}-{}",
            self.hour.timestamp()
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
            .bind(self.hour + TimeDelta::hours(1))
            .bind(self.now)
            .execute(&mut *t)
            .await?;
            sqlx::query_scalar("SELECT id FROM alert_deliveries WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_one(&mut *t)
                .await
        })
    }
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
             AND created_at >= $3 AND kind = 'alert' AND status NOT IN ('folded', 'suppressed')",
        )
        .bind(rule)
        .bind(channel)
        .bind(hour)
        .fetch_one(t)
        .await
    })
}

/// Whether an alert is sent on its own, folded into a digest, or held back by a maintenance
/// window (by id).
enum Held {
    No,
    Folded(i64),
    Suppressed(i64),
}

/// An alert for the outbox.
struct NewDelivery<'a> {
    key: &'a str,
    route: (i64, i64),
    site: i64,
    alert: &'a AlertEvent,
    held: Held,
}

async fn insert(
    tx: &mut Tx<'_>,
    new: &NewDelivery<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(new.alert).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let (status, folded_into, suppressed_by) = match new.held {
        Held::No => ("pending", None, None),
        Held::Folded(digest) => ("folded", Some(digest), None),
        Held::Suppressed(window) => ("suppressed", None, Some(window)),
    };
    in_tx!(tx, |t| {
        sqlx::query(
            "INSERT INTO alert_deliveries (idempotency_key, rule_id, channel_id, site_id, \
             incident_id, subject, payload, kind, status, folded_into, suppressed_by, attempts, \
             next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'alert', $8, $9, $11, 0, $10, $10) \
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
        .bind(folded_into)
        .bind(now)
        .bind(suppressed_by)
        .execute(t)
        .await
        .map(drop)
    })
}
