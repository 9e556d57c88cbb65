//! Two servers on one PostgreSQL behave as one: what reaches one reaches the dashboards and
//! the memory of the other through `LISTEN/NOTIFY`, also after the listener lost its
//! connection.

use std::time::Duration;

use app::auth::Role;
use app::db::Db;
use app::on_db;
use chrono::Utc;
use posture_server::config::DatabaseArgs;
use posture_server::state::StateParts;
use posture_server::{database, provision};
use reqwest::StatusCode;
use serde_json::json;

use crate::api::{check, populate, report};
use crate::common::{self, TestServer};

/// A server on the database at `url` that trusts a looked-up appliance key for a minute, so
/// only a notice can make it forget one sooner.
async fn server_on(url: &str) -> TestServer {
    let db = database::open(&DatabaseArgs::at(url)).await.unwrap();
    let parts = StateParts {
        key_ttl: Duration::from_secs(60),
        ..common::test_parts()
    };
    common::start_with_parts(db, tempfile::tempdir().unwrap(), parts).await
}

/// Two servers on one fresh database with a client, two sites and their appliances.
async fn two_servers() -> (TestServer, TestServer, String, i64) {
    let url = common::postgres_database_url().await;
    let setup: Db = database::open(&DatabaseArgs::at(&url)).await.unwrap();
    let (key, _, appliance) = populate(&setup).await;
    setup.close().await;
    let (a, b) = (server_on(&url).await, server_on(&url).await);
    // Give both listeners a moment to be listening.
    tokio::time::sleep(Duration::from_millis(300)).await;
    (a, b, key, appliance)
}

/// The scopes of the next hint on `events`, within five seconds.
async fn next_hint(events: &mut reqwest::Response) -> Vec<String> {
    let chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .expect("a hint within 5 s")
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    serde_json::from_str(data).unwrap()
}

