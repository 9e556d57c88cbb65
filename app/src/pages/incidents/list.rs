//! The scrolling list itself: the rows in view, keyboard and mouse, ticked rows and the
//! actions on them, and the windows it keeps loaded and refreshes after an action.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_router::components::A;

use super::actions::{ActionBar, ActionResult};
use super::detail::{IncidentDetailPanel, incident_query};
use super::scroll::{OVERSCAN, ROW_HEIGHT, ScrollMap, VIEWPORT_PX, VIEWPORT_ROWS};
use super::{WINDOW_ROWS, incident_count_query, incident_window_query};
use crate::pages::overview::stats_query;
use crate::types::{IncidentFilter, IncidentRow, IncidentWindowKey};

/// Loaded windows kept in the component beyond the ones in view (the query cache keeps more).
const KEEP_WINDOWS: usize = 24;

/// Where the reader is in the list: scroll position, focused row, ticked incidents, and
/// whether the focused row's detail is open.
#[derive(Clone, Copy)]
pub struct ListState {
    scroll_top: RwSignal<f64>,
    selected: RwSignal<Option<i64>>,
    ticked: RwSignal<BTreeSet<i64>>,
    opened: RwSignal<bool>,
}

impl Default for ListState {
    fn default() -> Self {
        Self {
            scroll_top: RwSignal::new(0.0),
            selected: RwSignal::new(None),
            ticked: RwSignal::new(BTreeSet::new()),
            opened: RwSignal::new(false),
        }
    }
}

impl ListState {
    pub fn reset(self) {
        self.scroll_top.set(0.0);
        self.selected.set(None);
        self.ticked.set(BTreeSet::new());
        self.opened.set(false);
    }
}

#[component]
pub fn IncidentList(
    filter: IncidentFilter,
    total: i64,
    first_rows: Vec<IncidentRow>,
    state: ListState,
) -> impl IntoView {
    let client: QueryClient = expect_context();
    let map = ScrollMap { total };
    let ListState {
        scroll_top,
        selected,
        ticked,
        opened,
    } = state;
    let filter_for_refresh = filter.clone();
    let windows = RwSignal::new(HashMap::from([(0_i64, Arc::new(first_rows))]));
    let requested = StoredValue::new(std::collections::HashSet::from([0_i64]));
    let scroller = NodeRef::<leptos::html::Div>::new();

    // Redrawn lists (after an action) open where the reader was.
    Effect::new(move |_| {
        if let Some(el) = scroller.get() {
            el.set_scroll_top(scroll_top.get_untracked() as i32);
        }
    });
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
                if !load_window(client, key, windows).await {
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
    let row_at_untracked = move |index: i64| untrack(|| row_at(index));
    let focused_id = Signal::derive(move || selected.get().and_then(row_at).map(|r| r.id));
    let on_done = Callback::new(move |result: ActionResult| {
        refresh_after_action(client, &filter_for_refresh, windows, &result.changed);
    });
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
            "x" | " " => {
                if let Some(row) = selected.get_untracked().and_then(row_at_untracked) {
                    toggle(ticked, row.id);
                }
            }
            "Escape" => opened.set(false),
            _ => return,
        }
        ev.prevent_default();
    };

    view! {
        <div class="list-head">
            <p class="result-count" data-testid="incident-count">{total}" incidents"</p>
            <ActionBar ticked focused=focused_id on_done />
        </div>
        <div class="incident-table" role="grid" aria-rowcount=total>
            <div class="incident-head" role="row">
                <span role="columnheader" aria-label="Selected"></span>
                <span role="columnheader">"Reported"</span>
                <span role="columnheader">"Clinic"</span>
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
                                ticked
                            />
                        </For>
                    </div>
                </div>
            </div>
        </div>
        {move || {
            // `try_get`: while a filter change redraws the list, this may run once after the
            // list's own signals are gone; it then shows nothing instead of panicking.
            let open = opened.try_get().unwrap_or(false);
            let focused = focused_id.try_get().flatten().filter(|_| open);
            focused.map(|id| view! { <IncidentDetailPanel id /> })
        }}
    }
}

