//! How long each kind of data stays fresh in the query cache. Each page owns the query
//! scopes of the server functions it reads through; these are the options they share.

use std::time::Duration;

use leptos_fetch::QueryOptions;

/// Stats, sites and clients go stale after 30 s and are refetched every 60 s while the tab is
/// visible.
pub fn fleet_options() -> QueryOptions {
    QueryOptions::new()
        .with_stale_time(Duration::from_secs(30))
        .with_refetch_interval(Duration::from_secs(60))
}

/// Runbooks change rarely: refetched every 300 s.
pub fn runbook_options() -> QueryOptions {
    QueryOptions::new()
        .with_stale_time(Duration::from_secs(120))
        .with_refetch_interval(Duration::from_secs(300))
}
