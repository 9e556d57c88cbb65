//! The data layer on SQLite and PostgreSQL alike: scores, stats, windows, the generator and
//! the query plans of the hot queries. Every test runs once per database.

use crate::common;

use std::time::Duration as StdDuration;

use app::db::incidents::incident_facts;
use app::db::{self, Db, IncidentWindows, WINDOW_ANCHOR_STRIDE};
use app::domain::client_scope::ClientScope;
use app::on_db;
use app::scoring::HealthLevel;
use app::types::{IncidentFilter, IncidentRow, IncidentSort};
use chrono::{Duration, DurationRound, Utc};
use common::{databases, fixture};
use posture_server::seed::{Volumes, generate};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[tokio::test]
async fn site_scores_follow_the_rules_by_hand() {
    let now = Utc::now();
    for t in databases().await {
        let db = &t.db;
        fixture::client(db, 1, "Acme").await;
        fixture::site(db, 1, 1, Some(now - Duration::minutes(2))).await; // freshness 100
        fixture::site(db, 2, 1, Some(now - Duration::minutes(30))).await; // freshness 50
        fixture::site(db, 3, 1, None).await; // never checked in
        // Site 1: backup 1 pass + 1 fail = 50; encryption 1 pass = 100; firewall 1 warn = 50.
        fixture::latest_result(db, 1, "backup_job", "FD-01", "pass", now).await;
        fixture::latest_result(db, 1, "offsite_copy", "FD-01", "fail", now).await;
        fixture::latest_result(db, 1, "bitlocker_status", "FD-01", "pass", now).await;
        fixture::latest_result(db, 1, "firewall_profile", "FD-02", "warn", now).await;
        // Older than 24 h: ignored.
        fixture::latest_result(
            db,
            1,
            "windows_update",
            "FD-01",
            "fail",
            now - Duration::hours(25),
        )
        .await;
        // Site 2: only a stale result, so no compliance data.
        fixture::latest_result(
            db,
            2,
            "ntp_sync",
            "SRV-01",
            "pass",
            now - Duration::hours(30),
        )
        .await;

        let scores = db::site_scores(db, &ClientScope::All, now).await.unwrap();
        assert_eq!(scores.len(), 3, "{}", t.name);
        let expected_compliance = 30.0 / 0.42; // (50×0.14 + 100×0.18 + 50×0.10) / 0.42
        assert!(
            close(scores[0].compliance.unwrap(), expected_compliance),
            "{}: {:?}",
            t.name,
            scores[0]
        );
        assert_eq!(scores[0].freshness, 100.0);
        assert!(close(
            scores[0].health,
            0.4 * 100.0 + 0.6 * expected_compliance
        ));
        assert_eq!(scores[0].level, HealthLevel::Healthy);
        assert_eq!(scores[1].compliance, None, "{}", t.name);
        assert_eq!(scores[1].freshness, 50.0);
        assert_eq!(scores[1].level, HealthLevel::Warning);
        assert_eq!(
            (scores[2].freshness, scores[2].level),
            (0.0, HealthLevel::Onboarding),
            "{}: a site being set up is not failing",
            t.name
        );
    }
}

