//! `/`: the fleet at a glance, which MSP staff keep open all day.

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;
use leptos_router::components::A;

use crate::cached_answer::CachedAnswer;
use crate::components::badges::{HealthWithLevel, StatusBadge, percent};
use crate::components::charts::Sparkline;
use crate::components::freshness::DataFreshness;
use crate::components::maintenance_notice::MaintenanceNotice;
use crate::components::query_view::QueryView;
use crate::error::AppError;
use crate::pages::clients::{ClientCards, clients_query};
use crate::queries::fleet_options;
use crate::types::OverviewData;

crate::query_args!(GetOverview);

/// Fleet statistics, top incident types and the sites needing attention (cached aggregates).
#[server(input = crate::codec::Query, endpoint = "get_overview")]
pub async fn get_overview() -> Result<CachedAnswer<OverviewData>, AppError> {
    let scope = crate::auth::require_scope()?;
    let (db, cache) = crate::aggregates::request_state()?;
    let overview = crate::aggregates::overview(&db, &cache, &scope).await?;
    crate::aggregates::tag_answer(&overview.etag);
    Ok(overview.into())
}

pub fn stats_query() -> QueryScope<(), Result<CachedAnswer<OverviewData>, AppError>> {
    QueryScope::new(get_overview).with_options(fleet_options())
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    // Blocking: the HTML waits for the data, so it reads without JavaScript.
    let overview = client.resource_blocking(stats_query(), || ());
    let clients = client.resource_blocking(clients_query(), || ());
    let retry_overview = Callback::new(move |_| {
        client.invalidate_query(stats_query(), ());
    });
    let retry_clients = Callback::new(move |_| {
        client.invalidate_query(clients_query(), ());
    });

    view! {
        <Title text="Overview" />
        <MaintenanceNotice />
        <QueryView rows=3 retry=retry_overview>
            {move || Suspend::new(async move {
                overview
                    .await
                    .map(|data| {
                        DataFreshness::record(data.stats.as_of_ms);
                        view! { <OverviewSections data=data.into_value() /> }
                    })
            })}
        </QueryView>
        <section aria-labelledby="clients-heading">
            <h2 id="clients-heading">"Clients, least healthy first"</h2>
            <QueryView rows=2 retry=retry_clients>
                {move || Suspend::new(async move {
                    clients.await.map(|clients| view! { <ClientCards clients /> })
                })}
            </QueryView>
        </section>
    }
}

#[component]
fn OverviewSections(data: OverviewData) -> impl IntoView {
    let stats = data.stats;
    let daily: Vec<i64> = stats.daily_incidents.iter().map(|d| d.count).collect();
    let open = stats.open_incidents;
    let open_total = open.low + open.medium + open.high + open.critical;
    view! {
        <section class="kpi-grid" aria-label="Headline figures">
            <Kpi label="Clients" value=stats.clients.to_string() testid="kpi-clients" />
            <div class="kpi-card" data-testid="kpi-sites">
                <div class="kpi-value">{stats.sites.online + stats.sites.stale + stats.sites.offline + stats.sites.pending}</div>
                <div class="kpi-label">"Sites"</div>
                <div class="kpi-breakdown">
                    <span class="status-online">{stats.sites.online}" online"</span>
                    <span class="status-stale">{stats.sites.stale}" stale"</span>
                    <span class="status-offline">{stats.sites.offline}" offline"</span>
                    <span class="status-pending">{stats.sites.pending}" pending"</span>
                </div>
            </div>
            <div class="kpi-card" data-testid="kpi-open-incidents">
                <div class="kpi-value">{open_total}</div>
                <div class="kpi-label">"Open incidents"</div>
                <div class="kpi-breakdown">
                    <span class="severity-critical">{open.critical}" critical"</span>
                    <span class="severity-high">{open.high}" high"</span>
                    <span class="severity-medium">{open.medium}" medium"</span>
                    <span class="severity-low">{open.low}" low"</span>
                </div>
            </div>
            <Kpi label="Average compliance" value=percent(stats.average_compliance) testid="kpi-compliance" />
            <div class="kpi-card" data-testid="kpi-incidents-24h">
                <div class="kpi-value">{stats.incidents_24h}</div>
                <div class="kpi-label">"Incidents, 24 h"</div>
                <Sparkline values=daily.clone() label="Incidents per day, last 14 days".to_string() />
            </div>
            <div class="kpi-card" data-testid="kpi-incidents-7d">
                <div class="kpi-value">{stats.incidents_7d}</div>
                <div class="kpi-label">"Incidents, 7 days"</div>
                <Sparkline values=daily label="Incidents per day, last 14 days".to_string() />
            </div>
        </section>
        <p class="as-of">
            "Stats as of "
            {chrono::DateTime::from_timestamp_millis(stats.as_of_ms).map(|t| t.format("%H:%M:%S UTC").to_string())}
        </p>
        <div class="two-columns">
            <section aria-labelledby="types-heading">
                <h2 id="types-heading">"Top incident types, 7 days"</h2>
                <ol class="bar-list" data-testid="top-incident-types">
                    {data
                        .top_incident_types
                        .into_iter()
                        .map(|t| view! { <li><span>{t.check_type.replace('_', " ")}</span><b>{t.count}</b></li> })
                        .collect_view()}
                </ol>
            </section>
            <section aria-labelledby="attention-heading">
                <h2 id="attention-heading">"Sites needing attention"</h2>
                <table class="data-table" data-testid="needing-attention">
                    <thead><tr><th>"Site"</th><th>"Status"</th><th>"Health"</th></tr></thead>
                    <tbody>
                        {data
                            .needing_attention
                            .into_iter()
                            .map(|site| {
                                view! {
                                    <tr>
                                        <td><A href=format!("/sites/{}", site.site_id)>{site.clinic_name}</A></td>
                                        <td><StatusBadge status=site.status /></td>
                                        <td><HealthWithLevel health=site.health level=site.level /></td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </section>
        </div>
    }
}

#[component]
fn Kpi(label: &'static str, value: String, testid: &'static str) -> impl IntoView {
    view! {
        <div class="kpi-card" data-testid=testid>
            <div class="kpi-value">{value}</div>
            <div class="kpi-label">{label}</div>
        </div>
    }
}
