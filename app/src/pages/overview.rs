//! `/`: the headline numbers an MSP watches all day.

use std::time::Duration;

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryOptions, QueryScope};
use leptos_meta::Title;

use crate::components::error_view::ErrorView;
use crate::components::freshness::DataFreshness;
use crate::error::AppError;
use crate::types::OverviewCounts;

/// Counts of clients, sites and open incidents, read from the database.
#[server(endpoint = "get_overview_counts")]
pub async fn get_overview_counts() -> Result<OverviewCounts, AppError> {
    let db = expect_context::<crate::db::Db>();
    Ok(crate::db::overview_counts(&db).await?)
}

/// Stats go stale after 30 s and are refetched every 60 s while the tab is visible.
fn overview_query() -> QueryScope<(), Result<OverviewCounts, AppError>> {
    QueryScope::new(get_overview_counts).with_options(
        QueryOptions::new()
            .with_stale_time(Duration::from_secs(30))
            .with_refetch_interval(Duration::from_secs(60)),
    )
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    // Blocking: the HTML waits for the counts, so they are there without JavaScript.
    let counts = client.resource_blocking(overview_query(), || ());

    view! {
        <Title text="Overview" />
        <section aria-label="Headline counts">
            <Transition fallback=|| view! { <KpiSkeleton /> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorView errors /> }>
                    {move || Suspend::new(async move {
                        counts
                            .await
                            .map(|counts| {
                                DataFreshness::record(counts.as_of_ms);
                                view! { <KpiCards counts /> }
                            })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn KpiCards(counts: OverviewCounts) -> impl IntoView {
    view! {
        <div class="kpi-grid">
            <Kpi label="Clients" value=counts.clients testid="kpi-clients" />
            <Kpi label="Sites" value=counts.sites testid="kpi-sites" />
            <Kpi label="Open incidents" value=counts.open_incidents testid="kpi-open-incidents" />
        </div>
    }
}

#[component]
fn Kpi(label: &'static str, value: i64, testid: &'static str) -> impl IntoView {
    view! {
        <div class="kpi-card" data-testid=testid>
            <div class="kpi-value">{value}</div>
            <div class="kpi-label">{label}</div>
        </div>
    }
}

#[component]
fn KpiSkeleton() -> impl IntoView {
    view! {
        <div class="kpi-grid" aria-busy="true">
            {(0..3).map(|_| view! { <div class="kpi-card skeleton"></div> }).collect_view()}
        </div>
    }
}
