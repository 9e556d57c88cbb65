//! `/sites`: every clinic, searchable, filterable and sortable; the filter lives in the URL
//! so it can be shared and the back button walks through it. Hovering a row prefetches the
//! site's detail, so opening it needs no request.

use std::time::Duration;

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

use crate::auth::Role;
use crate::components::badges::{HealthWithLevel, StatusBadge, ago, percent};
use crate::components::browser_timer::Intent;
use crate::components::current_user::use_can;
use crate::components::query_view::{EmptyState, QueryView};
use crate::components::search_box::SearchBox;
use crate::error::AppError;
use crate::pages::site_detail::site_query;
use crate::queries::fleet_options;
use crate::types::{SiteFilter, SiteRow, SiteSort};

const STATUSES: [&str; 4] = ["online", "stale", "offline", "pending"];
/// How long the pointer must rest on a row before its detail is prefetched.
const HOVER_PREFETCH_DELAY: Duration = Duration::from_millis(150);

crate::query_args!(ListSites);

#[server(input = crate::codec::Query, endpoint = "list_sites")]
pub async fn list_sites(filter: SiteFilter) -> Result<Vec<SiteRow>, AppError> {
    if !filter.status.is_empty() && !STATUSES.contains(&filter.status.as_str()) {
        return Err(AppError::Invalid(format!(
            "status must be one of {}, not {:?}",
            STATUSES.join(", "),
            filter.status
        ))
        .with_status());
    }
    let scope = crate::auth::require_scope()?;
    let (db, cache) = crate::aggregates::request_state()?;
    let rows = crate::aggregates::site_rows(&db, &cache, &scope).await?;
    crate::aggregates::tag_answer(&crate::aggregates::etag_with(&rows.etag, &filter));
    Ok(crate::db::filter_sites(&rows.value, &filter))
}

/// The filter a `/sites` URL describes; unknown values fall back to the defaults.
pub fn filter_from_query(query: &ParamsMap) -> SiteFilter {
    let status = query.get("status").unwrap_or_default();
    SiteFilter {
        q: query.get("q").unwrap_or_default().trim().to_string(),
        status: if STATUSES.contains(&status.as_str()) {
            status
        } else {
            String::new()
        },
        sort: query
            .get("sort")
            .and_then(|s| SiteSort::parse(&s))
            .unwrap_or_default(),
        desc: query.get("desc").is_some_and(|d| d == "1"),
    }
}

/// The `/sites` URL of a filter (defaults left out).
pub fn filter_href(filter: &SiteFilter) -> String {
    let mut query = ParamsMap::new();
    if !filter.q.is_empty() {
        query.insert("q", filter.q.clone());
    }
    if !filter.status.is_empty() {
        query.insert("status", filter.status.clone());
    }
    if filter.sort != SiteSort::default() {
        query.insert("sort", filter.sort.as_str().to_string());
    }
    if filter.desc {
        query.insert("desc", "1".to_string());
    }
    format!("/sites{}", query.to_query_string())
}

pub fn sites_query() -> QueryScope<SiteFilter, Result<Vec<SiteRow>, AppError>> {
    QueryScope::new(list_sites).with_options(fleet_options())
}

