//! The admin section: sites by form, users, the audit log. Every server function here checks
//! the admin role itself; the pages only hide what a user may not use.

pub mod alerts;
pub mod audit;
pub mod maintenance;
pub mod site_form;
pub mod users;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin" />
        <div class="card-grid" data-testid="admin-index">
            <A href="/admin/sites/new" attr:class="card">
                <div class="card-title">"Onboard a site"</div>
                <p class="card-meta">"Add a clinic and, if needed, its client."</p>
            </A>
            <A href="/admin/users" attr:class="card">
                <div class="card-title">"Users"</div>
                <p class="card-meta">"Add users, change roles, disable accounts."</p>
            </A>
            <A href="/admin/alerts" attr:class="card">
                <div class="card-title">"Alerts"</div>
                <p class="card-meta">"Channels (e-mail, webhooks, Slack, Teams), rules and the delivery log."</p>
            </A>
            <A href="/admin/maintenance" attr:class="card">
                <div class="card-title">"Maintenance windows"</div>
                <p class="card-meta">"Planned work: alerts held back and logged, incidents still recorded."</p>
            </A>
            <A href="/admin/audit" attr:class="card">
                <div class="card-title">"Audit log"</div>
                <p class="card-meta">"Every change, who made it and when; CSV export."</p>
            </A>
        </div>
    }
}
