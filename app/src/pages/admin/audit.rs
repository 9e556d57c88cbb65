//! `/admin/audit`: every change, newest first, filtered by actor, action and day; the same
//! filter exports as CSV (streamed by the server's `/admin/audit.csv`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

use crate::accounts::{AuditFilter, AuditPage};
use crate::components::badges::ago;
use crate::components::query_view::{EmptyState, QueryView};
use crate::error::AppError;

/// Entries per page of the audit list.
pub const AUDIT_PAGE_SIZE: i64 = 100;

crate::query_args!(ListAudit);

#[server(input = crate::codec::Query, endpoint = "list_audit")]
pub async fn list_audit(filter: AuditFilter) -> Result<AuditPage, AppError> {
    crate::auth::require_role(crate::auth::Role::Admin)?;
    check_days(&filter)?;
    let (db, _) = crate::aggregates::request_state()?;
    let mut entries =
        crate::db::accounts::audit_entries(&db, &filter, filter.before, AUDIT_PAGE_SIZE + 1)
            .await?;
    let older = (entries.len() as i64 > AUDIT_PAGE_SIZE).then(|| {
        entries.truncate(AUDIT_PAGE_SIZE as usize);
        entries.last().map_or(0, |e| e.id)
    });
    Ok(AuditPage { entries, older })
}

/// A day filter must be a real `YYYY-MM-DD` date or empty.
#[cfg(feature = "ssr")]
pub fn check_days(filter: &AuditFilter) -> Result<(), AppError> {
    for (name, day) in [("from", &filter.from), ("to", &filter.to)] {
        if !day.trim().is_empty() && crate::db::sql::day_start(day, 0).is_none() {
            return Err(AppError::Invalid(format!(
                "{name} must be a date as YYYY-MM-DD, not {day:?}"
            ))
            .with_status());
        }
    }
    Ok(())
}

pub fn filter_from_query(query: &ParamsMap) -> AuditFilter {
    AuditFilter {
        actor: query.get("actor").unwrap_or_default(),
        action: query.get("action").unwrap_or_default(),
        from: query.get("from").unwrap_or_default(),
        to: query.get("to").unwrap_or_default(),
        before: query
            .get("before")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0),
    }
}

/// The query string of a filter (defaults left out), for the page URL and the CSV link.
pub fn filter_query(filter: &AuditFilter) -> String {
    let mut query = ParamsMap::new();
    for (name, value) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("from", &filter.from),
        ("to", &filter.to),
    ] {
        if !value.trim().is_empty() {
            query.insert(name, value.trim().to_string());
        }
    }
    if filter.before > 0 {
        query.insert("before", filter.before.to_string());
    }
    query.to_query_string()
}

const ACTIONS: [(&str, &str); 6] = [
    ("", "All actions"),
    ("auth.", "Sign-ins"),
    ("site.", "Sites"),
    ("user.", "Users"),
    ("incident.", "Incidents"),
    ("seed.", "Seeding"),
];

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| filter_from_query(&query.read()));
    let page = Resource::new_blocking(move || filter.get(), list_audit);
    let retry = Callback::new(move |_| page.refetch());
    let navigate = use_navigate();
    let go = move |next: AuditFilter| {
        navigate(
            &format!("/admin/audit{}", filter_query(&next)),
            NavigateOptions::default(),
        )
    };
    let set = move |name: &'static str, value: String| {
        let mut next = filter.get_untracked();
        match name {
            "actor" => next.actor = value,
            "action" => next.action = value,
            "from" => next.from = value,
            _ => next.to = value,
        }
        next.before = 0;
        go(next);
    };
    let csv_href = move || {
        let filter = AuditFilter {
            before: 0,
            ..filter.get()
        };
        format!("/admin/audit.csv{}", filter_query(&filter))
    };
    view! {
        <Title text="Audit log" />
        <form class="filters" method="get" action="/admin/audit" on:submit=|ev| ev.prevent_default()>
            <label>"Actor "<input type="search" name="actor" data-testid="audit-actor"
                prop:value=move || filter.read().actor.clone()
                on:change={ let set = set.clone(); move |ev| set("actor", event_target_value(&ev)) } /></label>
            <label>"Action "
                <select name="action" data-testid="audit-action"
                    on:change={ let set = set.clone(); move |ev| set("action", event_target_value(&ev)) }>
                    {ACTIONS.into_iter().map(|(value, label)| view! {
                        <option value=value selected=move || filter.read().action == value>{label}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"From "<input type="date" name="from" data-testid="audit-from"
                prop:value=move || filter.read().from.clone()
                on:change={ let set = set.clone(); move |ev| set("from", event_target_value(&ev)) } /></label>
            <label>"To "<input type="date" name="to" data-testid="audit-to"
                prop:value=move || filter.read().to.clone()
                on:change=move |ev| set("to", event_target_value(&ev)) /></label>
            <noscript><button type="submit" class="button">"Apply"</button></noscript>
            <a class="button" href=csv_href download data-testid="audit-csv" rel="external">"Export CSV"</a>
        </form>
        <QueryView rows=8 retry>
            {move || Suspend::new(async move {
                page.await.map(|page| {
                    if page.entries.is_empty() {
                        return view! { <EmptyState message="No audit entries match.".to_string() /> }.into_any();
                    }
                    let older = page.older.map(|before| {
                        let next = AuditFilter { before, ..filter.get_untracked() };
                        view! { <A href=format!("/admin/audit{}", filter_query(&next))>"Older entries →"</A> }
                    });
                    view! {
                        <table class="data-table" data-testid="audit-table">
                            <thead><tr><th>"When"</th><th>"Actor"</th><th>"Action"</th><th>"Target"</th><th>"Details"</th><th>"IP"</th></tr></thead>
                            <tbody>
                                {page.entries.into_iter().map(|e| view! {
                                    <tr data-testid="audit-row">
                                        <td title=e.at.to_rfc3339()>{ago(Some(e.at))}</td>
                                        <td>{e.actor}</td>
                                        <td><code>{e.action}</code></td>
                                        <td>{e.target}</td>
                                        <td class="details-cell"><code>{e.details}</code></td>
                                        <td>{e.ip.unwrap_or_default()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        {older}
                    }.into_any()
                })
            })}
        </QueryView>
    }
}
