//! `/incidents`: every incident matching the filter in one scrolling list, a million rows
//! deep and more. Only the rows in view (plus a few) are in the DOM, and only the windows of
//! 100 rows they need are fetched, through the query cache. Browsers cap an element's height
//! near 33.5 million px, so past [`scroll::MAX_SPACER_PX`] the scroll position is mapped onto
//! row positions proportionally: every row stays reachable at any row count.
//!
//! Here: the page, the server functions it reads through and their query scopes; the list in
//! [`list`], its geometry in [`scroll`].

pub mod actions;
pub mod detail;
pub mod filters;
mod list;
mod scroll;

use std::time::Duration;

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryOptions, QueryScope};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use self::filters::FilterBar;
use self::list::{IncidentList, ListState};
use crate::components::query_view::QueryView;
use crate::error::AppError;
use crate::incident_filter::filter_from_query;
use crate::queries::fleet_options;
use crate::types::{IncidentFilter, IncidentRow, IncidentWindowKey};

/// Rows per window fetched from the server.
pub const WINDOW_ROWS: i64 = 100;

#[cfg(feature = "ssr")]
pub(crate) fn windows_state() -> Result<(crate::db::Db, crate::db::IncidentWindows), AppError> {
    let (db, _) = crate::aggregates::request_state()?;
    let windows = use_context::<crate::db::IncidentWindows>()
        .ok_or_else(|| AppError::Database("no incident index configured".into()))?;
    Ok((db, windows))
}

crate::query_args!(CountIncidents);

#[server(input = crate::codec::Query, endpoint = "count_incidents")]
pub async fn count_incidents(filter: IncidentFilter) -> Result<i64, AppError> {
    let (db, windows) = windows_state()?;
    let filter = crate::incident_filter::scoped(&db, filter, crate::auth::require_scope()?).await?;
    Ok(windows.count(&db, &filter).await?)
}

crate::query_args!(ListIncidentWindow);

#[server(input = crate::codec::Query, endpoint = "list_incident_window")]
pub async fn list_incident_window(key: IncidentWindowKey) -> Result<Vec<IncidentRow>, AppError> {
    if key.window < 0 {
        return Err(AppError::Invalid("window must not be negative".into()).with_status());
    }
    let (db, windows) = windows_state()?;
    let filter =
        crate::incident_filter::scoped(&db, key.filter, crate::auth::require_scope()?).await?;
    Ok(windows
        .window(&db, &filter, key.window * WINDOW_ROWS, WINDOW_ROWS)
        .await?)
}

/// Incident counts and windows: fresh for 30 s; windows of a filter are kept 5 min once
/// scrolled away from, so scrolling back is instant.
pub fn incident_count_query() -> QueryScope<IncidentFilter, Result<i64, AppError>> {
    QueryScope::new(count_incidents).with_options(fleet_options())
}

pub fn incident_window_query() -> QueryScope<IncidentWindowKey, Result<Vec<IncidentRow>, AppError>>
{
    QueryScope::new(list_incident_window).with_options(
        QueryOptions::new()
            .with_stale_time(Duration::from_secs(30))
            .with_gc_time(Duration::from_secs(300)),
    )
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let query = use_query_map();
    let filter = Memo::new(move |_| filter_from_query(&query.read()));
    let count = client.resource_blocking(incident_count_query(), move || filter.get());
    let first = client.resource_blocking(incident_window_query(), move || IncidentWindowKey {
        filter: filter.get(),
        window: 0,
    });
    let retry = Callback::new(move |_| {
        let filter = filter.get_untracked();
        client.invalidate_query(
            incident_window_query(),
            IncidentWindowKey {
                filter: filter.clone(),
                window: 0,
            },
        );
        client.invalidate_query(incident_count_query(), filter);
    });
    // What the reader is doing in the list survives the list being redrawn (after an action
    // changes the count) and is forgotten when the filter changes.
    let view_state = ListState::default();
    Effect::new(move |previous: Option<IncidentFilter>| {
        let current = filter.get();
        if previous.is_some_and(|p| p != current) {
            view_state.reset();
        }
        current
    });

    view! {
        <Title text="Incidents" />
        <FilterBar filter />
        <QueryView rows=10 retry>
            {move || Suspend::new(async move {
                let total = count.await?;
                let first_rows = first.await?;
                Ok::<_, AppError>(view! { <IncidentList filter=filter.get_untracked() total first_rows state=view_state /> })
            })}
        </QueryView>
    }
}
