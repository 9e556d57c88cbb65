//! `/admin/alerts`: where alerts go (channels, each with a "send test" button), what is alerted
//! on (rules: defaults and per-client), and the delivery log. Admins manage channels and rules;
//! operators read the log.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::alerts::{
    AlertChannel, AlertRule, ChannelInput, ChannelKind, DeliveryRow, DeliveryStatus, RuleDelivery,
    RuleEvent, RuleInput, RuleOptions, Saved, TestOutcome, validate_channel, validate_rule,
};
use crate::auth::Role;
use crate::components::badges::ago;
use crate::components::form::{FieldError, FieldMessages, TextField, show_answer};
use crate::components::query_view::QueryView;
use crate::components::toast::Toasts;
use crate::error::AppError;
use crate::types::{ClientSummary, Severity};
use crate::validation::FieldErrors;

crate::query_args!(ListAlertChannels);

#[server(input = crate::codec::Query, endpoint = "list_alert_channels")]
pub async fn list_alert_channels() -> Result<Vec<AlertChannel>, AppError> {
    crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    Ok(crate::db::alerts::list_channels(&db).await?)
}

#[server(input = crate::codec::Json, endpoint = "add_alert_channel")]
pub async fn add_alert_channel(channel: ChannelInput) -> Result<Saved, AppError> {
    use crate::services::{Actor, alerts};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    alerts::add_channel(&db, channel, Actor::signed_in(admin)).await
}

/// Sends a test message through channel `id` now and says what the receiver answered.
#[server(input = crate::codec::Json, endpoint = "send_test_alert")]
pub async fn send_test_alert(id: i64) -> Result<TestOutcome, AppError> {
    use crate::services::alerts::AlertEvent;
    use crate::services::alerts::send::AlertSender;

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let Some(channel) = crate::db::alerts::find_channel(&db, id).await? else {
        return Err(AppError::NotFound(format!("no alert channel {id}")).with_status());
    };
    let sender = use_context::<AlertSender>()
        .ok_or_else(|| AppError::Database("the alert sender is not set up".into()))?;
    let event = AlertEvent {
        event: "test".into(),
        rule: format!("test by {}", admin.email),
        severity: "info".into(),
        client: "Posture".into(),
        clinic: "a test clinic".into(),
        site: "test".into(),
        hostname: "posture".into(),
        check_type: "alert_channel".into(),
        incident_id: None,
        at: chrono::Utc::now(),
        detail: String::new(),
        reminder: false,
    };
    let key = format!("test-{id}-{}", event.at.timestamp_millis());
    Ok(match sender.send(&channel, &event.message(), &key).await {
        Ok(answer) => TestOutcome {
            delivered: true,
            answer,
        },
        Err(answer) => TestOutcome {
            delivered: false,
            answer,
        },
    })
}

crate::query_args!(ListAlertRules);

#[server(input = crate::codec::Query, endpoint = "list_alert_rules")]
pub async fn list_alert_rules() -> Result<Vec<AlertRule>, AppError> {
    crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    Ok(crate::db::alerts::list_rules(&db).await?)
}

#[server(input = crate::codec::Json, endpoint = "add_alert_rule")]
pub async fn add_alert_rule(rule: RuleInput) -> Result<Saved, AppError> {
    use crate::services::{Actor, alerts};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    alerts::add_rule(&db, rule, Actor::signed_in(admin)).await
}

crate::query_args!(ListAlertDeliveries);

#[server(input = crate::codec::Query, endpoint = "list_alert_deliveries")]
pub async fn list_alert_deliveries() -> Result<Vec<DeliveryRow>, AppError> {
    /// Deliveries the log shows, newest first.
    const LOG_ROWS: i64 = 100;

    let user = crate::auth::require_role(Role::Operator)?;
    let (db, _) = crate::aggregates::request_state()?;
    Ok(crate::db::alerts::list_deliveries(&db, &user.clients, LOG_ROWS).await?)
}

