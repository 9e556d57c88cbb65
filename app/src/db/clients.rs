//! Clients as the dashboard reads them: each with the health of its sites.

use super::Db;
use super::scope::clients_in;
use crate::domain::client_scope::ClientScope;
use crate::on_db;
use crate::types::{ClientSummary, SiteRow};

/// `scope`'s clients with the health of their sites (`rows`), worst first (clients without
/// sites last).
pub async fn client_summaries(
    db: &Db,
    scope: &ClientScope,
    rows: &[SiteRow],
) -> Result<Vec<ClientSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT id, name FROM clients WHERE {} ORDER BY name",
        clients_in(scope, "id")
    );
    let clients: Vec<(i64, String)> =
        on_db!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
    let mut summaries: Vec<ClientSummary> = clients
        .into_iter()
        .map(|(id, name)| summarise_client(id, name, rows.iter().filter(|r| r.client_id == id)))
        .collect();
    summaries.sort_by(|a, b| {
        let a_health = a.health.unwrap_or(f64::INFINITY);
        let b_health = b.health.unwrap_or(f64::INFINITY);
        a_health.total_cmp(&b_health).then(a.name.cmp(&b.name))
    });
    Ok(summaries)
}

pub fn summarise_client<'a>(
    id: i64,
    name: String,
    sites: impl Iterator<Item = &'a SiteRow>,
) -> ClientSummary {
    let sites: Vec<&SiteRow> = sites.collect();
    let count = sites.len() as i64;
    let worst_level = sites
        .iter()
        .map(|s| s.level)
        .max_by_key(|level| level.urgency());
    ClientSummary {
        id,
        name,
        sites: count,
        sites_online: sites.iter().filter(|s| s.status == "online").count() as i64,
        open_incidents: sites.iter().map(|s| s.open_incidents).sum(),
        health: (count > 0).then(|| sites.iter().map(|s| s.health).sum::<f64>() / count as f64),
        worst_level,
    }
}

/// The name of client `id`, if it exists within `scope`.
pub async fn client_name(
    db: &Db,
    scope: &ClientScope,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    let sql = format!(
        "SELECT name FROM clients WHERE id = $1 AND {}",
        clients_in(scope, "id")
    );
    on_db!(db, |pool| sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

pub async fn count_clients(db: &Db) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM clients")
            .fetch_one(pool)
            .await
    })
}

/// Those of `ids` that name no client.
pub async fn missing_clients(db: &Db, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT id FROM clients WHERE id IN ({})",
        super::sql::id_list(ids)
    );
    let found: Vec<i64> = on_db!(db, |pool| sqlx::query_scalar(&sql).fetch_all(pool).await?);
    Ok(ids
        .iter()
        .filter(|id| !found.contains(id))
        .copied()
        .collect())
}
