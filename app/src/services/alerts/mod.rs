//! Alerts: adding channels and rules (validated, written with their audit entry), what an
//! alert says, and how often a failed delivery is tried again. Sending is in [`send`].

pub mod send;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Actor;
use crate::alerts::{ChannelInput, RuleEvent, RuleInput, Saved, validate_channel, validate_rule};
use crate::db::Db;
use crate::db::alerts as store;
use crate::error::AppError;
use crate::types::Severity;

/// Attempts a delivery gets before it is dead (an admin may retry it from the log).
pub const MAX_ATTEMPTS: i32 = 8;
/// The wait before the second attempt, at most; it doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: chrono::Duration = chrono::Duration::seconds(15);
const MAX_BACKOFF: chrono::Duration = chrono::Duration::minutes(30);

/// When attempt `attempts + 1` is due after attempt `attempts` failed at `now`, or `None`
/// once [`MAX_ATTEMPTS`] are spent. "Full jitter": a uniformly random wait up to the capped
/// exponential bound, so receivers that come back are not hit by every server at once.
pub fn next_attempt(
    attempts: i32,
    now: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let bound = backoff_bound(attempts);
    let wait = rng.random_range(0..=bound.num_milliseconds());
    Some(now + chrono::Duration::milliseconds(wait))
}

/// The longest wait after the `attempts`-th failed attempt.
pub fn backoff_bound(attempts: i32) -> chrono::Duration {
    let doublings = attempts.clamp(1, 20) - 1;
    (FIRST_BACKOFF * 2_i32.pow(doublings as u32)).min(MAX_BACKOFF)
}

/// Past this many alerts in an hour from one rule to one channel, the rest of the hour's are
/// folded into one digest sent when the hour ends: a storm of incidents is a few messages.
pub const ALERTS_PER_HOUR: i64 = 10;

/// One message as every channel sends it: a subject, a plain-text body, and the JSON a
/// webhook receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub json: serde_json::Value,
}

/// The span a digest gathers alerts over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestPeriod {
    #[default]
    Hour,
    Day,
}

/// What the outbox keeps of a digest until it is sent: whose alerts it holds, over what
/// span, and why: the rule asks for summaries (`scheduled`), or its alerts passed the hourly
/// limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestPayload {
    pub rule: String,
    #[serde(default)]
    pub period: DigestPeriod,
    #[serde(default)]
    pub scheduled: bool,
}

/// The digest `payload` describes, of the alerts folded into it, by their subjects.
pub fn digest(payload: &DigestPayload, subjects: &[String]) -> Message {
    const LISTED: usize = 50;
    let (rule, count) = (&payload.rule, subjects.len());
    let span = match payload.period {
        DigestPeriod::Hour => "the last hour",
        DigestPeriod::Day => "the last day",
    };
    let (subject, why) = if payload.scheduled {
        (
            format!("{count} alerts from rule {rule:?} in {span}"),
            "the rule sends them as one summary".to_string(),
        )
    } else {
        (
            format!("{count} more alerts from rule {rule:?} in {span}"),
            format!("past {ALERTS_PER_HOUR} an hour they are sent together"),
        )
    };
    let mut text = format!("{subject}: {why}.\n\n");
    for line in subjects.iter().take(LISTED) {
        text.push_str(&format!("- {line}\n"));
    }
    if subjects.len() > LISTED {
        text.push_str(&format!("- and {} more\n", subjects.len() - LISTED));
    }
    let json = serde_json::json!({
        "event": "digest",
        "rule": rule,
        "period": payload.period,
        "count": subjects.len(),
        "alerts": subjects,
    });
    Message {
        subject,
        text,
        json,
    }
}

/// What happened, as every channel's message is made from it (stored in the outbox as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// `incident.opened`, `incident.reopened`, `incident.resolved`, `site.silent.opened`,
    /// `site.silent.raised`, `site.silent.resolved`, `compliance.below`,
    /// `compliance.resolved`, `chain.broken` or `test`.
    pub event: String,
    pub rule: String,
    pub severity: String,
    pub client: String,
    pub clinic: String,
    pub site: String,
    pub hostname: String,
    pub check_type: String,
    pub incident_id: Option<i64>,
    pub at: DateTime<Utc>,
    /// What was found, where the event has more to say (a compliance figure, a chain break).
    #[serde(default)]
    pub detail: String,
    /// A reminder of something still unresolved (the rule's repeat interval).
    #[serde(default)]
    pub reminder: bool,
}