/// Puts a dead delivery back in line.
#[server(input = crate::codec::Json, endpoint = "retry_alert_delivery")]
pub async fn retry_alert_delivery(id: i64) -> Result<(), AppError> {
    use crate::db::accounts::NewAudit;

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let audit = NewAudit {
        actor: admin.email,
        action: "alert.delivery.retry",
        target: id.to_string(),
        details: serde_json::json!({}),
        ip: crate::auth::client_ip(),
        at: chrono::Utc::now(),
    };
    if crate::db::alerts::retry_delivery(&db, id, &audit).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no dead delivery {id}")).with_status())
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let is_admin = crate::components::current_user::use_can(Role::Admin);
    view! {
        <Title text="Alerts" />
        {is_admin.then(|| view! { <ChannelsAndRules /> })}
        <section class="panel" data-testid="delivery-log">
            <h2>"Delivery log"</h2>
            <DeliveryLog is_admin />
        </section>
    }
}

#[component]
fn ChannelsAndRules() -> impl IntoView {
    let channels = Resource::new_blocking(|| (), |_| list_alert_channels());
    let rules = Resource::new_blocking(|| (), |_| list_alert_rules());
    let clients = Resource::new_blocking(|| (), |_| crate::pages::clients::list_clients());
    let changed_channels = Callback::new(move |()| channels.refetch());
    let changed_rules = Callback::new(move |()| rules.refetch());
    view! {
        <section class="panel" data-testid="alert-channels">
            <h2>"Channels"</h2>
            <AddChannelForm on_added=changed_channels />
            <QueryView rows=3 retry=changed_channels>
                {move || Suspend::new(async move {
                    channels.await.map(|channels| view! { <ChannelTable channels /> })
                })}
            </QueryView>
        </section>
        <section class="panel" data-testid="alert-rules">
            <h2>"Rules"</h2>
            <p class="card-meta">
                "Rules without a client apply to every client that has no rules of its own."
            </p>
            <QueryView rows=3 retry=changed_rules>
                {move || Suspend::new(async move {
                    let (channels, clients) = (channels.await?, clients.await?);
                    rules.await.map(|rules| view! {
                        <AddRuleForm channels=channels.clone() clients on_added=changed_rules />
                        <RuleTable rules />
                    })
                })}
            </QueryView>
        </section>
    }
}

