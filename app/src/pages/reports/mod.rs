//! `/reports`: pick a client or site and a month; `/reports/clients/:id/:month` and
//! `/reports/sites/:site_id/:month`: the monthly report, rendered whole on the server (readable
//! without JavaScript) and paged for print.

pub mod document;

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::components::query_view::QueryView;
use crate::error::AppError;
use crate::queries::fleet_options;
use crate::report::{MonthlyReport, ReportKind, ReportSubjects, report_path};
use document::ReportDocument;

crate::query_args!(ListReportSubjects);

#[server(input = crate::codec::Query, endpoint = "list_report_subjects")]
pub async fn list_report_subjects() -> Result<ReportSubjects, AppError> {
    use crate::report::ReportMonth;
    let scope = crate::auth::require_scope()?;
    let (db, _) = crate::aggregates::request_state()?;
    let (clients, sites, first) = crate::db::reports::subjects(&db, &scope).await?;
    let current = ReportMonth::of(chrono::Utc::now());
    let oldest = first.map_or(current, ReportMonth::of);
    let months = std::iter::successors(Some(current), |m| Some(m.previous()))
        .take_while(|m| *m >= oldest)
        .collect();
    Ok(ReportSubjects {
        clients,
        sites,
        months,
    })
}

crate::query_args!(GetReport);

/// The report of a client (`subject` its id) or site (`subject` its public id) for `month`
/// (`YYYY-MM`).
#[server(input = crate::codec::Query, endpoint = "get_report")]
pub async fn get_report(
    kind: ReportKind,
    subject: String,
    month: String,
) -> Result<MonthlyReport, AppError> {
    use crate::report::ReportMonth;
    use crate::services::reports::{Subject, monthly_report};
    let scope = crate::auth::require_scope()?;
    let (db, _) = crate::aggregates::request_state()?;
    let month = ReportMonth::parse(&month).map_err(|e| AppError::Invalid(e).with_status())?;
    let subject = match kind {
        ReportKind::Client => Subject::Client(subject.parse().map_err(|_| {
            AppError::NotFound(format!("no client with id {subject:?}")).with_status()
        })?),
        ReportKind::Site => Subject::Site(subject.into()),
    };
    monthly_report(&db, &scope, &subject, month, chrono::Utc::now())
        .await
        .map_err(AppError::with_status)
}

pub fn subjects_query() -> QueryScope<(), Result<ReportSubjects, AppError>> {
    QueryScope::new(list_report_subjects).with_options(fleet_options())
}

pub fn report_query() -> QueryScope<(ReportKind, String, String), Result<MonthlyReport, AppError>> {
    QueryScope::new(|(kind, subject, month)| get_report(kind, subject, month))
        .with_options(fleet_options())
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let subjects = client.resource_blocking(subjects_query(), || ());
    let retry = Callback::new(move |_| {
        client.invalidate_query(subjects_query(), ());
    });
    view! {
        <Title text="Reports" />
        <QueryView retry>
            {move || Suspend::new(async move { subjects.await.map(|subjects| view! { <ReportPicker subjects /> }) })}
        </QueryView>
    }
}

/// A plain GET form: it works before hydration and without JavaScript; the server turns
/// the choice into the report's address.
#[component]
fn ReportPicker(subjects: ReportSubjects) -> impl IntoView {
    let last_closed = subjects.months.get(1).copied();
    view! {
        <section class="panel">
            <h2>"Monthly compliance reports"</h2>
            <p class="card-meta">
                "A report of a closed month is generated once and kept as given; the month under way is worked out on each reading. "
                "A client's report links its evidence pack: the report, the month's check results, incidents, audit entries and evidence chain, signed."
            </p>
            <form method="get" action="/reports/open" class="inline-form picker-form" data-testid="report-picker">
                <label>
                    "Client or site"
                    <select name="subject" required data-testid="report-subject">
                        <optgroup label="Clients">
                            {subjects.clients.into_iter().map(|(id, name)| view! {
                                <option value=format!("client:{id}")>{name}</option>
                            }).collect_view()}
                        </optgroup>
                        <optgroup label="Sites">
                            {subjects.sites.into_iter().map(|(site_id, clinic, client)| view! {
                                <option value=format!("site:{site_id}")>{format!("{clinic} ({client})")}</option>
                            }).collect_view()}
                        </optgroup>
                    </select>
                </label>
                <label>
                    "Month"
                    <select name="month" data-testid="report-month">
                        {subjects.months.into_iter().enumerate().map(|(index, month)| {
                            let label = if index == 0 { format!("{} (to date)", month.label()) } else { month.label() };
                            view! { <option value=month.to_string() selected=Some(month) == last_closed>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="button primary">"Open report"</button>
            </form>
        </section>
    }
}

#[component]
pub fn ClientReportPage() -> impl IntoView {
    view! { <ReportPage kind=ReportKind::Client param="id" /> }
}

#[component]
pub fn SiteReportPage() -> impl IntoView {
    view! { <ReportPage kind=ReportKind::Site param="site_id" /> }
}

#[component]
fn ReportPage(kind: ReportKind, param: &'static str) -> impl IntoView {
    let client: QueryClient = expect_context();
    let params = use_params_map();
    let key = move || {
        let params = params.read();
        (
            kind,
            params.get(param).unwrap_or_default(),
            params.get("month").unwrap_or_default(),
        )
    };
    let report = client.resource_blocking(report_query(), key);
    let retry = Callback::new(move |_| {
        client.invalidate_query(report_query(), key());
    });
    view! {
        <QueryView rows=12 retry>
            {move || Suspend::new(async move {
                report.await.map(|report| view! {
                    <Title text=format!("{} · {}", report.title, report.month.label()) />
                    <ReportActions report=report.clone() />
                    <ReportDocument report />
                })
            })}
        </QueryView>
    }
}

/// Links around the document (not printed): other months, the evidence pack, the picker.
#[component]
fn ReportActions(report: MonthlyReport) -> impl IntoView {
    let subject = match report.kind {
        ReportKind::Client => report.client_id.to_string(),
        ReportKind::Site => report
            .sites
            .first()
            .map(|s| s.site_id.clone())
            .unwrap_or_default(),
    };
    let previous = report_path(report.kind, &subject, report.month.previous());
    let next = report
        .closed
        .then(|| report_path(report.kind, &subject, report.month.next()));
    let pack =
        (report.kind == ReportKind::Client).then(|| format!("{}/evidence.zip", report.path()));
    view! {
        <nav class="report-actions no-print" aria-label="Report">
            <A href="/reports">"All reports"</A>
            <A href=previous>{format!("← {}", report.month.previous().label())}</A>
            {next.map(|next| view! { <A href=next>{format!("{} →", report.month.next().label())}</A> })}
            {pack.map(|pack| view! {
                <a class="button" href=pack download rel="external" data-testid="evidence-pack">"Download evidence pack (.zip)"</a>
            })}
            <span class="card-meta">"To keep a PDF, print this page and save it as PDF."</span>
        </nav>
    }
}
