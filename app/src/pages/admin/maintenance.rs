//! `/admin/maintenance`: maintenance windows, when they hold alerts back, and adding one
//! (admins). Alerts inside a window are logged as suppressed, never sent; incidents are still
//! recorded.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::alerts::{MaintenanceWindow, Saved, WindowInput, validate_window};
use crate::auth::Role;
use crate::components::form::{FieldError, FieldMessages, TextField, show_answer};
use crate::components::query_view::QueryView;
use crate::components::toast::Toasts;
use crate::error::AppError;
use crate::types::ClientSummary;

crate::query_args!(ListMaintenanceWindows);

#[server(input = crate::codec::Query, endpoint = "list_maintenance_windows")]
pub async fn list_maintenance_windows() -> Result<Vec<MaintenanceWindow>, AppError> {
    let scope = crate::auth::require_scope()?;
    let (db, _) = crate::aggregates::request_state()?;
    let now = chrono::Utc::now();
    Ok(crate::db::maintenance::list_windows(&db, &scope)
        .await?
        .into_iter()
        .map(|window| crate::services::maintenance::shown(window, now))
        .collect())
}

#[server(input = crate::codec::Json, endpoint = "add_maintenance_window")]
pub async fn add_maintenance_window(window: WindowInput) -> Result<Saved, AppError> {
    use crate::services::{Actor, maintenance};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    maintenance::add_window(&db, window, Actor::signed_in(admin)).await
}

#[server(input = crate::codec::Json, endpoint = "delete_maintenance_window")]
pub async fn delete_maintenance_window(id: i64) -> Result<(), AppError> {
    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let audit = crate::services::Actor::signed_in(admin).audit(
        "maintenance.delete",
        id.to_string(),
        serde_json::json!({}),
    );
    if crate::db::maintenance::delete_window(&db, id, &audit).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no maintenance window {id}")).with_status())
    }
}

#[component]
pub fn MaintenancePage() -> impl IntoView {
    let is_admin = crate::components::current_user::use_can(Role::Admin);
    let windows = Resource::new_blocking(|| (), |_| list_maintenance_windows());
    let changed = Callback::new(move |()| windows.refetch());
    view! {
        <Title text="Maintenance windows" />
        {is_admin.then(|| {
            let clients = Resource::new_blocking(|| (), |_| crate::pages::clients::list_clients());
            view! {
                <QueryView rows=2 retry=changed>
                    {move || Suspend::new(async move {
                        clients.await.map(|clients| view! { <AddWindowForm clients on_added=changed /> })
                    })}
                </QueryView>
            }
        })}
        <QueryView rows=4 retry=changed>
            {move || Suspend::new(async move {
                windows.await.map(|windows| view! { <WindowTable windows is_admin on_change=changed /> })
            })}
        </QueryView>
    }
}

