//! One transaction for a batch of reports: bundles and check results in multi-row inserts,
//! `check_latest` upserted, drift events applied to incidents ([`super::drift`]).
//! Multi-row statements come in a few fixed sizes, so they stay prepared.
//! With batching off (batch size 1) each report is its own transaction and each check result
//! its own INSERT, the naive write path the benchmark compares against.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::connection::{Connection, Tx, in_tx};
use super::{Report, ReportOutcome, alerts, drift};
use crate::alerts::outbox::Outbox;
use app::scoring::CheckStatus;

/// A compliance bundle of the batch: id, site, appliance, and its pass/warn/fail counts.
type BundleRow = (i64, i64, i64, [i64; 3]);

struct ResultRow<'a> {
    bundle_id: i64,
    site: i64,
    check_type: &'a str,
    hostname: &'a str,
    status: CheckStatus,
    checked_at: DateTime<Utc>,
}

/// `multi_row` false writes one INSERT per check result: batching off, for comparison.
pub async fn write(
    connection: &mut Connection,
    reports: &[&Report],
    multi_row: bool,
) -> Result<Vec<ReportOutcome>, sqlx::Error> {
    let now = Utc::now();
    let largest = if multi_row { LARGEST_STATEMENT } else { 1 };
    let (claims, copies) = report_ids(reports);
    let mut tx = connection.begin().await?;
    // Claim each report_id first: a report whose id is taken was written before (by this
    // server or another), and gets the answer stored then.
    let earlier = claim_report_ids(&mut tx, reports, &claims, now, largest).await?;
    let fresh = |i: &usize| !earlier.contains_key(i) && !copies.contains_key(i);
    let bundle_count = (0..reports.len())
        .filter(|i| fresh(i) && !reports[*i].checks.is_empty())
        .count();
    let mut ids = reserve_bundle_ids(&mut tx, bundle_count).await?.into_iter();
    let mut outcomes = Vec::with_capacity(reports.len());
    let mut bundles = Vec::with_capacity(bundle_count);
    let mut rows = Vec::new();
    let mut outbox = Outbox::new(now);
    for (i, report) in reports.iter().enumerate() {
        if !fresh(&i) {
            outcomes.push(earlier.get(&i).cloned());
            continue;
        }
        let bundle_id = if report.checks.is_empty() {
            None
        } else {
            let id = ids.next().ok_or(sqlx::Error::RowNotFound)?;
            bundles.push(bundle_row(id, report));
            rows.extend(result_rows(id, report));
            Some(id)
        };
        let mut incidents = Vec::with_capacity(report.drift.len());
        for event in &report.drift {
            incidents.push(drift::apply(&mut tx, &report.appliance, event).await?);
        }
        alerts::enqueue(
            &mut tx,
            &mut outbox,
            &report.appliance,
            &report.drift,
            &incidents,
        )
        .await?;
        outcomes.push(Some(ReportOutcome {
            bundle_id,
            checks: report.checks.len(),
            incidents,
            repeated: false,
        }));
    }
    outbox.flush(&mut tx).await?;
    store_outcomes(&mut tx, reports, &claims, &outcomes).await?;
    let outcomes = with_copies(outcomes, &copies)?;
    insert_bundles(&mut tx, &bundles, now, largest).await?;
    insert_results(&mut tx, &rows, largest).await?;
    upsert_latest(&mut tx, &latest(&rows), largest).await?;
    tx.commit().await?;
    connection.committed();
    Ok(outcomes)
}

