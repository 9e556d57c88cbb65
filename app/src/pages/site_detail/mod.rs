//! `/sites/:site_id`: one clinic's compliance, trend, appliances, incidents, orders and
//! evidence chain.

mod on_day;
mod orders;

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::auth::Role;
use crate::components::badges::{LevelBadge, SeverityBadge, StatusBadge, ago, percent};
use crate::components::charts::{HealthGauge, TrendChart, health_class};
use crate::components::current_user::use_can;
use crate::components::maintenance_notice::MaintenanceNotice;
use crate::components::query_view::QueryView;
use crate::domain::ids::SiteSlug;
use crate::error::AppError;
use crate::queries::fleet_options;
use crate::scoring::{HealthLevel, category_weight};
use crate::types::{ControlState, ControlStatus, SiteDetail, SiteRow};
use on_day::{DayPicker, SiteOnDayPage};
use orders::NewOrderForm;

crate::query_args!(GetSite);

#[server(input = crate::codec::Query, endpoint = "get_site")]
pub async fn get_site(site_id: SiteSlug) -> Result<SiteDetail, AppError> {
    let user = crate::auth::require_user()?;
    let (db, cache) = crate::aggregates::request_state()?;
    let rows = crate::aggregates::site_rows(&db, &cache, &user.clients)
        .await?
        .value;
    let row = rows
        .iter()
        .find(|r| r.site_id == site_id)
        .cloned()
        .ok_or_else(|| {
            AppError::NotFound(format!("no site with id {:?}", site_id.as_str())).with_status()
        })?;
    let detail = crate::db::site_detail(&db, row, chrono::Utc::now()).await?;
    Ok(if user.can(Role::Readonly) {
        detail
    } else {
        detail.for_clinic()
    })
}

pub fn site_query() -> QueryScope<SiteSlug, Result<SiteDetail, AppError>> {
    QueryScope::new(get_site).with_options(fleet_options())
}

/// The site today, or as it stood at the end of the day `?at=` names.
#[component]
pub fn SiteDetailPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    move || {
        let site_id = SiteSlug(params.read().get("site_id").unwrap_or_default());
        match query.read().get("at") {
            Some(day) => view! { <SiteOnDayPage site_id day /> }.into_any(),
            None => view! { <SiteToday /> }.into_any(),
        }
    }
}

#[component]
fn SiteToday() -> impl IntoView {
    let client: QueryClient = expect_context();
    let params = use_params_map();
    let site_id = move || SiteSlug(params.read().get("site_id").unwrap_or_default());
    let detail = client.resource_blocking(site_query(), site_id);
    let retry = Callback::new(move |_| {
        client.invalidate_query(site_query(), site_id());
    });
    view! {
        <QueryView rows=8 retry>
            {move || Suspend::new(async move { detail.await.map(|detail| view! { <SiteDetailView detail /> }) })}
        </QueryView>
    }
}

/// The site's gauge, name and facts, with Edit for admins.
#[component]
fn SiteHead(
    site: SiteRow,
    onboarding_stage: String,
    contact_name: Option<String>,
    contact_email: Option<String>,
) -> impl IntoView {
    let can_edit = use_can(Role::Admin);
    let site_id = site.site_id.clone();
    view! {
        <div class="detail-head">
            <HealthGauge value=(site.level != HealthLevel::Onboarding).then_some(site.health) size=80 />
            <div>
                <div class="title-row">
                    <h2 data-testid="site-name">{site.clinic_name.clone()}</h2>
                    {can_edit.then(|| view! {
                        <A href=format!("/sites/{site_id}/edit") attr:class="button" attr:data-testid="edit-site">"Edit"</A>
                    })}
                </div>
                <p class="card-meta">
                    {site.site_id.to_string()}" · "
                    <A href=format!("/clients/{}", site.client_id)>{site.client_name.clone()}</A>" · "
                    {site.tier.clone()}" tier · onboarding: "{onboarding_stage}
                </p>
                <p class="card-meta">
                    <StatusBadge status=site.status.clone() />" last check-in "{ago(site.last_checkin)}" · "
                    <LevelBadge level=site.level />
                    {contact_name.map(|name| format!(" · contact {name}"))}
                    {contact_email.map(|email| format!(" <{email}>"))}
                </p>
            </div>
        </div>
    }
}

