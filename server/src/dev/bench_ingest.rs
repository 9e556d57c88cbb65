//! `posture-dev bench-ingest`: how many events per second the appliance API acknowledges, with the
//! batcher and without it, on the configured database. For each mode the real router runs in
//! this process on a local port and simulated appliances send reports:
//!
//! 1. back to back, for the maximum sustained rate;
//! 2. open loop at half that rate, for the acknowledgement latency percentiles;
//! 3. straight into the ingest queue, without HTTP and JSON: what the write path alone takes;
//! 4. (batched only) with far more senders than queue slots and no retries, sampling this
//!    process's resident memory: it must stay flat while the excess is answered 429.
//!
//! An event is one check result or drift event in an acknowledged report. The process hosts
//! both the server and the load, so the HTTP figures are a floor for a server on its own
//! machine.

use app::services::alerts::send::AlertSender;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use app::cache::AggregateCache;
use app::cluster::Peers;
use app::db::site_admin;
use app::db::{Db, IncidentWindows};
use app::services::{Actor, sites};
use app::validation::{SiteInput, SiteSaved};
use chrono::Utc;
use leptos::config::LeptosOptions;

use super::BenchIngestArgs;
use super::simulate::{self, Counters, Identity, Plan, Summary};
use crate::api::auth::KEY_CACHE_TTL;
use crate::api::limits::LimitSettings;
use crate::health::Readiness;
use crate::hints::Hints;
use crate::ingest::{self, IngestSettings, Report, Sink};
use crate::provision::provision_appliance;
use crate::routes;
use crate::state::{AppState, StateParts};
use app::appliance_keys::ApplianceIdentity;
use app::domain::appliance::CheckResult;
use app::scoring::CheckStatus;

