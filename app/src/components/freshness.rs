//! "Updated N s ago" in the header: how old the data on screen is.

use leptos::prelude::*;
use leptos_use_interval_fn::use_interval_fn;

/// When the data on the current page was read by the server (ms since the epoch).
/// Pages set it as their data arrives; the header shows its age.
#[derive(Clone, Copy, Default)]
pub struct DataFreshness(pub RwSignal<Option<i64>>);

impl DataFreshness {
    pub fn record(as_of_ms: i64) {
        if let Some(freshness) = use_context::<DataFreshness>() {
            freshness.0.set(Some(as_of_ms));
        }
    }
}

/// Human form of an age in seconds.
pub fn describe_age(seconds: i64) -> String {
    match seconds {
        s if s < 5 => "updated just now".to_string(),
        s if s < 60 => format!("updated {s} s ago"),
        s if s < 3600 => format!("updated {} min ago", s / 60),
        s => format!("updated {} h ago", s / 3600),
    }
}

#[component]
pub fn UpdatedAgo() -> impl IntoView {
    let freshness = expect_context::<DataFreshness>();
    let now_ms = RwSignal::new(chrono::Utc::now().timestamp_millis());
    use_interval_fn(
        move || now_ms.set(chrono::Utc::now().timestamp_millis()),
        1000,
    );
    let text = move || {
        freshness
            .0
            .get()
            .map(|as_of| describe_age(((now_ms.get() - as_of) / 1000).max(0)))
    };
    view! {
        <span class="updated-ago" data-testid="updated-ago" aria-live="off">
            {text}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::describe_age;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(describe_age(0), "updated just now");
        assert_eq!(describe_age(42), "updated 42 s ago");
        assert_eq!(describe_age(125), "updated 2 min ago");
        assert_eq!(describe_age(7300), "updated 2 h ago");
    }
}
