//! Each site's compliance, freshness and health, from the latest result per
//! (check type, host) of the last 24 hours. Expensive: callers cache it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::Db;
use super::scope::{clients_in, sites_in};
use crate::domain::client_scope::ClientScope;
use crate::domain::ids::SiteKey;
use crate::on_db;
use crate::scoring::{self, CheckStatus};
use crate::types::SiteScore;

/// The score of every active site of `scope`'s clients, in key order.
pub async fn site_scores(
    db: &Db,
    scope: &ClientScope,
    now: DateTime<Utc>,
) -> Result<Vec<SiteScore>, sqlx::Error> {
    let latest_results = format!(
        "SELECT site_id, check_type, status FROM check_latest WHERE checked_at >= $1 AND {}",
        sites_in(scope, "site_id")
    );
    let checkins = format!(
        "SELECT id, last_checkin_at FROM sites WHERE decommissioned_at IS NULL AND {} ORDER BY id",
        clients_in(scope, "client_id")
    );
    let (results, sites) = on_db!(db, |pool| {
        futures::try_join!(
            sqlx::query_as::<_, (i64, String, String)>(&latest_results)
                .bind(now - Duration::hours(24))
                .fetch_all(pool),
            sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(&checkins).fetch_all(pool),
        )?
    });

    let mut by_site: HashMap<i64, Vec<(String, CheckStatus)>> = HashMap::new();
    for (site_id, check_type, status) in results {
        if let Some(status) = CheckStatus::parse(&status) {
            by_site
                .entry(site_id)
                .or_default()
                .push((check_type, status));
        }
    }
    Ok(sites
        .into_iter()
        .map(|(site_id, last_checkin)| {
            let latest = by_site.get(&site_id).map(Vec::as_slice).unwrap_or_default();
            let compliance =
                scoring::compliance(latest.iter().map(|(t, s)| (t.as_str(), *s))).overall;
            let freshness = scoring::freshness(last_checkin.map(|at| (now - at).num_seconds()));
            let health = scoring::health(freshness, compliance);
            SiteScore {
                site_id: SiteKey(site_id),
                compliance,
                freshness,
                health: health.score,
                level: match last_checkin {
                    None => scoring::HealthLevel::Onboarding,
                    Some(_) => health.level,
                },
            }
        })
        .collect())
}
