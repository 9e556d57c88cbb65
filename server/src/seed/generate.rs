//! The generator proper: clients, sites, appliances, orders, runbooks, 30 days of compliance
//! reports, snapshots, an evidence chain per site, events and incidents clustered in time.

use std::collections::{HashMap, HashSet};

use app::db::Db;
use app::domain::order::OrderStatus;
use app::on_db;
use app::scoring::{self, CATEGORY_CHECK_TYPES, CheckStatus, all_check_types};
use app::types::Severity;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use chrono::{DateTime, Duration, DurationRound, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use sqlx::types::Json;

use super::batch::insert_batched;
use super::catalog::*;
use super::{DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, Volumes, Written};

const DAYS: i64 = 30;
/// Days of daily compliance snapshots: two months, so last month's report has a month before
/// it to compare with.
const SNAPSHOT_DAYS: i64 = 62;

/// A site as the generator writes it (with what it needs to make the site's data).
struct SeedSite {
    id: i64,
    client_id: i64,
    site_id: String,
    clinic_name: String,
    tier: &'static str,
    stage: &'static str,
    contact_name: String,
    contact_email: String,
    last_checkin: Option<DateTime<Utc>>,
    hosts: Vec<String>,
    /// Probability that a check fails / warns at this site: some clinics are well kept.
    p_fail: f64,
    p_warn: f64,
}

/// An appliance as the generator writes it; `site` indexes the generated sites.
struct SeedAppliance {
    id: i64,
    site: usize,
    hostname: String,
    mac: String,
    agent_version: &'static str,
    last_checkin: Option<DateTime<Utc>>,
}

pub async fn generate(db: &Db, volumes: Volumes, seed: u64) -> anyhow::Result<Written> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now().duration_trunc(Duration::seconds(1))?;
    let progress = progress_bar(&volumes);
    let mut written = Written::default();

    progress.set_message("clients and sites");
    let clients = client_names(&mut rng, volumes.clients);
    insert_batched!(db, "INSERT INTO clients (id, name) ", 2, clients, |b, c| {
        b.push_bind(c.0).push_bind(&c.1);
    });
    written.clients = clients.len();

    let sites = make_sites(&mut rng, &volumes, now);
    insert_batched!(
        db,
        "INSERT INTO sites (id, site_id, client_id, clinic_name, tier, onboarding_stage, \
         contact_name, contact_email, last_checkin_at, created_at) ",
        10,
        sites,
        |b, s| {
            b.push_bind(s.id)
                .push_bind(&s.site_id)
                .push_bind(s.client_id)
                .push_bind(&s.clinic_name)
                .push_bind(s.tier)
                .push_bind(s.stage)
                .push_bind(&s.contact_name)
                .push_bind(&s.contact_email)
                .push_bind(s.last_checkin)
                .push_bind(now - Duration::days(SNAPSHOT_DAYS + 30));
        }
    );
    written.sites = sites.len();

    let appliances = make_appliances(&mut rng, &sites);
    insert_batched!(
        db,
        "INSERT INTO appliances (id, site_id, hostname, mac, agent_version, last_checkin_at) ",
        6,
        appliances,
        |b, a| {
            b.push_bind(a.id)
                .push_bind(sites[a.site].id)
                .push_bind(&a.hostname)
                .push_bind(&a.mac)
                .push_bind(a.agent_version)
                .push_bind(a.last_checkin);
        }
    );
    written.appliances = appliances.len();
    insert_orders(db, &mut rng, &appliances, now).await?;
    written.runbooks = insert_runbooks(db, &mut rng).await?;
    progress.inc((clients.len() + sites.len() + appliances.len()) as u64);

    progress.set_message("compliance reports");
    let (bundles, results) =
        insert_reports(db, &mut rng, &volumes, &sites, &appliances, &progress).await?;
    written.bundles = bundles;
    written.check_results = results;

    progress.set_message("snapshots, evidence, events");
    written.snapshots = insert_site_history(db, &mut rng, &volumes, &sites, now).await?;

    progress.set_message("incidents");
    written.incidents =
        insert_incidents(db, &mut rng, &volumes, &sites, &appliances, now, &progress).await?;

    insert_admin_and_audit(db, now).await?;
    fix_identity_sequences(db).await?;
    progress.finish_and_clear();
    Ok(written)
}

