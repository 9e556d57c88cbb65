//! Live updates: the server's event stream (`/api/v1/events`) names the query scopes new data
//! changed, and exactly those are marked stale, so an open page shows an appliance's report
//! within a second. Polling stays as the fallback when the stream is down.

use codee::string::JsonSerdeCodec;
use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_use_event_source::{
    ReconnectLimit, UseEventSourceOptions, UseEventSourceReturn, use_event_source_with_options,
};

use crate::domain::scope::Scope;
use crate::pages::clients::{client_query, clients_query};
use crate::pages::incidents::detail::incident_query;
use crate::pages::incidents::{incident_count_query, incident_window_query};
use crate::pages::overview::stats_query;
use crate::pages::site_detail::site_query;
use crate::pages::sites::sites_query;

/// Listens for invalidation hints for as long as the signed-in layout is mounted.
pub fn listen_for_changes() {
    let client: QueryClient = expect_context();
    let UseEventSourceReturn { message, .. } =
        use_event_source_with_options::<Vec<Scope>, JsonSerdeCodec>(
            "/api/v1/events",
            UseEventSourceOptions::default()
                .named_events(["invalidate".to_string()])
                .reconnect_limit(ReconnectLimit::Infinite)
                .reconnect_interval(5_000),
        );
    Effect::new(move |_| {
        if let Some(hint) = message.get() {
            for scope in hint.data {
                invalidate(client, scope);
            }
        }
    });
}

fn invalidate(client: QueryClient, scope: Scope) {
    match scope {
        Scope::Stats => {
            client.invalidate_query(stats_query(), ());
        }
        Scope::Sites => {
            client.invalidate_query_scope(sites_query());
            client.invalidate_query_scope(clients_query());
            client.invalidate_query_scope(client_query());
        }
        Scope::Site(slug) => {
            client.invalidate_query(site_query(), slug);
        }
        Scope::Incidents => {
            client.invalidate_query_scope(incident_count_query());
            client.invalidate_query_scope(incident_window_query());
            client.invalidate_query_scope(incident_query());
        }
        Scope::Everything => {
            client.invalidate_all_queries();
        }
    }
}
