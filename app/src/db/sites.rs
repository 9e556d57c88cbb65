//! Sites as the dashboard reads them: the rows of the sites table (with scores and open
//! incident counts), their filter, and one site's detail page.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::Db;
use super::incidents::COLUMNS as INCIDENT_COLUMNS;
use super::scope::clients_in;
use crate::domain::client_scope::ClientScope;
use crate::domain::ids::{SiteKey, SiteSlug};
use crate::on_db;
use crate::scoring::{self, CheckStatus, HealthLevel};
use crate::types::{
    ApplianceRow, EvidenceStatus, IncidentRow, OrderRow, SiteDetail, SiteFilter, SiteRow,
    SiteScore, SiteSort, TrendPoint,
};

type SiteRecord = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    Option<DateTime<Utc>>,
);

fn age_seconds(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<i64> {
    at.map(|at| (now - at).num_seconds())
}

/// Every active site of `scope`'s clients with its scores and open incident count, in key
/// order.
pub async fn site_rows(
    db: &Db,
    scope: &ClientScope,
    scores: &[SiteScore],
    now: DateTime<Utc>,
) -> Result<Vec<SiteRow>, sqlx::Error> {
    let sites_sql = format!(
        "SELECT s.id, s.site_id, s.clinic_name, s.client_id, c.name, s.tier, s.last_checkin_at \
         FROM sites s JOIN clients c ON c.id = s.client_id \
         WHERE s.decommissioned_at IS NULL AND {} ORDER BY s.id",
        clients_in(scope, "s.client_id")
    );
    let open_sql = format!(
        "SELECT site_id, COUNT(*) FROM incidents \
         WHERE status IN ('open', 'resolving', 'escalated') AND {} GROUP BY site_id",
        clients_in(scope, "client_id")
    );
    let (sites, open) = on_db!(db, |pool| {
        futures::try_join!(
            sqlx::query_as::<_, SiteRecord>(&sites_sql).fetch_all(pool),
            sqlx::query_as::<_, (i64, i64)>(&open_sql).fetch_all(pool),
        )?
    });
    let open: HashMap<i64, i64> = open.into_iter().collect();
    let scores: HashMap<i64, &SiteScore> = scores.iter().map(|s| (s.site_id.0, s)).collect();
    Ok(sites
        .into_iter()
        .map(
            |(id, site_id, clinic_name, client_id, client_name, tier, last_checkin)| {
                let score = scores.get(&id);
                SiteRow {
                    id: SiteKey(id),
                    site_id: SiteSlug(site_id),
                    clinic_name,
                    client_id,
                    client_name,
                    tier,
                    status: scoring::site_status(age_seconds(last_checkin, now)).to_string(),
                    last_checkin,
                    compliance: score.and_then(|s| s.compliance),
                    health: score.map_or(0.0, |s| s.health),
                    level: score.map_or(HealthLevel::Critical, |s| s.level),
                    open_incidents: open.get(&id).copied().unwrap_or(0),
                }
            },
        )
        .collect())
}

/// The rows `filter` selects, in its order. Every search word must appear in the clinic
/// name, site id or client name.
pub fn filter_sites(rows: &[SiteRow], filter: &SiteFilter) -> Vec<SiteRow> {
    let words: Vec<String> = filter.q.split_whitespace().map(str::to_lowercase).collect();
    let mut selected: Vec<SiteRow> = rows
        .iter()
        .filter(|row| filter.status.is_empty() || row.status == filter.status)
        .filter(|row| {
            let haystack =
                format!("{} {} {}", row.clinic_name, row.site_id, row.client_name).to_lowercase();
            words.iter().all(|w| haystack.contains(w))
        })
        .cloned()
        .collect();
    selected.sort_by(|a, b| {
        let order = match filter.sort {
            SiteSort::Health => a.health.total_cmp(&b.health),
            SiteSort::Name => a.clinic_name.cmp(&b.clinic_name),
            SiteSort::Client => a
                .client_name
                .cmp(&b.client_name)
                .then(a.clinic_name.cmp(&b.clinic_name)),
            SiteSort::Status => a.status.cmp(&b.status),
            SiteSort::Compliance => a
                .compliance
                .unwrap_or(-1.0)
                .total_cmp(&b.compliance.unwrap_or(-1.0)),
            SiteSort::Incidents => a.open_incidents.cmp(&b.open_incidents),
            SiteSort::Checkin => a.last_checkin.cmp(&b.last_checkin),
        };
        let order = if filter.desc { order.reverse() } else { order };
        // A site still onboarding has no score yet: after the scored ones either way.
        let onboarding =
            |row: &SiteRow| filter.sort == SiteSort::Health && row.level == HealthLevel::Onboarding;
        onboarding(a)
            .cmp(&onboarding(b))
            .then(order)
            .then(a.id.cmp(&b.id))
    });
    selected
}

/// Everything the detail page shows about the site `row` describes.
pub async fn site_detail(
    db: &Db,
    row: SiteRow,
    now: DateTime<Utc>,
) -> Result<SiteDetail, sqlx::Error> {
    let id = row.id.0;
    let recent_sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE site_id = $1 ORDER BY reported_at DESC LIMIT 20"
    );
    let (contact, latest, trend, appliances, recent_incidents, pending_orders, chain) = on_db!(
        db,
        |pool| {
            futures::try_join!(
            sqlx::query_as::<_, (Option<String>, Option<String>, String)>(
                "SELECT contact_name, contact_email, onboarding_stage FROM sites WHERE id = $1",
            )
            .bind(id)
            .fetch_one(pool),
            sqlx::query_as::<_, (String, String)>(
                "SELECT check_type, status FROM check_latest WHERE site_id = $1 AND checked_at >= $2",
            )
            .bind(id)
            .bind(now - Duration::hours(24))
            .fetch_all(pool),
            sqlx::query_as::<_, (DateTime<Utc>, Option<f64>)>(
                "SELECT snapshot_at, score FROM compliance_snapshots WHERE site_id = $1 AND snapshot_at >= $2 \
                 ORDER BY snapshot_at DESC",
            )
            .bind(id)
            .bind(now - Duration::days(30))
            .fetch_all(pool),
            sqlx::query_as::<_, (String, String, String, Option<DateTime<Utc>>)>(
                "SELECT hostname, mac, agent_version, last_checkin_at FROM appliances WHERE site_id = $1 ORDER BY hostname",
            )
            .bind(id)
            .fetch_all(pool),
            sqlx::query_as::<_, IncidentRow>(&recent_sql).bind(id).fetch_all(pool),
            sqlx::query_as::<_, OrderRow>(
                "SELECT o.id, a.hostname AS appliance, o.order_type, o.priority, o.created_at, o.expires_at \
                 FROM orders o JOIN appliances a ON a.id = o.appliance_id \
                 WHERE a.site_id = $1 AND o.status = 'pending' ORDER BY o.priority DESC, o.created_at",
            )
            .bind(id)
            .fetch_all(pool),
            sqlx::query_as::<_, (i64, String, Option<String>, DateTime<Utc>)>(
                "SELECT position, bundle_hash, prev_hash, created_at FROM evidence_bundles \
                 WHERE site_id = $1 ORDER BY position",
            )
            .bind(id)
            .fetch_all(pool),
        )?
        }
    );
    let (contact_name, contact_email, onboarding_stage) = contact;
    let results = || {
        latest
            .iter()
            .filter_map(|(t, s)| CheckStatus::parse(s).map(|s| (t.as_str(), s)))
    };
    let compliance = scoring::compliance(results());
    let controls = crate::hipaa::control_statuses(results());
    let appliances = appliances
        .into_iter()
        .map(
            |(hostname, mac, agent_version, last_checkin)| ApplianceRow {
                status: scoring::site_status(age_seconds(last_checkin, now)).to_string(),
                hostname,
                mac,
                agent_version,
                last_checkin,
            },
        )
        .collect();
    let recent_incidents = recent_incidents
        .into_iter()
        .map(|incident| IncidentRow {
            site: row.site_id.to_string(),
            clinic_name: row.clinic_name.clone(),
            ..incident
        })
        .collect();
    Ok(SiteDetail {
        site: row,
        contact_name,
        contact_email,
        onboarding_stage,
        categories: compliance.categories,
        trend: trend
            .into_iter()
            .rev()
            .map(|(at, score)| TrendPoint { at, score })
            .collect(),
        appliances,
        recent_incidents,
        pending_orders,
        evidence: evidence_status(&chain),
        controls,
    })
}