fn progress_bar(volumes: &Volumes) -> ProgressBar {
    let appliances = volumes.sites * 2;
    let total = volumes.incidents
        + appliances * volumes.reports_per_day * DAYS as usize * (volumes.checks_per_report + 1)
        + volumes.sites * 3;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:28} [{bar:40}] {percent:>3}% {elapsed}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar
}

fn client_names(rng: &mut StdRng, count: usize) -> Vec<(i64, String)> {
    let mut seen = HashSet::new();
    let mut clients = Vec::with_capacity(count);
    while clients.len() < count {
        let town = TOWNS.choose(rng).expect("towns");
        let suffix = CLIENT_SUFFIXES.choose(rng).expect("suffixes");
        let mut name = format!("{town} {suffix}");
        if !seen.insert(name.clone()) {
            name = format!("{name} {}", clients.len() + 1);
            seen.insert(name.clone());
        }
        clients.push((clients.len() as i64 + 1, name));
    }
    clients
}

fn make_sites(rng: &mut StdRng, volumes: &Volumes, now: DateTime<Utc>) -> Vec<SeedSite> {
    let mut used_ids = HashSet::new();
    (0..volumes.sites)
        .map(|i| {
            // Clients are uneven: a few groups run many clinics.
            let client_id = (rng.random::<f64>().powi(2) * volumes.clients as f64) as i64 + 1;
            let town = TOWNS.choose(rng).expect("towns");
            let kind = CLINIC_KINDS.choose(rng).expect("kinds");
            let clinic_name = format!("{town} {kind}");
            let mut site_id = slug(&clinic_name);
            if !used_ids.insert(site_id.clone()) {
                site_id = format!("{site_id}-{}", i + 1);
                used_ids.insert(site_id.clone());
            }
            let last_checkin = match rng.random_range(0..100) {
                0..72 => Some(now - Duration::seconds(rng.random_range(5..600))),
                72..82 => Some(now - Duration::seconds(rng.random_range(900..3_500))),
                82..95 => Some(now - Duration::seconds(rng.random_range(3_700..5 * 86_400))),
                _ => None,
            };
            let stage = if last_checkin.is_none() {
                "provisioning"
            } else {
                ["baseline", "monitoring", "complete", "complete"][rng.random_range(0..4)]
            };
            let first = FIRST_NAMES.choose(rng).expect("names");
            let hosts = (0..rng.random_range(2..=6))
                .map(|n| {
                    format!(
                        "{}-{:02}",
                        HOST_ROLES[n % HOST_ROLES.len()],
                        n / HOST_ROLES.len() + 1
                    )
                })
                .collect();
            SeedSite {
                id: i as i64 + 1,
                client_id,
                contact_email: format!("{}@{}.example", first.to_lowercase(), slug(town)),
                contact_name: format!(
                    "{first} {}",
                    ["Reyes", "Patel", "Nguyen", "Okafor", "Smith", "Kowalski"][i % 6]
                ),
                site_id,
                clinic_name,
                tier: ["small", "small", "small", "mid", "mid", "large"][rng.random_range(0..6)],
                stage,
                last_checkin,
                hosts,
                p_fail: rng.random_range(0.01..0.30),
                p_warn: rng.random_range(0.03..0.20),
            }
        })
        .collect()
}

