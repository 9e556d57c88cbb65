//! Short confirmations ("Site created") shown at the corner of the screen for a few seconds.

use std::time::Duration;

use leptos::prelude::*;

use super::browser_timer::run_after;

const SHOWN_FOR: Duration = Duration::from_secs(6);

#[derive(Clone, Copy)]
pub struct Toasts(RwSignal<Vec<(u64, String)>>, StoredValue<u64>);

impl Toasts {
    pub fn provide() {
        provide_context(Toasts(RwSignal::new(Vec::new()), StoredValue::new(0)));
    }

    /// Shows `message` from anywhere under the layout.
    pub fn show(message: impl Into<String>) {
        let Some(Toasts(list, next_id)) = use_context::<Toasts>() else {
            return;
        };
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        list.update(|l| l.push((id, message.into())));
        run_after(SHOWN_FOR, move || {
            list.update(|l| l.retain(|(i, _)| *i != id))
        });
    }
}

#[component]
pub fn ToastHost() -> impl IntoView {
    let Toasts(list, _) = expect_context::<Toasts>();
    view! {
        <div class="toasts" role="status" aria-live="polite">
            <For each=move || list.get() key=|(id, _)| *id let((_, message))>
                <div class="toast" data-testid="toast">{message}</div>
            </For>
        </div>
    }
}
