//! A report's figures, worked out from the rows the store reads: no I/O here, so each is
//! tested on hand-worked data.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::db::reports::{ActionRecord, ChainLink, DaySnapshot, IncidentSpan, ReportSite};
use crate::hipaa;
use crate::report::{
    CategoryScore, ChainSummary, DailyScore, FailingCheck, HeldAlerts, IncidentAction,
    IncidentSummary, LISTED_OPEN, OpenIncident, ReportControl, SeverityFigures,
};
use crate::scoring::{CATEGORIES, OFFLINE_AFTER_SECONDS};
use crate::types::ControlState;

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0u32), |(sum, count), v| (sum + v, count + 1));
    (count > 0).then(|| sum / f64::from(count))
}

/// Each of `days` with the mean of that day's site scores (`None`: no site scored).
pub fn daily_scores(days: &[NaiveDate], snapshots: &[DaySnapshot]) -> Vec<DailyScore> {
    let mut by_day: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
    for (_, day, score, _) in snapshots {
        if let Some(score) = score {
            by_day.entry(*day).or_default().push(*score);
        }
    }
    days.iter()
        .map(|day| DailyScore {
            day: *day,
            score: by_day.get(day).and_then(|s| mean(s.iter().copied())),
        })
        .collect()
}

/// The mean of the days that have a score.
pub fn average(daily: &[DailyScore]) -> Option<f64> {
    mean(daily.iter().filter_map(|d| d.score))
}

/// Every category's mean over the snapshots of the month and of the one before.
pub fn category_scores(current: &[DaySnapshot], previous: &[DaySnapshot]) -> Vec<CategoryScore> {
    let of = |snapshots: &[DaySnapshot], category: &str| {
        mean(
            snapshots
                .iter()
                .filter_map(|(_, _, _, categories)| categories.get(category).copied()),
        )
    };
    CATEGORIES
        .iter()
        .map(|category| CategoryScore {
            category: (*category).into(),
            average: of(current, category),
            previous_average: of(previous, category),
        })
        .collect()
}

/// Each HIPAA control over the month from the check results counted per (check type,
/// status, results, hosts).
pub fn controls(tallies: &[(String, String, i64, i64)]) -> Vec<ReportControl> {
    let reported: Vec<&str> = tallies.iter().map(|(check, ..)| check.as_str()).collect();
    hipaa::CONTROLS
        .iter()
        .map(|control| {
            let checks = hipaa::checks_of(control.citation);
            let failing_checks: Vec<FailingCheck> = tallies
                .iter()
                .filter(|(check, status, ..)| status == "fail" && checks.contains(&check.as_str()))
                .map(|(check, _, failures, hosts)| FailingCheck {
                    check_type: check.clone(),
                    failures: *failures,
                    hosts: *hosts,
                })
                .collect();
            let state = if !failing_checks.is_empty() {
                ControlState::Failing
            } else if checks.iter().any(|check| reported.contains(check)) {
                ControlState::Pass
            } else {
                ControlState::NoData
            };
            ReportControl {
                citation: control.citation.into(),
                title: control.title.into(),
                required: control.required,
                state,
                failing_checks,
            }
        })
        .collect()
}

