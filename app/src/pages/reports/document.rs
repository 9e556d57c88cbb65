//! A monthly report as a document: the page shows it, and the evidence pack carries it as
//! `report.html`. Plain markup only (no router links, no reactive state), so the server can
//! render it on its own, and a print stylesheet pages it cleanly.

use leptos::prelude::*;

use crate::components::badges::{SeverityBadge, percent};
use crate::components::charts::TrendChart;
use crate::report::{
    CategoryScore, ChainSummary, HeldAlerts, IncidentAction, IncidentSummary, MonthlyReport,
    ReportControl, ReportKind, SiteSummary,
};
use crate::types::{ControlState, TrendPoint};

/// "3 d 4 h", "2 h 5 min" or "12 min" for a number of minutes.
pub fn minutes_label(minutes: f64) -> String {
    let minutes = minutes.round() as i64;
    let (days, hours, rest) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{rest} min"),
        (0, _) => format!("{hours} h {rest} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// "+4.2 points", "-1.0 points", or "no comparison" when either month has no score.
pub fn change_label(current: Option<f64>, previous: Option<f64>) -> String {
    match (current, previous) {
        (Some(now), Some(before)) => format!("{:+.1} points", now - before),
        _ => "no comparison".into(),
    }
}

/// The report as a document of its own, styled as the page is (the evidence pack's
/// `report.html`): it opens in any browser, offline.
#[cfg(feature = "ssr")]
pub fn standalone_html(report: MonthlyReport) -> String {
    const STYLE: &str = include_str!("../../../../style/main.css");
    let title = format!(
        "{}: compliance report, {}",
        report.title,
        report.month.label()
    );
    let body = Owner::new().with(|| view! { <ReportDocument report /> }.to_html());
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body class=\"standalone-report\"><main>{body}</main></body></html>",
        html_escape::encode_text(&title)
    )
}

#[component]
pub fn ReportDocument(report: MonthlyReport) -> impl IntoView {
    let MonthlyReport {
        kind,
        title,
        client_name,
        month,
        generated_at,
        closed,
        compliance,
        controls,
        incidents,
        sites,
        ..
    } = report;
    let whose = match kind {
        ReportKind::Client => format!("Client · {} sites", sites.len()),
        ReportKind::Site => format!("Site of {client_name}"),
    };
    let standing = if closed {
        format!(
            "Final: generated {} and kept as given.",
            generated_at.format("%Y-%m-%d %H:%M UTC")
        )
    } else {
        format!(
            "Month to date, not final: as of {}.",
            generated_at.format("%Y-%m-%d %H:%M UTC")
        )
    };
    let points: Vec<TrendPoint> = compliance
        .daily
        .iter()
        .map(|d| TrendPoint {
            at: d.day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc(),
            score: d.score,
        })
        .collect();
    let failing = controls
        .iter()
        .filter(|c| c.state == ControlState::Failing)
        .count();
    let opened: i64 = incidents.by_severity.iter().map(|s| s.opened).sum();
    let resolved: i64 = incidents.by_severity.iter().map(|s| s.resolved).sum();
    view! {
        <article class="report" data-testid="report">
            <header class="report-head">
                <h2 data-testid="report-title">{format!("{title}: compliance report, {}", month.label())}</h2>
                <p class="card-meta">{whose}" · "{standing}</p>
            </header>
            <section class="report-summary" aria-label="Summary" data-testid="report-summary">
                <dl class="summary-grid">
                    <div><dt>"Compliance"</dt><dd data-testid="summary-compliance">{percent(compliance.average)}</dd></div>
                    <div><dt>"Against last month"</dt><dd data-testid="summary-change">{change_label(compliance.average, compliance.previous_average)}</dd></div>
                    <div><dt>"HIPAA controls failing"</dt><dd data-testid="summary-failing">{format!("{failing} of {}", controls.len())}</dd></div>
                    <div><dt>"Incidents opened / resolved"</dt><dd data-testid="summary-incidents">{format!("{opened} / {resolved}")}</dd></div>
                </dl>
            </section>
            <section data-testid="report-compliance">
                <h3>"Compliance over the month"</h3>
                <TrendChart points span="this month" />
                <CategoryTable categories=compliance.categories />
            </section>
            <ControlsTable controls />
            <IncidentsSection incidents />
            <SitesSection sites />
        </article>
    }
}

#[component]
fn CategoryTable(categories: Vec<CategoryScore>) -> impl IntoView {
    view! {
        <table class="data-table report-table" data-testid="report-categories">
            <thead><tr><th>"Category"</th><th class="num">"This month"</th><th class="num">"Last month"</th><th class="num">"Change"</th></tr></thead>
            <tbody>
                {categories.into_iter().map(|c| view! {
                    <tr>
                        <td>{c.category.replace('_', " ")}</td>
                        <td class="num">{percent(c.average)}</td>
                        <td class="num">{percent(c.previous_average)}</td>
                        <td class="num">{change_label(c.average, c.previous_average)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn ControlsTable(controls: Vec<ReportControl>) -> impl IntoView {
    view! {
        <section data-testid="report-controls">
            <h3>"HIPAA Security Rule controls"</h3>
            <p class="card-meta">"A control failed this month when any of its checks failed on any host at any time in it."</p>
            <table class="data-table report-table">
                <thead><tr><th>"Citation"</th><th>"Control"</th><th>"Kind"</th><th>"State"</th><th>"Failing checks"</th></tr></thead>
                <tbody>
                    {controls.into_iter().map(|control| {
                        let (state, class) = match control.state {
                            ControlState::Pass => ("pass", "control-pass"),
                            ControlState::Failing => ("failing", "control-failing"),
                            ControlState::NoData => ("no data", "control-none"),
                        };
                        let citation = control.citation.clone();
                        view! {
                            <tr data-citation=citation>
                                <td class="mono">{control.citation}</td>
                                <td>{control.title}</td>
                                <td>{if control.required { "required" } else { "addressable" }}</td>
                                <td><span class=format!("badge {class}") data-testid="control-state">{state}</span></td>
                                <td>
                                    {control.failing_checks.into_iter().map(|check| view! {
                                        <div>{format!("{}: {} failed results on {} hosts", check.check_type.replace('_', " "), check.failures, check.hosts)}</div>
                                    }).collect_view()}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn IncidentsSection(incidents: IncidentSummary) -> impl IntoView {
    let IncidentSummary {
        by_severity,
        mean_minutes_to_resolve,
        p90_minutes_to_resolve,
        still_open,
        open_total,
        suppressions,
        escalations,
        held_alerts,
    } = incidents;
    let resolve_times = match (mean_minutes_to_resolve, p90_minutes_to_resolve) {
        (Some(mean), Some(p90)) => format!(
            "Time to resolve: mean {}, 90th percentile {}.",
            minutes_label(mean),
            minutes_label(p90)
        ),
        _ => "No incident was resolved this month.".into(),
    };
    let open_note = if still_open.len() as i64 == open_total {
        format!("{open_total} still open at the month's end.")
    } else {
        format!(
            "{open_total} still open at the month's end; the {} most severe are listed.",
            still_open.len()
        )
    };
    view! {
        <section data-testid="report-incidents">
            <h3>"Incidents"</h3>
            <table class="data-table report-table" data-testid="report-severities">
                <thead><tr><th>"Severity"</th><th class="num">"Opened"</th><th class="num">"Resolved"</th><th class="num">"Open at the end"</th></tr></thead>
                <tbody>
                    {by_severity.into_iter().map(|s| {
                        let severity = s.severity.clone();
                        view! {
                            <tr data-severity=severity>
                                <td><SeverityBadge severity=s.severity /></td>
                                <td class="num">{s.opened}</td>
                                <td class="num">{s.resolved}</td>
                                <td class="num">{s.open_at_end}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <p data-testid="report-resolve-times">{resolve_times}</p>
            <h4>"Still open"</h4>
            <p class="card-meta" data-testid="report-open-count">{open_note}</p>
            {(!still_open.is_empty()).then(|| view! {
                <table class="data-table report-table">
                    <thead><tr><th>"Incident"</th><th>"Site"</th><th>"Host"</th><th>"Check"</th><th>"Severity"</th><th>"Reported"</th></tr></thead>
                    <tbody>
                        {still_open.into_iter().map(|i| view! {
                            <tr>
                                <td class="mono">{format!("#{}", i.id)}</td>
                                <td>{i.site_id}</td>
                                <td>{i.hostname}</td>
                                <td>{i.check_type.replace('_', " ")}</td>
                                <td><SeverityBadge severity=i.severity /></td>
                                <td>{i.reported_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            <ActionsTable title="Suppressions" empty="No incident was suppressed this month." actions=suppressions testid="report-suppressions" />
            <ActionsTable title="Escalations" empty="No incident was escalated this month." actions=escalations testid="report-escalations" />
            <HeldAlertsTable held=held_alerts />
        </section>
    }
}

#[component]
fn ActionsTable(
    title: &'static str,
    empty: &'static str,
    actions: Vec<IncidentAction>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <h4>{title}</h4>
        {if actions.is_empty() {
            view! { <p class="card-meta" data-testid=testid>{empty}</p> }.into_any()
        } else {
            view! {
                <table class="data-table report-table" data-testid=testid>
                    <thead><tr><th>"When"</th><th>"Who"</th><th>"Incident"</th><th>"Site"</th><th>"Host and check"</th><th>"Note"</th></tr></thead>
                    <tbody>
                        {actions.into_iter().map(|a| view! {
                            <tr>
                                <td>{a.at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                <td>{a.actor}</td>
                                <td class="mono">{format!("#{}", a.incident_id)}</td>
                                <td>{a.site_id}</td>
                                <td>{format!("{} · {}", a.hostname, a.check_type.replace('_', " "))}</td>
                                <td>{if a.note.is_empty() { "–".to_string() } else { a.note }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
fn HeldAlertsTable(held: Vec<HeldAlerts>) -> impl IntoView {
    view! {
        <h4>"Alerts held by maintenance windows"</h4>
        {if held.is_empty() {
            view! { <p class="card-meta" data-testid="report-held">"No alert was held back this month."</p> }.into_any()
        } else {
            view! {
                <table class="data-table report-table" data-testid="report-held">
                    <thead><tr><th>"Why (the window's reason)"</th><th>"Who set it"</th><th class="num">"Alerts held"</th></tr></thead>
                    <tbody>
                        {held.into_iter().map(|h| view! {
                            <tr><td>{h.reason}</td><td>{h.created_by}</td><td class="num">{h.alerts}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
fn SitesSection(sites: Vec<SiteSummary>) -> impl IntoView {
    let chains: Vec<(String, ChainSummary)> = sites
        .iter()
        .map(|s| (s.site_id.clone(), s.evidence.clone()))
        .collect();
    view! {
        <section data-testid="report-sites">
            <h3>"Availability"</h3>
            <table class="data-table report-table">
                <thead><tr><th>"Site"</th><th class="num">"Compliance"</th><th class="num">"Time offline"</th><th class="num">"Available"</th><th>"Appliances without a report"</th></tr></thead>
                <tbody>
                    {sites.into_iter().map(|s| { let site = s.site_id.clone(); view! {
                        <tr data-site=site>
                            <td>{s.clinic_name}<div class="card-meta">{s.site_id}</div></td>
                            <td class="num">{percent(s.average)}</td>
                            <td class="num" data-testid="site-offline">{minutes_label(s.offline_minutes as f64)}</td>
                            <td class="num">{s.availability.map_or("never checked in".to_string(), |a| format!("{a:.2}%"))}</td>
                            <td>{if s.silent_appliances.is_empty() { "none".to_string() } else { s.silent_appliances.join(", ") }}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </section>
        <section data-testid="report-evidence">
            <h3>"Evidence chain"</h3>
            <table class="data-table report-table">
                <thead><tr><th>"Site"</th><th class="num">"Bundles this month"</th><th>"Head at the month's end"</th><th>"Breaks"</th></tr></thead>
                <tbody>
                    {chains.into_iter().map(|(site, chain)| view! {
                        <tr data-site=site.clone()>
                            <td>{site.clone()}</td>
                            <td class="num">{chain.bundles}</td>
                            <td class="mono hash">{match (chain.head_position, chain.head_hash) {
                                (Some(position), Some(hash)) => format!("#{position} {hash}"),
                                _ => "no bundle yet".into(),
                            }}</td>
                            <td data-testid="chain-breaks">{if chain.head_position.is_none() {
                                "–".to_string()
                            } else if chain.breaks.is_empty() {
                                "intact".to_string()
                            } else {
                                format!("broken at {}", chain.breaks.iter().map(|p| format!("#{p}")).collect::<Vec<_>>().join(", "))
                            }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_changes_read_as_words() {
        assert_eq!(minutes_label(12.0), "12 min");
        assert_eq!(minutes_label(125.0), "2 h 5 min");
        assert_eq!(minutes_label(4830.0), "3 d 8 h");
        assert_eq!(change_label(Some(84.0), Some(80.0)), "+4.0 points");
        assert_eq!(change_label(Some(70.0), Some(80.5)), "-10.5 points");
        assert_eq!(change_label(Some(70.0), None), "no comparison");
    }
}