fn make_appliances(rng: &mut StdRng, sites: &[SeedSite]) -> Vec<SeedAppliance> {
    let mut appliances = Vec::new();
    for (index, site) in sites.iter().enumerate() {
        for n in 0..rng.random_range(1..=3) {
            let id = appliances.len() as i64 + 1;
            appliances.push(SeedAppliance {
                id,
                site: index,
                hostname: format!("{}-app{:02}", site.site_id, n + 1),
                mac: format!(
                    "02:50:{:02x}:{:02x}:{:02x}:{:02x}",
                    (id >> 24) & 0xff,
                    (id >> 16) & 0xff,
                    (id >> 8) & 0xff,
                    id & 0xff
                ),
                agent_version: ["2.4.1", "2.4.3", "2.5.0", "2.5.0", "2.5.2"]
                    [rng.random_range(0..5)],
                last_checkin: site
                    .last_checkin
                    .map(|at| at - Duration::seconds(rng.random_range(0..120))),
            });
        }
    }
    appliances
}

async fn insert_orders(
    db: &Db,
    rng: &mut StdRng,
    appliances: &[SeedAppliance],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    struct Order {
        appliance_id: i64,
        order_type: &'static str,
        priority: i64,
        status: OrderStatus,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    }
    let mut orders = Vec::new();
    for appliance in appliances {
        for _ in 0..rng.random_range(1..=3) {
            let created_at = now - Duration::minutes(rng.random_range(1..DAYS * 1440));
            let recent = now - created_at < Duration::hours(6);
            let status = match (recent, rng.random_range(0..10)) {
                (true, 0..6) => OrderStatus::Pending,
                (true, _) => OrderStatus::Acknowledged,
                (false, 0..7) => OrderStatus::Completed,
                (false, 7..9) => OrderStatus::Failed,
                (false, _) => OrderStatus::Expired,
            };
            orders.push(Order {
                appliance_id: appliance.id,
                order_type: ORDER_TYPES.choose(rng).expect("order types"),
                priority: rng.random_range(1..=9),
                status,
                created_at,
                expires_at: created_at + Duration::hours(24),
            });
        }
    }
    insert_batched!(
        db,
        "INSERT INTO orders (appliance_id, order_type, parameters, priority, status, created_at, expires_at) ",
        7,
        orders,
        |b, o| {
            b.push_bind(o.appliance_id)
                .push_bind(o.order_type)
                .push_bind(Json(serde_json::json!({"requested_by": "seed"})))
                .push_bind(o.priority)
                .push_bind(o.status.as_str())
                .push_bind(o.created_at)
                .push_bind(o.expires_at);
        }
    );
    Ok(())
}

async fn insert_runbooks(db: &Db, rng: &mut StdRng) -> anyhow::Result<usize> {
    let rows: Vec<_> = RUNBOOKS
        .iter()
        .map(
            |(id, name, category, level, check_types, hipaa, disruptive)| {
                let steps: Vec<String> = [
                    format!("Confirm the finding on the affected host ({category})"),
                    name.to_string(),
                    "Re-run the compliance check and confirm it passes".to_string(),
                    "Attach the result to the incident and close it".to_string(),
                ]
                .into();
                let executions: i64 = rng.random_range(0..2_500);
                (
                    *id,
                    *name,
                    format!(
                        "{name}. Used when {} checks fail at a clinic.",
                        check_types.join(", ").replace('_', " ")
                    ),
                    *category,
                    Json(check_types.to_vec()),
                    *level,
                    Json(hipaa.to_vec()),
                    Json(steps),
                    *disruptive,
                    executions,
                    if executions == 0 {
                        0.0
                    } else {
                        rng.random_range(0.72..0.995)
                    },
                    rng.random_range(20.0..1_800.0),
                )
            },
        )
        .collect();
    insert_batched!(
        db,
        "INSERT INTO runbooks (id, name, description, category, check_types, level, hipaa_controls, \
         steps, disruptive, execution_count, success_rate, avg_duration_seconds) ",
        12,
        rows,
        |b, r| {
            b.push_bind(r.0)
                .push_bind(r.1)
                .push_bind(&r.2)
                .push_bind(r.3)
                .push_bind(&r.4)
                .push_bind(r.5)
                .push_bind(&r.6)
                .push_bind(&r.7)
                .push_bind(r.8)
                .push_bind(r.9)
                .push_bind(r.10)
                .push_bind(r.11);
        }
    );
    Ok(rows.len())
}

