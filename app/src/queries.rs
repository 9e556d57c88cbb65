//! The query cache's scopes: one per kind of data, keyed by what the data depends on.
//! Mutations invalidate through these same scopes, so they name exactly what they affect.

use std::time::Duration;

use leptos_fetch::{QueryOptions, QueryScope};

use crate::error::AppError;
use crate::pages::clients::{get_client, list_clients};
use crate::pages::incidents::detail::get_incident;
use crate::pages::incidents::{count_incidents, list_incident_window};
use crate::pages::overview::get_overview;
use crate::pages::runbooks::{get_runbook, list_runbooks};
use crate::pages::site_detail::get_site;
use crate::pages::sites::list_sites;
use crate::types::{
    ClientDetail, ClientSummary, IncidentDetail, IncidentFilter, IncidentRow, IncidentWindowKey,
    OverviewData, Runbook, RunbookFilter, SiteDetail, SiteFilter, SiteRow,
};

/// Stats, sites and clients go stale after 30 s and are refetched every 60 s while the tab is
/// visible.
fn fleet_options() -> QueryOptions {
    QueryOptions::new()
        .with_stale_time(Duration::from_secs(30))
        .with_refetch_interval(Duration::from_secs(60))
}

pub fn stats_query() -> QueryScope<(), Result<OverviewData, AppError>> {
    QueryScope::new(get_overview).with_options(fleet_options())
}

pub fn clients_query() -> QueryScope<(), Result<Vec<ClientSummary>, AppError>> {
    QueryScope::new(list_clients).with_options(fleet_options())
}

pub fn client_query() -> QueryScope<i64, Result<ClientDetail, AppError>> {
    QueryScope::new(get_client).with_options(fleet_options())
}

pub fn sites_query() -> QueryScope<SiteFilter, Result<Vec<SiteRow>, AppError>> {
    QueryScope::new(list_sites).with_options(fleet_options())
}

pub fn site_query() -> QueryScope<String, Result<SiteDetail, AppError>> {
    QueryScope::new(get_site).with_options(fleet_options())
}

/// Runbooks change rarely: refetched every 300 s.
fn runbook_options() -> QueryOptions {
    QueryOptions::new()
        .with_stale_time(Duration::from_secs(120))
        .with_refetch_interval(Duration::from_secs(300))
}

pub fn runbooks_query() -> QueryScope<RunbookFilter, Result<Vec<Runbook>, AppError>> {
    QueryScope::new(list_runbooks).with_options(runbook_options())
}

pub fn runbook_query() -> QueryScope<String, Result<Runbook, AppError>> {
    QueryScope::new(get_runbook).with_options(runbook_options())
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

/// One incident's detail panel: fresh for 30 s, and invalidated by actions on it.
pub fn incident_query() -> QueryScope<i64, Result<IncidentDetail, AppError>> {
    QueryScope::new(get_incident)
        .with_options(QueryOptions::new().with_stale_time(Duration::from_secs(30)))
}
