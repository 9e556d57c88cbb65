//! Operators' actions on incidents (resolve, escalate, suppress) and what the detail panel
//! shows: expected against actual, the runbook for the check, the history of actions.

use chrono::{DateTime, Duration, Utc};

use super::Db;
use super::accounts::NewAudit;
use super::accounts::insert_audit;
use super::incidents::{IncidentFacts, facts_sql};
use super::scope::clients_in;
use super::sql::{self, Bind};
use crate::domain::client_scope::ClientScope;
use crate::on_db;
use crate::types::{HistoryEntry, IncidentAction, IncidentDetail, IncidentRow};

/// How long a suppression lasts.
pub const SUPPRESS_FOR: Duration = Duration::hours(24);

impl IncidentAction {
    /// The statuses an incident may have for this action to apply to it.
    fn applies_to(self) -> &'static str {
        match self {
            IncidentAction::Resolve => "('open', 'resolving', 'escalated')",
            IncidentAction::Escalate => "('open', 'resolving')",
            IncidentAction::Suppress => "('open', 'resolving', 'escalated')",
        }
    }

    /// The columns the action sets, and the values it binds at `now`.
    fn set_clause(self, now: DateTime<Utc>) -> (&'static str, Vec<Bind>) {
        match self {
            IncidentAction::Resolve => (
                "status = 'resolved', resolved_at = $1, resolution_tier = 'manual', suppressed_until = NULL",
                vec![Bind::Time(now)],
            ),
            IncidentAction::Escalate => ("status = 'escalated'", Vec::new()),
            IncidentAction::Suppress => (
                "suppressed_until = $1",
                vec![Bind::Time(now + SUPPRESS_FOR)],
            ),
        }
    }
}

/// What an action did.
#[derive(Debug)]
pub enum Applied {
    /// The incidents changed, in id order, each with its facts before and after (for the
    /// list's anchors). Empty when the action applied to none of them.
    Changed(Vec<(IncidentFacts, IncidentFacts)>),
    /// These ids name no incident; nothing was changed.
    Missing(Vec<i64>),
}

/// Applies `action` to those of `ids` it applies to (all of them incidents of `scope`'s
/// clients, else nothing is changed and the others are [`Applied::Missing`]), recording each in the incident's history
/// and the whole in the audit log, in one transaction.
///
/// The status test is in the UPDATE itself, so an incident that ingestion resolved a moment
/// ago is not escalated. The rows are locked before their facts are read, so those facts are
/// what the UPDATE changed: PostgreSQL locks them (`FOR UPDATE`); SQLite takes its write lock
/// at `BEGIN IMMEDIATE`, as a deferred transaction that reads first cannot become a writer
/// once the batcher has committed in between (`BUSY_SNAPSHOT`).
pub async fn apply_action(
    db: &Db,
    scope: &ClientScope,
    ids: &[i64],
    action: IncidentAction,
    audit: &NewAudit,
) -> Result<Applied, sqlx::Error> {
    let (set, binds) = action.set_clause(audit.at);
    let update = format!(
        "UPDATE incidents SET {set} WHERE id IN ({}) AND status IN {} AND {} RETURNING id",
        sql::id_list(ids),
        action.applies_to(),
        clients_in(scope, "client_id")
    );
    let (begin, lock_rows) = match db {
        Db::Sqlite(_) => ("BEGIN IMMEDIATE", ""),
        Db::Postgres(_) => ("BEGIN", " FOR UPDATE OF i"),
    };
    on_db!(db, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        let before: Vec<IncidentFacts> = sqlx::query_as(&facts_sql(ids, scope, lock_rows))
            .fetch_all(&mut *tx)
            .await?;
        if before.len() < ids.len() {
            let missing = ids
                .iter()
                .filter(|id| !before.iter().any(|f| f.id == **id))
                .copied()
                .collect();
            return Ok(Applied::Missing(missing));
        }
        let mut changed: Vec<i64> = sql::query_scalar(&update, &binds)?
            .fetch_all(&mut *tx)
            .await?;
        changed.sort_unstable();
        if changed.is_empty() {
            tx.commit().await?;
            return Ok(Applied::Changed(Vec::new()));
        }
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO incident_history (incident_id, action, actor, note, at) ",
        );
        insert.push_values(&changed, |mut row, id| {
            row.push_bind(*id)
                .push_bind(action.as_str())
                .push_bind(&audit.actor)
                .push_bind("")
                .push_bind(audit.at);
        });
        insert.build().execute(&mut *tx).await?;
        insert_audit(audit).execute(&mut *tx).await?;
        let after: Vec<IncidentFacts> = sqlx::query_as(&facts_sql(&changed, scope, ""))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let before = before
            .into_iter()
            .filter(|facts| changed.binary_search(&facts.id).is_ok());
        Ok(Applied::Changed(before.zip(after).collect()))
    })
}

/// (id, name, level, check types as JSON) of a runbook.
type RunbookRef = (String, String, String, String);

/// Everything the detail panel shows about incident `id`, if it is one of `scope`'s clients'.
pub async fn incident_detail(
    db: &Db,
    scope: &ClientScope,
    id: i64,
) -> Result<Option<IncidentDetail>, sqlx::Error> {
    let row_sql = format!(
        "SELECT {} FROM incidents WHERE id = $1 AND {}",
        super::incidents::COLUMNS,
        clients_in(scope, "client_id")
    );
    let row: Option<IncidentRow> = on_db!(db, |pool| sqlx::query_as(&row_sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    let Some(mut row) = row else {
        return Ok(None);
    };
    type Extra = (
        String,
        String,
        String,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    let (extra, history, runbooks): (Extra, Vec<HistoryEntry>, Vec<RunbookRef>) = on_db!(
        db,
        |pool| {
            futures::try_join!(
                sqlx::query_as::<_, Extra>(
                    "SELECT s.site_id, s.clinic_name, CAST(i.details AS TEXT), i.resolved_at, i.resolution_tier \
                     FROM incidents i JOIN sites s ON s.id = i.site_id WHERE i.id = $1",
                )
                .bind(id)
                .fetch_one(pool),
                sqlx::query_as::<_, HistoryEntry>(
                    "SELECT action, actor, note, at FROM incident_history WHERE incident_id = $1 ORDER BY at, id",
                )
                .bind(id)
                .fetch_all(pool),
                sqlx::query_as::<_, RunbookRef>(
                    "SELECT id, name, level, CAST(check_types AS TEXT) FROM runbooks WHERE category = $1 ORDER BY level, id",
                )
                .bind(&row.category)
                .fetch_all(pool),
            )?
        }
    );
    let (site, clinic_name, details, resolved_at, resolution_tier) = extra;
    (row.site, row.clinic_name) = (site, clinic_name);
    let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
    let text = |key: &str| {
        details
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_string()
    };
    let runbook = runbooks
        .into_iter()
        .find(|(_, _, _, types)| types.contains(&format!("\"{}\"", row.check_type)))
        .map(|(id, name, level, _)| (id, name, level));
    Ok(Some(IncidentDetail {
        expected: text("expected"),
        actual: text("actual"),
        resolved_at,
        resolution_tier,
        runbook,
        history,
        row,
    }))
}
