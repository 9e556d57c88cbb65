//! The incident list's filters and sort: read from and written to the URL, checked on the
//! server, and the bar of controls that changes them.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use leptos_router::params::ParamsMap;

use crate::components::search_box::SearchBox;
use crate::scoring::{CATEGORIES, CATEGORY_CHECK_TYPES};
use crate::types::{INCIDENT_STATUSES, IncidentFilter, IncidentSort, SEVERITIES};

#[cfg(feature = "ssr")]
use crate::error::AppError;

/// Refuses values no control could produce, naming the field.
#[cfg(feature = "ssr")]
pub fn checked(filter: &IncidentFilter) -> Result<(), AppError> {
    let one_of = |name: &str, value: &Option<String>, allowed: &[&str]| match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(AppError::Invalid(format!(
            "{name} must be one of {}, not {v:?}",
            allowed.join(", ")
        ))
        .with_status()),
        _ => Ok(()),
    };
    one_of("severity", &filter.severity, &SEVERITIES)?;
    one_of("status", &filter.status, &INCIDENT_STATUSES)?;
    one_of("category", &filter.category, &CATEGORIES)?;
    let check_types: Vec<&str> = CATEGORY_CHECK_TYPES
        .iter()
        .flat_map(|(_, t)| t.iter().copied())
        .collect();
    one_of("check_type", &filter.check_type, &check_types)?;
    for (name, day) in [("from", &filter.from), ("to", &filter.to)] {
        if let Some(day) = day
            && crate::db::accounts::day_start(day, 0).is_none()
        {
            return Err(AppError::Invalid(format!(
                "{name} must be a date as YYYY-MM-DD, not {day:?}"
            ))
            .with_status());
        }
    }
    if filter.q.as_ref().is_some_and(|q| q.len() > 200) {
        return Err(
            AppError::Invalid("q is too long: at most 200 characters".into()).with_status(),
        );
    }
    Ok(())
}

/// The filter a `/incidents` URL describes; unknown values are dropped.
pub fn filter_from_query(query: &ParamsMap) -> IncidentFilter {
    let text = |name: &str| {
        query
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let among = |name: &str, allowed: &[&str]| text(name).filter(|v| allowed.contains(&v.as_str()));
    let check_types: Vec<&str> = CATEGORY_CHECK_TYPES
        .iter()
        .flat_map(|(_, t)| t.iter().copied())
        .collect();
    IncidentFilter {
        severity: among("severity", &SEVERITIES),
        status: among("status", &INCIDENT_STATUSES),
        site: text("site"),
        client: text("client").and_then(|c| c.parse().ok()),
        category: among("category", &CATEGORIES),
        check_type: among("check_type", &check_types),
        from: text("from"),
        to: text("to"),
        q: text("q"),
        sort: text("sort")
            .and_then(|s| IncidentSort::parse(&s))
            .unwrap_or_default(),
    }
}

/// The query string of a filter (defaults left out): the page URL and the CSV export's.
pub fn filter_query(filter: &IncidentFilter) -> String {
    let mut query = ParamsMap::new();
    let fields = [
        ("severity", filter.severity.clone()),
        ("status", filter.status.clone()),
        ("site", filter.site.clone()),
        ("client", filter.client.map(|c| c.to_string())),
        ("category", filter.category.clone()),
        ("check_type", filter.check_type.clone()),
        ("from", filter.from.clone()),
        ("to", filter.to.clone()),
        ("q", filter.q.clone()),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            query.insert(name, value);
        }
    }
    if filter.sort != IncidentSort::default() {
        query.insert("sort", filter.sort.as_str().to_string());
    }
    query.to_query_string()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn percent_decoded(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_filter_survives_its_url() {
        let filter = IncidentFilter {
            severity: Some("high".into()),
            status: Some("open".into()),
            site: Some("harbor-clinic".into()),
            client: Some(7),
            category: Some("backup".into()),
            check_type: Some("backup_job".into()),
            from: Some("2026-11-01".into()),
            to: Some("2026-11-20".into()),
            q: Some("ws-01".into()),
            sort: IncidentSort::Severity,
        };
        let url = filter_query(&filter);
        let params: ParamsMap = url
            .trim_start_matches('?')
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (percent_decoded(k), percent_decoded(v)))
            .collect();
        let parsed = filter_from_query(&params);
        assert_eq!(parsed, filter);
        assert_eq!(filter_query(&IncidentFilter::default()), "");
    }
}