/// Inserts an `ingest_reports` row for each claimed report; those whose id was there already
/// get the answer stored then, marked repeated (by index).
async fn claim_report_ids(
    tx: &mut Tx<'_>,
    reports: &[&Report],
    claims: &[usize],
    now: DateTime<Utc>,
    largest: usize,
) -> Result<HashMap<usize, ReportOutcome>, sqlx::Error> {
    let mut earlier = HashMap::new();
    for chunk in shaped_chunks(claims, largest) {
        let claimed: Vec<(i64, String)> = in_tx!(tx, |t| {
            QueryBuilder::new(
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
            .fetch_all(t)
            .await?
        });
        for i in chunk {
            let report = reports[*i];
            let id = report.report_id.as_deref().unwrap_or_default();
            if claimed
                .iter()
                .any(|(a, r)| *a == report.appliance.id && r == id)
            {
                continue;
            }
            let stored = stored_outcome(tx, report.appliance.id, id).await?;
            earlier.insert(
                *i,
                ReportOutcome {
                    repeated: true,
                    ..stored
                },
            );
        }
    }
    Ok(earlier)
}

/// The answer given to report `report_id` of `appliance_id` when it was first written.
async fn stored_outcome(
    tx: &mut Tx<'_>,
    appliance_id: i64,
    report_id: &str,
) -> Result<ReportOutcome, sqlx::Error> {
    let stored: String = in_tx!(tx, |t| {
        sqlx::query_scalar(
            "SELECT outcome FROM ingest_reports WHERE appliance_id = $1 AND report_id = $2",
        )
        .bind(appliance_id)
        .bind(report_id)
        .fetch_one(t)
        .await?
    });
    serde_json::from_str(&stored).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// `count` new bundle ids, reserved in one statement.
async fn reserve_bundle_ids(tx: &mut Tx<'_>, count: usize) -> Result<Vec<i64>, sqlx::Error> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let sql = tx.dialect().reserve_ids;
    in_tx!(tx, |t| {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(count as i64)
            .fetch_all(t)
            .await
    })
}

fn bundle_row(id: i64, report: &Report) -> BundleRow {
    let count = |s| report.checks.iter().filter(|c| c.status == s).count() as i64;
    (
        id,
        report.appliance.site,
        report.appliance.id,
        [
            count(CheckStatus::Pass),
            count(CheckStatus::Warn),
            count(CheckStatus::Fail),
        ],
    )
}

fn result_rows(bundle_id: i64, report: &Report) -> impl Iterator<Item = ResultRow<'_>> {
    report.checks.iter().map(move |c| ResultRow {
        bundle_id,
        site: report.appliance.site,
        check_type: &c.check_type,
        hostname: &c.hostname,
        status: c.status,
        checked_at: c.checked_at,
    })
}

/// Keeps the answer of each claimed report, for a repeat of it.
async fn store_outcomes(
    tx: &mut Tx<'_>,
    reports: &[&Report],
    claims: &[usize],
    outcomes: &[Option<ReportOutcome>],
) -> Result<(), sqlx::Error> {
    for i in claims {
        let Some(outcome) = outcomes[*i].as_ref().filter(|o| !o.repeated) else {
            continue;
        };
        let json = serde_json::to_string(outcome).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        in_tx!(tx, |t| {
            sqlx::query(
                "UPDATE ingest_reports SET outcome = $1 WHERE appliance_id = $2 AND report_id = $3",
            )
            .bind(json)
            .bind(reports[*i].appliance.id)
            .bind(reports[*i].report_id.as_deref())
            .execute(t)
            .await
            .map(drop)?
        });
    }
    Ok(())
}

/// A report_id sent twice in one batch: the second gets the first's answer.
fn with_copies(
    mut outcomes: Vec<Option<ReportOutcome>>,
    copies: &HashMap<usize, usize>,
) -> Result<Vec<ReportOutcome>, sqlx::Error> {
    for (copy, first) in copies {
        outcomes[*copy] = outcomes[*first].clone().map(|o| ReportOutcome {
            repeated: true,
            ..o
        });
    }
    outcomes
        .into_iter()
        .collect::<Option<_>>()
        .ok_or(sqlx::Error::RowNotFound)
}

async fn insert_bundles(
    tx: &mut Tx<'_>,
    bundles: &[BundleRow],
    now: DateTime<Utc>,
    largest: usize,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{} compliance_bundles (id, site_id, appliance_id, submitted_at, pass_count, warn_count, \
         fail_count) ",
        tx.dialect().insert
    );
    for chunk in shaped_chunks(bundles, largest) {
        in_tx!(tx, |t| {
            QueryBuilder::new(&sql)
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
                .execute(t)
                .await
                .map(drop)?
        });
    }
    Ok(())
}

async fn insert_results(
    tx: &mut Tx<'_>,
    rows: &[ResultRow<'_>],
    largest: usize,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{} check_results (bundle_id, site_id, check_type, hostname, status, checked_at) ",
        tx.dialect().insert
    );
    for chunk in shaped_chunks(rows, largest) {
        in_tx!(tx, |t| {
            QueryBuilder::new(&sql)
                .push_values(chunk, |mut b, r| {
                    b.push_bind(r.bundle_id)
                        .push_bind(r.site)
                        .push_bind(r.check_type)
                        .push_bind(r.hostname)
                        .push_bind(r.status.as_str())
                        .push_bind(r.checked_at);
                })
                .build()
                .execute(t)
                .await
                .map(drop)?
        });
    }
    Ok(())
}

/// The newest row per (site, check type, host): PostgreSQL refuses to upsert a row twice in one
/// statement.
fn latest<'r, 'a>(rows: &'r [ResultRow<'a>]) -> Vec<&'r ResultRow<'a>> {
    let mut latest: HashMap<(i64, &str, &str), &ResultRow> = HashMap::new();
    for row in rows {
        latest
            .entry((row.site, row.check_type, row.hostname))
            .and_modify(|seen| {
                if seen.checked_at < row.checked_at {
                    *seen = row;
                }
            })
            .or_insert(row);
    }
    latest.into_values().collect()
}

async fn upsert_latest(
    tx: &mut Tx<'_>,
    latest: &[&ResultRow<'_>],
    largest: usize,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "{} check_latest (site_id, check_type, hostname, status, checked_at) ",
        tx.dialect().insert
    );
    for chunk in shaped_chunks(latest, largest) {
        in_tx!(tx, |t| {
            QueryBuilder::new(&sql)
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
                .execute(t)
                .await
                .map(drop)?
        });
    }
    Ok(())
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
