//! A site as it stood at the end of a past day: what `/sites/:site_id?at=DATE` shows.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::figures;
use crate::db::Db;
use crate::db::{history, reports as store};
use crate::domain::client_scope::ClientScope;
use crate::domain::ids::SiteSlug;
use crate::error::AppError;
use crate::report::SiteOnDay;
use crate::scoring::CATEGORIES;

/// `site` (one of `scope`'s clients') at the end of `day` (`YYYY-MM-DD`; today: up to `now`). A malformed day is 400; an
/// unknown site, a day to come or a day before the site was added are 404s.
pub async fn site_on_day(
    db: &Db,
    scope: &ClientScope,
    slug: &SiteSlug,
    day: &str,
    now: DateTime<Utc>,
) -> Result<SiteOnDay, AppError> {
    let day = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::Invalid(format!(
            "the day must be written YYYY-MM-DD, such as 2026-10-15, not {day:?}"
        ))
    })?;
    if day > now.date_naive() {
        return Err(AppError::NotFound(format!("{day} has not come yet")));
    }
    let site = store::site(db, scope, slug.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no site with id {:?}", slug.as_str())))?;
    let end = (day.and_time(NaiveTime::MIN).and_utc() + Duration::days(1)).min(now);
    if end <= site.created_at {
        return Err(AppError::NotFound(format!(
            "{} was added on {}: there is nothing to show before",
            site.clinic_name,
            site.created_at.date_naive()
        )));
    }
    let keys = [site.id];
    let (snapshot, latest, incidents, head) = futures::try_join!(
        history::snapshot_of(db, site.id, day),
        history::latest_between(db, site.id, end - Duration::hours(24), end),
        store::incidents(db, &keys, end, end),
        history::chain_head_at(db, site.id, end),
    )?;
    let slugs = [(site.id, site.site_id.clone())].into_iter().collect();
    let open = figures::incident_figures(&incidents, &slugs, end, end);
    let (score, categories) = snapshot.map_or((None, Default::default()), |(s, c)| (s, c.0));
    Ok(SiteOnDay {
        site_id: slug.clone(),
        clinic_name: site.clinic_name,
        client_id: site.client_id,
        client_name: site.client_name,
        day,
        score,
        categories: CATEGORIES
            .iter()
            .map(|c| (c.to_string(), categories.get(*c).copied()))
            .collect(),
        controls: crate::hipaa::control_statuses(latest.iter().map(|(c, s)| (c.as_str(), *s))),
        results: latest.len(),
        open_incidents: open.still_open,
        open_total: open.open_total,
        evidence_head: head,
    })
}