#[tokio::test]
async fn global_stats_count_what_a_person_would() {
    let now = Utc::now();
    for t in databases().await {
        let db = &t.db;
        fixture::client(db, 1, "Acme").await;
        fixture::client(db, 2, "Birch").await;
        fixture::site(db, 1, 1, Some(now - Duration::minutes(1))).await; // online
        fixture::site(db, 2, 1, Some(now - Duration::minutes(20))).await; // stale
        fixture::site(db, 3, 2, Some(now - Duration::hours(3))).await; // offline
        fixture::site(db, 4, 2, None).await; // pending
        fixture::incident(db, 1, "critical", "open", now - Duration::hours(1)).await;
        fixture::incident(db, 1, "high", "escalated", now - Duration::hours(30)).await;
        fixture::incident(db, 2, "high", "resolving", now - Duration::days(3)).await;
        fixture::incident(db, 2, "low", "resolved", now - Duration::days(10)).await;
        fixture::incident(db, 3, "medium", "resolved", now - Duration::days(20)).await;

        let stats = db::fleet_stats(db, &ClientScope::All, &[], now)
            .await
            .unwrap();
        assert_eq!(stats.clients, 2, "{}", t.name);
        assert_eq!(
            (
                stats.sites.online,
                stats.sites.stale,
                stats.sites.offline,
                stats.sites.pending
            ),
            (1, 1, 1, 1)
        );
        let open = stats.open_incidents;
        assert_eq!(
            (open.low, open.medium, open.high, open.critical),
            (0, 0, 2, 1),
            "{}",
            t.name
        );
        assert_eq!(
            (stats.incidents_24h, stats.incidents_7d),
            (1, 3),
            "{}",
            t.name
        );
        assert_eq!(stats.daily_incidents.len(), 14);
        assert_eq!(
            stats.daily_incidents.iter().map(|d| d.count).sum::<i64>(),
            4,
            "{}: 20 days ago is outside",
            t.name
        );
        assert_eq!(
            stats.daily_incidents.last().unwrap().day,
            now.format("%Y-%m-%d").to_string()
        );
        assert_eq!(stats.average_compliance, None);
    }
}

#[tokio::test]
async fn latest_bundles_come_per_site_newest_first() {
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    for t in databases().await {
        let db = &t.db;
        fixture::client(db, 1, "Acme").await;
        for site in 1..=3 {
            fixture::site(db, site, 1, Some(now)).await;
        }
        on_db!(db, |pool| {
            sqlx::query("INSERT INTO appliances (id, site_id, hostname, mac, agent_version) VALUES (1, 1, 'a', 'm1', '1'), (2, 2, 'b', 'm2', '1'), (3, 3, 'c', 'm3', '1')")
                .execute(pool).await.unwrap();
            for site in 1..=3i64 {
                for hour in 0..5i64 {
                    sqlx::query("INSERT INTO compliance_bundles (site_id, appliance_id, submitted_at, pass_count, warn_count, fail_count) VALUES ($1, $1, $2, $3, 0, 0)")
                        .bind(site).bind(now - Duration::hours(hour)).bind(hour).execute(pool).await.unwrap();
                }
            }
        });
        let bundles = db::latest_bundles_per_site(db, 2).await.unwrap();
        assert_eq!(bundles.len(), 6, "{}", t.name);
        for site in 1..=3 {
            let of_site: Vec<_> = bundles
                .iter()
                .filter(|b| b.site_id.0 == site)
                .map(|b| b.pass_count)
                .collect();
            assert_eq!(
                of_site,
                vec![0, 1],
                "{}: the two newest, newest first",
                t.name
            );
        }
    }
}

/// The same rows a plain OFFSET query returns: the reference the anchored windows must match.
async fn reference_window(db: &Db, severity: Option<&str>, offset: i64, limit: i64) -> Vec<i64> {
    let filter = if severity.is_some() {
        "WHERE severity = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id FROM incidents {filter} ORDER BY reported_at DESC, id DESC LIMIT $1 OFFSET $2"
    );
    on_db!(db, |pool| {
        let query = sqlx::query_scalar(&sql).bind(limit).bind(offset);
        let query = match severity {
            Some(s) => query.bind(s),
            None => query,
        };
        query.fetch_all(pool).await.unwrap()
    })
}