/// Waits up to two seconds (a notice takes milliseconds) for `probe` to answer `expected`.
async fn within_two_seconds<F, Fut>(what: &str, expected: StatusCode, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let status = probe().await;
        if status == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still {status} after 2 s, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn checkin(server: &TestServer, key: &str) -> StatusCode {
    reqwest::Client::new()
        .post(server.url("/api/v1/checkin"))
        .bearer_auth(key)
        .json(&json!({"site_id": "site-1", "agent_version": "2.1.0"}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_report_to_one_server_reaches_the_dashboards_of_the_other_and_a_gap_refreshes_all() {
    let (a, b, key, _) = two_servers().await;
    let reader = b.client_as(Role::Readonly).await;
    let mut events = reader.get(b.url("/api/v1/events")).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);

    let body = report(vec![check("fail", Utc::now())], vec![]);
    let sent = reqwest::Client::new()
        .post(a.url("/api/v1/reports"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    let scopes = next_hint(&mut events).await;
    assert!(scopes.contains(&"site:site-1".to_string()), "{scopes:?}");
    assert!(scopes.contains(&"stats".to_string()), "{scopes:?}");

    // Cut every listener's connection: B cannot know what it missed, so it says everything.
    let pool = sqlx::PgPool::connect(&std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    let db_name: String = match &b.db {
        Db::Postgres(pool) => sqlx::query_scalar("SELECT current_database()")
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::Sqlite(_) => unreachable!(),
    };
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE 'LISTEN%' AND datname = $1",
    )
    .bind(&db_name)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(cut, [true, true], "both servers listen");
    assert_eq!(next_hint(&mut events).await, ["*"]);
}

#[tokio::test]
async fn a_key_revoked_on_the_command_line_is_refused_by_every_server_at_once() {
    let (a, b, key, appliance) = two_servers().await;
    assert_eq!(checkin(&a, &key).await, StatusCode::OK);
    assert_eq!(checkin(&b, &key).await, StatusCode::OK);
    // Both now trust the key for a minute without asking the database.

    provision::revoke_keys(&a.db, appliance).await.unwrap();
    for server in [&a, &b] {
        within_two_seconds("revoked key", StatusCode::UNAUTHORIZED, || {
            checkin(server, &key)
        })
        .await;
    }
}

/// Both servers remember sessions for a few seconds; sign-out and a new role on one count on
/// the other as soon as its notice arrives (milliseconds), not when the memory expires.
#[tokio::test]
async fn a_session_ended_or_changed_on_one_server_counts_on_the_other_within_moments() {
    let (a, b, _, _) = two_servers().await;
    let user = a.client_as(Role::Readonly).await;
    let on_b = user.get(b.url("/api/get_overview")).send().await.unwrap();
    assert_eq!(on_b.status(), StatusCode::OK, "one session, both servers");
    let out = user
        .post(a.url("/api/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    within_two_seconds("signed out on A", StatusCode::UNAUTHORIZED, || async {
        let on_b = user.get(b.url("/api/get_overview")).send().await.unwrap();
        on_b.status()
    })
    .await;

    let admin = a.client_as(Role::Admin).await;
    let operator = b.client_as(Role::Operator).await;
    let act = |client: &reqwest::Client| {
        client
            .post(b.url("/api/act_on_incidents"))
            .json(&json!({"ids": [], "action": "resolve"}))
            .send()
    };
    assert_ne!(
        act(&operator).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let id = app::db::accounts::find_login(&a.db, "operator@test.local")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let changed = admin
        .post(a.url("/api/update_user"))
        .json(&json!({"id": id, "role": "readonly", "disabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    within_two_seconds("demoted on A", StatusCode::FORBIDDEN, || async {
        act(&operator).await.unwrap().status()
    })
    .await;
}

/// B keeps its incident windows' anchors in step with what happens on A, told through
/// PostgreSQL: after new incidents and resolutions on A, B's windows (anchors kept, not
/// sampled again) equal those of anchors sampled afresh.
#[tokio::test]
async fn anchors_kept_in_step_with_the_other_server_equal_a_fresh_rebuild() {
    use app::db::IncidentWindows;
    use app::types::{IncidentFilter, IncidentSort};

    let (a, b, key, _) = two_servers().await;
    on_db!(&a.db, |pool| {
        sqlx::query(
            "INSERT INTO incidents (site_id, hostname, check_type, category, severity, \
             severity_rank, status, dedup_key, reported_at) \
             SELECT 1 + g % 2, 'HOST-' || g, 'backup_job', 'backup', \
             (ARRAY['low', 'medium', 'high', 'critical'])[1 + g % 4], 1 + g % 4, 'open', \
             'bulk:' || g, now() - g * interval '1 minute' FROM generate_series(1, 3000) g",
        )
        .execute(pool)
        .await
        .unwrap();
    });
    let filters = [
        IncidentFilter::default(),
        IncidentFilter {
            status: Some("open".into()),
            sort: IncidentSort::Severity,
            ..Default::default()
        },
    ];
    for filter in &filters {
        b.windows.window(&b.db, filter, 2_500, 100).await.unwrap();
    }
    assert_eq!(b.windows.len(), 2, "B sampled anchors for both filters");
    let reader = b.client_as(Role::Readonly).await;
    let mut events = reader.get(b.url("/api/v1/events")).send().await.unwrap();

    let drifts: Vec<_> = (0..5)
        .map(|i| {
            json!({"check_type": "bitlocker_status", "hostname": format!("NEW-{i}"),
                   "severity": "critical", "state": "drifted",
                   "detected_at": Utc::now() - chrono::Duration::minutes(700 + i),
                   "details": {"expected": "on"}})
        })
        .collect();
    let sent = reqwest::Client::new()
        .post(a.url("/api/v1/reports"))
        .bearer_auth(&key)
        .json(&report(vec![], drifts))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    let hint = next_hint(&mut events).await;
    assert!(hint.contains(&"incidents".to_string()), "{hint:?}");

    let resolved: Vec<i64> = common::column(
        &a.db,
        "SELECT id FROM incidents WHERE dedup_key LIKE 'bulk:%' AND id % 97 = 0 ORDER BY id",
        &[],
    )
    .await;
    let operator = a.client_as(Role::Operator).await;
    let acted = operator
        .post(a.url("/api/act_on_incidents"))
        .json(&json!({"ids": resolved, "action": "resolve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(acted.status(), StatusCode::OK);
    let hint = next_hint(&mut events).await;
    assert!(hint.contains(&"incidents".to_string()), "{hint:?}");

    assert_eq!(b.windows.len(), 2, "B kept its anchors in step");
    let fresh = IncidentWindows::default();
    for filter in &filters {
        let kept = b.windows.count(&b.db, filter).await.unwrap();
        assert_eq!(
            kept,
            fresh.count(&b.db, filter).await.unwrap(),
            "{filter:?}"
        );
        for offset in [0, 1_000, 1_999, 2_500, 2_950] {
            let ids = |rows: Vec<app::types::IncidentRow>| -> Vec<i64> {
                rows.iter().map(|row| row.id).collect()
            };
            let on_b = ids(b.windows.window(&b.db, filter, offset, 100).await.unwrap());
            let rebuilt = ids(fresh.window(&b.db, filter, offset, 100).await.unwrap());
            assert_eq!(on_b, rebuilt, "{filter:?} at {offset}");
        }
    }
}
