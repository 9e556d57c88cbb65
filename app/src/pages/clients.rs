//! `/clients` and `/clients/:id`: client organisations with their sites and health.

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::sites::SitesTable;
use crate::components::charts::HealthGauge;
use crate::components::query_view::{EmptyState, QueryView};
use crate::error::AppError;
use crate::queries::fleet_options;
use crate::types::{ClientDetail, ClientSummary};

crate::query_args!(ListClients);

#[server(input = crate::codec::Query, endpoint = "list_clients")]
pub async fn list_clients() -> Result<Vec<ClientSummary>, AppError> {
    let scope = crate::auth::require_scope()?;
    let (db, cache) = crate::aggregates::request_state()?;
    let rows = crate::aggregates::site_rows(&db, &cache, &scope)
        .await?
        .value;
    Ok(crate::db::client_summaries(&db, &scope, &rows).await?)
}

crate::query_args!(GetClient);

#[server(input = crate::codec::Query, endpoint = "get_client")]
pub async fn get_client(id: i64) -> Result<ClientDetail, AppError> {
    let scope = crate::auth::require_scope()?;
    let (db, cache) = crate::aggregates::request_state()?;
    let name = crate::db::client_name(&db, &scope, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no client with id {id}")).with_status())?;
    let rows = crate::aggregates::site_rows(&db, &cache, &scope)
        .await?
        .value;
    let sites: Vec<_> = rows.iter().filter(|r| r.client_id == id).cloned().collect();
    Ok(ClientDetail {
        client: crate::db::summarise_client(id, name, sites.iter()),
        sites,
    })
}

pub fn clients_query() -> QueryScope<(), Result<Vec<ClientSummary>, AppError>> {
    QueryScope::new(list_clients).with_options(fleet_options())
}

pub fn client_query() -> QueryScope<i64, Result<ClientDetail, AppError>> {
    QueryScope::new(get_client).with_options(fleet_options())
}

#[component]
pub fn ClientsPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let clients = client.resource_blocking(clients_query(), || ());
    let retry = Callback::new(move |_| {
        client.invalidate_query(clients_query(), ());
    });
    view! {
        <Title text="Clients" />
        <QueryView retry>
            {move || Suspend::new(async move {
                clients
                    .await
                    .map(|clients| {
                        if clients.is_empty() {
                            view! { <EmptyState message="No clients yet.".to_string() /> }.into_any()
                        } else {
                            view! { <ClientCards clients /> }.into_any()
                        }
                    })
            })}
        </QueryView>
    }
}

#[component]
pub fn ClientDetailPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let params = use_params_map();
    // An id that is not a number can match no client: ask for one that cannot exist.
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    let detail = client.resource_blocking(client_query(), id);
    let retry = Callback::new(move |_| {
        client.invalidate_query(client_query(), id());
    });
    view! {
        <QueryView retry>
            {move || Suspend::new(async move {
                detail
                    .await
                    .map(|detail| {
                        let summary = detail.client;
                        view! {
                            <Title text=summary.name.clone() />
                            <div class="detail-head">
                                <HealthGauge value=summary.health size=80 />
                                <div>
                                    <h2 data-testid="client-name">{summary.name}</h2>
                                    <p class="card-meta">
                                        {summary.sites}" sites, "{summary.sites_online}" online · "
                                        {summary.open_incidents}" open incidents"
                                    </p>
                                </div>
                            </div>
                            <SitesTable rows=detail.sites sort_links=None />
                        }
                    })
            })}
        </QueryView>
    }
}

/// One card per client: its health and how many of its sites are online.
#[component]
pub fn ClientCards(clients: Vec<ClientSummary>) -> impl IntoView {
    view! {
        <div class="card-grid" data-testid="client-cards">
            {clients
                .into_iter()
                .map(|c| {
                    view! {
                        <A href=format!("/clients/{}", c.id) attr:class="client-card">
                            <HealthGauge value=c.health />
                            <div>
                                <div class="card-title">{c.name}</div>
                                <div class="card-meta">
                                    {c.sites_online}" of "{c.sites}" sites online · "{c.open_incidents}" open incidents"
                                </div>
                            </div>
                        </A>
                    }
                })
                .collect_view()}
        </div>
    }
}
