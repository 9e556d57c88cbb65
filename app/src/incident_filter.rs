//! The incident list's filter and sort: its URL form (the page's and the CSV export's), the
//! server's checks of what a client sends, and its normalised form.

use leptos_router::params::ParamsMap;

use crate::domain::client_scope::ClientScope;
use crate::scoring::{CATEGORIES, CATEGORY_CHECK_TYPES};
use crate::types::{INCIDENT_STATUSES, IncidentFilter, IncidentSort, SEVERITIES};

#[cfg(feature = "ssr")]
use crate::error::AppError;

/// `filter` as the server runs it for a user who sees `clients`: refused (400) with values no
/// control could produce, naming the field; a site or client it names that is unknown or
/// outside `clients` is 404, the same answer for both.
#[cfg(feature = "ssr")]
pub async fn scoped(
    db: &crate::db::Db,
    filter: IncidentFilter,
    clients: ClientScope,
) -> Result<IncidentFilter, AppError> {
    checked(&filter)?;
    if let Some(site) = &filter.site
        && crate::db::reports::site(db, &clients, site)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound(format!("no site with id {site:?}")).with_status());
    }
    if let Some(client) = filter.client
        && crate::db::client_name(db, &clients, client)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound(format!("no client with id {client}")).with_status());
    }
    Ok(IncidentFilter { clients, ..filter })
}

/// Refuses values no control could produce, naming the field.
#[cfg(feature = "ssr")]
fn checked(filter: &IncidentFilter) -> Result<(), AppError> {
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
            && crate::db::sql::day_start(day, 0).is_none()
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
        clients: ClientScope::All,
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

impl IncidentFilter {
    /// The same filter written one way: blank text is no filter, days are `YYYY-MM-DD`, the
    /// hostname search is trimmed and lower-cased (it matches any case). Two URLs that list
    /// the same rows share one anchor cache entry.
    pub fn normalized(&self) -> IncidentFilter {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let day = |value: &Option<String>| {
            value.as_deref().and_then(|d| {
                let date = chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()?;
                Some(date.format("%Y-%m-%d").to_string())
            })
        };
        IncidentFilter {
            severity: text(&self.severity),
            status: text(&self.status),
            site: text(&self.site),
            client: self.client,
            category: text(&self.category),
            check_type: text(&self.check_type),
            from: day(&self.from),
            to: day(&self.to),
            q: text(&self.q).map(|q| q.to_lowercase()),
            sort: self.sort,
            clients: self.clients.clone(),
        }
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
            clients: ClientScope::All,
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
