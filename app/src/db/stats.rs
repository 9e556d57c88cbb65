//! The fleet's statistics for the Overview page, over the clients a user sees. Expensive: callers cache them.

use chrono::{DateTime, Days, Duration, NaiveTime, Utc};

use super::Db;
use super::scope::clients_in;
use crate::domain::client_scope::ClientScope;
use crate::on_db;
use crate::types::{
    DailyCount, GlobalStats, IncidentTypeCount, SeverityCounts, SiteScore, SiteStatusCounts,
};

/// Sites counted by how recently they checked in.
fn site_status_sql(scope: &ClientScope) -> String {
    format!(
        "SELECT \
         COALESCE(SUM(CASE WHEN last_checkin_at IS NULL THEN 1 ELSE 0 END), 0) AS pending, \
         COALESCE(SUM(CASE WHEN last_checkin_at >= $1 THEN 1 ELSE 0 END), 0) AS online, \
         COALESCE(SUM(CASE WHEN last_checkin_at < $1 AND last_checkin_at >= $2 THEN 1 ELSE 0 END), 0) AS stale, \
         COALESCE(SUM(CASE WHEN last_checkin_at < $2 THEN 1 ELSE 0 END), 0) AS offline \
         FROM sites WHERE decommissioned_at IS NULL AND {}",
        clients_in(scope, "client_id")
    )
}

// The one query whose SQL differs: the UTC calendar day of a timestamp.
const DAY_SQLITE: &str = "substr(reported_at, 1, 10)";
const DAY_POSTGRES: &str = "to_char(reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

/// Computes the stats of `scope`'s clients; `scores` are their sites' scores (for average
/// compliance).
pub async fn fleet_stats(
    db: &Db,
    scope: &ClientScope,
    scores: &[SiteScore],
    now: DateTime<Utc>,
) -> Result<GlobalStats, sqlx::Error> {
    let first_day = (now - Days::new(13))
        .date_naive()
        .and_time(NaiveTime::MIN)
        .and_utc();
    let incidents = clients_in(scope, "client_id");
    let clients_sql = format!(
        "SELECT COUNT(*) FROM clients WHERE {}",
        clients_in(scope, "id")
    );
    let status_sql = site_status_sql(scope);
    let by_severity_sql = format!(
        "SELECT severity, COUNT(*) FROM incidents \
         WHERE status IN ('open', 'resolving', 'escalated') AND {incidents} GROUP BY severity"
    );
    let reported_since_sql =
        format!("SELECT COUNT(*) FROM incidents WHERE reported_at >= $1 AND {incidents}");
    let day = match db {
        Db::Sqlite(_) => DAY_SQLITE,
        Db::Postgres(_) => DAY_POSTGRES,
    };
    let daily_sql = format!(
        "SELECT {day} AS day, COUNT(*) FROM incidents \
         WHERE reported_at >= $1 AND {incidents} GROUP BY day"
    );
    let (clients, status, by_severity, last_24h, last_7d, daily) = on_db!(db, |pool| {
        futures::try_join!(
            sqlx::query_scalar::<_, i64>(&clients_sql).fetch_one(pool),
            sqlx::query_as::<_, (i64, i64, i64, i64)>(&status_sql)
                .bind(now - Duration::minutes(15))
                .bind(now - Duration::hours(1))
                .fetch_one(pool),
            sqlx::query_as::<_, (String, i64)>(&by_severity_sql).fetch_all(pool),
            sqlx::query_scalar::<_, i64>(&reported_since_sql)
                .bind(now - Duration::hours(24))
                .fetch_one(pool),
            sqlx::query_scalar::<_, i64>(&reported_since_sql)
                .bind(now - Duration::days(7))
                .fetch_one(pool),
            sqlx::query_as::<_, (String, i64)>(&daily_sql)
                .bind(first_day)
                .fetch_all(pool),
        )?
    });

    let (pending, online, stale, offline) = status;
    let mut open_incidents = SeverityCounts::default();
    for (severity, count) in by_severity {
        match severity.as_str() {
            "low" => open_incidents.low = count,
            "medium" => open_incidents.medium = count,
            "high" => open_incidents.high = count,
            _ => open_incidents.critical = count,
        }
    }
    let daily_incidents = (0..14)
        .map(|offset| {
            let day = (first_day + Days::new(offset))
                .format("%Y-%m-%d")
                .to_string();
            let count = daily.iter().find(|(d, _)| *d == day).map_or(0, |(_, c)| *c);
            DailyCount { day, count }
        })
        .collect();
    let with_data: Vec<f64> = scores.iter().filter_map(|s| s.compliance).collect();
    let average_compliance =
        (!with_data.is_empty()).then(|| with_data.iter().sum::<f64>() / with_data.len() as f64);

    Ok(GlobalStats {
        clients,
        sites: SiteStatusCounts {
            online,
            stale,
            offline,
            pending,
        },
        open_incidents,
        average_compliance,
        incidents_24h: last_24h,
        incidents_7d: last_7d,
        daily_incidents,
        as_of_ms: now.timestamp_millis(),
    })
}

/// The check types with the most incidents reported at `scope`'s clients in the last 7 days,
/// at most 8.
pub async fn top_incident_types(
    db: &Db,
    scope: &ClientScope,
    now: DateTime<Utc>,
) -> Result<Vec<IncidentTypeCount>, sqlx::Error> {
    let sql = format!(
        "SELECT check_type, COUNT(*) AS n FROM incidents WHERE reported_at >= $1 AND {} \
         GROUP BY check_type ORDER BY n DESC, check_type LIMIT 8",
        clients_in(scope, "client_id")
    );
    let rows: Vec<(String, i64)> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(now - Duration::days(7))
            .fetch_all(pool)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(check_type, count)| IncidentTypeCount { check_type, count })
        .collect())
}