/// A compliance report as the generator writes it.
struct SeedBundle {
    id: i64,
    site_id: i64,
    appliance_id: i64,
    submitted_at: DateTime<Utc>,
    counts: [i64; 3],
}

/// One check result of a generated report.
struct SeedResult {
    bundle_id: i64,
    site_id: i64,
    check_type: &'static str,
    hostname: String,
    status: CheckStatus,
    checked_at: DateTime<Utc>,
}

const BUFFER_ROWS: usize = 50_000;

/// 30 days of reports from every appliance that has ever checked in, with the latest result
/// per (site, check type, host) kept in `check_latest`.
async fn insert_reports(
    db: &Db,
    rng: &mut StdRng,
    volumes: &Volumes,
    sites: &[SeedSite],
    appliances: &[SeedAppliance],
    progress: &ProgressBar,
) -> anyhow::Result<(usize, usize)> {
    let check_types: Vec<&'static str> = all_check_types().collect();
    let interval = Duration::seconds(86_400 / volumes.reports_per_day as i64);
    let mut latest: HashMap<(i64, &'static str, String), (CheckStatus, DateTime<Utc>)> =
        HashMap::new();
    let mut bundles = Vec::new();
    let mut results = Vec::new();
    let (mut bundle_count, mut result_count) = (0usize, 0usize);

    for appliance in appliances {
        let Some(last) = appliance.last_checkin else {
            continue;
        };
        let site = &sites[appliance.site];
        let mut at = last - Duration::days(DAYS);
        while at <= last {
            bundle_count += 1;
            let bundle_id = bundle_count as i64;
            let mut counts = [0i64; 3];
            for _ in 0..volumes.checks_per_report {
                let check_type = *check_types.choose(rng).expect("check types");
                let hostname = site.hosts.choose(rng).expect("hosts").clone();
                let roll: f64 = rng.random();
                let (status, slot) = if roll < site.p_fail {
                    (CheckStatus::Fail, 2)
                } else if roll < site.p_fail + site.p_warn {
                    (CheckStatus::Warn, 1)
                } else {
                    (CheckStatus::Pass, 0)
                };
                counts[slot] += 1;
                let checked_at = at + Duration::seconds(rng.random_range(0..60));
                latest
                    .entry((site.id, check_type, hostname.clone()))
                    .and_modify(|seen| {
                        if seen.1 < checked_at {
                            *seen = (status, checked_at);
                        }
                    })
                    .or_insert((status, checked_at));
                results.push(SeedResult {
                    bundle_id,
                    site_id: site.id,
                    check_type,
                    hostname,
                    status,
                    checked_at,
                });
            }
            bundles.push(SeedBundle {
                id: bundle_id,
                site_id: site.id,
                appliance_id: appliance.id,
                submitted_at: at,
                counts,
            });
            at += interval + Duration::seconds(rng.random_range(-300..300));
        }
        if results.len() >= BUFFER_ROWS {
            result_count += results.len();
            progress.inc((results.len() + bundles.len()) as u64);
            flush_reports(db, &mut bundles, &mut results).await?;
        }
    }
    result_count += results.len();
    flush_reports(db, &mut bundles, &mut results).await?;

    let latest: Vec<_> = latest.into_iter().collect();
    insert_batched!(
        db,
        "INSERT INTO check_latest (site_id, check_type, hostname, status, checked_at) ",
        5,
        latest,
        |b, row| {
            let ((site_id, check_type, hostname), (status, checked_at)) = row;
            b.push_bind(*site_id)
                .push_bind(*check_type)
                .push_bind(hostname)
                .push_bind(status.as_str())
                .push_bind(*checked_at);
        }
    );
    Ok((bundle_count, result_count))
}

async fn flush_reports(
    db: &Db,
    bundles: &mut Vec<SeedBundle>,
    results: &mut Vec<SeedResult>,
) -> anyhow::Result<()> {
    insert_batched!(
        db,
        "INSERT INTO compliance_bundles (id, site_id, appliance_id, submitted_at, pass_count, warn_count, fail_count) ",
        7,
        bundles,
        |b, x| {
            b.push_bind(x.id)
                .push_bind(x.site_id)
                .push_bind(x.appliance_id)
                .push_bind(x.submitted_at)
                .push_bind(x.counts[0])
                .push_bind(x.counts[1])
                .push_bind(x.counts[2]);
        }
    );
    insert_batched!(
        db,
        "INSERT INTO check_results (bundle_id, site_id, check_type, hostname, status, checked_at) ",
        6,
        results,
        |b, r| {
            b.push_bind(r.bundle_id)
                .push_bind(r.site_id)
                .push_bind(r.check_type)
                .push_bind(&r.hostname)
                .push_bind(r.status.as_str())
                .push_bind(r.checked_at);
        }
    );
    bundles.clear();
    results.clear();
    Ok(())
}

/// A site's snapshot as written: (site, at, score, score per category).
type SeedSnapshot = (i64, DateTime<Utc>, f64, Json<HashMap<&'static str, f64>>);

/// A snapshot of `site` for each day from [`SNAPSHOT_DAYS`] to [`DAYS`] ago, around `base`.
/// From a generator of their own, so the rest of the data is what it was before they existed.
fn older_snapshots(site: &SeedSite, base: f64, now: DateTime<Utc>) -> Vec<SeedSnapshot> {
    let mut rng = StdRng::seed_from_u64(site.id as u64);
    (DAYS..SNAPSHOT_DAYS)
        .rev()
        .map(|day| {
            let score = (base + rng.random_range(-6.0..6.0)).clamp(0.0, 100.0);
            let categories = CATEGORY_CHECK_TYPES
                .iter()
                .map(|(c, _)| {
                    let value = (score + rng.random_range(-15.0..15.0)).clamp(0.0, 100.0);
                    (*c, value.round())
                })
                .collect();
            (site.id, now - Duration::days(day), score, Json(categories))
        })
        .collect()
}

/// Daily compliance snapshots ([`SNAPSHOT_DAYS`]), a daily evidence bundle chained by hash and
/// site events ([`DAYS`]).
async fn insert_site_history(
    db: &Db,
    rng: &mut StdRng,
    volumes: &Volumes,
    sites: &[SeedSite],
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut snapshots = Vec::new();
    let mut evidence = Vec::new();
    let mut events = Vec::new();
    for site in sites.iter().filter(|s| s.last_checkin.is_some()) {
        let base = 100.0 * (1.0 - site.p_fail - 0.5 * site.p_warn);
        let mut prev_hash: Option<String> = None;
        snapshots.extend(older_snapshots(site, base, now));
        for day in (0..DAYS).rev() {
            let at = now - Duration::days(day);
            let score = (base + rng.random_range(-6.0..6.0)).clamp(0.0, 100.0);
            let categories: HashMap<&str, f64> = CATEGORY_CHECK_TYPES
                .iter()
                .map(|(c, _)| {
                    (
                        *c,
                        (score + rng.random_range(-15.0..15.0))
                            .clamp(0.0, 100.0)
                            .round(),
                    )
                })
                .collect();
            snapshots.push((site.id, at, score, Json(categories)));

            let position = DAYS - day;
            let hash = hex::encode(Sha256::digest(format!(
                "{}|{}|{}|{}",
                prev_hash.as_deref().unwrap_or(""),
                site.site_id,
                position,
                at.to_rfc3339()
            )));
            evidence.push((site.id, position, hash.clone(), prev_hash.replace(hash), at));
        }
        for _ in 0..volumes.events_per_site {
            let at = now - Duration::minutes(rng.random_range(0..DAYS * 1440));
            let event_type = *EVENT_TYPES.choose(rng).expect("event types");
            events.push((
                site.id,
                event_type,
                Json(serde_json::json!({"source": "appliance"})),
                at,
            ));
        }
    }
    insert_batched!(
        db,
        "INSERT INTO compliance_snapshots (site_id, snapshot_at, day, score, category_scores) ",
        5,
        snapshots,
        |b, s| {
            b.push_bind(s.0)
                .push_bind(s.1)
                .push_bind(s.1.date_naive())
                .push_bind(s.2)
                .push_bind(&s.3);
        }
    );
    insert_batched!(
        db,
        "INSERT INTO evidence_bundles (site_id, position, bundle_hash, prev_hash, created_at) ",
        5,
        evidence,
        |b, e| {
            b.push_bind(e.0)
                .push_bind(e.1)
                .push_bind(&e.2)
                .push_bind(&e.3)
                .push_bind(e.4);
        }
    );
    insert_batched!(
        db,
        "INSERT INTO events (site_id, event_type, data, at) ",
        4,
        events,
        |b, e| {
            b.push_bind(e.0)
                .push_bind(e.1)
                .push_bind(&e.2)
                .push_bind(e.3);
        }
    );
    Ok(snapshots.len())
}

/// Incidents clustered in time (storms of drift after a bad patch night, say), skewed towards
/// a few troubled sites and towards low severities; old ones are mostly resolved.
async fn insert_incidents(
    db: &Db,
    rng: &mut StdRng,
    volumes: &Volumes,
    sites: &[SeedSite],
    appliances: &[SeedAppliance],
    now: DateTime<Utc>,
    progress: &ProgressBar,
) -> anyhow::Result<usize> {
    let span = DAYS * 86_400;
    let storms: Vec<i64> = (0..(DAYS * 6)).map(|_| rng.random_range(0..span)).collect();
    let mut ages: Vec<i64> = (0..volumes.incidents)
        .map(|_| {
            if rng.random_bool(0.6) {
                let centre = *storms.choose(rng).expect("storms");
                let offset = (-rng.random::<f64>().max(1e-9).ln() * 5_400.0) as i64;
                (centre - offset).clamp(0, span)
            } else {
                rng.random_range(0..span)
            }
        })
        .collect();
    // Oldest first, so ids grow with time as they would in production.
    ages.sort_unstable_by(|a, b| b.cmp(a));

    let appliances_of: Vec<Vec<&SeedAppliance>> = {
        let mut by_site = vec![Vec::new(); sites.len()];
        for a in appliances {
            by_site[a.site].push(a);
        }
        by_site
    };
    // A site that never checked in is being set up: it has had no incidents.
    let reporting: Vec<usize> = (0..sites.len())
        .filter(|i| sites[*i].last_checkin.is_some())
        .collect();
    if reporting.is_empty() {
        return Ok(0);
    }
    let check_types: Vec<&'static str> = all_check_types().collect();
    let mut unresolved_keys = HashSet::new();
    let mut rows = Vec::with_capacity(BUFFER_ROWS);
    let mut written = 0;

    for age in ages {
        let reported_at = now - Duration::seconds(age);
        let pick = ((rng.random::<f64>().powf(2.5)) * reporting.len() as f64) as usize;
        let site_index = reporting[pick.min(reporting.len() - 1)];
        let site = &sites[site_index];
        let appliance = appliances_of[site_index].choose(rng).map(|a| a.id);
        let check_type = *check_types.choose(rng).expect("check types");
        let hostname = site.hosts.choose(rng).expect("hosts").clone();
        let level = match rng.random_range(0..100) {
            0..45 => Severity::Low,
            45..78 => Severity::Medium,
            78..94 => Severity::High,
            _ => Severity::Critical,
        };
        let (severity, rank) = (level.as_str(), level.rank());
        let dedup_key = format!("{hostname}:{check_type}");
        let mut status = match (age < 3 * 86_400, rng.random_range(0..100)) {
            (true, 0..45) => "open",
            (true, 45..60) => "resolving",
            (true, 60..70) => "escalated",
            (false, 0..2) => "escalated",
            (false, 2..4) => "open",
            _ => "resolved",
        };
        if status != "resolved"
            && !unresolved_keys.insert((site.site_id.clone(), dedup_key.clone()))
        {
            status = "resolved";
        }
        let (tier, resolved_at) = if status == "resolved" {
            let tier = [
                "L1", "L1", "L1", "L1", "L1", "L1", "L1", "L2", "L2", "L3", "manual",
            ][rng.random_range(0..11)];
            (
                Some(tier),
                Some((reported_at + Duration::minutes(rng.random_range(2..720))).min(now)),
            )
        } else {
            (None, None)
        };
        let category = scoring::category_of(check_type).expect("catalogued check type");
        rows.push((
            site.id,
            site.client_id,
            appliance,
            hostname,
            check_type,
            category,
            severity,
            rank,
            status,
            tier,
            dedup_key,
            reported_at,
            resolved_at,
        ));
        if rows.len() == BUFFER_ROWS {
            written += flush_incidents(db, &mut rows).await?;
            progress.inc(BUFFER_ROWS as u64);
        }
    }
    written += flush_incidents(db, &mut rows).await?;
    Ok(written)
}

type IncidentRow = (
    i64,
    i64,
    Option<i64>,
    String,
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static str,
    Option<&'static str>,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

async fn flush_incidents(db: &Db, rows: &mut Vec<IncidentRow>) -> anyhow::Result<usize> {
    insert_batched!(
        db,
        "INSERT INTO incidents (site_id, client_id, appliance_id, hostname, check_type, \
         category, severity, severity_rank, status, resolution_tier, dedup_key, details, \
         reported_at, resolved_at) ",
        14,
        rows,
        |b, r| {
            b.push_bind(r.0)
                .push_bind(r.1)
                .push_bind(r.2)
                .push_bind(&r.3)
                .push_bind(r.4)
                .push_bind(r.5)
                .push_bind(r.6)
                .push_bind(r.7)
                .push_bind(r.8)
                .push_bind(r.9)
                .push_bind(&r.10)
                .push_bind(Json(serde_json::json!({"expected": "pass", "actual": if r.7 >= 3 { "fail" } else { "warn" }})))
                .push_bind(r.11)
                .push_bind(r.12);
        }
    );
    let count = rows.len();
    rows.clear();
    Ok(count)
}

async fn insert_admin_and_audit(db: &Db, now: DateTime<Utc>) -> anyhow::Result<()> {
    let password_hash = argon2::Argon2::default()
        .hash_password(
            DEMO_ADMIN_PASSWORD.as_bytes(),
            &SaltString::generate(&mut OsRng),
        )
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?
        .to_string();
    on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO users (email, display_name, role, password_hash) VALUES ($1, 'Demo Admin', 'admin', $2)",
        )
        .bind(DEMO_ADMIN_EMAIL)
        .bind(&password_hash)
        .execute(pool)
        .await?;
        sqlx::query(
            "INSERT INTO audit_log (actor, action, target, details, ip, at) VALUES ('seed', 'seed.generate', 'database', $1, NULL, $2)",
        )
        .bind(Json(serde_json::json!({"note": "generated demo data"})))
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// Rows were written with explicit ids; PostgreSQL's identity sequences must move past them.
async fn fix_identity_sequences(db: &Db) -> anyhow::Result<()> {
    if let Db::Postgres(pool) = db {
        for table in ["clients", "sites", "appliances", "compliance_bundles"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            ))
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(
            slug("Maple Grove Women's Health"),
            "maple-grove-women-s-health"
        );
        assert_eq!(slug("  Allergy & Asthma "), "allergy-asthma");
    }
}
