//! `/incidents`: every incident matching the filter in one scrolling list, a million rows
//! deep and more. Only the rows in view (plus a few) are in the DOM, and only the windows of
//! 100 rows they need are fetched, through the query cache. Browsers cap an element's height
//! near 33.5 million px, so past [`MAX_SPACER_PX`] the scroll position is mapped onto row
//! positions proportionally: every row stays reachable at any row count.

use std::collections::HashMap;
use std::sync::Arc;

use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

use crate::components::badges::{SeverityBadge, StatusBadge};
use crate::components::query_view::{ErrorRetry, Skeleton};
use crate::error::AppError;
use crate::queries::{incident_count_query, incident_window_query};
use crate::types::{IncidentFilter, IncidentRow, IncidentWindowKey, SEVERITIES};

pub const WINDOW_ROWS: i64 = 100;
const ROW_HEIGHT: f64 = 32.0;
const VIEWPORT_ROWS: i64 = 18;
const VIEWPORT_PX: f64 = VIEWPORT_ROWS as f64 * ROW_HEIGHT;
const OVERSCAN: i64 = 2;
/// Tallest spacer we let the browser lay out; beyond it scrolling is proportional.
const MAX_SPACER_PX: f64 = 8_000_000.0;
/// Loaded windows kept in the component beyond the ones in view (the query cache keeps more).
const KEEP_WINDOWS: usize = 24;

#[cfg(feature = "ssr")]
fn checked(filter: &IncidentFilter) -> Result<(), AppError> {
    match &filter.severity {
        Some(s) if !SEVERITIES.contains(&s.as_str()) => Err(AppError::Invalid(format!(
            "severity must be one of {}, not {s:?}",
            SEVERITIES.join(", ")
        ))
        .with_status()),
        _ => Ok(()),
    }
}

#[cfg(feature = "ssr")]
fn windows_state() -> Result<(crate::db::Db, crate::db::IncidentWindows), AppError> {
    let (db, _) = crate::aggregates::request_state()?;
    let windows = use_context::<crate::db::IncidentWindows>()
        .ok_or_else(|| AppError::Database("no incident index configured".into()))?;
    Ok((db, windows))
}

#[server(input = leptos::server_fn::codec::GetUrl, endpoint = "count_incidents")]
pub async fn count_incidents(filter: IncidentFilter) -> Result<i64, AppError> {
    checked(&filter)?;
    let (db, windows) = windows_state()?;
    Ok(windows.count(&db, &filter).await?)
}

#[server(input = leptos::server_fn::codec::GetUrl, endpoint = "list_incident_window")]
pub async fn list_incident_window(key: IncidentWindowKey) -> Result<Vec<IncidentRow>, AppError> {
    checked(&key.filter)?;
    if key.window < 0 {
        return Err(AppError::Invalid("window must not be negative".into()).with_status());
    }
    let (db, windows) = windows_state()?;
    Ok(windows
        .window(&db, &key.filter, key.window * WINDOW_ROWS, WINDOW_ROWS)
        .await?)
}

fn filter_from_query(query: &ParamsMap) -> IncidentFilter {
    IncidentFilter {
        severity: query
            .get("severity")
            .filter(|s| SEVERITIES.contains(&s.as_str())),
    }
}

/// Where the list stands: which row is at the top of the viewport and how far it is scrolled
/// out of view, from the container's scrollTop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrollMap {
    pub total: i64,
}

impl ScrollMap {
    fn full_px(self) -> f64 {
        self.total as f64 * ROW_HEIGHT
    }

    pub fn spacer_px(self) -> f64 {
        self.full_px().clamp(VIEWPORT_PX, MAX_SPACER_PX)
    }

    /// The position in the full (unscaled) list that `scroll_top` shows at the top.
    pub fn virtual_px(self, scroll_top: f64) -> f64 {
        let range = self.spacer_px() - VIEWPORT_PX;
        let full_range = (self.full_px() - VIEWPORT_PX).max(0.0);
        if range <= 0.0 {
            0.0
        } else {
            (scroll_top.clamp(0.0, range) / range) * full_range
        }
    }

    /// The scrollTop that puts `row` at the top (or as near as the end allows).
    pub fn scroll_top_for(self, row: i64) -> f64 {
        let range = self.spacer_px() - VIEWPORT_PX;
        let full_range = (self.full_px() - VIEWPORT_PX).max(0.0);
        if full_range <= 0.0 {
            0.0
        } else {
            (row as f64 * ROW_HEIGHT).min(full_range) / full_range * range
        }
    }
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let query = use_query_map();
    let filter = Memo::new(move |_| filter_from_query(&query.read()));
    let count = client.resource_blocking(incident_count_query(), move || filter.get());
    let first = client.resource_blocking(incident_window_query(), move || IncidentWindowKey {
        filter: filter.get(),
        window: 0,
    });
    let retry = Callback::new(move |_| {
        let filter = filter.get_untracked();
        client.invalidate_query(
            incident_window_query(),
            IncidentWindowKey {
                filter: filter.clone(),
                window: 0,
            },
        );
        client.invalidate_query(incident_count_query(), filter);
    });
    let navigate = use_navigate();
    let on_severity = move |ev| {
        let severity = event_target_value(&ev);
        let href = if severity.is_empty() {
            "/incidents".to_string()
        } else {
            format!("/incidents?severity={severity}")
        };
        navigate(&href, NavigateOptions::default());
    };