fn ids(rows: &[IncidentRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

async fn seed_incidents(db: &Db, count: usize) {
    fixture::client(db, 1, "Acme").await;
    fixture::site(db, 1, 1, Some(Utc::now())).await;
    seed_incidents_at(db, &[1], count).await;
}

/// `count` incidents spread over `sites` in turn, their `client_id` left to the database.
async fn seed_incidents_at(db: &Db, sites: &[i64], count: usize) {
    let now = Utc::now();
    let severities = ["low", "medium", "high", "critical"];
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        on_db!(db, |pool| {
            let mut builder = sqlx::QueryBuilder::new(
                "INSERT INTO incidents (site_id, hostname, check_type, category, severity, severity_rank, status, dedup_key, reported_at) ",
            );
            builder.push_values(chunk, |mut b, i| {
                // Several incidents share a timestamp, so the id tie-break matters.
                let severity = severities[(i * 7 % 11) % 3];
                b.push_bind(sites[i % sites.len()])
                    .push_bind("FD-01")
                    .push_bind("backup_job")
                    .push_bind("backup")
                    .push_bind(severity)
                    .push_bind(severities.iter().position(|s| *s == severity).unwrap() as i64 + 1)
                    .push_bind("resolved")
                    .push_bind(format!("k{i}"))
                    .push_bind(now - Duration::seconds((*i / 3) as i64));
            });
            builder.build().execute(pool).await.unwrap();
        });
    }
}

#[tokio::test]
async fn windows_match_offset_queries_at_every_edge() {
    for t in databases().await {
        let db = &t.db;
        let total = 2_345;
        seed_incidents(db, total).await;
        let windows = IncidentWindows::default();
        let all = IncidentFilter::default();
        assert_eq!(windows.count(db, &all).await.unwrap(), total as i64);

        let stride = WINDOW_ANCHOR_STRIDE;
        for offset in [
            0,
            1,
            stride - 1,
            stride,
            stride + 1,
            2 * stride - 50,
            total as i64 - 100,
            total as i64 - 1,
        ] {
            let got = windows.window(db, &all, offset, 100).await.unwrap();
            assert_eq!(
                ids(&got),
                reference_window(db, None, offset, 100).await,
                "{} offset {offset}",
                t.name
            );
        }
        let last = windows
            .window(db, &all, total as i64 - 10, 100)
            .await
            .unwrap();
        assert_eq!(last.len(), 10, "{}: the last window is short", t.name);
        assert!(
            windows
                .window(db, &all, total as i64, 100)
                .await
                .unwrap()
                .is_empty(),
            "{}: past the end",
            t.name
        );

        let high = IncidentFilter {
            severity: Some("high".into()),
            ..IncidentFilter::default()
        };
        let high_total = windows.count(db, &high).await.unwrap();
        assert!(high_total > 0 && high_total < total as i64);
        for offset in [0, high_total / 2, high_total - 1] {
            let got = windows.window(db, &high, offset, 50).await.unwrap();
            assert!(got.iter().all(|r| r.severity == "high"));
            assert_eq!(
                ids(&got),
                reference_window(db, Some("high"), offset, 50).await,
                "{} high @{offset}",
                t.name
            );
        }
        let none = IncidentFilter {
            severity: Some("critical".into()),
            ..IncidentFilter::default()
        };
        assert_eq!(
            windows.count(db, &none).await.unwrap(),
            0,
            "{}: filter with no rows",
            t.name
        );
        assert!(windows.window(db, &none, 0, 100).await.unwrap().is_empty());
    }
}

/// The ids of `offset..offset + limit` of clients `clients`' incidents in `sort`'s order,
/// found through their sites (not the incidents' own copy of the client).
async fn reference_scoped_window(
    db: &Db,
    clients: &[i64],
    sort: &str,
    offset: i64,
    limit: i64,
) -> Vec<i64> {
    let sql = format!(
        "SELECT i.id FROM incidents i JOIN sites s ON s.id = i.site_id \
         WHERE s.client_id IN ({}) ORDER BY {sort} LIMIT {limit} OFFSET {offset}",
        db::sql::id_list(clients)
    );
    on_db!(db, |pool| sqlx::query_scalar(&sql)
        .fetch_all(pool)
        .await
        .unwrap())
}

#[tokio::test]
async fn a_scoped_window_merges_its_clients_in_order_and_follows_a_site_to_its_new_client() {
    let sorts = [
        (IncidentSort::Reported, "i.reported_at DESC, i.id DESC"),
        (
            IncidentSort::Severity,
            "i.severity_rank DESC, i.reported_at DESC, i.id DESC",
        ),
        (
            IncidentSort::Site,
            "i.site_id DESC, i.reported_at DESC, i.id DESC",
        ),
    ];
    for t in databases().await {
        let db = &t.db;
        for client in 1..=3 {
            fixture::client(db, client, &format!("Client {client}")).await;
        }
        for (site, client) in [(1, 1), (2, 2), (3, 2), (4, 3)] {
            fixture::site(db, site, client, Some(Utc::now())).await;
        }
        seed_incidents_at(db, &[1, 2, 3, 4], 4_000).await;
        let scoped = ClientScope::only([1, 2]);
        let windows = IncidentWindows::default();
        for (sort, order) in sorts {
            let filter = IncidentFilter {
                sort,
                clients: scoped.clone(),
                ..IncidentFilter::default()
            };
            let total = windows.count(db, &filter).await.unwrap();
            assert_eq!(total, 3_000, "{}", t.name);
            let stride = db::incidents::SEVERAL_CLIENTS_ANCHOR_STRIDE;
            for offset in [
                0,
                1,
                stride - 1,
                stride,
                stride + 7,
                1_234,
                total - 100,
                total - 1,
            ] {
                let got = windows.window(db, &filter, offset, 100).await.unwrap();
                assert_eq!(
                    ids(&got),
                    reference_scoped_window(db, &[1, 2], order, offset, 100).await,
                    "{} {sort:?} @{offset}",
                    t.name
                );
            }
        }

        // Site 4 is given to client 1: its incidents enter the scope with it.
        on_db!(db, |pool| sqlx::query(
            "UPDATE sites SET client_id = 1 WHERE id = 4"
        )
        .execute(pool)
        .await
        .map(drop)
        .unwrap());
        let filter = IncidentFilter {
            clients: scoped.clone(),
            ..IncidentFilter::default()
        };
        let fresh = IncidentWindows::default();
        assert_eq!(fresh.count(db, &filter).await.unwrap(), 4_000, "{}", t.name);
        let got = fresh.window(db, &filter, 1_500, 100).await.unwrap();
        assert_eq!(
            ids(&got),
            reference_scoped_window(db, &[1, 2], sorts[0].1, 1_500, 100).await,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn anchors_follow_new_and_changed_incidents_without_a_rebuild() {
    for t in databases().await {
        let db = &t.db;
        seed_incidents(db, 2_500).await;
        let windows = IncidentWindows::default();
        let filters = [
            IncidentFilter::default(),
            IncidentFilter {
                sort: IncidentSort::Severity,
                ..IncidentFilter::default()
            },
            IncidentFilter {
                sort: IncidentSort::Site,
                severity: Some("high".into()),
                ..IncidentFilter::default()
            },
            IncidentFilter {
                status: Some("open".into()),
                ..IncidentFilter::default()
            },
        ];
        for filter in &filters {
            // A deep window makes the anchors.
            windows.window(db, filter, 1_500, 10).await.unwrap();
        }

        // One incident newer than all, two among the old ones; then the newest is resolved.
        let now = Utc::now();
        for (severity, at) in [
            ("critical", now + Duration::seconds(5)),
            ("high", now - Duration::seconds(300)),
            ("low", now - Duration::seconds(600)),
        ] {
            fixture::incident(db, 1, severity, "open", at).await;
        }
        let new_ids: Vec<i64> = on_db!(db, |pool| sqlx::query_scalar(
            "SELECT id FROM incidents ORDER BY id DESC LIMIT 3"
        )
        .fetch_all(pool)
        .await
        .unwrap());
        windows.note_inserted(&incident_facts(db, &new_ids).await.unwrap());
        let newest = new_ids[2];
        let before = incident_facts(db, &[newest]).await.unwrap();
        on_db!(db, |pool| sqlx::query(
            "UPDATE incidents SET status = 'resolved' WHERE id = $1"
        )
        .bind(newest)
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap());
        let after = incident_facts(db, &[newest]).await.unwrap();
        windows.note_changed(&[(before[0].clone(), after[0].clone())]);

        for filter in &filters {
            let fresh = IncidentWindows::default();
            let total = fresh.count(db, filter).await.unwrap();
            assert_eq!(
                windows.count(db, filter).await.unwrap(),
                total,
                "{} {filter:?}: the kept anchors count the change",
                t.name
            );
            for offset in [0, 1, 299, 300, 999, 1_000, 1_001, 1_600, 2_000, total - 5] {
                assert_eq!(
                    ids(&windows.window(db, filter, offset, 20).await.unwrap()),
                    ids(&fresh.window(db, filter, offset, 20).await.unwrap()),
                    "{} {filter:?} @{offset}",
                    t.name
                );
            }
        }
    }
}

fn tiny() -> Volumes {
    Volumes {
        clients: 4,
        sites: 12,
        incidents: 600,
        reports_per_day: 1,
        checks_per_report: 4,
        events_per_site: 3,
    }
}

async fn table_count(db: &Db, table: &str) -> i64 {
    on_db!(db, |pool| sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {table}"
    ))
    .fetch_one(pool)
    .await
    .unwrap())
}

#[tokio::test]
async fn the_generator_writes_what_it_reports_on_both_databases() {
    for t in databases().await {
        let db = &t.db;
        let written = generate::generate(db, tiny(), 7).await.unwrap();
        assert_eq!(
            table_count(db, "clients").await,
            written.clients as i64,
            "{}",
            t.name
        );
        assert_eq!(table_count(db, "sites").await, 12);
        assert_eq!(table_count(db, "incidents").await, 600, "{}", t.name);
        assert_eq!(
            table_count(db, "check_results").await,
            written.check_results as i64
        );
        assert_eq!(
            table_count(db, "compliance_bundles").await,
            written.bundles as i64
        );
        assert!(written.runbooks >= 40);
        assert!(table_count(db, "evidence_bundles").await > 0);
        // Identity sequences moved past the generated ids: a normal insert still works.
        fixture::client(db, 1_000, "After Seeding").await;
        on_db!(db, |pool| {
            sqlx::query("INSERT INTO clients (name) VALUES ('Next Client')")
                .execute(pool)
                .await
                .unwrap();
        });
        // Some sites have never checked in, some are offline, most are online.
        let stats = db::fleet_stats(
            db,
            &ClientScope::All,
            &db::site_scores(db, &ClientScope::All, Utc::now())
                .await
                .unwrap(),
            Utc::now(),
        )
        .await
        .unwrap();
        assert!(stats.sites.online > 0, "{}: {stats:?}", t.name);
        assert!(stats.average_compliance.is_some());
        let incidents_of_pending: Vec<i64> = common::column(
            db,
            "SELECT COUNT(*) FROM incidents i JOIN sites s ON s.id = i.site_id \
             WHERE s.last_checkin_at IS NULL",
            &[],
        )
        .await;
        assert_eq!(
            incidents_of_pending,
            [0],
            "{}: a site that never checked in has had no incidents",
            t.name
        );
    }
}

#[tokio::test]
async fn the_same_seed_generates_the_same_data() {
    let (a, _, _dir_a) = common::temp_database().await;
    let (b, _, _dir_b) = common::temp_database().await;
    generate::generate(&a, tiny(), 11).await.unwrap();
    generate::generate(&b, tiny(), 11).await.unwrap();
    let sql = "SELECT site_id || ':' || severity || ':' || status || ':' || dedup_key FROM incidents ORDER BY id";
    let rows = |db: Db| async move {
        on_db!(&db, |pool| sqlx::query_scalar::<_, String>(sql)
            .fetch_all(pool)
            .await
            .unwrap())
    };
    assert_eq!(rows(a).await, rows(b).await);
}

/// The plan of `sql` on the database, one line per step.
async fn plan(db: &Db, sql: &str) -> String {
    match db {
        Db::Sqlite(pool) => {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(pool)
                    .await
                    .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
        }
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            // Tiny test tables make a sequential scan cheapest; ask whether an index *can* serve.
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut *conn)
                .await
                .unwrap();
            let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            rows.join("\n")
        }
    }
}

