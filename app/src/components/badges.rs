//! Status and level labels with their colours.

use leptos::prelude::*;

use crate::scoring::HealthLevel;

#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    view! { <span class=format!("badge status-{status}")>{status.clone()}</span> }
}

pub fn level_name(level: HealthLevel) -> &'static str {
    match level {
        HealthLevel::Healthy => "healthy",
        HealthLevel::Warning => "warning",
        HealthLevel::Critical => "critical",
        HealthLevel::Onboarding => "onboarding",
    }
}

#[component]
pub fn LevelBadge(level: HealthLevel) -> impl IntoView {
    let name = level_name(level);
    view! { <span class=format!("badge level-{name}")>{name}</span> }
}

/// A site's health score and level; a site still onboarding has no score to show yet.
#[component]
pub fn HealthWithLevel(health: f64, level: HealthLevel) -> impl IntoView {
    let score = if level == HealthLevel::Onboarding {
        "–".to_string()
    } else {
        format!("{health:.0}")
    };
    view! { <span class="health-level">{score}" "<LevelBadge level /></span> }
}

#[component]
pub fn SeverityBadge(severity: String) -> impl IntoView {
    view! { <span class=format!("badge severity-{severity}")>{severity.clone()}</span> }
}

/// "3 min ago" for a timestamp, "never" for none.
pub fn ago(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let Some(at) = at else {
        return "never".to_string();
    };
    let seconds = (chrono::Utc::now() - at).num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

pub fn percent(value: Option<f64>) -> String {
    value.map_or("no data".to_string(), |v| format!("{v:.0}%"))
}