    view! {
        <Title text="Incidents" />
        <form class="filters" method="get" action="/incidents" on:submit=|ev| ev.prevent_default()>
            <label>
                "Severity "
                <select name="severity" data-testid="severity-filter" on:change=on_severity>
                    <option value="" selected=move || filter.read().severity.is_none()>"All"</option>
                    {SEVERITIES
                        .into_iter()
                        .map(|s| view! { <option value=s selected=move || filter.read().severity.as_deref() == Some(s)>{s}</option> })
                        .collect_view()}
                </select>
            </label>
            <noscript><button type="submit" class="button">"Apply"</button></noscript>
        </form>
        <Transition fallback=|| view! { <Skeleton rows=10 /> }>
            <ErrorBoundary fallback=move |errors| view! { <ErrorRetry errors retry /> }>
                {move || Suspend::new(async move {
                    let total = count.await?;
                    let first_rows = first.await?;
                    Ok::<_, AppError>(view! { <IncidentList filter=filter.get_untracked() total first_rows /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn IncidentList(filter: IncidentFilter, total: i64, first_rows: Vec<IncidentRow>) -> impl IntoView {
    let client: QueryClient = expect_context();
    let map = ScrollMap { total };
    let scroll_top = RwSignal::new(0.0_f64);
    let selected = RwSignal::new(None::<i64>);
    // The detail of the selected row shows once opened: Enter or a click.
    let opened = RwSignal::new(false);
    let windows = RwSignal::new(HashMap::from([(0_i64, Arc::new(first_rows))]));
    let requested = StoredValue::new(std::collections::HashSet::from([0_i64]));
    let scroller = NodeRef::<leptos::html::Div>::new();

    let top_px = Memo::new(move |_| map.virtual_px(scroll_top.get()));
    let first_row = Memo::new(move |_| (top_px.get() / ROW_HEIGHT).floor() as i64);
    let indices = Memo::new(move |_| {
        let first = first_row.get();
        let start = (first - OVERSCAN).max(0);
        let end = (first + VIEWPORT_ROWS + 1 + OVERSCAN).min(total);
        (start..end).collect::<Vec<i64>>()
    });

    // Fetch the windows in view and one on each side; forget far-away ones.
    Effect::new(move |_| {
        let Some(first) = indices.read().first().copied() else {
            return;
        };
        let last = indices.read().last().copied().unwrap_or(first);
        let needed = (first / WINDOW_ROWS - 1).max(0)
            ..=(last / WINDOW_ROWS + 1).min((total - 1).max(0) / WINDOW_ROWS);
        for window in needed {
            if requested.with_value(|r| r.contains(&window)) {
                continue;
            }
            requested.update_value(|r| {
                r.insert(window);
            });
            let key = IncidentWindowKey {
                filter: filter.clone(),
                window,
            };
            leptos::task::spawn_local(async move {
                if let Ok(rows) = client.fetch_query(incident_window_query(), key).await {
                    windows.update(|w| {
                        w.insert(window, Arc::new(rows));
                    });
                } else {
                    requested.update_value(|r| {
                        r.remove(&window);
                    });
                }
            });
        }
        if windows.with_untracked(|w| w.len()) > KEEP_WINDOWS {
            let centre = first / WINDOW_ROWS;
            windows.update(|w| w.retain(|k, _| (k - centre).abs() <= (KEEP_WINDOWS as i64) / 2));
            requested
                .update_value(|r| r.retain(|k| (k - centre).abs() <= (KEEP_WINDOWS as i64) / 2));
        }
    });

    let row_at = move |index: i64| {
        windows.with(|w| {
            w.get(&(index / WINDOW_ROWS))
                .and_then(|rows| rows.get((index % WINDOW_ROWS) as usize).cloned())
        })
    };
    let go_to = move |row: i64| {
        let row = row.clamp(0, (total - 1).max(0));
        selected.set(Some(row));
        let first = first_row.get_untracked();
        if row < first || row >= first + VIEWPORT_ROWS - 1 {
            let target = if row < first {
                row
            } else {
                row - VIEWPORT_ROWS + 2
            };
            if let Some(el) = scroller.get_untracked() {
                el.set_scroll_top(map.scroll_top_for(target.max(0)) as i32);
            }
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let current = selected
            .get_untracked()
            .unwrap_or(first_row.get_untracked() - 1);
        match ev.key().as_str() {
            "ArrowDown" | "j" => go_to(current + 1),
            "ArrowUp" | "k" => go_to(current - 1),
            "Home" => go_to(0),
            "End" => go_to(total - 1),
            "PageDown" => go_to(current + VIEWPORT_ROWS),
            "PageUp" => go_to(current - VIEWPORT_ROWS),
            "Enter" if selected.get_untracked().is_some() => opened.set(true),
            "Escape" => opened.set(false),
            _ => return,
        }
        ev.prevent_default();
    };

    view! {
        <p class="result-count" data-testid="incident-count">{total}" incidents"</p>
        <div class="incident-table" role="grid" aria-rowcount=total>
            <div class="incident-head" role="row">
                <span role="columnheader">"Reported"</span>
                <span role="columnheader">"Host"</span>
                <span role="columnheader">"Check"</span>
                <span role="columnheader">"Severity"</span>
                <span role="columnheader">"Status"</span>
            </div>
            <div
                class="incident-scroller"
                data-scroller
                data-row-count=total
                tabindex="0"
                node_ref=scroller
                on:scroll=move |ev| scroll_top.set(event_target::<web_sys::Element>(&ev).scroll_top() as f64)
                on:keydown=on_key
            >
                <div class="incident-spacer" style:height=format!("{}px", map.spacer_px())>
                    <div class="incident-viewport" style:height=format!("{VIEWPORT_PX}px")>
                        <For each=move || indices.get() key=|i| *i let(index)>
                            <IncidentListRow
                                index
                                row=Signal::derive(move || row_at(index))
                                top=Signal::derive(move || (index as f64) * ROW_HEIGHT - top_px.get())
                                selected
                                opened
                            />
                        </For>
                    </div>
                </div>
            </div>
        </div>
        {move || {
            selected.get().filter(|_| opened.get()).and_then(row_at).map(|row| {
                view! {
                    <aside class="incident-detail" data-testid="incident-detail" aria-label="Selected incident">
                        <h2>{format!("Incident #{}", row.id)}</h2>
                        <p>{row.check_type.replace('_', " ")}" on "{row.hostname}" ("{row.category.replace('_', " ")}")"</p>
                        <p><SeverityBadge severity=row.severity.clone() />" "<StatusBadge status=row.status.clone() /></p>
                        <p>"Reported "{row.reported_at.format("%Y-%m-%d %H:%M UTC").to_string()}</p>
                    </aside>
                }
            })
        }}
    }
}

#[component]
fn IncidentListRow(
    index: i64,
    row: Signal<Option<IncidentRow>>,
    top: Signal<f64>,
    selected: RwSignal<Option<i64>>,
    opened: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <div
            class="incident-row"
            class:selected=move || selected.get() == Some(index)
            data-row
            data-row-index=index
            role="row"
            style:transform=move || format!("translateY({:.1}px)", top.get())
            on:click=move |_| {
                selected.set(Some(index));
                opened.set(true);
            }
        >
            {move || match row.get() {
                Some(r) => view! {
                    <span>{r.reported_at.format("%b %d %H:%M").to_string()}</span>
                    <span>{r.hostname}</span>
                    <span>{r.check_type.replace('_', " ")}</span>
                    <span class=format!("severity-{}", r.severity)>{r.severity.clone()}</span>
                    <span class=format!("status-{}", r.status)>{r.status.clone()}</span>
                }
                .into_any(),
                None => view! { <span class="placeholder">"loading…"</span> }.into_any(),
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lists_scroll_pixel_for_pixel() {
        let map = ScrollMap { total: 1_000 };
        assert_eq!(map.spacer_px(), 32_000.0);
        assert_eq!(map.virtual_px(3_200.0), 3_200.0);
        assert_eq!(map.scroll_top_for(100), 3_200.0);
    }

    #[test]
    fn every_row_of_ten_million_is_reachable() {
        let map = ScrollMap { total: 10_000_000 };
        assert!(
            map.spacer_px() <= MAX_SPACER_PX,
            "the browser can lay out the spacer"
        );
        let bottom = map.spacer_px() - VIEWPORT_PX;
        let last_top_row = (map.virtual_px(bottom) / ROW_HEIGHT).floor() as i64;
        assert_eq!(
            last_top_row + VIEWPORT_ROWS,
            10_000_000,
            "the last row shows at the bottom"
        );
        // Row 1,048,577 (past the 33.5M px cap at 32 px a row) has a scroll position.
        let top = map.scroll_top_for(1_048_577);
        assert_eq!((map.virtual_px(top) / ROW_HEIGHT).round() as i64, 1_048_577);
        assert_eq!(map.virtual_px(0.0), 0.0);
    }

    #[test]
    fn fewer_rows_than_fit_never_scroll() {
        let map = ScrollMap { total: 3 };
        assert_eq!(map.virtual_px(500.0), 0.0);
        assert_eq!(map.scroll_top_for(2), 0.0);
    }
}