/// The site's state per HIPAA Security Rule control, with the checks behind each.
#[component]
fn HipaaControls(controls: Vec<ControlStatus>) -> impl IntoView {
    let failing = controls
        .iter()
        .filter(|c| c.state == ControlState::Failing)
        .count();
    view! {
        <section aria-labelledby="hipaa-heading">
            <h2 id="hipaa-heading">
                "HIPAA Security Rule "
                <span class="card-meta" data-testid="hipaa-failing">
                    {format!("{failing} of {} controls failing", controls.len())}
                </span>
            </h2>
            <table class="data-table" data-testid="hipaa-controls">
                <thead><tr><th>"Citation"</th><th>"Control"</th><th>"Kind"</th><th>"State"</th><th>"Checks"</th></tr></thead>
                <tbody>
                    {controls.into_iter().map(|control| view! { <ControlRow control /> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn ControlRow(control: ControlStatus) -> impl IntoView {
    let (state, class) = match control.state {
        ControlState::Pass => ("pass", "control-pass"),
        ControlState::Failing => ("failing", "control-failing"),
        ControlState::NoData => ("no data", "control-none"),
    };
    let checks = control
        .checks
        .into_iter()
        .map(|(check, result)| {
            let (label, class) = match result {
                Some(status) => (status.as_str(), format!("check-{}", status.as_str())),
                None => ("no data", "check-none".to_string()),
            };
            view! {
                <li class=class>{check.replace('_', " ")}": "{label}</li>
            }
        })
        .collect_view();
    view! {
        <tr data-citation=control.citation.clone()>
            <td class="citation">{control.citation.clone()}</td>
            <td>{control.title}</td>
            <td>{if control.required { "required" } else { "addressable" }}</td>
            <td><span class=format!("badge {class}") data-testid="control-state">{state}</span></td>
            <td><ul class="control-checks">{checks}</ul></td>
        </tr>
    }
}

/// The page once its data is in; type-erased, like [`SiteHead`], to stay within the
/// compiler's depth limit.
#[component]
fn SiteDetailView(detail: SiteDetail) -> impl IntoView {
    // Clinic accounts see neither appliance details nor orders.
    let staff = use_can(Role::Readonly);
    let site = detail.site;
    let evidence = detail.evidence;
    let site_id_for_orders = site.site_id.clone();
    let hostnames: Vec<String> = detail
        .appliances
        .iter()
        .map(|a| a.hostname.clone())
        .collect();
    view! {
        <Title text=site.clinic_name.clone() />
        <SiteHead
            site=site.clone()
            onboarding_stage=detail.onboarding_stage
            contact_name=detail.contact_name
            contact_email=detail.contact_email
        />
        <MaintenanceNotice site=site.site_id.to_string() />
        <DayPicker site_id=site.site_id.to_string() />
        <div class="two-columns">
            <section aria-labelledby="compliance-heading">
                <h2 id="compliance-heading">"Compliance "<span data-testid="overall-compliance">{percent(site.compliance)}</span></h2>
                <table class="data-table" data-testid="category-scores">
                    <thead><tr><th>"Category"</th><th>"Weight"</th><th>"Score"</th></tr></thead>
                    <tbody>
                        {detail
                            .categories
                            .into_iter()
                            .map(|(category, score)| {
                                view! {
                                    <tr>
                                        <td>{category.replace('_', " ")}</td>
                                        <td>{format!("{:.2}", category_weight(&category))}</td>
                                        <td class=health_class(score)>{percent(score)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </section>
            <section aria-labelledby="trend-heading">
                <h2 id="trend-heading">"30-day trend"</h2>
                <TrendChart points=detail.trend />
                <h2>"Evidence chain"</h2>
                <p data-testid="evidence-status">
                    {match evidence.broken_at {
                        None => format!("{} bundles, chain intact", evidence.length),
                        Some(position) => format!("{} bundles, chain BROKEN at position {position}", evidence.length),
                    }}
                    {evidence.last_at.map(|at| format!(" · last {}", ago(Some(at))))}
                </p>
            </section>
        </div>
        <HipaaControls controls=detail.controls />
        {staff.then(|| view! {
        <section aria-labelledby="appliances-heading">
            <h2 id="appliances-heading">"Appliances"</h2>
            <table class="data-table">
                <thead><tr><th>"Hostname"</th><th>"MAC"</th><th>"Agent"</th><th>"Last check-in"</th><th>"Status"</th></tr></thead>
                <tbody>
                    {detail
                        .appliances
                        .into_iter()
                        .map(|a| {
                            view! {
                                <tr>
                                    <td>{a.hostname}</td>
                                    <td>{a.mac}</td>
                                    <td>{a.agent_version}</td>
                                    <td>{ago(a.last_checkin)}</td>
                                    <td><StatusBadge status=a.status /></td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        }.into_any())}
        <div class="two-columns">
            <section aria-labelledby="incidents-heading">
                <h2 id="incidents-heading">"Recent incidents"</h2>
                {if detail.recent_incidents.is_empty() {
                    view! { <p class="empty-note" data-testid="recent-incidents">"No incidents reported."</p> }.into_any()
                } else {
                    view! {
                        <table class="data-table" data-testid="recent-incidents">
                            <thead><tr><th>"Reported"</th><th>"Host"</th><th>"Check"</th><th>"Severity"</th><th>"Status"</th></tr></thead>
                            <tbody>
                                {detail
                                    .recent_incidents
                                    .into_iter()
                                    .map(|i| {
                                        view! {
                                            <tr>
                                                <td>{ago(Some(i.reported_at))}</td>
                                                <td>{i.hostname}</td>
                                                <td>{i.check_type.replace('_', " ")}</td>
                                                <td><SeverityBadge severity=i.severity /></td>
                                                <td><StatusBadge status=i.status /></td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
            {staff.then(|| view! {
            <section aria-labelledby="orders-heading">
                <h2 id="orders-heading">"Pending orders"</h2>
                {if detail.pending_orders.is_empty() {
                    view! { <p class="empty-note">"No pending orders."</p> }.into_any()
                } else {
                    view! {
                        <table class="data-table">
                            <thead><tr><th>"Order"</th><th>"Appliance"</th><th>"Priority"</th><th>"Expires"</th></tr></thead>
                            <tbody>
                                {detail
                                    .pending_orders
                                    .into_iter()
                                    .map(|o| {
                                        view! {
                                            <tr>
                                                <td>{o.order_type.replace('_', " ")}</td>
                                                <td>{o.appliance}</td>
                                                <td>{o.priority}</td>
                                                <td>{o.expires_at.format("%b %d %H:%M UTC").to_string()}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                    .into_any()
                }}
                <NewOrderForm site_id=site_id_for_orders hostnames />
            </section>
            }.into_any())}
        </div>
    }
    .into_any()
}
