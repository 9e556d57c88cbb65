//! Small SVG charts, rendered on the server like the rest of the page.

use leptos::prelude::*;

use crate::types::TrendPoint;

/// The colour class of a 0..100 health or compliance value: red < 40, orange < 80, green.
pub fn health_class(value: Option<f64>) -> &'static str {
    match value {
        None => "tone-none",
        Some(v) if v < 40.0 => "tone-bad",
        Some(v) if v < 80.0 => "tone-warn",
        Some(_) => "tone-good",
    }
}

/// A ring filled to `value` percent, with the number in the middle.
#[component]
pub fn HealthGauge(value: Option<f64>, #[prop(default = 64)] size: u32) -> impl IntoView {
    let radius = 26.0_f64;
    let circumference = 2.0 * std::f64::consts::PI * radius;
    let filled = value.unwrap_or(0.0).clamp(0.0, 100.0) / 100.0 * circumference;
    let label = value.map_or("–".to_string(), |v| format!("{v:.0}"));
    let aria = format!("health {label}");
    view! {
        <svg
            class=format!("gauge {}", health_class(value))
            width=size
            height=size
            viewBox="0 0 64 64"
            role="img"
            aria-label=aria
        >
            <circle class="gauge-track" cx="32" cy="32" r=radius fill="none" stroke-width="7" />
            <circle
                class="gauge-fill"
                cx="32"
                cy="32"
                r=radius
                fill="none"
                stroke-width="7"
                stroke-linecap="round"
                stroke-dasharray=format!("{filled:.1} {circumference:.1}")
                transform="rotate(-90 32 32)"
            />
            <text x="32" y="37" text-anchor="middle" class="gauge-label">{label}</text>
        </svg>
    }
}

/// A line of daily counts, oldest first.
#[component]
pub fn Sparkline(values: Vec<i64>, label: String) -> impl IntoView {
    let (width, height) = (120.0, 28.0);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = width / (values.len().max(2) - 1) as f64;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                height - 2.0 - (*v as f64 / max) * (height - 4.0)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="sparkline" width=width height=height viewBox=format!("0 0 {width} {height}") role="img" aria-label=label>
            <polyline points=points fill="none" stroke-width="1.5" />
        </svg>
    }
}

/// Compliance score over time, 0..100, with gridlines at 40 and 80 (the gauge's thresholds);
/// `span` names the time the points cover.
#[component]
pub fn TrendChart(
    points: Vec<TrendPoint>,
    #[prop(default = "the last 30 days")] span: &'static str,
) -> impl IntoView {
    let (width, height, pad) = (640.0_f64, 180.0_f64, 28.0_f64);
    let scored: Vec<(usize, f64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.score.map(|s| (i, s)))
        .collect();
    if scored.is_empty() {
        return view! { <p class="empty-note">{format!("No compliance snapshots in {span}.")}</p> }
            .into_any();
    }
    let step = (width - 2.0 * pad) / (points.len().max(2) - 1) as f64;
    let y = move |score: f64| height - pad - score / 100.0 * (height - 2.0 * pad);
    let line = scored
        .iter()
        .map(|(i, s)| format!("{:.1},{:.1}", pad + *i as f64 * step, y(*s)))
        .collect::<Vec<_>>()
        .join(" ");
    let first = points
        .first()
        .map(|p| p.at.format("%b %d").to_string())
        .unwrap_or_default();
    let last = points
        .last()
        .map(|p| p.at.format("%b %d").to_string())
        .unwrap_or_default();
    view! {
        <svg
            class="trend-chart"
            viewBox=format!("0 0 {width} {height}")
            role="img"
            aria-label=format!("Compliance over {span}")
            data-testid="trend-chart"
        >
            {[0.0, 40.0, 80.0, 100.0]
                .into_iter()
                .map(|g| {
                    view! {
                        <line class="grid" x1=pad x2=width - pad y1=y(g) y2=y(g) />
                        <text class="axis" x="2" y=y(g) + 4.0>{format!("{g:.0}")}</text>
                    }
                })
                .collect_view()}
            <polyline class="trend-line" points=line fill="none" stroke-width="2" />
            // Each day's point as a dot too: a lone day with data (no line through it) still shows.
            {scored
                .iter()
                .map(|(i, s)| view! { <circle class="trend-dot" cx=pad + *i as f64 * step cy=y(*s) r="2.5" /> })
                .collect_view()}
            <text class="axis" x=pad y=height - 6.0>{first}</text>
            <text class="axis" x=width - pad y=height - 6.0 text-anchor="end">{last}</text>
        </svg>
    }
    .into_any()
}