#[tokio::test]
async fn hot_incident_queries_use_an_index() {
    let at = "'2026-11-01T00:00:00Z'";
    let hot = [
        format!("SELECT id FROM incidents WHERE (reported_at, id) <= ({at}, 5) ORDER BY reported_at DESC, id DESC LIMIT 100 OFFSET 10"),
        format!("SELECT id FROM incidents WHERE severity_rank = 3 AND (reported_at, id) <= ({at}, 5) ORDER BY reported_at DESC, id DESC LIMIT 100"),
        format!("SELECT id FROM incidents WHERE client_id IN (3) AND status = 'open' AND (site_id, reported_at, id) <= (4, {at}, 5) ORDER BY site_id DESC, reported_at DESC, id DESC LIMIT 100"),
        format!("SELECT COUNT(*) FROM incidents WHERE reported_at >= {at}"),
        "SELECT severity, COUNT(*) FROM incidents WHERE status IN ('open', 'resolving', 'escalated') GROUP BY severity".to_string(),
        "SELECT COUNT(*) FROM incidents WHERE severity_rank = 3".to_string(),
        "SELECT COUNT(*) FROM incidents WHERE client_id IN (3, 7) AND severity_rank = 3".to_string(),
        "SELECT id FROM orders WHERE appliance_id = 3 AND status = 'pending'".to_string(),
        "SELECT id FROM compliance_snapshots WHERE site_id = 3 ORDER BY snapshot_at DESC LIMIT 30".to_string(),
    ];
    for t in databases().await {
        for sql in &hot {
            let sql = if let Db::Postgres(_) = t.db {
                sql.replace(at, &format!("{at}::timestamptz"))
            } else {
                sql.clone()
            };
            let plan = plan(&t.db, &sql).await;
            let full_scan = match t.db {
                Db::Sqlite(_) => plan
                    .lines()
                    .any(|l| l.starts_with("SCAN ") && !l.contains("INDEX")),
                Db::Postgres(_) => plan.contains("Seq Scan"),
            };
            assert!(!full_scan, "{}: full scan for {sql}\n{plan}", t.name);
        }
    }
}