/// The month `from .. until` of the incidents open at some time in it.
pub fn incident_figures(
    incidents: &[IncidentSpan],
    slugs: &HashMap<i64, String>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> IncidentSummary {
    let within = |at: DateTime<Utc>| at >= from && at < until;
    let open_at_end = |i: &IncidentSpan| i.resolved_at.is_none_or(|at| at >= until);
    let by_severity = SEVERITIES
        .iter()
        .map(|severity| {
            let of = incidents.iter().filter(|i| i.severity == *severity);
            SeverityFigures {
                severity: (*severity).into(),
                opened: of.clone().filter(|i| within(i.reported_at)).count() as i64,
                resolved: of
                    .clone()
                    .filter(|i| i.resolved_at.is_some_and(within))
                    .count() as i64,
                open_at_end: of.filter(|i| open_at_end(i)).count() as i64,
            }
        })
        .collect();
    let mut minutes: Vec<f64> = incidents
        .iter()
        .filter_map(|i| {
            i.resolved_at
                .filter(|at| within(*at))
                .map(|at| at - i.reported_at)
        })
        .map(|took| took.num_seconds() as f64 / 60.0)
        .collect();
    minutes.sort_by(f64::total_cmp);
    let mut open: Vec<&IncidentSpan> = incidents.iter().filter(|i| open_at_end(i)).collect();
    open.sort_by_key(|i| (severity_rank(&i.severity), i.reported_at, i.id));
    IncidentSummary {
        by_severity,
        mean_minutes_to_resolve: mean(minutes.iter().copied()),
        p90_minutes_to_resolve: nearest_rank(&minutes, 0.9),
        open_total: open.len() as i64,
        still_open: open
            .into_iter()
            .take(LISTED_OPEN)
            .map(|i| OpenIncident {
                id: i.id,
                site_id: slugs.get(&i.site_id).cloned().unwrap_or_default(),
                hostname: i.hostname.clone(),
                check_type: i.check_type.clone(),
                severity: i.severity.clone(),
                reported_at: i.reported_at,
            })
            .collect(),
        suppressions: Vec::new(),
        escalations: Vec::new(),
        held_alerts: Vec::new(),
    }
}

fn severity_rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(SEVERITIES.len())
}

/// The nearest-rank percentile of sorted `values`.
fn nearest_rank(sorted: &[f64], quantile: f64) -> Option<f64> {
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied()
}

pub fn actions(records: Vec<ActionRecord>, slugs: &HashMap<i64, String>) -> Vec<IncidentAction> {
    records
        .into_iter()
        .map(
            |(incident_id, site, hostname, check_type, actor, note, at)| IncidentAction {
                incident_id,
                site_id: slugs.get(&site).cloned().unwrap_or_default(),
                hostname,
                check_type,
                actor,
                note,
                at,
            },
        )
        .collect()
}

pub fn held_alerts(rows: Vec<(Option<String>, Option<String>, i64)>) -> Vec<HeldAlerts> {
    rows.into_iter()
        .map(|(reason, created_by, alerts)| HeldAlerts {
            reason: reason.unwrap_or_else(|| "a window since deleted".into()),
            created_by: created_by.unwrap_or_default(),
            alerts,
        })
        .collect()
}

