//! Shown for any path no route matches, with a 404 status on the server.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <div class="not-found" data-testid="not-found">
            <h2>"Page not found"</h2>
            <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
            <A href="/">"Back to the overview"</A>
        </div>
    }
}
