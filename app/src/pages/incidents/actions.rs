//! Resolve, escalate, suppress: operators and admins act on one or many incidents. The server
//! checks the role, changes only incidents the action applies to, records history and audit,
//! and keeps the list's anchors in step; the page then refetches only what changed.

use std::collections::BTreeSet;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::components::current_user::use_can;
use crate::components::toast::Toasts;
use crate::error::AppError;
use crate::types::IncidentAction;

/// Most incidents one request may act on.
pub const MAX_IDS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The incidents changed, in id order.
    pub changed: Vec<i64>,
    /// How many were left as they were (already resolved, say).
    pub skipped: usize,
}

#[server(input = crate::codec::Json, endpoint = "act_on_incidents")]
pub async fn act_on_incidents(
    ids: Vec<i64>,
    action: IncidentAction,
) -> Result<ActionResult, AppError> {
    use crate::db::triage::{Applied, apply_action};

    let user = crate::auth::require_role(Role::Operator)?;
    let scope = user.clients.clone();
    let ids: Vec<i64> = ids
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(AppError::Invalid(format!(
            "ids: select 1 to {MAX_IDS} incidents, not {}",
            ids.len()
        ))
        .with_status());
    }
    let (db, cache) = crate::aggregates::request_state()?;
    let (_, windows) = super::windows_state()?;
    let audit = crate::services::Actor::signed_in(user).audit(
        match action {
            IncidentAction::Resolve => "incident.resolve",
            IncidentAction::Escalate => "incident.escalate",
            IncidentAction::Suppress => "incident.suppress",
        },
        format!("{} incidents", ids.len()),
        serde_json::json!({ "ids": ids }),
    );
    let changes = match apply_action(&db, &scope, &ids, action, &audit).await? {
        Applied::Changed(changes) => changes,
        Applied::Missing(missing) => {
            let missing: Vec<String> = missing.iter().map(i64::to_string).collect();
            return Err(
                AppError::NotFound(format!("no incident with id {}", missing.join(", ")))
                    .with_status(),
            );
        }
    };
    windows.note_changed(&changes);
    let changed: Vec<i64> = changes.iter().map(|(_, after)| after.id).collect();
    cache
        .invalidate(&crate::cache::KEYS_AFFECTED_BY_REPORT)
        .await;
    if let Some(peers) = use_context::<crate::cluster::Peers>() {
        use crate::domain::scope::Scope;
        let scopes = [Scope::Incidents, Scope::Stats, Scope::Sites].into();
        let incidents = crate::cluster::IncidentChanges {
            changed: changes,
            ..Default::default()
        };
        peers
            .tell(crate::cluster::Change::Data { scopes, incidents })
            .await;
    }
    Ok(ActionResult {
        skipped: ids.len() - changed.len(),
        changed,
    })
}

/// The buttons over the list. They act on the ticked rows, or on the focused row when none
/// is ticked. Hidden from read-only users (the server refuses them anyway).
#[component]
pub fn ActionBar(
    ticked: RwSignal<BTreeSet<i64>>,
    focused: Signal<Option<i64>>,
    on_done: Callback<ActionResult>,
) -> impl IntoView {
    let action = ServerAction::<ActOnIncidents>::new();
    let last_kind = StoredValue::new(IncidentAction::Resolve);
    Effect::new(move |_| match action.value().get() {
        Some(Ok(result)) => {
            let verb = match last_kind.get_value() {
                IncidentAction::Resolve => "Resolved",
                IncidentAction::Escalate => "Escalated",
                IncidentAction::Suppress => "Suppressed for 24 h:",
            };
            let n = result.changed.len();
            let plural = if n == 1 { "" } else { "s" };
            let skipped = if result.skipped > 0 {
                format!(" ({} left as they were)", result.skipped)
            } else {
                String::new()
            };
            Toasts::show(format!("{verb} {n} incident{plural}{skipped}."));
            ticked.set(BTreeSet::new());
            on_done.run(result);
        }
        Some(Err(err)) => Toasts::show(err.to_string()),
        None => {}
    });
    let targets = move || {
        let ticked = ticked.get();
        if ticked.is_empty() {
            focused.get().into_iter().collect()
        } else {
            ticked.into_iter().collect::<Vec<_>>()
        }
    };
    let button = move |kind: IncidentAction, label: &'static str| {
        view! {
            <button
                type="button"
                class="button"
                data-testid=format!("action-{}", kind.as_str())
                disabled=move || targets().is_empty() || action.pending().get()
                on:click=move |_| {
                    last_kind.set_value(kind);
                    action.dispatch(ActOnIncidents { ids: targets(), action: kind });
                }
            >
                {label}
            </button>
        }
    };
    use_can(Role::Operator).then(|| view! {
        <div class="action-bar" role="toolbar" aria-label="Incident actions" data-testid="action-bar">
            <span class="subtle" data-testid="ticked-count">
                {move || match ticked.read().len() { 0 => "Focused row".to_string(), n => format!("{n} selected") }}
            </span>
            {button(IncidentAction::Resolve, "Resolve")}
            {button(IncidentAction::Escalate, "Escalate")}
            {button(IncidentAction::Suppress, "Suppress 24 h")}
        </div>
    })
}