/// Checks that every bundle names its predecessor's hash.
fn evidence_status(chain: &[(i64, String, Option<String>, DateTime<Utc>)]) -> EvidenceStatus {
    let broken_at = chain.windows(2).find_map(|pair| {
        let (_, previous_hash, _, _) = &pair[0];
        let (position, _, prev_hash, _) = &pair[1];
        (prev_hash.as_ref() != Some(previous_hash)).then_some(*position)
    });
    EvidenceStatus {
        length: chain.len() as i64,
        last_hash: chain.last().map(|c| c.1.clone()),
        last_at: chain.last().map(|c| c.3),
        broken_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, name: &str, client: &str, status: &str, health: f64) -> SiteRow {
        SiteRow {
            id: SiteKey(id),
            site_id: SiteSlug(format!("site-{id}")),
            clinic_name: name.into(),
            client_id: 1,
            client_name: client.into(),
            tier: "small".into(),
            status: status.into(),
            last_checkin: None,
            compliance: Some(health),
            health,
            level: HealthLevel::Warning,
            open_incidents: id,
        }
    }

    #[test]
    fn sites_filter_by_every_word_and_status_then_sort() {
        let rows = [
            row(1, "Maple Grove Pediatrics", "Maple Health", "online", 80.0),
            row(2, "Riverside Dental Care", "Maple Health", "offline", 30.0),
            row(3, "Maple Eye Clinic", "Birch Care", "online", 55.0),
        ];
        let ids = |f: SiteFilter| {
            filter_sites(&rows, &f)
                .iter()
                .map(|r| r.id.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(SiteFilter::default()),
            [2, 3, 1],
            "worst health first by default"
        );
        assert_eq!(
            ids(SiteFilter {
                q: "maple".into(),
                ..Default::default()
            }),
            [2, 3, 1],
            "client name counts"
        );
        assert_eq!(
            ids(SiteFilter {
                q: "MAPLE clinic".into(),
                ..Default::default()
            }),
            [3]
        );
        assert_eq!(
            ids(SiteFilter {
                status: "online".into(),
                ..Default::default()
            }),
            [3, 1]
        );
        assert_eq!(
            ids(SiteFilter {
                sort: SiteSort::Name,
                ..Default::default()
            }),
            [3, 1, 2]
        );
        assert_eq!(
            ids(SiteFilter {
                sort: SiteSort::Incidents,
                desc: true,
                ..Default::default()
            }),
            [3, 2, 1]
        );
        assert!(
            ids(SiteFilter {
                q: "nowhere".into(),
                ..Default::default()
            })
            .is_empty()
        );
    }
}
