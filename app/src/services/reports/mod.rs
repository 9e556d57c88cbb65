//! Monthly reports of a client or a site. A closed month's report is generated once (on its
//! first reading, or by the monthly schedule), stored, and from then on given as stored, so
//! pruning raw data later never changes a report already given. The month under way is
//! worked out on each reading and never stored.

mod figures;
pub mod on_day;
pub mod schedule;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::db::reports::{self as store, ReportSite};
use crate::domain::client_scope::ClientScope;
use crate::domain::ids::SiteSlug;
use crate::error::AppError;
use crate::report::{ComplianceSummary, MonthlyReport, ReportKind, ReportMonth, SiteSummary};

/// Whose report is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Client(i64),
    Site(SiteSlug),
}

/// Who a report is about, found: its key in `monthly_reports`, its title and its sites.
struct Found {
    kind: ReportKind,
    key: i64,
    title: String,
    client_id: i64,
    client_name: String,
    sites: Vec<ReportSite>,
}

/// The report of `subject` for `month` as of `now`: the stored one of a closed month (stored
/// now if this is its first reading), or the month under way so far. Unknown subjects, a
/// month not yet begun and a month before the subject existed are 404s, and nothing is
/// generated.
pub async fn monthly_report(
    db: &Db,
    scope: &ClientScope,
    subject: &Subject,
    month: ReportMonth,
    now: DateTime<Utc>,
) -> Result<MonthlyReport, AppError> {
    let current = ReportMonth::of(now);
    if month > current {
        return Err(AppError::NotFound(format!(
            "{} has not begun: reports cover months up to {}",
            month.label(),
            current.label()
        )));
    }
    let found = find(db, scope, subject, month).await?;
    let closed = month < current;
    if closed && let Some(body) = store::stored_report(db, found.kind, found.key, month).await? {
        return parse(&body);
    }
    let report = generate(db, &found, month, now, closed).await?;
    if !closed {
        return Ok(report);
    }
    let body = serde_json::to_string(&report).map_err(|e| AppError::Database(e.to_string()))?;
    let stored = store::store_report(db, found.kind, found.key, month, now, &body).await?;
    parse(&stored)
}

fn parse(body: &str) -> Result<MonthlyReport, AppError> {
    serde_json::from_str(body)
        .map_err(|e| AppError::Database(format!("a stored report could not be read: {e}")))
}

/// The subject's sites in `month`: a client or site outside `scope` is not found.
async fn find(
    db: &Db,
    scope: &ClientScope,
    subject: &Subject,
    month: ReportMonth,
) -> Result<Found, AppError> {
    let (found, first) = match subject {
        Subject::Client(id) => {
            let name = crate::db::client_name(db, scope, *id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no client with id {id}")))?;
            let first = store::client_first_site_at(db, *id).await?;
            let sites = store::client_sites(db, *id, month).await?;
            let found = Found {
                kind: ReportKind::Client,
                key: *id,
                title: name.clone(),
                client_id: *id,
                client_name: name,
                sites,
            };
            (found, first)
        }
        Subject::Site(slug) => {
            let site = store::site(db, scope, slug.as_str())
                .await?
                .ok_or_else(|| {
                    AppError::NotFound(format!("no site with id {:?}", slug.as_str()))
                })?;
            let first = Some(site.created_at);
            let found = Found {
                kind: ReportKind::Site,
                key: site.id,
                title: site.clinic_name.clone(),
                client_id: site.client_id,
                client_name: site.client_name.clone(),
                sites: vec![site],
            };
            (found, first)
        }
    };
    match first {
        Some(first) if first < month.end() => Ok(found),
        Some(first) => Err(AppError::NotFound(format!(
            "{} has no data before {}: its first site was added then",
            found.title,
            ReportMonth::of(first).label()
        ))),
        None => Err(AppError::NotFound(format!(
            "{} has no sites, so no report",
            found.title
        ))),
    }
}

async fn generate(
    db: &Db,
    found: &Found,
    month: ReportMonth,
    now: DateTime<Utc>,
    closed: bool,
) -> Result<MonthlyReport, AppError> {
    let (from, until) = (month.start(), month.end().min(now));
    let keys: Vec<i64> = found.sites.iter().map(|s| s.id).collect();
    let slugs: HashMap<i64, String> = found
        .sites
        .iter()
        .map(|s| (s.id, s.site_id.clone()))
        .collect();
    let previous = month.previous();
    let (current_days, previous_days, tallies, incidents) = futures::try_join!(
        store::snapshots(db, &keys, month.first_day(), month.next().first_day()),
        store::snapshots(db, &keys, previous.first_day(), month.first_day()),
        store::check_tallies(db, &keys, from, until),
        store::incidents(db, &keys, from, until),
    )?;
    let (suppressions, escalations, held, spans, silent, links) = futures::try_join!(
        store::incident_actions(db, &keys, "suppress", from, until),
        store::incident_actions(db, &keys, "escalate", from, until),
        store::held_alerts(db, &keys, from, until),
        store::offline_spans(db, &keys, from, until),
        store::silent_appliances(db, &keys, from, until),
        store::chain_links(db, &keys, from, until),
    )?;
    let days: Vec<_> = month
        .days()
        .filter(|day| *day <= until.date_naive())
        .collect();
    let previous_all: Vec<_> = previous.days().collect();
    let daily = figures::daily_scores(&days, &current_days);
    let mut incident_summary = figures::incident_figures(&incidents, &slugs, from, until);
    incident_summary.suppressions = figures::actions(suppressions, &slugs);
    incident_summary.escalations = figures::actions(escalations, &slugs);
    incident_summary.held_alerts = figures::held_alerts(held);
    let sites = found
        .sites
        .iter()
        .map(|site| {
            let own_days: Vec<_> = current_days
                .iter()
                .filter(|s| s.0 == site.id)
                .cloned()
                .collect();
            let own_links: Vec<_> = links.iter().filter(|l| l.0 == site.id).cloned().collect();
            let (offline_minutes, availability) = figures::availability(site, &spans, from, until);
            SiteSummary {
                site_id: site.site_id.clone(),
                clinic_name: site.clinic_name.clone(),
                average: figures::average(&figures::daily_scores(&days, &own_days)),
                offline_minutes,
                availability,
                silent_appliances: silent
                    .iter()
                    .filter(|(s, _)| *s == site.id)
                    .map(|(_, host)| host.clone())
                    .collect(),
                evidence: figures::chain(&own_links),
            }
        })
        .collect();
    Ok(MonthlyReport {
        kind: found.kind,
        title: found.title.clone(),
        client_id: found.client_id,
        client_name: found.client_name.clone(),
        month,
        generated_at: now,
        closed,
        compliance: ComplianceSummary {
            average: figures::average(&daily),
            previous_average: figures::average(&figures::daily_scores(
                &previous_all,
                &previous_days,
            )),
            categories: figures::category_scores(&current_days, &previous_days),
            daily,
        },
        controls: figures::controls(&tallies),
        incidents: incident_summary,
        sites,
    })
}
