//! Dark/light switch. The choice lives in a cookie so the server renders the right theme
//! on the next visit (no flash of the wrong colours).

use leptos::prelude::*;
use leptos_meta::Html;
use leptos_use_color_mode::{
    ColorMode, UseColorModeOptions, UseColorModeReturn, use_color_mode_with_options,
};

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let UseColorModeReturn { mode, set_mode, .. } = use_color_mode_with_options(
        UseColorModeOptions::default()
            .attribute("data-theme")
            .cookie_enabled(true)
            .cookie_name("posture-theme"),
    );
    let is_dark = move || mode.get() == ColorMode::Dark;
    let toggle = move |_| {
        set_mode.set(if is_dark() {
            ColorMode::Light
        } else {
            ColorMode::Dark
        })
    };
    view! {
        <Html attr:data-theme=move || mode.get().to_string() />
        <button
            type="button"
            class="theme-toggle"
            data-testid="theme-toggle"
            aria-pressed=move || is_dark().to_string()
            on:click=toggle
        >
            {move || if is_dark() { "Light mode" } else { "Dark mode" }}
        </button>
    }
}