/// Each scope's value is its own (one scope is never served another's), and an invalidation
/// drops the key's value for every scope, in memory and in Redis.
#[tokio::test]
async fn cached_aggregates_are_computed_once_per_ttl_and_scope_and_recomputed_after_invalidation() {
    use app::cache::{AggregateCache, OVERVIEW_KEY};
    use std::sync::atomic::{AtomicUsize, Ordering};

    let mut caches = vec![AggregateCache::in_process(StdDuration::from_secs(120))];
    let redis_url = std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL must name a Redis server (make test-rust starts one)");
    let shared = AggregateCache::redis(&redis_url, StdDuration::from_secs(120)).unwrap();
    shared.invalidate(&[OVERVIEW_KEY]).await;
    caches.push(shared);

    let (everyone, scoped) = (ClientScope::All.key(), ClientScope::only([3, 7]).key());
    for cache in caches {
        let computed = AtomicUsize::new(0);
        let compute = |scope: &'static str| {
            let computed = &computed;
            move || async move {
                computed.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::convert::Infallible>(format!("computed for {scope}"))
            }
        };
        let first = cache
            .get_or_compute(OVERVIEW_KEY, &everyone, compute("all"))
            .await
            .unwrap();
        let second = cache
            .get_or_compute(OVERVIEW_KEY, &everyone, compute("all"))
            .await
            .unwrap();
        assert_eq!(
            (&*first.value, &*second.value),
            (
                &"computed for all".to_string(),
                &"computed for all".to_string()
            )
        );
        assert_eq!(first.etag, second.etag);
        assert_eq!(
            computed.load(Ordering::SeqCst),
            1,
            "{}: second read is cached",
            cache.backend_name()
        );
        let narrow = cache
            .get_or_compute(OVERVIEW_KEY, &scoped, compute("c3,7"))
            .await
            .unwrap();
        assert_eq!(
            *narrow.value,
            "computed for c3,7",
            "{}: another scope computes its own",
            cache.backend_name()
        );
        assert_ne!(narrow.etag, first.etag);
        cache.invalidate(&app::cache::KEYS_AFFECTED_BY_REPORT).await;
        cache
            .get_or_compute(OVERVIEW_KEY, &everyone, compute("all"))
            .await
            .unwrap();
        cache
            .get_or_compute(OVERVIEW_KEY, &scoped, compute("c3,7"))
            .await
            .unwrap();
        assert_eq!(
            computed.load(Ordering::SeqCst),
            4,
            "{}: both scopes recomputed after invalidation",
            cache.backend_name()
        );
        cache.invalidate(&[OVERVIEW_KEY]).await;
    }
}

