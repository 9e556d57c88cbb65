//! The bar of controls that changes the incident list's filters and sort (the filter itself,
//! its URL form and its checks are [`crate::incident_filter`]).

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::components::search_box::SearchBox;
use crate::incident_filter::filter_query;
use crate::scoring::{CATEGORIES, CATEGORY_CHECK_TYPES};
use crate::types::{INCIDENT_STATUSES, IncidentFilter, IncidentSort, SEVERITIES};

#[component]
pub fn FilterBar(filter: Memo<IncidentFilter>) -> impl IntoView {
    let navigate = use_navigate();
    let go = move |next: IncidentFilter| {
        navigate(
            &format!("/incidents{}", filter_query(&next)),
            NavigateOptions::default(),
        )
    };
    let set = move |name: &'static str, value: String| {
        let mut next = filter.get_untracked();
        let value = (!value.trim().is_empty()).then(|| value.trim().to_string());
        match name {
            "severity" => next.severity = value,
            "status" => next.status = value,
            "site" => next.site = value,
            "category" => next.category = value,
            "check_type" => next.check_type = value,
            "from" => next.from = value,
            "to" => next.to = value,
            "q" => next.q = value,
            _ => {
                next.sort = value
                    .and_then(|s| IncidentSort::parse(&s))
                    .unwrap_or_default()
            }
        }
        go(next);
    };
    let choice = {
        let set = set.clone();
        move |name: &'static str,
              label: &'static str,
              options: Vec<&'static str>,
              current: fn(&IncidentFilter) -> Option<String>| {
            let set = set.clone();
            view! {
                <label>
                    {label}" "
                    <select name=name data-testid=format!("{name}-filter") on:change=move |ev| set(name, event_target_value(&ev))>
                        <option value="" selected=move || current(&filter.read()).is_none()>"All"</option>
                        {options
                            .into_iter()
                            .map(|o| view! {
                                <option value=o selected=move || current(&filter.read()).as_deref() == Some(o)>{o.replace('_', " ")}</option>
                            })
                            .collect_view()}
                    </select>
                </label>
            }
        }
    };
    let check_types: Vec<&'static str> = CATEGORY_CHECK_TYPES
        .iter()
        .flat_map(|(_, t)| t.iter().copied())
        .collect();
    let q = Memo::new(move |_| filter.read().q.clone().unwrap_or_default());
    let on_search = Callback::new({
        let set = set.clone();
        move |value: String| set("q", value)
    });
    let date = {
        let set = set.clone();
        move |name: &'static str,
              label: &'static str,
              current: fn(&IncidentFilter) -> Option<String>| {
            let set = set.clone();
            view! {
                <label>{label}" "
                    <input type="date" name=name data-testid=format!("{name}-filter")
                        prop:value=move || current(&filter.read()).unwrap_or_default()
                        on:change=move |ev| set(name, event_target_value(&ev)) />
                </label>
            }
        }
    };
    let site_set = set.clone();
    let sort_set = set.clone();
    view! {
        <form class="filters" method="get" action="/incidents" on:submit=|ev| ev.prevent_default()>
            <SearchBox value=q on_search placeholder="Hostname" testid="host-search" />
            {choice("severity", "Severity", SEVERITIES.to_vec(), |f| f.severity.clone())}
            {choice("status", "Status", INCIDENT_STATUSES.to_vec(), |f| f.status.clone())}
            {choice("category", "Category", CATEGORIES.to_vec(), |f| f.category.clone())}
            {choice("check_type", "Check", check_types, |f| f.check_type.clone())}
            <label>"Site "
                <input type="text" name="site" placeholder="site id" data-testid="site-filter"
                    prop:value=move || filter.read().site.clone().unwrap_or_default()
                    on:change=move |ev| site_set("site", event_target_value(&ev)) />
            </label>
            {date("from", "From", |f| f.from.clone())}
            {date("to", "To", |f| f.to.clone())}
            <label>"Sort "
                <select name="sort" data-testid="sort-select" on:change=move |ev| sort_set("sort", event_target_value(&ev))>
                    {IncidentSort::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str() selected=move || filter.read().sort == s>{s.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <noscript><button type="submit" class="button">"Apply"</button></noscript>
            <a class="button" rel="external" download href=move || format!("/incidents.csv{}", filter_query(&filter.get()))
                data-testid="incidents-csv">"Export CSV"</a>
        </form>
    }
}
