//! Maintenance under way, or starting within a day: on the overview (every site the user
//! sees) and on a
//! site's page (its own windows and its client's). Alerts inside a window are held back, so
//! whoever watches the dashboard should see that they are.

use leptos::prelude::*;

use crate::alerts::MaintenanceWindow;
use crate::error::AppError;

crate::query_args!(ListCurrentWindows);

#[server(input = crate::codec::Query, endpoint = "list_current_windows")]
pub async fn list_current_windows(
    site: Option<String>,
) -> Result<Vec<MaintenanceWindow>, AppError> {
    let scope = crate::auth::require_scope()?;
    let (db, _) = crate::aggregates::request_state()?;
    let now = chrono::Utc::now();
    crate::services::maintenance::current_windows(&db, &scope, site.as_deref(), now)
        .await
        .map_err(AppError::with_status)
}

#[component]
pub fn MaintenanceNotice(#[prop(optional)] site: Option<String>) -> impl IntoView {
    let windows = Resource::new(move || site.clone(), list_current_windows);
    view! {
        <Transition fallback=|| ()>
            {move || {
                windows
                    .get()
                    .and_then(Result::ok)
                    .filter(|windows| !windows.is_empty())
                    .map(|windows| view! {
                        <section class="maintenance-notice" data-testid="maintenance-notice" aria-labelledby="maintenance-heading">
                            <h2 id="maintenance-heading">"Maintenance"</h2>
                            <ul>{windows.into_iter().map(|window| view! { <WindowLine window /> }).collect_view()}</ul>
                        </section>
                    })
            }}
        </Transition>
    }
}

#[component]
fn WindowLine(window: MaintenanceWindow) -> impl IntoView {
    let when = if window.active {
        "Under way: alerts held back".to_string()
    } else {
        window
            .next_start
            .map(|at| format!("Starts {}", at.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    };
    view! {
        <li data-active=window.active.to_string()>
            <strong class=if window.active { "window-active" } else { "" }>{when}</strong>
            " · "{window.covers}" · "{window.reason}
            <span class="card-meta">" (by "{window.created_by}")"</span>
        </li>
    }
}