#[component]
pub fn SitesPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let query = use_query_map();
    let filter = Memo::new(move |_| filter_from_query(&query.read()));
    let sites = client.resource_blocking(sites_query(), move || filter.get());
    let retry = Callback::new(move |_| {
        client.invalidate_query(sites_query(), filter.get_untracked());
    });

    let navigate = use_navigate();
    let go = move |next: SiteFilter| navigate(&filter_href(&next), NavigateOptions::default());
    let on_search = Callback::new({
        let go = go.clone();
        move |q: String| {
            go(SiteFilter {
                q,
                ..filter.get_untracked()
            })
        }
    });
    let q = Memo::new(move |_| filter.read().q.clone());
    let can_add = use_can(Role::Admin);

    view! {
        <Title text="Sites" />
        <form class="filters" method="get" action="/sites" on:submit=|ev| ev.prevent_default()>
            <SearchBox value=q on_search placeholder="Clinic, site id or client" testid="site-search" />
            <label>
                "Status "
                <select
                    name="status"
                    data-testid="status-filter"
                    on:change={
                        let go = go.clone();
                        move |ev| go(SiteFilter { status: event_target_value(&ev), ..filter.get_untracked() })
                    }
                >
                    <option value="" selected=move || filter.read().status.is_empty()>"All"</option>
                    {STATUSES
                        .into_iter()
                        .map(|s| view! { <option value=s selected=move || filter.read().status == s>{s}</option> })
                        .collect_view()}
                </select>
            </label>
            <noscript><button type="submit" class="button">"Apply"</button></noscript>
            {can_add.then(|| view! {
                <A href="/admin/sites/new" attr:class="button primary" attr:data-testid="new-site">"New site"</A>
            })}
        </form>
        <QueryView rows=8 retry>
            {move || Suspend::new(async move {
                sites
                    .await
                    .map(|rows| {
                        let count = rows.len();
                        view! {
                            <p class="result-count" data-testid="site-count">{count}" sites"</p>
                            <SitesTable rows sort_links=Some(filter.get_untracked()) />
                        }
                    })
            })}
        </QueryView>
    }
}

/// The sites table. With `sort_links`, the headers are links that sort by their column.
#[component]
pub fn SitesTable(rows: Vec<SiteRow>, sort_links: Option<SiteFilter>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <EmptyState message="No sites match.".to_string() /> }.into_any();
    }
    let header = move |label: &'static str, sort: SiteSort| match &sort_links {
        Some(filter) => {
            let active = filter.sort == sort;
            let next = SiteFilter {
                sort,
                desc: active && !filter.desc,
                ..filter.clone()
            };
            let marker = if !active {
                ""
            } else if filter.desc {
                " ▼"
            } else {
                " ▲"
            };
            let aria = if !active {
                "none"
            } else if filter.desc {
                "descending"
            } else {
                "ascending"
            };
            view! {
                <th aria-sort=aria>
                    <A href=filter_href(&next)>{label}{marker}</A>
                </th>
            }
            .into_any()
        }
        None => view! { <th>{label}</th> }.into_any(),
    };
    view! {
        <table class="data-table" data-testid="sites-table">
            <thead>
                <tr>
                    {header("Clinic", SiteSort::Name)}
                    {header("Client", SiteSort::Client)}
                    {header("Status", SiteSort::Status)}
                    {header("Last check-in", SiteSort::Checkin)}
                    {header("Compliance", SiteSort::Compliance)}
                    {header("Health", SiteSort::Health)}
                    {header("Open incidents", SiteSort::Incidents)}
                </tr>
            </thead>
            <tbody>{rows.into_iter().map(|row| view! { <SiteTableRow row /> }).collect_view()}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn SiteTableRow(row: SiteRow) -> impl IntoView {
    let client: QueryClient = expect_context();
    let hover = Intent::default();
    let site_id = row.site_id.clone();
    let start_prefetch = move |_| {
        let site_id = site_id.clone();
        hover.start(HOVER_PREFETCH_DELAY, move || {
            leptos::task::spawn_local(async move {
                client.prefetch_query(site_query(), site_id).await;
            });
        });
    };
    let cancel_prefetch = move |_| hover.cancel();
    view! {
        <tr data-site-id=row.site_id.to_string() on:mouseenter=start_prefetch on:mouseleave=cancel_prefetch>
            <td>
                <A href=format!("/sites/{}", row.site_id)>{row.clinic_name}</A>
                <div class="subtle">{row.site_id.to_string()}</div>
            </td>
            <td><A href=format!("/clients/{}", row.client_id)>{row.client_name}</A></td>
            <td><StatusBadge status=row.status /></td>
            <td>{ago(row.last_checkin)}</td>
            <td>{percent(row.compliance)}</td>
            <td><HealthWithLevel health=row.health level=row.level /></td>
            <td>{row.open_incidents}</td>
        </tr>
    }
}
