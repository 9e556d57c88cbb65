//! The HTML shell, the root component and the route table.

use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};
use leptos_use_document_visibility::use_document_visibility;
use web_sys::VisibilityState;

use crate::components::layout::Layout;
use crate::pages::account::SecurityPage;
use crate::pages::admin::AdminPage;
use crate::pages::admin::alerts::AlertsPage;
use crate::pages::admin::audit::AuditLogPage;
use crate::pages::admin::maintenance::MaintenancePage;
use crate::pages::admin::site_form::{EditSitePage, NewSitePage};
use crate::pages::admin::users::UsersPage;
use crate::pages::clients::{ClientDetailPage, ClientsPage};
use crate::pages::incidents::IncidentsPage;
use crate::pages::invite::InvitePage;
use crate::pages::login::LoginPage;
use crate::pages::not_found::NotFound;
use crate::pages::overview::OverviewPage;
use crate::pages::reports::{ClientReportPage, ReportsPage, SiteReportPage};
use crate::pages::runbooks::{RunbookDetailPage, RunbooksPage};
use crate::pages::site_detail::SiteDetailPage;
use crate::pages::sites::SitesPage;

/// The document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Polling stops while the tab is hidden (leptos-fetch postpones its refetch ticks).
    let visibility = use_document_visibility();
    let tab_visible = Signal::derive(move || visibility.get() != VisibilityState::Hidden);
    let client = QueryClient::new()
        .with_refetch_enabled_toggle(tab_visible)
        .provide();
    refetch_on_return(client, tab_visible);
    mark_hydrated();

    view! {
        <Stylesheet id="leptos" href="/pkg/posture.css" />
        <Title formatter=page_title />
        // In order: each page's HTML arrives with its data in place, never as a streamed
        // fragment a script must swap in, so pages read without JavaScript.
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=OverviewPage ssr=SsrMode::InOrder />
                    <Route path=path!("/clients") view=ClientsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/clients/:id") view=ClientDetailPage ssr=SsrMode::InOrder />
                    <Route path=path!("/sites") view=SitesPage ssr=SsrMode::InOrder />
                    <Route path=path!("/sites/:site_id") view=SiteDetailPage ssr=SsrMode::InOrder />
                    <Route path=path!("/incidents") view=IncidentsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/reports") view=ReportsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/reports/clients/:id/:month") view=ClientReportPage ssr=SsrMode::InOrder />
                    <Route path=path!("/reports/sites/:site_id/:month") view=SiteReportPage ssr=SsrMode::InOrder />
                    <Route path=path!("/runbooks") view=RunbooksPage ssr=SsrMode::InOrder />
                    <Route path=path!("/runbooks/:id") view=RunbookDetailPage ssr=SsrMode::InOrder />
                    <Route path=path!("/sites/:site_id/edit") view=EditSitePage ssr=SsrMode::InOrder />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::InOrder />
                    <Route path=path!("/invite/:token") view=InvitePage ssr=SsrMode::InOrder />
                    <Route path=path!("/account/security") view=SecurityPage ssr=SsrMode::InOrder />
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::InOrder />
                    <Route path=path!("/admin/sites/new") view=NewSitePage ssr=SsrMode::InOrder />
                    <Route path=path!("/admin/users") view=UsersPage ssr=SsrMode::InOrder />
                    <Route path=path!("/admin/audit") view=AuditLogPage ssr=SsrMode::InOrder />
                    <Route path=path!("/admin/alerts") view=AlertsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/admin/maintenance") view=MaintenancePage ssr=SsrMode::InOrder />
                </Routes>
            </Layout>
        </Router>
    }
}

/// The document title. leptos_meta writes it into the server's HTML unescaped, so a clinic
/// named `</title><script>…` would otherwise become markup; in the browser it is set through
/// the DOM, where text is text.
fn page_title(title: String) -> String {
    #[cfg(feature = "ssr")]
    let title = html_escape::encode_text(&title).into_owned();
    format!("{title} · Posture")
}

/// Queries go stale after 30 s; a tab hidden that long refetches what it shows as soon as it is
/// visible again, instead of waiting for the next polling tick.
fn refetch_on_return(client: QueryClient, tab_visible: Signal<bool>) {
    const STALE_AFTER_MS: i64 = 30_000;
    let hidden_since = StoredValue::new(None::<i64>);
    Effect::new(move |_| {
        let now = chrono::Utc::now().timestamp_millis();
        if !tab_visible.get() {
            hidden_since.set_value(Some(now));
        } else if let Some(since) = hidden_since.get_value() {
            hidden_since.set_value(None);
            if now - since >= STALE_AFTER_MS {
                client.invalidate_all_queries();
            }
        }
    });
}

/// Sets `data-hydrated="true"` on `<html>` once the WASM has taken over the page.
/// End-to-end tests (ours and outside harnesses) wait on this attribute: keep it.
fn mark_hydrated() {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
