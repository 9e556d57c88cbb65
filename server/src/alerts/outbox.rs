//! Alerts written into the outbox inside the transaction of the event that raised them (an
//! ingest batch, a sweep, a refused evidence batch), so an alert is committed or lost with its
//! event, never one without the other. Each goes to every channel of the client's rules for
//! that kind of event (the client's own rules, else the defaults) that it passes.
//!
//! A rule that asks for summaries folds each alert into its channel's digest of the hour or
//! day. An instant rule past [`ALERTS_PER_HOUR`] in the hour on a channel (its recipients)
//! folds the rest into the hour's digest. Inside a maintenance window of its site or client
//! an alert is logged as suppressed and never sent.

use std::collections::HashMap;

use app::alerts::{RuleDelivery, RuleEvent};
use app::db::maintenance::StoredWindow;
use app::db::sql::rows_per_statement;
use app::services::alerts::{ALERTS_PER_HOUR, AlertEvent, DigestPayload, DigestPeriod};
use app::types::Severity;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::QueryBuilder;

use crate::ingest::{Tx, in_tx};

/// One rule's way to one channel, with what the rule asks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Route {
    pub rule_id: i64,
    pub rule: String,
    pub min_severity: String,
    pub notify_resolved: bool,
    pub channel_id: i64,
    pub delivery: String,
    pub warn_after_minutes: Option<i32>,
    pub critical_after_minutes: Option<i32>,
    pub below_percent: Option<i32>,
    pub repeat_minutes: Option<i32>,
}

impl Route {
    /// The least severity it alerts on (compliance and chain rules take every one).
    fn least(&self) -> Severity {
        Severity::parse(&self.min_severity).unwrap_or(Severity::Critical)
    }

    fn delivery(&self) -> RuleDelivery {
        RuleDelivery::parse(&self.delivery).unwrap_or_default()
    }

    /// The (rule, channel) pair its limits and digests are counted by.
    fn pair(&self) -> (i64, i64) {
        (self.rule_id, self.channel_id)
    }
}

const ROUTE_SQL: &str = "SELECT r.id AS rule_id, r.name AS rule, r.min_severity, r.notify_resolved, \
    l.channel_id, r.delivery, r.warn_after_minutes, r.critical_after_minutes, r.below_percent, \
    r.repeat_minutes FROM alert_rules r JOIN alert_rule_channels l ON l.rule_id = r.id";

/// What an alert says of its site: its client and names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteNames {
    pub client_id: i64,
    pub clinic: String,
    pub client: String,
    /// The site's public id.
    pub site: String,
}

