//! Alert channels, rules and the delivery log, as the admin pages show them, and the checks a
//! channel or rule must pass (run in the browser as typed and again on the server).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::Severity;
use crate::validation::FieldErrors;

/// How a channel's messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Mail over the server's SMTP relay to a list of addresses.
    Email,
    /// A JSON POST signed with `X-Posture-Signature`.
    Webhook,
    /// A Slack incoming webhook (`{"text": ...}`).
    Slack,
    /// A Microsoft Teams Workflows webhook (an Adaptive Card).
    Teams,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [Self::Email, Self::Webhook, Self::Slack, Self::Teams];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Teams => "teams",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// What the channel's target holds, for the form's label.
    pub fn target_label(self) -> &'static str {
        match self {
            Self::Email => "Addresses (comma-separated)",
            _ => "Webhook URL",
        }
    }
}

/// What a rule alerts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleEvent {
    /// An incident opens, re-opens, or resolves.
    Incident,
    /// A site's appliance stops checking in: a warning after the rule's first threshold,
    /// critical after its second; cleared by its next check-in.
    Silent,
    /// A site's compliance falls below the rule's percentage; cleared when it is back.
    Compliance,
    /// A site's appliance sends evidence that does not continue its hash chain.
    Chain,
}

impl RuleEvent {
    pub const ALL: [RuleEvent; 4] = [Self::Incident, Self::Silent, Self::Compliance, Self::Chain];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Silent => "silent",
            Self::Compliance => "compliance",
            Self::Chain => "chain",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == value)
    }

    /// The form's words for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Incident => "An incident opens",
            Self::Silent => "A site goes silent",
            Self::Compliance => "A site's compliance falls below",
            Self::Chain => "A site's evidence chain breaks",
        }
    }

    /// Whether what it alerts on stays open until it clears (so it can be repeated and have
    /// a resolve notice), rather than happening once.
    pub fn lasts(self) -> bool {
        self != Self::Chain
    }

    /// Whether the rule chooses a least severity (compliance and chain alerts have their own).
    pub fn has_severity(self) -> bool {
        matches!(self, Self::Incident | Self::Silent)
    }
}

/// How a rule's alerts go out: each at once, or gathered into one summary an hour or a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleDelivery {
    #[default]
    Instant,
    Hourly,
    Daily,
}

impl RuleDelivery {
    pub const ALL: [RuleDelivery; 3] = [Self::Instant, Self::Hourly, Self::Daily];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Instant => "Each at once",
            Self::Hourly => "An hourly summary",
            Self::Daily => "A daily summary",
        }
    }
}

/// What a rule watches beyond its event, and how it sends: the thresholds of its event and
/// its repeat interval and delivery. Fields a rule's event does not use are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleOptions {
    /// Silent rules: minutes without a check-in before the warning (at least 15, when a site
    /// turns stale), and before the critical alert.
    pub warn_after_minutes: Option<i32>,
    pub critical_after_minutes: Option<i32>,
    /// Compliance rules: alert when a site's compliance is below this percentage.
    pub below_percent: Option<i32>,
    /// Alert again this often while it stays unresolved; `None`: once.
    pub repeat_minutes: Option<i32>,
    pub delivery: RuleDelivery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertChannel {
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    pub target: String,
    /// The key a receiver checks `X-Posture-Signature` with (webhooks; empty for e-mail).
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: i64,
    pub name: String,
    /// `None`: a default for every client without rules of its own.
    pub client: Option<(i64, String)>,
    pub event: RuleEvent,
    pub min_severity: Severity,
    pub notify_resolved: bool,
    pub enabled: bool,
    /// The channels it sends to: (id, name).
    pub channels: Vec<(i64, String)>,
    pub options: RuleOptions,
}

impl AlertRule {
    /// When the rule alerts, in words.
    pub fn describe(&self) -> String {
        let options = &self.options;
        let minutes = |m: Option<i32>| m.map(minutes_in_words).unwrap_or_default();
        let mut what = match self.event {
            RuleEvent::Incident => format!(
                "an incident at {} or worse opens",
                self.min_severity.as_str()
            ),
            RuleEvent::Silent => match options.critical_after_minutes {
                Some(critical) if self.min_severity < Severity::Critical => format!(
                    "a site is silent {}, and again at {}",
                    minutes(options.warn_after_minutes),
                    minutes_in_words(critical)
                ),
                Some(critical) => format!("a site is silent {}", minutes_in_words(critical)),
                None => format!("a site is silent {}", minutes(options.warn_after_minutes)),
            },
            RuleEvent::Compliance => format!(
                "a site's compliance is below {}%",
                options.below_percent.unwrap_or_default()
            ),
            RuleEvent::Chain => "a site's evidence chain breaks".to_string(),
        };
        if let Some(every) = options.repeat_minutes {
            what.push_str(&format!(
                "; again every {} until resolved",
                minutes_in_words(every)
            ));
        }
        if self.notify_resolved && self.event.lasts() {
            what.push_str("; and when it clears");
        }
        match options.delivery {
            RuleDelivery::Instant => {}
            RuleDelivery::Hourly => what.push_str(" (an hourly summary)"),
            RuleDelivery::Daily => what.push_str(" (a daily summary)"),
        }
        what
    }
}