impl AlertEvent {
    pub fn message(&self) -> Message {
        Message {
            subject: self.subject(),
            text: self.text(),
            json: serde_json::to_value(self).expect("an alert event serialises"),
        }
    }

    /// The message's subject line (mail subject, chat title).
    pub fn subject(&self) -> String {
        let subject = self.what();
        if self.reminder {
            format!("Still unresolved: {subject}")
        } else {
            subject
        }
    }

    fn what(&self) -> String {
        let (clinic, site, severity) = (&self.clinic, &self.site, &self.severity);
        match self.event.as_str() {
            "site.silent.opened" | "site.silent.raised" if self.reminder => {
                return format!("[{severity}] {clinic} ({site}): its appliance is still silent");
            }
            "site.silent.opened" | "site.silent.raised" => {
                return format!(
                    "[{severity}] {clinic} ({site}) silent for {}: its appliance stopped checking in",
                    self.detail
                );
            }
            "site.silent.resolved" => return format!("{clinic} ({site}) is checking in again"),
            "compliance.below" => {
                return format!("[{severity}] {clinic} ({site}) compliance {}", self.detail);
            }
            "compliance.resolved" => {
                return format!("{clinic} ({site}) compliance is back: {}", self.detail);
            }
            "chain.broken" => {
                return format!(
                    "[{severity}] {clinic} ({site}) evidence chain broken: {}",
                    self.detail
                );
            }
            _ => {}
        }
        let what = match self.event.as_str() {
            "incident.opened" => "failing",
            "incident.reopened" => "failing again",
            "incident.resolved" => "resolved",
            _ => "test alert",
        };
        format!(
            "[{}] {} {} at {} ({})",
            self.severity, self.check_type, what, self.clinic, self.hostname
        )
    }

    /// The message's body as plain text.
    pub fn text(&self) -> String {
        let incident = self
            .incident_id
            .map(|id| format!("Incident: #{id}\n"))
            .unwrap_or_default();
        format!(
            "{}\n\nClient: {}\nClinic: {} ({})\nHost: {}\nCheck: {}\nSeverity: {}\n{incident}At: {}\nRule: {}\n",
            self.subject(),
            self.client,
            self.clinic,
            self.site,
            self.hostname,
            self.check_type,
            self.severity,
            self.at.to_rfc3339(),
            self.rule,
        )
    }

    /// The alert as the outbox stores it.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("an alert event serialises")
    }
}

/// Adds a channel with a fresh signing secret when `input` passes the form's checks and its
/// name is free; field errors come back as [`Saved::Invalid`] and nothing is written.
pub async fn add_channel(db: &Db, input: ChannelInput, actor: Actor) -> Result<Saved, AppError> {
    let mut errors = validate_channel(&input);
    if !errors.contains_key("name") && store::channel_name_taken(db, input.name.trim()).await? {
        errors.insert("name".into(), format!("{:?} is taken.", input.name.trim()));
    }
    if !errors.is_empty() {
        return Ok(Saved::Invalid(errors));
    }
    let secret = match input.kind {
        crate::alerts::ChannelKind::Email => String::new(),
        _ => hex::encode(rand::random::<[u8; 32]>()),
    };
    let audit = actor.audit(
        "alert.channel.add",
        input.name.trim(),
        serde_json::json!({ "kind": input.kind, "target": input.target.trim() }),
    );
    Ok(Saved::Saved(
        store::insert_channel(db, &input, &secret, &audit).await?,
    ))
}

