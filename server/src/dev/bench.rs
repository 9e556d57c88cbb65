//! `posture-dev bench`: times the hot queries on whatever database is configured and prints
//! p50/p95 per query, for every client and for a user scoped to a few. Seed first (`posture seed --large` for the figures in the README).

use std::time::Instant;

use app::cache::{AggregateCache, KEYS_AFFECTED_BY_REPORT};
use app::db::{self, Db, IncidentWindows};
use app::domain::client_scope::ClientScope;
use app::on_db;
use app::types::{IncidentFilter, IncidentSort};
use chrono::Utc;

use super::BenchArgs;

pub async fn run(db: &Db, args: &BenchArgs) -> anyhow::Result<()> {
    let cache = args.cache.build()?;
    let n = args.iterations.max(1);
    println!(
        "posture bench on {} ({} cache), {n} samples per aggregate",
        db.backend_name(),
        cache.backend_name()
    );
    println!("{:<52} {:>10} {:>10}", "query", "p50 ms", "p95 ms");

    report(
        "latest 50 bundles per site (one windowed query)",
        n,
        || async { db::latest_bundles_per_site(db, 50).await.map(|_| ()) },
    )
    .await?;
    let mut scopes = vec![("every client".to_string(), ClientScope::All)];
    if args.scoped_clients > 0 {
        let first: Vec<i64> = on_db!(db, |pool| {
            sqlx::query_scalar("SELECT id FROM clients ORDER BY id LIMIT $1")
                .bind(args.scoped_clients as i64)
                .fetch_all(pool)
                .await?
        });
        let label = format!("scoped to {} clients", first.len());
        scopes.push((label, ClientScope::only(first)));
    }
    for (label, scope) in &scopes {
        println!("-- {label}");
        aggregates(db, &cache, scope, n).await?;
        incident_windows(db, scope, n).await?;
    }
    Ok(())
}

/// The overview's aggregates for `scope`: computed, and read from the cache.
async fn aggregates(
    db: &Db,
    cache: &AggregateCache,
    scope: &ClientScope,
    n: usize,
) -> anyhow::Result<()> {
    report("fleet stats, uncached (scores + stats)", n, || async {
        let now = Utc::now();
        let scores = db::site_scores(db, scope, now).await?;
        db::fleet_stats(db, scope, &scores, now).await.map(|_| ())
    })
    .await?;
    report("site scores, uncached", n, || async {
        db::site_scores(db, scope, Utc::now()).await.map(|_| ())
    })
    .await?;
    cache.invalidate(&KEYS_AFFECTED_BY_REPORT).await;
    report(
        "overview stats, cached (what the dashboard reads)",
        n * 10,
        || async {
            app::aggregates::overview(db, cache, scope)
                .await
                .map(|_| ())
        },
    )
    .await
}

/// Counts and windows of the incident list under four filters, within `scope`.
async fn incident_windows(db: &Db, scope: &ClientScope, n: usize) -> anyhow::Result<()> {
    let high = Some("high".to_string());
    let filters = [
        ("all", IncidentFilter::default()),
        (
            "severity=high",
            IncidentFilter {
                severity: high.clone(),
                ..IncidentFilter::default()
            },
        ),
        (
            "sort=severity",
            IncidentFilter {
                sort: IncidentSort::Severity,
                ..IncidentFilter::default()
            },
        ),
        (
            "status=open, sort=site",
            IncidentFilter {
                status: Some("open".into()),
                sort: IncidentSort::Site,
                ..IncidentFilter::default()
            },
        ),
    ];
    for (label, filter) in filters {
        let filter = IncidentFilter {
            clients: scope.clone(),
            ..filter
        };
        let windows = IncidentWindows::default();
        let started = Instant::now();
        let total = windows.count(db, &filter).await?;
        println!(
            "{:<52} {:>10.1}",
            format!("incident count ({label}), {total} rows"),
            ms(started)
        );
        let last = (total - 100).max(0);
        let started = Instant::now();
        windows.window(db, &filter, last, 100).await?;
        println!(
            "{:<52} {:>10.1}",
            format!("first deep window, builds anchors ({label})"),
            ms(started)
        );
        for offset in [0, total / 2, last] {
            report(
                &format!("incident window 100 @ {offset} ({label})"),
                n * 10,
                || async {
                    windows
                        .read_window(db, &filter, offset, 100)
                        .await
                        .map(|_| ())
                },
            )
            .await?;
        }
    }
    Ok(())
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

async fn report<F, Fut, E>(label: &str, samples: usize, mut run: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut timings = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        run().await?;
        timings.push(ms(started));
    }
    timings.sort_by(f64::total_cmp);
    let at =
        |q: f64| timings[((timings.len() as f64 * q).ceil() as usize).clamp(1, timings.len()) - 1];
    println!("{label:<52} {:>10.3} {:>10.3}", at(0.50), at(0.95));
    Ok(())
}
