//! A search box that follows the URL and, 300 ms after the last keystroke, asks for a new one.

use leptos::prelude::*;
use leptos_use_fn_debounce_throttle::use_debounce_fn;

const DEBOUNCE_MS: f64 = 300.0;

/// `value` is the search the URL holds; `on_search` receives the trimmed text once typing
/// pauses and it differs from `value`.
#[component]
pub fn SearchBox(
    value: Memo<String>,
    on_search: Callback<String>,
    placeholder: &'static str,
    testid: &'static str,
) -> impl IntoView {
    let draft = RwSignal::new(value.get_untracked());
    // The box follows the URL when it changes from elsewhere (back button, a link).
    Effect::new(move |_| draft.set(value.get()));
    let search = use_debounce_fn(
        move || {
            let q = draft.get_untracked().trim().to_string();
            if q != value.get_untracked() {
                on_search.run(q);
            }
        },
        DEBOUNCE_MS,
    );
    view! {
        <label>
            "Search "
            <input
                type="search"
                name="q"
                placeholder=placeholder
                data-testid=testid
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    search();
                }
            />
        </label>
    }
}