#[component]
fn ChannelTable(channels: Vec<AlertChannel>) -> impl IntoView {
    if channels.is_empty() {
        return view! { <p class="empty-note">"No channels yet: add one above."</p> }.into_any();
    }
    view! {
        <table class="data-table" data-testid="channels-table">
            <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Target"</th><th>"Signing secret"</th><th></th></tr></thead>
            <tbody>
                {channels.into_iter().map(|channel| view! { <ChannelRow channel /> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn ChannelRow(channel: AlertChannel) -> impl IntoView {
    let test = ServerAction::<SendTestAlert>::new();
    let id = channel.id;
    let secret = (!channel.secret.is_empty()).then(|| channel.secret.clone());
    let name = channel.name.clone();
    view! {
        <tr data-testid="channel-row" data-name=name>
            <td>{channel.name}</td>
            <td>{channel.kind.as_str()}</td>
            <td class="wrap">{channel.target}</td>
            <td>{secret.map(|s| view! { <code class="secret">{s}</code> })}</td>
            <td>
                <button type="button" class="button" data-testid="send-test"
                    disabled=move || test.pending().get()
                    on:click=move |_| { test.dispatch(SendTestAlert { id }); }>
                    {move || if test.pending().get() { "Sending…" } else { "Send test" }}
                </button>
                {move || test.value().get().map(|answer| match answer {
                    Ok(TestOutcome { delivered, answer }) => view! {
                        <p class=if delivered { "test-answer ok" } else { "test-answer failed" } data-testid="test-answer">
                            {if delivered { "Delivered: " } else { "Not delivered: " }}{answer}
                        </p>
                    }.into_any(),
                    Err(err) => view! { <p class="test-answer failed" data-testid="test-answer">{err.to_string()}</p> }.into_any(),
                })}
            </td>
        </tr>
    }
}

#[component]
fn AddChannelForm(on_added: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(ChannelKind::Email);
    let target = RwSignal::new(String::new());
    let input = move || ChannelInput {
        name: name.get(),
        kind: kind.get(),
        target: target.get(),
    };
    let messages = FieldMessages::new(Memo::new(move |_| validate_channel(&input())));
    let add = ServerAction::<AddAlertChannel>::new();
    show_answer(add.value(), messages, "Channel added.", move || {
        name.set(String::new());
        target.set(String::new());
        on_added.run(());
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if messages.submit() {
            add.dispatch(AddAlertChannel { channel: input() });
        }
    };
    view! {
        <form class="inline-form" data-testid="add-channel-form" on:submit=on_submit novalidate>
            <TextField name="name" label="Name" value=name error=messages.of("name")
                testid="channel-name".to_string() on_edit=Callback::new(move |()| messages.edited("name")) />
            <label class="field">
                <span>"Kind"</span>
                <select data-testid="channel-kind" on:change=move |ev| {
                    if let Some(k) = ChannelKind::parse(&event_target_value(&ev)) { kind.set(k) }
                }>
                    {ChannelKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str() selected=move || kind.get() == k>{k.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="field wide">
                <span>{move || kind.get().target_label()}</span>
                <input type="text" name="target" data-testid="channel-target"
                    prop:value=move || target.get()
                    aria-invalid=move || messages.of("target").get().is_some().to_string()
                    on:input=move |ev| { target.set(event_target_value(&ev)); messages.edited("target"); } />
                <FieldError error=messages.of("target") name="target" />
            </label>
            <button type="submit" class="button primary" data-testid="add-channel" disabled=move || add.pending().get()>"Add channel"</button>
        </form>
    }
}

#[component]
fn RuleTable(rules: Vec<AlertRule>) -> impl IntoView {
    if rules.is_empty() {
        return view! { <p class="empty-note">"No rules yet: nothing is alerted on."</p> }
            .into_any();
    }
    view! {
        <table class="data-table" data-testid="rules-table">
            <thead><tr><th>"Name"</th><th>"Client"</th><th>"When"</th><th>"Channels"</th></tr></thead>
            <tbody>
                {rules.into_iter().map(|rule| {
                    let client = rule.client.clone().map(|(_, name)| name).unwrap_or_else(|| "every client (default)".into());
                    let when = rule.describe();
                    let channels = rule.channels.into_iter().map(|(_, name)| name).collect::<Vec<_>>().join(", ");
                    view! {
                        <tr data-testid="rule-row">
                            <td>{rule.name}</td><td>{client}</td><td>{when}</td><td>{channels}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// A number typed into a field: `None` when empty, `Err` when it is not a whole number.
fn typed_number(text: &str) -> Result<Option<i32>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(drop)
}

/// The rule form's fields for what its event watches and how it sends, as typed.
#[derive(Clone, Copy)]
struct OptionFields {
    warn: RwSignal<String>,
    critical: RwSignal<String>,
    below: RwSignal<String>,
    repeat: RwSignal<Option<i32>>,
    delivery: RwSignal<RuleDelivery>,
}

impl OptionFields {
    fn new() -> Self {
        Self {
            warn: RwSignal::new("15".into()),
            critical: RwSignal::new("60".into()),
            below: RwSignal::new("80".into()),
            repeat: RwSignal::new(None),
            delivery: RwSignal::new(RuleDelivery::Instant),
        }
    }

    fn options(self) -> RuleOptions {
        let number = |field: RwSignal<String>| typed_number(&field.get()).ok().flatten();
        RuleOptions {
            warn_after_minutes: number(self.warn),
            critical_after_minutes: number(self.critical),
            below_percent: number(self.below),
            repeat_minutes: self.repeat.get(),
            delivery: self.delivery.get(),
        }
    }

    /// Fields of `event` whose text is not a number.
    fn unreadable(self, event: RuleEvent) -> FieldErrors {
        let fields = match event {
            RuleEvent::Silent => vec![
                ("warn_after_minutes", self.warn),
                ("critical_after_minutes", self.critical),
            ],
            RuleEvent::Compliance => vec![("below_percent", self.below)],
            _ => vec![],
        };
        fields
            .into_iter()
            .filter(|(_, field)| typed_number(&field.get()).is_err())
            .map(|(name, _)| (name.to_string(), "Enter a whole number.".to_string()))
            .collect()
    }
}

/// Repeat intervals the form offers, in minutes.
const REPEATS: [(Option<i32>, &str); 5] = [
    (None, "Once"),
    (Some(30), "Every 30 minutes"),
    (Some(60), "Every hour"),
    (Some(240), "Every 4 hours"),
    (Some(1440), "Every day"),
];

#[component]
fn AddRuleForm(
    channels: Vec<AlertChannel>,
    clients: Vec<ClientSummary>,
    on_added: Callback<()>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let client = RwSignal::new(None::<i64>);
    let event = RwSignal::new(RuleEvent::Incident);
    let severity = RwSignal::new(Severity::High);
    let notify_resolved = RwSignal::new(true);
    let chosen = RwSignal::new(Vec::<i64>::new());
    let fields = OptionFields::new();
    let input = move || RuleInput {
        name: name.get(),
        client_id: client.get(),
        event: event.get(),
        min_severity: severity.get(),
        notify_resolved: notify_resolved.get(),
        channels: chosen.get(),
        options: fields.options(),
    };
    let messages = FieldMessages::new(Memo::new(move |_| {
        let mut errors = validate_rule(&input());
        errors.extend(fields.unreadable(event.get()));
        errors
    }));
    let add = ServerAction::<AddAlertRule>::new();
    show_answer(add.value(), messages, "Rule added.", move || {
        name.set(String::new());
        chosen.set(Vec::new());
        on_added.run(());
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if messages.submit() {
            add.dispatch(AddAlertRule { rule: input() });
        }
    };
    let edited = move |field: &'static str| Callback::new(move |()| messages.edited(field));
    view! {
        <form class="inline-form" data-testid="add-rule-form" on:submit=on_submit novalidate>
            <TextField name="name" label="Name" value=name error=messages.of("name")
                testid="rule-name".to_string() on_edit=edited("name") />
            <label class="field">
                <span>"Client"</span>
                <select data-testid="rule-client" on:change=move |ev| {
                    client.set(event_target_value(&ev).parse().ok());
                    messages.edited("client_id");
                }>
                    <option value="">"Every client (default)"</option>
                    {clients.into_iter().map(|c| view! { <option value=c.id.to_string()>{c.name}</option> }).collect_view()}
                </select>
                <FieldError error=messages.of("client_id") name="client_id" />
            </label>
            <label class="field">
                <span>"When"</span>
                <select data-testid="rule-event" on:change=move |ev| {
                    if let Some(e) = RuleEvent::parse(&event_target_value(&ev)) { event.set(e) }
                }>
                    {RuleEvent::ALL.into_iter().map(|e| view! {
                        <option value=e.as_str() selected=move || event.get() == e>{e.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <Show when=move || event.get().has_severity()>
                <label class="field">
                    <span>"Severity at least"</span>
                    <select data-testid="rule-severity" on:change=move |ev| {
                        if let Some(s) = Severity::parse(&event_target_value(&ev)) { severity.set(s) }
                    }>
                        {Severity::ALL.into_iter().map(|s| view! {
                            <option value=s.as_str() selected=move || severity.get() == s>{s.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
            </Show>
            <Show when=move || event.get() == RuleEvent::Silent>
                <TextField name="warn_after_minutes" label="First alert after (minutes)" kind="number"
                    value=fields.warn error=messages.of("warn_after_minutes")
                    testid="rule-warn-after".to_string() on_edit=edited("warn_after_minutes") />
                <TextField name="critical_after_minutes" label="Critical after (minutes, optional)" kind="number"
                    value=fields.critical error=messages.of("critical_after_minutes")
                    testid="rule-critical-after".to_string() on_edit=edited("critical_after_minutes") />
            </Show>
            <Show when=move || event.get() == RuleEvent::Compliance>
                <TextField name="below_percent" label="Compliance below (%)" kind="number"
                    value=fields.below error=messages.of("below_percent")
                    testid="rule-below-percent".to_string() on_edit=edited("below_percent") />
            </Show>
            <Show when=move || event.get().lasts()>
                <label class="field">
                    <span>"Repeat while unresolved"</span>
                    <select data-testid="rule-repeat" on:change=move |ev| {
                        fields.repeat.set(event_target_value(&ev).parse().ok());
                        messages.edited("repeat_minutes");
                    }>
                        {REPEATS.into_iter().map(|(minutes, label)| view! {
                            <option value=minutes.map(|m| m.to_string()).unwrap_or_default()
                                selected=move || fields.repeat.get() == minutes>{label}</option>
                        }).collect_view()}
                    </select>
                    <FieldError error=messages.of("repeat_minutes") name="repeat_minutes" />
                </label>
            </Show>
            <label class="field">
                <span>"Send"</span>
                <select data-testid="rule-delivery" on:change=move |ev| {
                    if let Some(d) = RuleDelivery::parse(&event_target_value(&ev)) { fields.delivery.set(d) }
                }>
                    {RuleDelivery::ALL.into_iter().map(|d| view! {
                        <option value=d.as_str() selected=move || fields.delivery.get() == d>{d.label()}</option>
                    }).collect_view()}
                </select>
            </label>
            <fieldset class="field choices" data-testid="rule-channels">
                <legend>"Channels"</legend>
                {channels.into_iter().map(|channel| {
                    let id = channel.id;
                    view! {
                        <label class="choice">
                            <input type="checkbox" value=id.to_string()
                                prop:checked=move || chosen.read().contains(&id)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|c| { c.retain(|x| *x != id); if on { c.push(id) } });
                                    messages.edited("channels");
                                } />
                            {channel.name}
                        </label>
                    }
                }).collect_view()}
                <FieldError error=messages.of("channels") name="channels" />
            </fieldset>
            <Show when=move || event.get().lasts()>
                <label class="choice">
                    <input type="checkbox" data-testid="rule-notify-resolved"
                        prop:checked=move || notify_resolved.get()
                        on:change=move |ev| notify_resolved.set(event_target_checked(&ev)) />
                    "Also when it clears"
                </label>
            </Show>
            <button type="submit" class="button primary" data-testid="add-rule" disabled=move || add.pending().get()>"Add rule"</button>
        </form>
    }
}

#[component]
fn DeliveryLog(is_admin: bool) -> impl IntoView {
    let log = Resource::new_blocking(|| (), |_| list_alert_deliveries());
    let retry = Callback::new(move |()| log.refetch());
    view! {
        <QueryView rows=5 retry>
            {move || Suspend::new(async move {
                log.await.map(|rows| {
                    if rows.is_empty() {
                        return view! { <p class="empty-note">"Nothing sent yet."</p> }.into_any();
                    }
                    view! {
                        <table class="data-table" data-testid="deliveries-table">
                            <thead><tr><th>"Alert"</th><th>"Channel"</th><th>"Status"</th><th>"Attempts"</th><th>"Last error"</th><th>"Queued"</th><th></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| view! { <DeliveryRowView row is_admin on_retried=retry /> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                })
            })}
        </QueryView>
    }
}

#[component]
fn DeliveryRowView(row: DeliveryRow, is_admin: bool, on_retried: Callback<()>) -> impl IntoView {
    let again = ServerAction::<RetryAlertDelivery>::new();
    Effect::new(move |_| match again.value().get() {
        Some(Ok(())) => {
            Toasts::show("Delivery queued again.");
            on_retried.run(());
        }
        Some(Err(err)) => Toasts::show(err.to_string()),
        None => {}
    });
    let id = row.id;
    let status = row.status;
    let when = match status {
        DeliveryStatus::Sent => format!("sent {}", ago(row.sent_at)),
        DeliveryStatus::Pending => {
            format!("next try {}", row.next_attempt_at.format("%H:%M:%S UTC"))
        }
        DeliveryStatus::Dead => "gave up".to_string(),
        DeliveryStatus::Folded => "in a digest".to_string(),
        DeliveryStatus::Suppressed => format!(
            "held back by {}",
            row.held_back_by.clone().unwrap_or_default()
        ),
    };
    view! {
        <tr data-testid="delivery-row" data-status=status.as_str()>
            <td>{row.subject}</td>
            <td>{row.channel}</td>
            <td><span class=format!("badge delivery-{}", status.as_str())>{status.as_str()}</span>" "<span class="card-meta">{when}</span></td>
            <td>{row.attempts}</td>
            <td class="wrap">{row.last_error.unwrap_or_default()}</td>
            <td>{ago(Some(row.created_at))}</td>
            <td>
                {(is_admin && status == DeliveryStatus::Dead).then(|| view! {
                    <button type="button" class="button" data-testid="retry-delivery"
                        on:click=move |_| { again.dispatch(RetryAlertDelivery { id }); }>"Retry"</button>
                })}
            </td>
        </tr>
    }
}