/// `90` as "1 h 30 min", `15` as "15 min".
pub fn minutes_in_words(minutes: i32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Sent,
    /// Every attempt failed; an admin may retry it.
    Dead,
    /// Past the rule's hourly limit: sent in that hour's digest.
    Folded,
    /// Held back by a maintenance window: never sent.
    Suppressed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Dead => "dead",
            Self::Folded => "folded",
            Self::Suppressed => "suppressed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Sent,
            Self::Dead,
            Self::Folded,
            Self::Suppressed,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

/// A row of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub subject: String,
    pub channel: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// For a suppressed alert: the window that held it back, who made it and why.
    pub held_back_by: Option<String>,
}

/// A channel as the form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInput {
    pub name: String,
    pub kind: ChannelKind,
    pub target: String,
}

/// A rule as the form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInput {
    pub name: String,
    /// `None`: a default for every client.
    pub client_id: Option<i64>,
    pub event: RuleEvent,
    pub min_severity: Severity,
    pub notify_resolved: bool,
    pub channels: Vec<i64>,
    #[serde(default)]
    pub options: RuleOptions,
}

/// What saving a channel or rule came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Saved {
    Saved(i64),
    Invalid(FieldErrors),
}

/// What a test message got back: the SMTP server's or the webhook's answer, or why none came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub delivered: bool,
    pub answer: String,
}

const MAX_NAME: usize = 80;
const MAX_TARGET: usize = 2_000;

pub fn validate_channel(input: &ChannelInput) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let name = input.name.trim();
    if name.is_empty() {
        errors.insert("name".into(), "Give the channel a name.".into());
    } else if name.chars().count() > MAX_NAME {
        errors.insert("name".into(), format!("At most {MAX_NAME} characters."));
    }
    let target = input.target.trim();
    let problem = if target.is_empty() {
        Some(match input.kind {
            ChannelKind::Email => "Enter at least one address.".to_string(),
            _ => "Enter the webhook's URL.".to_string(),
        })
    } else if target.len() > MAX_TARGET {
        Some(format!("At most {MAX_TARGET} characters."))
    } else if input.kind == ChannelKind::Email {
        email_problem(target)
    } else {
        url_problem(target)
    };
    if let Some(problem) = problem {
        errors.insert("target".into(), problem);
    }
    errors
}

/// The first address of a comma-separated list that is not one.
fn email_problem(list: &str) -> Option<String> {
    list.split(',').map(str::trim).find_map(|address| {
        let valid = email_address::EmailAddress::is_valid(address) && address.contains('.');
        (!valid).then(|| format!("{address:?} is not an e-mail address."))
    })
}

/// Why `url` cannot be a webhook: only absolute http(s) URLs with a host are.
fn url_problem(url: &str) -> Option<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("Use an absolute URL starting with https:// or http://.".into());
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Some(format!("Webhooks are http or https, not {scheme}."));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) || rest.contains(char::is_whitespace) {
        return Some("The URL has no valid host.".into());
    }
    None
}

pub fn validate_rule(input: &RuleInput) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let name = input.name.trim();
    if name.is_empty() {
        errors.insert("name".into(), "Give the rule a name.".into());
    } else if name.chars().count() > MAX_NAME {
        errors.insert("name".into(), format!("At most {MAX_NAME} characters."));
    }
    if input.channels.is_empty() {
        errors.insert(
            "channels".into(),
            "Choose at least one channel: a rule with none alerts nobody.".into(),
        );
    }
    let options = &input.options;
    if input.event == RuleEvent::Silent {
        check_silence(options, &mut errors);
    }
    if input.event == RuleEvent::Compliance {
        match options.below_percent {
            None => errors.insert("below_percent".into(), "Enter a percentage.".into()),
            Some(1..=100) => None,
            Some(_) => errors.insert("below_percent".into(), "A percentage from 1 to 100.".into()),
        };
    }
    if let Some(every) = options.repeat_minutes {
        if !input.event.lasts() {
            errors.insert(
                "repeat_minutes".into(),
                "A chain break happens once: there is nothing to repeat.".into(),
            );
        } else if !(MIN_REPEAT_MINUTES..=MAX_MINUTES).contains(&every) {
            errors.insert(
                "repeat_minutes".into(),
                format!("Repeat every {MIN_REPEAT_MINUTES} minutes to 7 days."),
            );
        }
    }
    errors
}