/// Two servers' caches on one Redis: what one computed the other reads, with the same ETag;
/// each keeps its own copy in memory until told of a change (`forget_here`, which the
/// cluster's notices call).
#[tokio::test]
async fn servers_share_aggregates_through_redis_and_keep_a_copy_until_told() {
    use app::cache::AggregateCache;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const KEY: &str = "posture:test:shared";
    let url = std::env::var("TEST_REDIS_URL").expect("TEST_REDIS_URL names a Redis server");
    let ttl = StdDuration::from_secs(120);
    let (a, b) = (
        AggregateCache::redis(&url, ttl).unwrap(),
        AggregateCache::redis(&url, ttl).unwrap(),
    );
    a.invalidate(&[KEY]).await;
    let computed = AtomicUsize::new(0);
    let compute = || async {
        let n = computed.fetch_add(1, Ordering::SeqCst) as u32 + 1;
        Ok::<_, std::convert::Infallible>(n)
    };
    let on_a = a.get_or_compute(KEY, "all", compute).await.unwrap();
    let on_b = b.get_or_compute(KEY, "all", compute).await.unwrap();
    assert_eq!((*on_a.value, *on_b.value), (1, 1), "B read A's value");
    assert_eq!(on_a.etag, on_b.etag);

    a.invalidate(&[KEY]).await;
    let kept = b.get_or_compute(KEY, "all", compute).await.unwrap();
    assert_eq!(*kept.value, 1, "B serves its own copy until told");
    b.forget_here(&[KEY]).await;
    let fresh = b.get_or_compute(KEY, "all", compute).await.unwrap();
    assert_eq!(
        *fresh.value, 2,
        "told, B finds Redis emptied by A and computes"
    );
    assert_ne!(fresh.etag, on_a.etag);
    a.invalidate(&[KEY]).await;
}

#[tokio::test]
async fn a_dead_redis_means_computing_not_failing() {
    use app::cache::AggregateCache;
    // Nothing listens on port 1.
    let cache = AggregateCache::redis("redis://127.0.0.1:1/", StdDuration::from_secs(120)).unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let value: Result<u32, ()> = cache
            .get_or_compute("posture:test", "all", || async { Ok(7) })
            .await
            .map(|cached| *cached.value);
        assert_eq!(value, Ok(7));
    }
    assert!(
        started.elapsed() < StdDuration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(cache.ping().await.is_err());
}
