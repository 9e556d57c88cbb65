//! `/sites/:site_id?at=DATE`: the site as it stood at the end of a past day, and the form that
//! picks the day.

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;
use leptos_router::components::A;

use super::HipaaControls;
use crate::components::badges::{SeverityBadge, percent};
use crate::components::charts::{HealthGauge, health_class};
use crate::components::query_view::QueryView;
use crate::domain::ids::SiteSlug;
use crate::error::AppError;
use crate::queries::fleet_options;
use crate::report::SiteOnDay;

crate::query_args!(GetSiteOnDay);

/// The site `site_id` at the end of `day` (`YYYY-MM-DD`).
#[server(input = crate::codec::Query, endpoint = "get_site_on_day")]
pub async fn get_site_on_day(site_id: SiteSlug, day: String) -> Result<SiteOnDay, AppError> {
    let scope = crate::auth::require_scope()?;
    let (db, _) = crate::aggregates::request_state()?;
    crate::services::reports::on_day::site_on_day(&db, &scope, &site_id, &day, chrono::Utc::now())
        .await
        .map_err(AppError::with_status)
}

pub fn site_on_day_query() -> QueryScope<(SiteSlug, String), Result<SiteOnDay, AppError>> {
    QueryScope::new(|(site_id, day)| get_site_on_day(site_id, day)).with_options(fleet_options())
}

#[component]
pub fn SiteOnDayPage(site_id: SiteSlug, day: String) -> impl IntoView {
    let client: QueryClient = expect_context();
    let key = (site_id, day);
    let on_day = client.resource_blocking(site_on_day_query(), {
        let key = key.clone();
        move || key.clone()
    });
    let retry = Callback::new(move |_| {
        client.invalidate_query(site_on_day_query(), key.clone());
    });
    view! {
        <QueryView rows=8 retry>
            {move || Suspend::new(async move { on_day.await.map(|site| view! { <SiteOnDayView site /> }) })}
        </QueryView>
    }
}

/// A plain GET form, so it works before hydration too.
#[component]
pub fn DayPicker(site_id: String, #[prop(optional)] day: Option<String>) -> impl IntoView {
    view! {
        <form method="get" action=format!("/sites/{site_id}") class="inline-form day-picker" data-testid="day-picker">
            <label class="field">
                <span>"Posture on a past day"</span>
                <input type="date" name="at" value=day required />
            </label>
            <button type="submit" class="button">"Show"</button>
        </form>
    }
}

#[component]
fn SiteOnDayView(site: SiteOnDay) -> impl IntoView {
    let slug = site.site_id.to_string();
    let day = site.day.to_string();
    let head = match site.evidence_head {
        Some((position, hash)) => format!("{position} bundles; the last: {hash}"),
        None => "no bundle yet".into(),
    };
    view! {
        <Title text=format!("{} on {day}", site.clinic_name) />
        <div class="detail-head">
            <HealthGauge value=site.score size=80 />
            <div>
                <h2 data-testid="site-name">{site.clinic_name.clone()}</h2>
                <p class="card-meta" data-testid="posture-day">
                    {format!("Posture at the end of {day} · ")}
                    <A href=format!("/clients/{}", site.client_id)>{site.client_name.clone()}</A>" · "
                    <A href=format!("/sites/{slug}")>"Back to today"</A>
                </p>
            </div>
        </div>
        <DayPicker site_id=slug day=day.clone() />
        {(site.results == 0).then(|| view! {
            <p class="empty-note" data-testid="no-results">
                "No check results from the 24 hours before this day's end: raw results are kept for the retention (--retention-days, 400 by default), or the site did not report. The day's snapshot is kept for six years."
            </p>
        })}
        <div class="two-columns">
            <section aria-labelledby="day-compliance-heading">
                <h2 id="day-compliance-heading">"Compliance "<span data-testid="day-compliance">{percent(site.score)}</span></h2>
                <table class="data-table" data-testid="category-scores">
                    <thead><tr><th>"Category"</th><th>"Score"</th></tr></thead>
                    <tbody>
                        {site.categories.into_iter().map(|(category, score)| view! {
                            <tr><td>{category.replace('_', " ")}</td><td class=health_class(score)>{percent(score)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <h2>"Evidence chain"</h2>
                <p class="hash" data-testid="day-evidence">{head}</p>
            </section>
            <section aria-labelledby="day-open-heading">
                <h2 id="day-open-heading">"Open at the day's end "<span class="card-meta" data-testid="day-open-count">{site.open_total}</span></h2>
                {if site.open_incidents.is_empty() {
                    view! { <p class="empty-note">"No incident was open."</p> }.into_any()
                } else {
                    view! {
                        <table class="data-table" data-testid="day-open-incidents">
                            <thead><tr><th>"Reported"</th><th>"Host"</th><th>"Check"</th><th>"Severity"</th></tr></thead>
                            <tbody>
                                {site.open_incidents.into_iter().map(|i| view! {
                                    <tr>
                                        <td>{i.reported_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                        <td>{i.hostname}</td>
                                        <td>{i.check_type.replace('_', " ")}</td>
                                        <td><SeverityBadge severity=i.severity /></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        </div>
        <HipaaControls controls=site.controls />
    }
    .into_any()
}