async fn site_of(tx: &mut Tx<'_>, site: i64) -> Result<Option<SiteNames>, sqlx::Error> {
    in_tx!(tx, |t| {
        sqlx::query_as(
            "SELECT s.client_id, s.clinic_name AS clinic, c.name AS client, s.site_id AS site \
             FROM sites s JOIN clients c ON c.id = s.client_id WHERE s.id = $1",
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
    let sql = format!(
        "{ROUTE_SQL} WHERE r.enabled AND r.event = $2 AND (r.client_id = $1 OR (r.client_id IS NULL \
           AND NOT EXISTS (SELECT 1 FROM alert_rules o \
             WHERE o.client_id = $1 AND o.enabled AND o.event = $2))) ORDER BY r.id, l.channel_id"
    );
    in_tx!(tx, |t| {
        sqlx::query_as(&sql)
            .bind(client_id)
            .bind(event.as_str())
            .fetch_all(t)
            .await
    })
}

/// The channels of one enabled rule.
pub async fn routes_of_rule(tx: &mut Tx<'_>, rule_id: i64) -> Result<Vec<Route>, sqlx::Error> {
    let sql = format!("{ROUTE_SQL} WHERE r.enabled AND r.id = $1 ORDER BY l.channel_id");
    in_tx!(tx, |t| sqlx::query_as(&sql)
        .bind(rule_id)
        .fetch_all(t)
        .await)
}

/// The alerts of one transaction, with what it has looked up on the way: a storm of thousands
/// of incidents in a batch costs a share of a few multi-row INSERTs, not lookups per alert.
/// [`Outbox::flush`] writes them; call it before the transaction commits.
pub struct Outbox {
    now: DateTime<Utc>,
    hour: DateTime<Utc>,
    /// Alerts queued this hour per (rule, channel), counted once, then kept up to date here.
    sent_this_hour: HashMap<(i64, i64), i64>,
    /// Per site, the maintenance window holding its alerts back now, if any.
    held_back: HashMap<i64, Option<i64>>,
    /// Per (rule, channel) and span, the digest now gathering.
    digests: HashMap<(i64, i64, DigestPeriod), i64>,
    sites: HashMap<i64, Option<SiteNames>>,
    /// Per client and event, the rules' routes.
    routes: HashMap<(i64, RuleEvent), Vec<Route>>,
    /// Alerts queued, not yet written.
    queued: Vec<Queued>,
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
            queued: Vec::new(),
        }
    }

    /// The site's client and names.
    pub async fn site(
        &mut self,
        tx: &mut Tx<'_>,
        site: i64,
    ) -> Result<Option<SiteNames>, sqlx::Error> {
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
        let passing: Vec<&Route> = routes
            .iter()
            .filter(|route| severity >= route.least() && (!resolved || route.notify_resolved))
            .collect();
        if passing.is_empty() {
            return Ok(());
        }
        let window = self.window_over(tx, site).await?;
        for route in passing {
            let alert = AlertEvent {
                rule: route.rule.clone(),
                ..alert.clone()
            };
            let held = match (window, route.delivery()) {
                (Some(window), _) => Held::Suppressed(window),
                (None, RuleDelivery::Instant) => self.within_limit(tx, route, site).await?,
                (None, RuleDelivery::Hourly) => Held::Folded(
                    self.digest(tx, route, DigestPeriod::Hour, true, site)
                        .await?,
                ),
                (None, RuleDelivery::Daily) => Held::Folded(
                    self.digest(tx, route, DigestPeriod::Day, true, site)
                        .await?,
                ),
            };
            self.queued.push(Queued {
                key: format!("{key}-rule-{}-channel-{}", route.rule_id, route.channel_id),
                route: route.pair(),
                site,
                incident_id: alert.incident_id,
                subject: alert.subject(),
                payload: alert.to_payload(),
                held,
            });
        }
        Ok(())
    }

    /// Whether one more alert on `route` fits this hour, or folds into the hour's digest.
    async fn within_limit(
        &mut self,
        tx: &mut Tx<'_>,
        route: &Route,
        site: i64,
    ) -> Result<Held, sqlx::Error> {
        let sent = match self.sent_this_hour.get(&route.pair()) {
            Some(sent) => *sent,
            None => alerts_since(tx, route.pair(), self.hour).await?,
        };
        if sent >= ALERTS_PER_HOUR {
            self.sent_this_hour.insert(route.pair(), sent);
            let digest = self
                .digest(tx, route, DigestPeriod::Hour, false, site)
                .await?;
            return Ok(Held::Folded(digest));
        }
        self.sent_this_hour.insert(route.pair(), sent + 1);
        Ok(Held::No)
    }

    /// The id of the digest of `route` for the current `period`, queued (to be sent when the
    /// period ends) if it was not yet.
    async fn digest(
        &mut self,
        tx: &mut Tx<'_>,
        route: &Route,
        period: DigestPeriod,
        scheduled: bool,
        site: i64,
    ) -> Result<i64, sqlx::Error> {
        let (rule_id, channel) = route.pair();
        if let Some(id) = self.digests.get(&(rule_id, channel, period)) {
            return Ok(*id);
        }
        let (start, span, suffix) = match period {
            DigestPeriod::Hour => (self.hour, TimeDelta::hours(1), ""),
            DigestPeriod::Day => {
                let day = self.now.duration_trunc(TimeDelta::days(1));
                (day.unwrap_or(self.now), TimeDelta::days(1), "-day")
            }
        };
        let key = format!(
            "digest-rule-{rule_id}-channel-{channel}-{}{suffix}",
            start.timestamp()
        );
        let payload = serde_json::to_string(&DigestPayload {
            rule: route.rule.clone(),
            period,
            scheduled,
        })
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let subject = format!("Alerts from rule {:?} gathered for a summary", route.rule);
        let id = in_tx!(tx, |t| {
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
            .bind(start + span)
            .bind(self.now)
            .execute(&mut *t)
            .await?;
            sqlx::query_scalar("SELECT id FROM alert_deliveries WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_one(&mut *t)
                .await
        })?;
        self.digests.insert((rule_id, channel, period), id);
        Ok(id)
    }

    /// Writes the queued alerts, a few hundred rows per statement; one already there (by
    /// its idempotency key) is left as it is.
    pub async fn flush(&mut self, tx: &mut Tx<'_>) -> Result<(), sqlx::Error> {
        const COLUMNS: usize = 13;
        let queued = std::mem::take(&mut self.queued);
        for chunk in queued.chunks(rows_per_statement(COLUMNS)) {
            in_tx!(tx, |t| {
                let mut insert = QueryBuilder::new(
                    "INSERT INTO alert_deliveries (idempotency_key, rule_id, channel_id, site_id, \
                     incident_id, subject, payload, kind, status, folded_into, suppressed_by, \
                     attempts, next_attempt_at, created_at) ",
                );
                insert.push_values(chunk, |mut row, alert| {
                    let (status, folded_into, suppressed_by) = alert.held.columns();
                    row.push_bind(&alert.key)
                        .push_bind(alert.route.0)
                        .push_bind(alert.route.1)
                        .push_bind(alert.site)
                        .push_bind(alert.incident_id)
                        .push_bind(&alert.subject)
                        .push_bind(&alert.payload)
                        .push("'alert'")
                        .push_bind(status)
                        .push_bind(folded_into)
                        .push_bind(suppressed_by)
                        .push("0")
                        .push_bind(self.now)
                        .push_bind(self.now);
                });
                insert.push(" ON CONFLICT (idempotency_key) DO NOTHING");
                insert.build().persistent(false).execute(t).await?;
            });
        }
        Ok(())
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
#[derive(Debug, Clone, Copy)]
enum Held {
    No,
    Folded(i64),
    Suppressed(i64),
}

impl Held {
    /// The delivery's status, digest and window.
    fn columns(self) -> (&'static str, Option<i64>, Option<i64>) {
        match self {
            Held::No => ("pending", None, None),
            Held::Folded(digest) => ("folded", Some(digest), None),
            Held::Suppressed(window) => ("suppressed", None, Some(window)),
        }
    }
}

/// An alert waiting for [`Outbox::flush`].
struct Queued {
    key: String,
    route: (i64, i64),
    site: i64,
    incident_id: Option<i64>,
    subject: String,
    payload: String,
    held: Held,
}