/// Adds a rule when `input` passes the form's checks and names channels and a client that
/// exist. Options its event does not use are dropped.
pub async fn add_rule(db: &Db, input: RuleInput, actor: Actor) -> Result<Saved, AppError> {
    let input = only_what_applies(input);
    let mut errors = validate_rule(&input);
    if !input.channels.is_empty()
        && store::count_channels(db, &input.channels).await? != input.channels.len()
    {
        errors.insert(
            "channels".into(),
            "A chosen channel no longer exists.".into(),
        );
    }
    if let Some(client) = input.client_id
        && !store::client_exists(db, client).await?
    {
        errors.insert("client_id".into(), format!("There is no client {client}."));
    }
    if !errors.is_empty() {
        return Ok(Saved::Invalid(errors));
    }
    let audit = actor.audit(
        "alert.rule.add",
        input.name.trim(),
        serde_json::json!({
            "client_id": input.client_id,
            "event": input.event,
            "min_severity": input.min_severity,
            "notify_resolved": input.notify_resolved,
            "channels": input.channels,
            "options": input.options,
        }),
    );
    Ok(Saved::Saved(store::insert_rule(db, &input, &audit).await?))
}

/// `input` without the options its event has no use for; compliance and chain rules alert
/// at their own severity, so they take every severity.
fn only_what_applies(mut input: RuleInput) -> RuleInput {
    let options = &mut input.options;
    if input.event != RuleEvent::Silent {
        options.warn_after_minutes = None;
        options.critical_after_minutes = None;
    }
    if input.event != RuleEvent::Compliance {
        options.below_percent = None;
    }
    if !input.event.has_severity() {
        input.min_severity = Severity::Low;
    }
    if !input.event.lasts() {
        input.notify_resolved = false;
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_attempts_end() {
        let mut rng = rand::rng();
        let now = Utc::now();
        let bounds: Vec<i64> = (1..=MAX_ATTEMPTS)
            .map(|a| backoff_bound(a).num_seconds())
            .collect();
        assert_eq!(bounds, [15, 30, 60, 120, 240, 480, 960, 1800]);
        for attempts in 1..MAX_ATTEMPTS {
            for _ in 0..200 {
                let next = next_attempt(attempts, now, &mut rng).expect("attempts left");
                assert!(next >= now && next <= now + backoff_bound(attempts));
            }
        }
        assert_eq!(next_attempt(MAX_ATTEMPTS, now, &mut rng), None);
    }

    #[test]
    fn a_digest_names_what_it_holds_and_lists_at_most_fifty() {
        let subjects: Vec<String> = (0..120).map(|i| format!("alert {i}")).collect();
        let payload = DigestPayload {
            rule: "Critical".into(),
            period: DigestPeriod::Hour,
            scheduled: false,
        };
        let message = digest(&payload, &subjects);
        assert_eq!(
            message.subject,
            "120 more alerts from rule \"Critical\" in the last hour"
        );
        assert!(message.text.contains("- alert 49\n") && !message.text.contains("- alert 50\n"));
        assert!(message.text.contains("- and 70 more"));
        assert_eq!(message.json["count"], 120);
        let daily = DigestPayload {
            period: DigestPeriod::Day,
            scheduled: true,
            ..payload
        };
        assert_eq!(
            digest(&daily, &subjects[..3]).subject,
            "3 alerts from rule \"Critical\" in the last day"
        );
    }

    #[test]
    fn a_reminder_says_it_is_still_unresolved_without_a_stale_duration() {
        let silent = AlertEvent {
            event: "site.silent.raised".into(),
            rule: "Silence".into(),
            severity: "critical".into(),
            client: "Acme".into(),
            clinic: "Clinic 1".into(),
            site: "site-1".into(),
            hostname: "appliance".into(),
            check_type: "appliance_silent".into(),
            incident_id: Some(7),
            at: Utc::now(),
            detail: "1 h 1 min".into(),
            reminder: false,
        };
        assert_eq!(
            silent.subject(),
            "[critical] Clinic 1 (site-1) silent for 1 h 1 min: its appliance stopped checking in"
        );
        let reminder = AlertEvent {
            reminder: true,
            ..silent
        };
        assert_eq!(
            reminder.subject(),
            "Still unresolved: [critical] Clinic 1 (site-1): its appliance is still silent"
        );
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let mut rng = rand::rng();
        let now = Utc::now();
        let waits: std::collections::BTreeSet<_> =
            (0..50).map(|_| next_attempt(4, now, &mut rng)).collect();
        assert!(
            waits.len() > 40,
            "full jitter draws different waits: {}",
            waits.len()
        );
    }
}
