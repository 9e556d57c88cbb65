//! One transaction for a batch of reports: bundles and check results in multi-row inserts,
//! `check_latest` upserted, drift events applied to incidents.
//! Multi-row statements come in a few fixed sizes, so they stay prepared.
//! With batching off (batch size 1) each report is its own transaction and each check result
//! its own INSERT, the naive write path the benchmark compares against.

use std::collections::HashMap;

use app::db::Db;
use chrono::{DateTime, Duration, Utc};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::types::Json;
use sqlx::{Connection as _, Postgres, QueryBuilder};
use tokio::sync::mpsc;

use super::{DriftOutcome, IncidentOutcome, Report, ReportOutcome};
use app::domain::appliance::{DriftEvent, DriftState};
use app::scoring::CheckStatus;

/// Runs the same query text on whichever connection `$connection` holds.
macro_rules! on_connection {
    ($connection:expr, |$conn:ident| $body:expr) => {
        match $connection {
            Connection::Sqlite($conn, _) => $body,
            Connection::Postgres($conn) => $body,
        }
    };
}

/// A drift within this long of its incident's resolution re-opens that incident.
pub const REOPEN_WINDOW_MINUTES: i64 = 30;

struct ResultRow<'a> {
    bundle_id: i64,
    site: i64,
    check_type: &'a str,
    hostname: &'a str,
    status: CheckStatus,
    checked_at: DateTime<Utc>,
}

/// The batcher's own connection, kept from batch to batch. A SQLite connection drops its
/// whole page cache when another connection wrote since its last transaction, so writing
/// every batch through the same one keeps the pages it touches cached.
///
/// On SQLite it is opened apart from the pool with foreign keys unenforced: immediate
/// foreign key checks make every multi-row INSERT keep a statement journal (a copy of each
/// page it changes, to undo just that statement). Every id this connection writes comes from
/// the authenticated appliance's row or from ids reserved in the same transaction, and sites
/// and appliances are never deleted, so the references hold without the check. Its page
/// cache is small (8 MiB against the pool's 64): every commit walks the cache's hash table,
/// and with 64 MiB that walk took an eighth of the writer's time.
///
/// Its automatic checkpoints are off: after each commit it asks a task of its own to copy the
/// WAL into the database on a pool connection, on another thread, so the writer goes on to the
/// next batch meanwhile. The task ends with the connection.
pub enum Connection {
    Sqlite(SqliteConnection, mpsc::Sender<()>),
    Postgres(PoolConnection<Postgres>),
}

impl Connection {
    pub async fn open(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(pool) => {
                let options = pool
                    .connect_options()
                    .as_ref()
                    .clone()
                    .foreign_keys(false)
                    .pragma("cache_size", "-8192")
                    .pragma("wal_autocheckpoint", "0");
                let connection = SqliteConnection::connect_with(&options).await?;
                let (checkpoint, requests) = mpsc::channel(1);
                tokio::spawn(checkpoint_after_commits(pool.clone(), requests));
                Connection::Sqlite(connection, checkpoint)
            }
            Db::Postgres(pool) => Connection::Postgres(pool.acquire().await?),
        })
    }
}

/// WAL frames past which a checkpoint also truncates the WAL, waiting for the writer: passive
/// checkpoints running beside a busy writer may never find the whole WAL copied, the moment
/// SQLite needs to start it over. (8,192 frames of 4 KiB: 32 MiB.)
const WAL_TRUNCATE_FRAMES: i64 = 8_192;

/// Least time between two checkpoints: each one syncs the database file, which a checkpoint
/// per commit would do hundreds of times a second with batching off.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Checkpoints the WAL after commits, passively (readers and the writer go on) and at most
/// once per [`CHECKPOINT_INTERVAL`], until the writer's connection is dropped.
async fn checkpoint_after_commits(pool: SqlitePool, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        let passive: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        let result = match passive {
            Ok((_, frames, _)) if frames > WAL_TRUNCATE_FRAMES => {
                sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&pool)
                    .await
                    .map(drop)
            }
            other => other.map(drop),
        };
        if let Err(err) = result {
            tracing::warn!("WAL checkpoint failed: {err}");
        }
        tokio::time::sleep(CHECKPOINT_INTERVAL).await;
    }
}

/// What differs between the backends in a batch's transaction.
struct Dialect {
    begin: &'static str,
    /// Bundle ids for the batch, reserved in one statement so the bundles go in with
    /// multi-row inserts like everything else.
    reserve_ids: &'static str,
    /// How the multi-row inserts start.
    insert: &'static str,
}