/// A site's minutes offline within `from .. until` and its availability there: the recorded
/// spans, and the one running since its last check-in when that is older than the offline
/// threshold. `None` for a site that never checked in.
pub fn availability(
    site: &ReportSite,
    spans: &[(i64, DateTime<Utc>, DateTime<Utc>)],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (i64, Option<f64>) {
    let Some(last_checkin) = site.last_checkin_at else {
        return (0, None);
    };
    let from = from.max(site.created_at);
    if from >= until {
        return (0, None);
    }
    let running = last_checkin + Duration::seconds(OFFLINE_AFTER_SECONDS);
    let overlap = |start: DateTime<Utc>, end: DateTime<Utc>| {
        (end.min(until) - start.max(from)).max(Duration::zero())
    };
    let offline = spans
        .iter()
        .filter(|(s, ..)| *s == site.id)
        .map(|(_, start, end)| overlap(*start, *end))
        .chain([overlap(running, until)])
        .fold(Duration::zero(), |sum, d| sum + d);
    let monitored = (until - from).num_seconds() as f64;
    let share = 100.0 * (1.0 - offline.num_seconds() as f64 / monitored);
    (offline.num_minutes(), Some(share.clamp(0.0, 100.0)))
}

/// A site's evidence chain over the month, from its links of the month preceded by the last
/// link before it, if any.
pub fn chain(links: &[ChainLink]) -> ChainSummary {
    let first_in_month = links.iter().take_while(|link| link.4).count();
    let breaks = links
        .windows(2)
        .filter(|pair| {
            let (before, link) = (&pair[0], &pair[1]);
            link.1 != before.1 + 1 || link.3.as_deref() != Some(before.2.as_str())
        })
        .map(|pair| pair[1].1);
    let first_break = links
        .first()
        .filter(|first| first_in_month == 0 && (first.1 != 1 || first.3.is_some()))
        .map(|first| first.1);
    ChainSummary {
        bundles: (links.len() - first_in_month) as i64,
        head_position: links.last().map(|l| l.1),
        head_hash: links.last().map(|l| l.2.clone()),
        breaks: first_break.into_iter().chain(breaks).collect(),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::types::Json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn incident(id: i64, severity: &str, reported: &str, resolved: Option<&str>) -> IncidentSpan {
        IncidentSpan {
            id,
            site_id: 1,
            hostname: "ws-1".into(),
            check_type: "backup_status".into(),
            severity: severity.into(),
            reported_at: at(reported),
            resolved_at: resolved.map(at),
        }
    }

    #[test]
    fn incidents_are_counted_by_when_they_opened_resolved_or_stayed_open() {
        let (from, until) = (at("2026-10-01T00:00:00Z"), at("2026-11-01T00:00:00Z"));
        let incidents = [
            // Open since September, resolved in October after 10 days.
            incident(
                1,
                "critical",
                "2026-09-25T00:00:00Z",
                Some("2026-10-05T00:00:00Z"),
            ),
            // Opened and resolved in October: 60 and 30 minutes.
            incident(
                2,
                "high",
                "2026-10-02T10:00:00Z",
                Some("2026-10-02T11:00:00Z"),
            ),
            incident(
                3,
                "high",
                "2026-10-03T10:00:00Z",
                Some("2026-10-03T10:30:00Z"),
            ),
            // Opened in October, resolved in November: open at the month's end.
            incident(
                4,
                "critical",
                "2026-10-30T00:00:00Z",
                Some("2026-11-02T00:00:00Z"),
            ),
            // Opened in October, never resolved.
            incident(5, "low", "2026-10-10T00:00:00Z", None),
        ];
        let slugs = HashMap::from([(1, "clinic-1".to_string())]);
        let figures = incident_figures(&incidents, &slugs, from, until);
        let row = |severity: &str| {
            let f = figures
                .by_severity
                .iter()
                .find(|f| f.severity == severity)
                .unwrap();
            (f.opened, f.resolved, f.open_at_end)
        };
        assert_eq!(row("critical"), (1, 1, 1));
        assert_eq!(row("high"), (2, 2, 0));
        assert_eq!(row("medium"), (0, 0, 0));
        assert_eq!(row("low"), (1, 0, 1));
        // 14,400, 60 and 30 minutes: mean 4,830; p90 by nearest rank is the largest.
        assert_eq!(figures.mean_minutes_to_resolve, Some(4830.0));
        assert_eq!(figures.p90_minutes_to_resolve, Some(14_400.0));
        assert_eq!(figures.open_total, 2);
        let open: Vec<i64> = figures.still_open.iter().map(|i| i.id).collect();
        assert_eq!(open, [4, 5], "most severe first");
        assert_eq!(figures.still_open[0].site_id, "clinic-1");
    }

    #[test]
    fn the_p90_is_the_nearest_rank() {
        let minutes: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&minutes, 0.9), Some(18.0));
        assert_eq!(nearest_rank(&[], 0.9), None);
        assert_eq!(nearest_rank(&[7.0], 0.9), Some(7.0));
    }

    fn site(created: &str, last_checkin: Option<&str>) -> ReportSite {
        ReportSite {
            id: 1,
            site_id: "clinic-1".into(),
            clinic_name: "Clinic".into(),
            client_id: 1,
            client_name: "Client".into(),
            created_at: at(created),
            last_checkin_at: last_checkin.map(at),
        }
    }

    #[test]
    fn availability_counts_recorded_and_running_offline_spans_within_the_month() {
        let (from, until) = (at("2026-10-01T00:00:00Z"), at("2026-10-11T00:00:00Z"));
        let spans = [
            // 12 hours from September into October: 6 of them count.
            (1, at("2026-09-30T18:00:00Z"), at("2026-10-01T06:00:00Z")),
            // A whole day in the month.
            (1, at("2026-10-03T00:00:00Z"), at("2026-10-04T00:00:00Z")),
            // Another site's.
            (2, at("2026-10-05T00:00:00Z"), at("2026-10-06T00:00:00Z")),
        ];
        // Silent since 2026-10-10 11:00: offline from 12:00, 12 hours before `until`.
        let silent = site("2026-01-01T00:00:00Z", Some("2026-10-10T11:00:00Z"));
        let (minutes, share) = availability(&silent, &spans, from, until);
        assert_eq!(minutes, (6 + 24 + 12) * 60);
        assert_eq!(share, Some(100.0 * (1.0 - 42.0 / 240.0)));

        let never = site("2026-01-01T00:00:00Z", None);
        assert_eq!(availability(&never, &spans, from, until), (0, None));

        // Created on the 6th: only 5 days are monitored, all online.
        let new = site("2026-10-06T00:00:00Z", Some("2026-10-10T23:30:00Z"));
        assert_eq!(availability(&new, &[], from, until), (0, Some(100.0)));
    }

    fn link(position: i64, hash: &str, prev: Option<&str>) -> ChainLink {
        (1, position, hash.into(), prev.map(Into::into), false)
    }

    fn before(link: ChainLink) -> ChainLink {
        (link.0, link.1, link.2, link.3, true)
    }

    #[test]
    fn a_chain_names_each_position_whose_link_does_not_hold() {
        let whole = [
            before(link(4, "d", Some("c"))),
            link(5, "e", Some("d")),
            link(6, "f", Some("e")),
        ];
        let summary = chain(&whole);
        assert_eq!(summary.bundles, 2);
        assert_eq!(summary.head_position, Some(6));
        assert_eq!(summary.head_hash.as_deref(), Some("f"));
        assert!(summary.breaks.is_empty());

        let broken = [
            before(link(4, "d", Some("c"))),
            link(5, "e", Some("x")),
            link(7, "g", Some("e")),
        ];
        assert_eq!(chain(&broken).breaks, [5, 7]);

        let from_start = [link(1, "a", None), link(2, "b", Some("a"))];
        assert!(chain(&from_start).breaks.is_empty());
        let headless = [link(2, "b", Some("a"))];
        assert_eq!(chain(&headless).breaks, [2]);
        assert_eq!(chain(&[]).head_hash, None);
    }

    #[test]
    fn a_control_fails_on_any_failure_in_the_month_and_names_the_check() {
        let tallies = vec![
            ("backup_job".to_string(), "fail".to_string(), 3, 2),
            ("backup_job".to_string(), "pass".to_string(), 40, 5),
            ("firewall_profile".to_string(), "warn".to_string(), 4, 1),
        ];
        let controls = controls(&tallies);
        let backup = controls
            .iter()
            .find(|c| c.citation == "164.308(a)(7)(ii)(A)")
            .unwrap();
        assert_eq!(backup.state, ControlState::Failing);
        assert_eq!(
            backup.failing_checks,
            [FailingCheck {
                check_type: "backup_job".into(),
                failures: 3,
                hosts: 2
            }]
        );
        let failing = controls
            .iter()
            .filter(|c| c.state == ControlState::Failing)
            .count();
        let passing = controls
            .iter()
            .filter(|c| c.state == ControlState::Pass)
            .count();
        assert!(
            failing >= 1 && passing >= 1,
            "{failing} failing, {passing} passing"
        );
        assert!(controls.iter().any(|c| c.state == ControlState::NoData));
    }

    #[test]
    fn daily_points_average_the_sites_and_skip_days_without_scores() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        let categories = |backup: f64| Json(HashMap::from([("backup".to_string(), backup)]));
        let snapshots = vec![
            (1, day(1), Some(80.0), categories(50.0)),
            (2, day(1), Some(90.0), categories(100.0)),
            (1, day(2), None, Json(HashMap::new())),
        ];
        let daily = daily_scores(&[day(1), day(2), day(3)], &snapshots);
        assert_eq!(
            daily.iter().map(|d| d.score).collect::<Vec<_>>(),
            [Some(85.0), None, None]
        );
        assert_eq!(average(&daily), Some(85.0));
        let categories = category_scores(&snapshots, &[]);
        let backup = categories.iter().find(|c| c.category == "backup").unwrap();
        assert_eq!(
            (backup.average, backup.previous_average),
            (Some(75.0), None)
        );
    }
}
