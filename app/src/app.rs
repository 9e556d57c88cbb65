//! The HTML shell, the root component and the route table.

use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use leptos_use_document_visibility::use_document_visibility;
use web_sys::VisibilityState;

use crate::components::layout::Layout;
use crate::pages::not_found::NotFound;
use crate::pages::overview::OverviewPage;
use crate::pages::placeholder::PlaceholderPage;

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
    // Polling stops while the tab is hidden; leptos-fetch refetches stale queries on return.
    let visibility = use_document_visibility();
    let tab_visible = Signal::derive(move || visibility.get() != VisibilityState::Hidden);
    QueryClient::new()
        .with_refetch_enabled_toggle(tab_visible)
        .provide();
    mark_hydrated();

    view! {
        <Stylesheet id="leptos" href="/pkg/posture.css" />
        <Title formatter=|title: String| format!("{title} · Posture") />
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=OverviewPage />
                    <Route path=path!("/clients") view=|| view! { <PlaceholderPage title="Clients" /> } />
                    <Route path=path!("/sites") view=|| view! { <PlaceholderPage title="Sites" /> } />
                    <Route path=path!("/incidents") view=|| view! { <PlaceholderPage title="Incidents" /> } />
                    <Route path=path!("/runbooks") view=|| view! { <PlaceholderPage title="Runbooks" /> } />
                    <Route path=path!("/admin") view=|| view! { <PlaceholderPage title="Admin" /> } />
                </Routes>
            </Layout>
        </Router>
    }
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