#[component]
fn WindowTable(
    windows: Vec<MaintenanceWindow>,
    is_admin: bool,
    on_change: Callback<()>,
) -> impl IntoView {
    if windows.is_empty() {
        return view! { <p class="empty-note">"No maintenance windows: every alert is sent."</p> }
            .into_any();
    }
    view! {
        <table class="data-table" data-testid="windows-table">
            <thead><tr><th>"Covers"</th><th>"Reason"</th><th>"When"</th><th>"Now"</th><th>"Created by"</th><th></th></tr></thead>
            <tbody>
                {windows.into_iter().map(|window| view! { <WindowRow window is_admin on_change /> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn WindowRow(window: MaintenanceWindow, is_admin: bool, on_change: Callback<()>) -> impl IntoView {
    let delete = ServerAction::<DeleteMaintenanceWindow>::new();
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => {
            Toasts::show("Window deleted.");
            on_change.run(());
        }
        Some(Err(err)) => Toasts::show(err.to_string()),
        None => {}
    });
    let id = window.id;
    let hours = window.duration_minutes as f64 / 60.0;
    let when = format!(
        "{}{} for {hours:.1} h ({})",
        if window.weekly { "weekly from " } else { "" },
        window.starts_at.format("%Y-%m-%d %H:%M UTC"),
        window.time_zone,
    );
    let now = if window.active {
        view! { <span class="window-active">"holding alerts back"</span> }.into_any()
    } else {
        let next = window
            .next_start
            .map(|at| format!("next {}", at.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_else(|| "over".into());
        view! { <span class="card-meta">{next}</span> }.into_any()
    };
    view! {
        <tr data-testid="window-row" data-active=window.active.to_string()>
            <td>{window.covers}</td>
            <td>{window.reason}</td>
            <td>{when}</td>
            <td>{now}</td>
            <td>{window.created_by}</td>
            <td>
                {is_admin.then(|| view! {
                    <button type="button" class="button" data-testid="delete-window"
                        on:click=move |_| { delete.dispatch(DeleteMaintenanceWindow { id }); }>"Delete"</button>
                })}
            </td>
        </tr>
    }
}

#[component]
fn AddWindowForm(clients: Vec<ClientSummary>, on_added: Callback<()>) -> impl IntoView {
    let site = RwSignal::new(String::new());
    let client = RwSignal::new(None::<i64>);
    let reason = RwSignal::new(String::new());
    let start = RwSignal::new(String::new());
    let end = RwSignal::new(String::new());
    let weekly = RwSignal::new(false);
    let time_zone = RwSignal::new("UTC".to_string());
    let input = move || WindowInput {
        site: site.get(),
        client_id: client.get(),
        reason: reason.get(),
        start: start.get(),
        end: end.get(),
        weekly: weekly.get(),
        time_zone: time_zone.get(),
    };
    let messages = FieldMessages::new(Memo::new(move |_| validate_window(&input())));
    let add = ServerAction::<AddMaintenanceWindow>::new();
    show_answer(add.value(), messages, "Window added.", move || {
        reason.set(String::new());
        on_added.run(());
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if messages.submit() {
            add.dispatch(AddMaintenanceWindow { window: input() });
        }
    };
    let edited = move |name: &'static str| Callback::new(move |()| messages.edited(name));
    let local_time = move |name: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input type="datetime-local" name=name data-testid=format!("window-{name}")
                    prop:value=move || value.get()
                    aria-invalid=move || messages.of(name).get().is_some().to_string()
                    on:input=move |ev| { value.set(event_target_value(&ev)); messages.edited(name); } />
                <FieldError error=messages.of(name) name />
            </label>
        }
    };
    view! {
        <form class="inline-form" data-testid="add-window-form" on:submit=on_submit novalidate>
            <TextField name="site" label="Site id (or choose a client)" value=site error=messages.of("site")
                testid="window-site".to_string() on_edit=edited("site") />
            <label class="field">
                <span>"Client"</span>
                <select data-testid="window-client" on:change=move |ev| {
                    client.set(event_target_value(&ev).parse().ok());
                    messages.edited("site");
                }>
                    <option value="">"—"</option>
                    {clients.into_iter().map(|c| view! { <option value=c.id.to_string()>{c.name}</option> }).collect_view()}
                </select>
            </label>
            <TextField name="reason" label="Reason" value=reason error=messages.of("reason")
                testid="window-reason".to_string() on_edit=edited("reason") />
            {local_time("start", "Starts (local)", start)}
            {local_time("end", "Ends (local)", end)}
            <TextField name="time_zone" label="Time zone" value=time_zone error=messages.of("time_zone")
                testid="window-time_zone".to_string() on_edit=edited("time_zone") />
            <label class="choice">
                <input type="checkbox" data-testid="window-weekly"
                    prop:checked=move || weekly.get()
                    on:change=move |ev| { weekly.set(event_target_checked(&ev)); messages.edited("end"); } />
                "Every week"
            </label>
            <button type="submit" class="button primary" data-testid="add-window" disabled=move || add.pending().get()>"Add window"</button>
        </form>
    }
}