/// Fetches a window through the query cache into the list's loaded windows; false on failure.
async fn load_window(
    client: QueryClient,
    key: IncidentWindowKey,
    windows: RwSignal<HashMap<i64, Arc<Vec<IncidentRow>>>>,
) -> bool {
    let window = key.window;
    match client.fetch_query(incident_window_query(), key).await {
        Ok(rows) => {
            windows.update(|w| {
                w.insert(window, Arc::new(rows));
            });
            true
        }
        Err(_) => false,
    }
}

fn toggle(ticked: RwSignal<BTreeSet<i64>>, id: i64) {
    ticked.update(|t| {
        if !t.remove(&id) {
            t.insert(id);
        }
    });
}

/// After an action on `changed`: marks stale exactly what it touched, and reloads the
/// windows on screen that hold changed rows. Rows that leave the filter (a resolved row under
/// "status: open") move every later row up, so then every later window of this filter is
/// stale too. Other filters' windows, all counts, the stats and the changed incidents'
/// details are marked stale and refetch when next shown.
fn refresh_after_action(
    client: QueryClient,
    filter: &IncidentFilter,
    windows: RwSignal<HashMap<i64, Arc<Vec<IncidentRow>>>>,
    changed: &[i64],
) {
    let hit: BTreeSet<i64> = windows.with_untracked(|w| {
        w.iter()
            .filter(|(_, rows)| rows.iter().any(|r| changed.contains(&r.id)))
            .map(|(window, _)| *window)
            .collect()
    });
    let rows_may_move = filter.status.is_some();
    let first_hit = hit.first().copied().unwrap_or(0);
    let stale = |key: &IncidentWindowKey| {
        if &key.filter != filter {
            return true;
        }
        if rows_may_move {
            key.window >= first_hit
        } else {
            hit.contains(&key.window)
        }
    };
    client.invalidate_queries_with_predicate(incident_window_query(), stale);
    client.invalidate_query_scope(incident_count_query());
    client.invalidate_query(stats_query(), ());
    for id in changed {
        client.invalidate_query(incident_query(), *id);
    }
    let reload: Vec<i64> = windows.with_untracked(|w| {
        w.keys()
            .copied()
            .filter(|window| {
                stale(&IncidentWindowKey {
                    filter: filter.clone(),
                    window: *window,
                })
            })
            .collect()
    });
    for window in reload {
        let key = IncidentWindowKey {
            filter: filter.clone(),
            window,
        };
        leptos::task::spawn_local(async move {
            load_window(client, key, windows).await;
        });
    }
}

/// Whether a click landed on a link inside the row (the clinic), which navigates instead.
fn on_link(ev: &web_sys::MouseEvent) -> bool {
    event_target::<web_sys::Element>(ev)
        .closest("a")
        .is_ok_and(|link| link.is_some())
}

#[component]
fn IncidentListRow(
    index: i64,
    row: Signal<Option<IncidentRow>>,
    top: Signal<f64>,
    selected: RwSignal<Option<i64>>,
    opened: RwSignal<bool>,
    ticked: RwSignal<BTreeSet<i64>>,
) -> impl IntoView {
    view! {
        <div
            class="incident-row"
            class:selected=move || selected.get() == Some(index)
            data-row
            data-row-index=index
            role="row"
            style:transform=move || format!("translateY({:.1}px)", top.get())
            on:click=move |ev| {
                if !on_link(&ev) {
                    selected.set(Some(index));
                    opened.set(true);
                }
            }
        >
            {move || match row.get() {
                Some(r) => view! {
                    <input
                        type="checkbox"
                        aria-label=format!("Select incident {}", r.id)
                        data-testid="row-tick"
                        prop:checked=move || ticked.read().contains(&r.id)
                        on:click=move |ev| {
                            ev.stop_propagation();
                            toggle(ticked, r.id);
                        }
                    />
                    <span>{r.reported_at.format("%b %d %H:%M").to_string()}</span>
                    <span>
                        <A href=format!("/sites/{}", r.site) attr:data-testid="row-site">
                            {r.clinic_name}
                        </A>
                    </span>
                    <span>{r.hostname}</span>
                    <span>{r.check_type.replace('_', " ")}</span>
                    <span class=format!("severity-{}", r.severity)>{r.severity.clone()}</span>
                    <span class=format!("status-{}", r.status) data-testid="row-status">
                        {r.status.clone()}{r.suppressed_until.map(|_| " · suppressed")}
                    </span>
                }
                .into_any(),
                None => view! { <span class="placeholder">"loading…"</span> }.into_any(),
            }}
        </div>
    }
}
