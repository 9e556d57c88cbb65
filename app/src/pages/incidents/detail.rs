//! The panel an opened incident shows: what the check expected and found, the runbook that
//! fixes it, and everything done about it so far.

use std::time::Duration;

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryOptions, QueryScope};
use leptos_router::components::A;

use crate::components::badges::{SeverityBadge, StatusBadge};
use crate::error::AppError;
use crate::types::IncidentDetail;

crate::query_args!(GetIncident);

#[server(input = crate::codec::Query, endpoint = "get_incident")]
pub async fn get_incident(id: i64) -> Result<IncidentDetail, AppError> {
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    let detail = crate::db::triage::incident_detail(&db, &user.clients, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no incident with id {id}")).with_status())?;
    Ok(if user.can(crate::auth::Role::Readonly) {
        detail
    } else {
        detail.for_clinic()
    })
}

/// One incident's detail panel: fresh for 30 s, and invalidated by actions on it.
pub fn incident_query() -> QueryScope<i64, Result<IncidentDetail, AppError>> {
    QueryScope::new(get_incident)
        .with_options(QueryOptions::new().with_stale_time(Duration::from_secs(30)))
}

#[component]
pub fn IncidentDetailPanel(id: i64) -> impl IntoView {
    let client: QueryClient = expect_context();
    let detail = client.local_resource(incident_query(), move || id);
    view! {
        <aside class="incident-detail" data-testid="incident-detail" aria-label="Selected incident">
            <Suspense fallback=|| view! { <p class="subtle">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! { <DetailBody detail /> }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </aside>
    }
}

#[component]
fn DetailBody(detail: IncidentDetail) -> impl IntoView {
    let row = detail.row;
    let when = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    view! {
        <h2>{format!("Incident #{}", row.id)}</h2>
        <p>
            {row.check_type.replace('_', " ")}" on "<strong>{row.hostname.clone()}</strong>" at "
            <A href=format!("/sites/{}", row.site)>{row.clinic_name.clone()}</A>
        </p>
        <p><SeverityBadge severity=row.severity.clone() />" "<StatusBadge status=row.status.clone() /></p>
        <dl class="expected-actual" data-testid="expected-actual">
            <dt>"Expected"</dt><dd>{detail.expected}</dd>
            <dt>"Found"</dt><dd class="actual">{detail.actual}</dd>
        </dl>
        <p>"Reported "{when(row.reported_at)}</p>
        {detail.resolved_at.map(|at| view! { <p>"Resolved "{when(at)}{detail.resolution_tier.map(|t| format!(" ({t})"))}</p> })}
        {row.suppressed_until.map(|at| view! { <p data-testid="suppressed">"Suppressed until "{when(at)}</p> })}
        <h3>"Runbook"</h3>
        {match detail.runbook {
            Some((id, name, level)) => view! {
                <p data-testid="incident-runbook"><A href=format!("/runbooks/{id}")>{name}</A>" · "{level}</p>
            }.into_any(),
            None => view! { <p class="subtle">"No runbook covers this check yet."</p> }.into_any(),
        }}
        <h3>"Remediation history"</h3>
        {if detail.history.is_empty() {
            view! { <p class="subtle" data-testid="history-empty">"Nothing done yet."</p> }.into_any()
        } else {
            view! {
                <ol class="history" data-testid="incident-history">
                    {detail.history.into_iter().map(|h| view! {
                        <li>{when(h.at)}" · "<strong>{h.action}</strong>" by "{h.actor}{(!h.note.is_empty()).then(|| format!(": {}", h.note))}</li>
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}