pub async fn run(db: &Db, args: &BenchIngestArgs) -> anyhow::Result<()> {
    let (appliances, authenticated): (Vec<Identity>, Vec<ApplianceIdentity>) =
        fleet(db, args.sites, args.appliances)
            .await?
            .into_iter()
            .unzip();
    println!(
        "bench-ingest on {}: {} appliances over {} sites, {} checks per report, {} s per phase",
        db.backend_name(),
        appliances.len(),
        args.sites,
        args.checks_per_report,
        args.duration.0.as_secs_f64()
    );
    let batched = IngestSettings {
        queue: args.queue,
        batch: args.batch,
        flush: Duration::from_millis(args.flush_ms),
        ack_timeout: Duration::from_secs(30),
    };
    let unbatched = IngestSettings {
        batch: 1,
        ..batched
    };
    let (mut max_rates, mut writer_rates) = (Vec::new(), Vec::new());
    for (name, settings) in [("batched", batched), ("unbatched", unbatched)] {
        let plan = |rate, senders: &[Identity], max_retries| Plan {
            url: String::new(),
            appliances: senders.to_vec(),
            rate,
            duration: args.duration.0,
            checks_per_report: args.checks_per_report,
            max_retries,
            mixed: false,
        };
        let max = phase(db, settings, plan(None, &appliances, 6)).await?;
        print!("{name} (batch {}), max:      ", settings.batch);
        max.print();
        let half_rate = max.acknowledged as f64 / max.elapsed.as_secs_f64() / 2.0;
        let half = phase(db, settings, plan(Some(half_rate), &appliances, 6)).await?;
        print!("{name} (batch {}), 50% rate: ", settings.batch);
        half.print();
        let writer = writer_phase(db, settings, &authenticated, args).await?;
        print!("{name} (batch {}), no HTTP:  ", settings.batch);
        writer.print();
        max_rates.push(max.events_per_second());
        writer_rates.push(writer.events_per_second());
    }
    println!(
        "batched / unbatched: {:.1}x the events per second through HTTP, {:.1}x without",
        max_rates[0] / max_rates[1],
        writer_rates[0] / writer_rates[1]
    );

    // Overload: many more senders than the queue holds, none retrying.
    let crowd: Vec<Identity> = appliances
        .iter()
        .cycle()
        .take(args.overload_senders)
        .cloned()
        .collect();
    let settings = IngestSettings {
        queue: args.overload_queue,
        ..batched
    };
    let counters = Arc::new(Counters::default());
    let sampler = tokio::spawn(sample_rss(args.overload_duration.0));
    let overload = phase_with(
        db,
        settings,
        Plan {
            url: String::new(),
            appliances: crowd,
            rate: None,
            duration: args.overload_duration.0,
            checks_per_report: args.checks_per_report,
            max_retries: 0,
            mixed: false,
        },
        counters,
    )
    .await?;
    let rss = sampler.await?;
    print!(
        "overload ({} senders, queue {}): ",
        args.overload_senders, args.overload_queue
    );
    overload.print();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "resident memory each second under overload (MiB): {}",
        rss.iter()
            .map(|kib| format!("{:.0}", mib(*kib)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

/// Sites and appliances of its own, so the benchmark runs on any database.
async fn fleet(
    db: &Db,
    sites: usize,
    appliances: usize,
) -> anyhow::Result<Vec<(Identity, ApplianceIdentity)>> {
    let run = Utc::now().timestamp_millis();
    let mut client = None;
    let mut created = Vec::with_capacity(sites);
    for i in 0..sites.max(1) {
        let slug = format!("bench-{run}-{i}");
        let input = SiteInput {
            clinic_name: slug.clone(),
            client_id: client,
            new_client: match client {
                None => format!("bench-ingest {run}"),
                Some(_) => String::new(),
            },
            site_id: slug.clone(),
            tier: "small".into(),
            ..SiteInput::default()
        };
        let actor = Actor {
            name: "bench-ingest".into(),
            ip: None,
        };
        match sites::save_site(db, None, input, actor).await?.outcome {
            SiteSaved::Saved { client_id, .. } => client = Some(client_id),
            SiteSaved::Invalid(errors) => bail!("the benchmark's site {slug}: {errors:?}"),
        }
        let (site, _, _) = site_admin::site_input(db, &slug)
            .await?
            .context("the site just saved")?;
        created.push((site, slug));
    }
    let mut fleet = Vec::with_capacity(appliances);
    for i in 0..appliances {
        let (site, site_id) = created[i % created.len()].clone();
        let provisioned = provision_appliance(db, &site_id, &format!("bench-{i}")).await?;
        fleet.push((
            Identity {
                site_id: site_id.clone(),
                key: provisioned.key,
            },
            ApplianceIdentity {
                id: provisioned.appliance_id,
                site,
                site_id,
            },
        ));
    }
    Ok(fleet)
}

/// The benchmark measures the write path: appliances' rate limits and the server's admission
/// limits are set out of its way.
const UNLIMITED: LimitSettings = LimitSettings {
    per_key_rate: NonZeroU32::MAX,
    per_key_burst: NonZeroU32::MAX,
    requests_in_flight: 1 << 20,
    memory_bytes: 1 << 32,
};

/// Reports pushed straight into the ingest queue by one task per appliance, back to back.
async fn writer_phase(
    db: &Db,
    settings: IngestSettings,
    appliances: &[ApplianceIdentity],
    args: &BenchIngestArgs,
) -> anyhow::Result<Summary> {
    let hints = Hints::default();
    let (queue, batcher) = ingest::start(
        settings,
        Sink {
            db: db.clone(),
            cache: AggregateCache::in_process(Duration::from_secs(120)),
            windows: IncidentWindows::default(),
            hints: hints.clone(),
            peers: Peers::new(db.clone()),
        },
    );
    let check_types: Vec<&str> = app::scoring::all_check_types().collect();
    let checks: Vec<CheckResult> = (0..args.checks_per_report)
        .map(|i| CheckResult {
            check_type: check_types[i % check_types.len()].to_string(),
            hostname: format!("FD-{:02}", i % 6),
            status: CheckStatus::Pass,
            checked_at: Utc::now(),
        })
        .collect();
    let started = Instant::now();
    let deadline = started + args.duration.0;
    let senders: Vec<_> = appliances
        .iter()
        .map(|appliance| {
            let (queue, appliance, checks) = (queue.clone(), appliance.clone(), checks.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                while Instant::now() < deadline {
                    let report = Report {
                        appliance: appliance.clone(),
                        report_id: None,
                        checks: checks.clone(),
                        drift: Vec::new(),
                    };
                    let sent = Instant::now();
                    match queue.submit(report, None).await {
                        Ok(_) => latencies.push(sent.elapsed()),
                        Err(_) => failed += 1,
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    drop(queue);
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for sender in senders {
        let (mut own, own_failed) = sender.await?;
        latencies.append(&mut own);
        failed += own_failed;
    }
    let elapsed = started.elapsed();
    batcher.await?;
    hints.close();
    latencies.sort_unstable();
    let acknowledged = latencies.len() as u64;
    Ok(Summary {
        elapsed,
        sent: acknowledged + failed,
        acknowledged,
        retried: 0,
        throttled: failed,
        failed,
        events: acknowledged * args.checks_per_report as u64,
        latencies,
    })
}

async fn phase(db: &Db, settings: IngestSettings, plan: Plan) -> anyhow::Result<Summary> {
    phase_with(db, settings, plan, Arc::new(Counters::default())).await
}

/// Serves the API with `settings` on a local port, runs `plan` against it, stops the server,
/// waits for the batcher to write what it holds and ends the hint publisher.
async fn phase_with(
    db: &Db,
    settings: IngestSettings,
    mut plan: Plan,
    counters: Arc<Counters>,
) -> anyhow::Result<Summary> {
    let parts = StateParts {
        leptos_options: LeptosOptions::builder().output_name("posture").build(),
        cache: AggregateCache::in_process(Duration::from_secs(120)),
        readiness: Readiness::new(Vec::new(), Duration::from_secs(1)),
        limits: UNLIMITED,
        accounts: Default::default(),
        key_ttl: KEY_CACHE_TTL,
        dashboard_in_flight: 1 << 20,
        metrics_token: None,
        alerts: AlertSender::new(None)?,
        silence_sweep: None,
    };
    let (state, batcher) = AppState::build(db.clone(), parts, |sink| ingest::start(settings, sink));
    let hints = state.hints.clone();
    let app = routes::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    plan.url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    let summary = simulate::load(&plan, counters).await;
    let _ = stop.send(());
    server.await??;
    batcher.await?;
    hints.close();
    Ok(summary)
}

/// This process's resident set size in KiB, once a second for `duration`.
async fn sample_rss(duration: Duration) -> Vec<u64> {
    let mut samples = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    for _ in 0..=duration.as_secs() {
        ticker.tick().await;
        samples.push(rss_kib());
    }
    samples
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
