//! Loading, error and retry around a page's data.

use leptos::prelude::*;

/// A page's data as it arrives: `rows` grey placeholder rows while it loads (the previous
/// data stays during a refetch), its errors and "Try again" (which runs `retry`) when it fails,
/// else `children`.
#[component]
pub fn QueryView(
    #[prop(default = 5)] rows: usize,
    retry: Callback<()>,
    children: Children,
) -> impl IntoView {
    view! {
        <Transition fallback=move || view! { <Skeleton rows /> }>
            <ErrorBoundary fallback=move |errors| view! { <ErrorRetry errors retry /> }>
                {children()}
            </ErrorBoundary>
        </Transition>
    }
}

/// Grey placeholder rows shown while data loads.
#[component]
pub fn Skeleton(#[prop(default = 5)] rows: usize) -> impl IntoView {
    view! {
        <div class="skeleton-block" aria-busy="true" aria-label="Loading">
            {(0..rows).map(|_| view! { <div class="skeleton skeleton-row"></div> }).collect_view()}
        </div>
    }
}

/// The errors of a failed load, with a button that fetches again.
#[component]
pub fn ErrorRetry(errors: ArcRwSignal<Errors>, retry: Callback<()>) -> impl IntoView {
    view! {
        <div class="error-state" role="alert" data-testid="error-state">
            <h2>"Could not load this"</h2>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
            <button type="button" class="button" on:click=move |_| retry.run(())>
                "Try again"
            </button>
        </div>
    }
}

#[component]
pub fn EmptyState(message: String) -> impl IntoView {
    view! {
        <div class="empty-state" data-testid="empty-state">
            <p>{message}</p>
        </div>
    }
}