/// The least silence a rule can alert on: until then a site still counts as online.
pub const MIN_SILENT_MINUTES: i32 = 15;
/// The shortest repeat interval.
pub const MIN_REPEAT_MINUTES: i32 = 15;
/// A week: the longest threshold or interval.
const MAX_MINUTES: i32 = 7 * 24 * 60;

fn check_silence(options: &RuleOptions, errors: &mut FieldErrors) {
    match options.warn_after_minutes {
        None => {
            errors.insert(
                "warn_after_minutes".into(),
                "Enter the minutes without a check-in before the first alert.".into(),
            );
        }
        Some(warn) if !(MIN_SILENT_MINUTES..=MAX_MINUTES).contains(&warn) => {
            errors.insert(
                "warn_after_minutes".into(),
                format!(
                    "From {MIN_SILENT_MINUTES} minutes (until then a site still counts as online) to 7 days."
                ),
            );
        }
        Some(warn) => {
            if let Some(critical) = options.critical_after_minutes
                && (critical <= warn || critical > MAX_MINUTES)
            {
                errors.insert(
                    "critical_after_minutes".into(),
                    "Later than the first alert, and at most 7 days.".into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(kind: ChannelKind, target: &str) -> ChannelInput {
        ChannelInput {
            name: "On call".into(),
            kind,
            target: target.into(),
        }
    }

    #[test]
    fn webhook_urls_must_be_http_or_https_with_a_host() {
        let ok = validate_channel(&channel(
            ChannelKind::Webhook,
            "https://hooks.example.com/x",
        ));
        assert!(ok.is_empty(), "{ok:?}");
        for (url, says) in [
            ("ftp://example.com/x", "not ftp"),
            ("hooks.example.com/x", "absolute URL"),
            ("https:///x", "no valid host"),
            ("https://exa mple.com", "no valid host"),
        ] {
            let errors = validate_channel(&channel(ChannelKind::Slack, url));
            assert!(errors["target"].contains(says), "{url}: {errors:?}");
        }
    }

    #[test]
    fn email_channels_name_the_bad_address() {
        assert!(
            validate_channel(&channel(
                ChannelKind::Email,
                "a@clinic.example, b@msp.example"
            ))
            .is_empty()
        );
        let errors = validate_channel(&channel(ChannelKind::Email, "a@clinic.example, nobody"));
        assert!(errors["target"].contains("\"nobody\""), "{errors:?}");
    }

    #[test]
    fn a_rule_needs_a_name_and_a_channel() {
        let errors = validate_rule(&RuleInput {
            name: " ".into(),
            client_id: None,
            event: RuleEvent::Incident,
            min_severity: Severity::High,
            notify_resolved: true,
            channels: vec![],
            options: RuleOptions::default(),
        });
        assert!(errors.contains_key("name"));
        assert!(errors["channels"].contains("alerts nobody"));
    }

    fn rule(event: RuleEvent, options: RuleOptions) -> FieldErrors {
        validate_rule(&RuleInput {
            name: "Rule".into(),
            client_id: None,
            event,
            min_severity: Severity::High,
            notify_resolved: true,
            channels: vec![1],
            options,
        })
    }

    #[test]
    fn silence_thresholds_start_at_stale_and_rise() {
        let silent = |warn, critical| RuleOptions {
            warn_after_minutes: warn,
            critical_after_minutes: critical,
            ..RuleOptions::default()
        };
        assert!(rule(RuleEvent::Silent, silent(Some(15), Some(60))).is_empty());
        assert!(rule(RuleEvent::Silent, silent(Some(30), None)).is_empty());
        assert!(rule(RuleEvent::Silent, silent(None, None)).contains_key("warn_after_minutes"));
        assert!(
            rule(RuleEvent::Silent, silent(Some(5), None))["warn_after_minutes"].contains("online")
        );
        assert!(
            rule(RuleEvent::Silent, silent(Some(60), Some(60)))
                .contains_key("critical_after_minutes")
        );
    }

    #[test]
    fn compliance_needs_a_percentage_and_a_chain_break_no_repeat() {
        let below = |p| RuleOptions {
            below_percent: p,
            ..RuleOptions::default()
        };
        assert!(rule(RuleEvent::Compliance, below(Some(80))).is_empty());
        assert!(rule(RuleEvent::Compliance, below(None)).contains_key("below_percent"));
        assert!(rule(RuleEvent::Compliance, below(Some(0))).contains_key("below_percent"));
        let repeat = |m| RuleOptions {
            repeat_minutes: Some(m),
            ..RuleOptions::default()
        };
        assert!(rule(RuleEvent::Incident, repeat(60)).is_empty());
        assert!(rule(RuleEvent::Incident, repeat(5)).contains_key("repeat_minutes"));
        assert!(rule(RuleEvent::Chain, repeat(60))["repeat_minutes"].contains("once"));
    }

    #[test]
    fn a_rule_says_when_it_alerts() {
        let rule = AlertRule {
            id: 1,
            name: "Silence".into(),
            client: None,
            event: RuleEvent::Silent,
            min_severity: Severity::High,
            notify_resolved: true,
            enabled: true,
            channels: vec![],
            options: RuleOptions {
                warn_after_minutes: Some(30),
                critical_after_minutes: Some(90),
                repeat_minutes: Some(240),
                delivery: RuleDelivery::Hourly,
                ..RuleOptions::default()
            },
        };
        assert_eq!(
            rule.describe(),
            "a site is silent 30 min, and again at 1 h 30 min; again every 4 h until resolved; \
             and when it clears (an hourly summary)"
        );
    }
}

/// A maintenance window, as `/admin/maintenance` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub id: i64,
    /// What it covers, in words: a clinic and its site id, or every site of a client.
    pub covers: String,
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
    pub weekly: bool,
    pub time_zone: String,
    pub created_by: String,
    /// Whether it holds alerts back now.
    pub active: bool,
    /// The start of its next occurrence (none for a one-off that is over or under way).
    pub next_start: Option<DateTime<Utc>>,
}

/// A window as the form sends it: times are local to `time_zone`, `YYYY-MM-DDTHH:MM`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowInput {
    /// A site's public id, or empty for a client's window.
    pub site: String,
    pub client_id: Option<i64>,
    pub reason: String,
    pub start: String,
    pub end: String,
    pub weekly: bool,
    pub time_zone: String,
}

/// The form's local date-time format (an `<input type="datetime-local">`).
pub const LOCAL_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M";
/// A weekly window lasts at most a week; a one-off at most 30 days.
pub const MAX_WEEKLY_MINUTES: i64 = 7 * 24 * 60;
pub const MAX_ONCE_MINUTES: i64 = 30 * 24 * 60;

/// The window's length in minutes, when its start and end read.
pub fn window_minutes(input: &WindowInput) -> Option<i64> {
    let start = chrono::NaiveDateTime::parse_from_str(&input.start, LOCAL_TIME_FORMAT).ok()?;
    let end = chrono::NaiveDateTime::parse_from_str(&input.end, LOCAL_TIME_FORMAT).ok()?;
    Some((end - start).num_minutes())
}

pub fn validate_window(input: &WindowInput) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let has_site = !input.site.trim().is_empty();
    if has_site == input.client_id.is_some() {
        errors.insert(
            "site".into(),
            "Choose either a site or a client the window covers.".into(),
        );
    }
    if input.reason.trim().is_empty() {
        errors.insert("reason".into(), "Say what the work is.".into());
    } else if input.reason.trim().chars().count() > 200 {
        errors.insert("reason".into(), "At most 200 characters.".into());
    }
    for (field, value) in [("start", &input.start), ("end", &input.end)] {
        if chrono::NaiveDateTime::parse_from_str(value, LOCAL_TIME_FORMAT).is_err() {
            errors.insert(field.into(), "Enter a date and time.".into());
        }
    }
    if let Some(minutes) = window_minutes(input) {
        let most = if input.weekly {
            MAX_WEEKLY_MINUTES
        } else {
            MAX_ONCE_MINUTES
        };
        if minutes <= 0 {
            errors.insert("end".into(), "The window ends before it starts.".into());
        } else if minutes > most {
            let what = if input.weekly {
                "A weekly window lasts at most 7 days."
            } else {
                "A window lasts at most 30 days."
            };
            errors.insert("end".into(), what.into());
        }
    }
    if input.time_zone.trim().is_empty() {
        errors.insert(
            "time_zone".into(),
            "Enter a time zone, such as Europe/Berlin or UTC.".into(),
        );
    }
    errors
}
