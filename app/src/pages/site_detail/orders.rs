//! Orders operators send to a site's appliances (run a runbook, rescan, collect evidence);
//! appliances pick them up at their next check-in.

use leptos::prelude::*;
use leptos_fetch::QueryClient;

use super::site_query;
use crate::auth::Role;
use crate::components::current_user::use_can;
use crate::components::toast::Toasts;
use crate::domain::ids::SiteSlug;
use crate::error::AppError;

pub const ORDER_TYPES: [&str; 3] = ["run_runbook", "rescan", "collect_evidence"];

/// Queues an order for one appliance of a site; returns the order's id.
#[server(input = crate::codec::Json, endpoint = "create_order")]
pub async fn create_order(
    site_id: SiteSlug,
    hostname: String,
    order_type: String,
    runbook: Option<String>,
) -> Result<i64, AppError> {
    let user = crate::auth::require_role(Role::Operator)?;
    if !ORDER_TYPES.contains(&order_type.as_str()) {
        return Err(AppError::Invalid(format!(
            "order_type must be one of {}, not {order_type:?}",
            ORDER_TYPES.join(", ")
        ))
        .with_status());
    }
    let (db, _) = crate::aggregates::request_state()?;
    if crate::db::reports::site(&db, &user.clients, site_id.as_str())
        .await?
        .is_none()
    {
        let message = format!("no site with id {:?}", site_id.as_str());
        return Err(AppError::NotFound(message).with_status());
    }
    let runbook = match (
        order_type.as_str(),
        runbook.filter(|r| !r.trim().is_empty()),
    ) {
        ("run_runbook", None) => {
            return Err(AppError::Invalid("runbook: name the runbook to run".into()).with_status());
        }
        ("run_runbook", Some(id)) if !crate::db::orders::runbook_exists(&db, &id).await? => {
            return Err(AppError::Invalid(format!("runbook: no runbook {id:?}")).with_status());
        }
        (_, runbook) => runbook,
    };
    let Some(appliance_id) =
        crate::db::orders::appliance_of_site(&db, &user.clients, site_id.as_str(), &hostname)
            .await?
    else {
        return Err(AppError::Invalid(format!(
            "hostname: site {:?} has no appliance {hostname:?}",
            site_id.as_str()
        ))
        .with_status());
    };
    let audit = crate::services::Actor::signed_in(user).audit(
        "order.create",
        format!("{site_id}/{hostname}"),
        serde_json::json!({ "order_type": order_type, "runbook": runbook }),
    );
    let parameters = serde_json::json!({ "runbook": runbook });
    Ok(
        crate::db::orders::insert_order(&db, appliance_id, &order_type, &parameters, &audit)
            .await?,
    )
}

/// The operator's order form under a site's pending orders.
#[component]
pub fn NewOrderForm(site_id: SiteSlug, hostnames: Vec<String>) -> impl IntoView {
    let client: QueryClient = expect_context();
    let action = ServerAction::<CreateOrder>::new();
    let hostname = RwSignal::new(hostnames.first().cloned().unwrap_or_default());
    let order_type = RwSignal::new(ORDER_TYPES[1].to_string());
    let runbook = RwSignal::new(String::new());
    let site_for_effect = site_id.clone();
    Effect::new(move |_| match action.value().get() {
        Some(Ok(_)) => {
            Toasts::show("Order queued: the appliance picks it up at its next check-in.");
            client.invalidate_query(site_query(), site_for_effect.clone());
        }
        Some(Err(err)) => Toasts::show(err.to_string()),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(CreateOrder {
            site_id: site_id.clone(),
            hostname: hostname.get_untracked(),
            order_type: order_type.get_untracked(),
            runbook: Some(runbook.get_untracked()),
        });
    };
    (use_can(Role::Operator) && !hostnames.is_empty()).then(|| view! {
        <form class="inline-form" data-testid="order-form" on:submit=on_submit>
            <label class="field"><span>"Appliance"</span>
                <select data-testid="order-appliance" on:change=move |ev| hostname.set(event_target_value(&ev))>
                    {hostnames.into_iter().map(|h| { let label = h.clone(); view! { <option value=h>{label}</option> } }).collect_view()}
                </select>
            </label>
            <label class="field"><span>"Order"</span>
                <select data-testid="order-type" on:change=move |ev| order_type.set(event_target_value(&ev))>
                    {ORDER_TYPES.into_iter().map(|t| view! {
                        <option value=t selected=move || order_type.get() == t>{t.replace('_', " ")}</option>
                    }).collect_view()}
                </select>
            </label>
            <Show when=move || order_type.get() == "run_runbook">
                <label class="field"><span>"Runbook id"</span>
                    <input type="text" data-testid="order-runbook" prop:value=move || runbook.get()
                        on:input=move |ev| runbook.set(event_target_value(&ev)) />
                </label>
            </Show>
            <button type="submit" class="button" data-testid="order-submit" disabled=move || action.pending().get()>"Queue order"</button>
        </form>
    })
}
