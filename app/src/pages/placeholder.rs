//! Sections whose pages are not built yet: they say so plainly instead of showing nothing.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PlaceholderPage(title: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="empty-state" data-testid="placeholder">
            <h2>{title}</h2>
            <p>"This section is not available yet in this version of Posture."</p>
        </div>
    }
}