/// `BEGIN IMMEDIATE` holds the write lock from the start, which makes the ids after the
/// largest safe to take. `OR FAIL` spares the statement journal too: an error stops the
/// statement where it is, and the whole transaction is rolled back anyway.
const SQLITE: Dialect = Dialect {
    begin: "BEGIN IMMEDIATE",
    reserve_ids: "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                  SELECT (SELECT COALESCE(MAX(id), 0) FROM compliance_bundles) + i FROM n",
    insert: "INSERT OR FAIL INTO",
};

const POSTGRES: Dialect = Dialect {
    begin: "BEGIN",
    reserve_ids: "SELECT nextval(pg_get_serial_sequence('compliance_bundles', 'id')) \
                  FROM generate_series(1, $1)",
    insert: "INSERT INTO",
};

/// `multi_row` false writes one INSERT per check result: batching off, for comparison.
pub async fn write(
    connection: &mut Connection,
    reports: &[&Report],
    multi_row: bool,
) -> Result<Vec<ReportOutcome>, sqlx::Error> {
    let now = Utc::now();
    let largest = if multi_row { LARGEST_STATEMENT } else { 1 };
    let dialect = match connection {
        Connection::Sqlite(..) => &SQLITE,
        Connection::Postgres(_) => &POSTGRES,
    };
    let (claims, copies) = report_ids(reports);
    on_connection!(connection, |conn| {
        let mut tx = conn.begin_with(dialect.begin).await?;
        // Claim each report_id first: a report whose id is taken was written before (by this
        // server or another), and gets the answer stored then.
        let mut earlier: HashMap<usize, ReportOutcome> = HashMap::new();
        for chunk in shaped_chunks(&claims, largest) {
            let claimed: Vec<(i64, String)> = QueryBuilder::new(
                "INSERT INTO ingest_reports (appliance_id, report_id, outcome, received_at) ",
            )
            .push_values(chunk, |mut b, i| {
                b.push_bind(reports[*i].appliance.id)
                    .push_bind(reports[*i].report_id.as_deref())
                    .push_bind("")
                    .push_bind(now);
            })
            .push(" ON CONFLICT DO NOTHING RETURNING appliance_id, report_id")
            .build_query_as()
            .fetch_all(&mut *tx)
            .await?;
            for i in chunk {
                let report = reports[*i];
                let id = report.report_id.as_deref().unwrap_or_default();
                if claimed
                    .iter()
                    .any(|(a, r)| *a == report.appliance.id && r == id)
                {
                    continue;
                }
                let stored: String = sqlx::query_scalar(
                    "SELECT outcome FROM ingest_reports WHERE appliance_id = $1 AND report_id = $2",
                )
                .bind(report.appliance.id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                let outcome: ReportOutcome =
                    serde_json::from_str(&stored).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                earlier.insert(
                    *i,
                    ReportOutcome {
                        repeated: true,
                        ..outcome
                    },
                );
            }
        }
        let fresh = |i: &usize| !earlier.contains_key(i) && !copies.contains_key(i);
        let bundle_count = (0..reports.len())
            .filter(|i| fresh(i) && !reports[*i].checks.is_empty())
            .count();
        let mut ids = if bundle_count > 0 {
            sqlx::query_scalar::<_, i64>(dialect.reserve_ids)
                .bind(bundle_count as i64)
                .fetch_all(&mut *tx)
                .await?
        } else {
            Vec::new()
        }
        .into_iter();
        let mut outcomes = Vec::with_capacity(reports.len());
        let mut bundles = Vec::with_capacity(bundle_count);
        let mut rows = Vec::new();
        for (i, report) in reports.iter().enumerate() {
            if !fresh(&i) {
                outcomes.push(earlier.get(&i).cloned());
                continue;
            }
            let mut bundle_id = None;
            if !report.checks.is_empty() {
                let id = ids.next().ok_or(sqlx::Error::RowNotFound)?;
                let count = |s| report.checks.iter().filter(|c| c.status == s).count() as i64;
                bundles.push((
                    id,
                    report.appliance.site,
                    report.appliance.id,
                    [
                        count(CheckStatus::Pass),
                        count(CheckStatus::Warn),
                        count(CheckStatus::Fail),
                    ],
                ));
                bundle_id = Some(id);
                rows.extend(report.checks.iter().map(|c| ResultRow {
                    bundle_id: id,
                    site: report.appliance.site,
                    check_type: &c.check_type,
                    hostname: &c.hostname,
                    status: c.status,
                    checked_at: c.checked_at,
                }));
            }
            let mut incidents = Vec::with_capacity(report.drift.len());
            for event in &report.drift {
                let dedup_key = format!("{}:{}", event.hostname, event.check_type);
                // Whether the incident moved in some list order or filter (its severity).
                let mut keys_changed = false;
                let (id, action) = match event.state {
                    DriftState::Drifted => {
                        let open: Option<(i64, i64)> = sqlx::query_as(
                            "SELECT id, CAST(severity_rank AS BIGINT) FROM incidents \
                             WHERE site_id = $1 AND dedup_key = $2 AND status <> 'resolved'",
                        )
                        .bind(report.appliance.site)
                        .bind(&dedup_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some((id, rank)) = open {
                            sqlx::query(
                                "UPDATE incidents SET severity = $1, severity_rank = $2, details = $3 \
                                 WHERE id = $4",
                            )
                            .bind(event.severity.as_str())
                            .bind(event.severity.rank())
                            .bind(Json(&event.details))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                            keys_changed = rank != event.severity.rank();
                            (Some(id), DriftOutcome::Updated)
                        } else {
                            let cutoff = event
                                .detected_at
                                .checked_sub_signed(Duration::minutes(REOPEN_WINDOW_MINUTES))
                                .ok_or_else(|| {
                                    sqlx::Error::InvalidArgument(format!(
                                        "detected_at {} is out of range",
                                        event.detected_at
                                    ))
                                })?;
                            let id: Option<i64> = sqlx::query_scalar(
                                "UPDATE incidents SET status = 'open', resolved_at = NULL, \
                                 resolution_tier = NULL, severity = $1, severity_rank = $2, details = $3 \
                                 WHERE id = (SELECT id FROM incidents WHERE site_id = $4 \
                                 AND dedup_key = $5 AND status = 'resolved' AND resolved_at >= $6 \
                                 ORDER BY resolved_at DESC LIMIT 1) RETURNING id",
                            )
                            .bind(event.severity.as_str())
                            .bind(event.severity.rank())
                            .bind(Json(&event.details))
                            .bind(report.appliance.site)
                            .bind(&dedup_key)
                            .bind(cutoff)
                            .fetch_optional(&mut *tx)
                            .await?;
                            match id {
                                Some(id) => (Some(id), DriftOutcome::Reopened),
                                None => {
                                    let id: i64 = sqlx::query_scalar(
                                        "INSERT INTO incidents (site_id, appliance_id, hostname, \
                                         check_type, category, severity, severity_rank, status, \
                                         dedup_key, details, reported_at) \
                                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10) \
                                         RETURNING id",
                                    )
                                    .bind(report.appliance.site)
                                    .bind(report.appliance.id)
                                    .bind(&event.hostname)
                                    .bind(&event.check_type)
                                    .bind(category(event))
                                    .bind(event.severity.as_str())
                                    .bind(event.severity.rank())
                                    .bind(&dedup_key)
                                    .bind(Json(&event.details))
                                    .bind(event.detected_at)
                                    .fetch_one(&mut *tx)
                                    .await?;
                                    (Some(id), DriftOutcome::Opened)
                                }
                            }
                        }
                    }
                    DriftState::Remediated => {
                        let id: Option<i64> = sqlx::query_scalar(
                            "UPDATE incidents SET status = 'resolved', resolved_at = $1, \
                             resolution_tier = 'L1' WHERE site_id = $2 AND dedup_key = $3 \
                             AND status <> 'resolved' RETURNING id",
                        )
                        .bind(event.detected_at)
                        .bind(report.appliance.site)
                        .bind(&dedup_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                        match id {
                            Some(id) => (Some(id), DriftOutcome::Resolved),
                            None => (None, DriftOutcome::Unchanged),
                        }
                    }
                };
                incidents.push(IncidentOutcome {
                    dedup_key,
                    id,
                    action,
                    keys_changed,
                });
            }
            outcomes.push(Some(ReportOutcome {
                bundle_id,
                checks: report.checks.len(),
                incidents,
                repeated: false,
            }));
        }
        for i in &claims {
            if let Some(outcome) = outcomes[*i].as_ref().filter(|o| !o.repeated) {
                let json =
                    serde_json::to_string(outcome).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                sqlx::query(
                    "UPDATE ingest_reports SET outcome = $1 WHERE appliance_id = $2 AND report_id = $3",
                )
                .bind(json)
                .bind(reports[*i].appliance.id)
                .bind(reports[*i].report_id.as_deref())
                .execute(&mut *tx)
                .await?;
            }
        }
        // A report_id sent twice in one batch: the second gets the first's answer.
        for (copy, first) in &copies {
            let outcome = outcomes[*first].clone().map(|o| ReportOutcome {
                repeated: true,
                ..o
            });
            outcomes[*copy] = outcome;
        }
        let outcomes: Vec<ReportOutcome> = outcomes
            .into_iter()
            .collect::<Option<_>>()
            .ok_or(sqlx::Error::RowNotFound)?;

        for chunk in shaped_chunks(&bundles, largest) {
            QueryBuilder::new(format!(
                "{} compliance_bundles (id, site_id, appliance_id, submitted_at, pass_count, warn_count, fail_count) ",
                dialect.insert
            ))
            .push_values(chunk, |mut b, (id, site, appliance, counts)| {
                b.push_bind(*id)
                    .push_bind(*site)
                    .push_bind(*appliance)
                    .push_bind(now)
                    .push_bind(counts[0])
                    .push_bind(counts[1])
                    .push_bind(counts[2]);
            })
            .build()
            .execute(&mut *tx)
            .await?;
        }

        for chunk in shaped_chunks(&rows, largest) {
            QueryBuilder::new(format!(
                "{} check_results (bundle_id, site_id, check_type, hostname, status, checked_at) ",
                dialect.insert
            ))
            .push_values(chunk, |mut b, r| {
                b.push_bind(r.bundle_id)
                    .push_bind(r.site)
                    .push_bind(r.check_type)
                    .push_bind(r.hostname)
                    .push_bind(r.status.as_str())
                    .push_bind(r.checked_at);
            })
            .build()
            .execute(&mut *tx)
            .await?;
        }

        // One row per key (PostgreSQL refuses to upsert a row twice in one statement).
        let mut latest: HashMap<(i64, &str, &str), &ResultRow> = HashMap::new();
        for row in &rows {
            latest
                .entry((row.site, row.check_type, row.hostname))
                .and_modify(|seen| {
                    if seen.checked_at < row.checked_at {
                        *seen = row;
                    }
                })
                .or_insert(row);
        }
        let latest: Vec<&ResultRow> = latest.into_values().collect();
        for chunk in shaped_chunks(&latest, largest) {
            QueryBuilder::new(format!(
                "{} check_latest (site_id, check_type, hostname, status, checked_at) ",
                dialect.insert
            ))
            .push_values(chunk, |mut b, r| {
                b.push_bind(r.site)
                    .push_bind(r.check_type)
                    .push_bind(r.hostname)
                    .push_bind(r.status.as_str())
                    .push_bind(r.checked_at);
            })
            .push(
                " ON CONFLICT (site_id, check_type, hostname) DO UPDATE \
                 SET status = excluded.status, checked_at = excluded.checked_at \
                 WHERE excluded.checked_at > check_latest.checked_at",
            )
            .build()
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Connection::Sqlite(_, checkpoint) = connection {
            // One waiting request is enough: the next checkpoint copies every frame so far.
            let _ = checkpoint.try_send(());
        }
        Ok(outcomes)
    })
}

/// The reports of the batch that carry a `report_id` (their indexes, each id once), and the
/// later ones repeating an id of the same appliance within the batch (index → first index).
fn report_ids(reports: &[&Report]) -> (Vec<usize>, HashMap<usize, usize>) {
    let mut first: HashMap<(i64, &str), usize> = HashMap::new();
    let mut claims = Vec::new();
    let mut copies = HashMap::new();
    for (i, report) in reports.iter().enumerate() {
        let Some(id) = report.report_id.as_deref() else {
            continue;
        };
        match first.entry((report.appliance.id, id)) {
            std::collections::hash_map::Entry::Occupied(seen) => {
                copies.insert(i, *seen.get());
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(i);
                claims.push(i);
            }
        }
    }
    (claims, copies)
}

/// Rows in the largest multi-row INSERT (1,792 bind values at 7 columns).
const LARGEST_STATEMENT: usize = 256;

/// Splits `rows` into statements of `largest` rows and then of power-of-two sizes, so a
/// handful of statement shapes serve every batch and stay prepared on the connection (a
/// multi-row INSERT of a size not seen before is parsed and planned again).
fn shaped_chunks<T>(rows: &[T], largest: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        let size = rest.len().min(largest);
        if size == 0 {
            return None;
        }
        let (chunk, tail) = rest.split_at(1 << size.ilog2());
        rest = tail;
        Some(chunk)
    })
}

/// The category of a validated event's check type.
fn category(event: &DriftEvent) -> &'static str {
    app::scoring::category_of(&event.check_type).unwrap_or("other")
}
