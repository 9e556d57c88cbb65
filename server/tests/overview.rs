//! The overview counts: the query, the server function over HTTP, and the SSR page.

mod common;

use app::db::overview_counts;
use app::on_db;
use posture_server::config::{SeedArgs, SeedProfile};
use serde_json::Value;

async fn insert_fixture(db: &app::db::Db) {
    on_db!(db, |pool| {
        for sql in [
            "INSERT INTO clients (name) VALUES ('Acme Health'), ('Birch Medical')",
            "INSERT INTO sites (site_id, client_id, clinic_name, tier) VALUES \
             ('acme-1', 1, 'Acme One', 'small'), ('acme-2', 1, 'Acme Two', 'mid'), \
             ('birch-1', 2, 'Birch One', 'large')",
            "INSERT INTO incidents (site_id, hostname, check_type, severity, status, reported_at) VALUES \
             (1, 'FD-01', 'backup_job', 'high', 'open', '2026-11-01T10:00:00Z'), \
             (1, 'FD-02', 'backup_job', 'low', 'resolved', '2026-11-01T10:00:00Z'), \
             (2, 'EX-01', 'bitlocker_status', 'critical', 'escalated', '2026-11-02T10:00:00Z'), \
             (3, 'SRV-01', 'firewall_profile', 'medium', 'resolving', '2026-11-03T10:00:00Z')",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    });
}

#[tokio::test]
async fn counts_an_empty_database_as_zero() {
    let (db, _, _dir) = common::temp_database().await;
    let counts = overview_counts(&db).await.unwrap();
    assert_eq!(
        (counts.clients, counts.sites, counts.open_incidents),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn open_incidents_are_those_not_resolved() {
    let (db, _, _dir) = common::temp_database().await;
    insert_fixture(&db).await;
    let counts = overview_counts(&db).await.unwrap();
    assert_eq!(
        (counts.clients, counts.sites, counts.open_incidents),
        (2, 3, 3)
    );
}

#[tokio::test]
async fn the_server_function_answers_over_http() {
    let server = common::start().await;
    insert_fixture(&server.db).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/get_overview_counts"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["clients"], 2);
    assert_eq!(body["sites"], 3);
    assert_eq!(body["open_incidents"], 3);
}

#[tokio::test]
async fn the_overview_page_is_rendered_with_the_counts() {
    let server = common::start().await;
    insert_fixture(&server.db).await;
    let response = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"data-testid="kpi-clients""#), "{html}");
    let sites_card = &html[html.find(r#"data-testid="kpi-sites""#).unwrap()..];
    assert!(sites_card.contains(">3<"), "{sites_card}");
}

#[tokio::test]
async fn unknown_pages_answer_404_with_the_not_found_page() {
    let server = common::start().await;
    let response = reqwest::get(server.url("/no/such/page")).await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn the_demo_seed_is_reproducible_and_refuses_a_second_run() {
    let (db, _, _dir) = common::temp_database().await;
    let args = SeedArgs {
        profile: SeedProfile::Demo,
        seed: 7,
        if_empty: false,
    };
    posture_server::seed::run(&db, &args).await.unwrap();
    let first = overview_counts(&db).await.unwrap();
    assert!(first.clients >= 10 && first.sites > first.clients && first.open_incidents > 0);

    assert!(posture_server::seed::run(&db, &args).await.is_err());
    let skip = SeedArgs {
        if_empty: true,
        ..args.clone()
    };
    posture_server::seed::run(&db, &skip).await.unwrap();
    let after = overview_counts(&db).await.unwrap();
    assert_eq!(
        (after.clients, after.sites, after.open_incidents),
        (first.clients, first.sites, first.open_incidents)
    );

    let (other, _, _other_dir) = common::temp_database().await;
    posture_server::seed::run(&other, &args).await.unwrap();
    let again = overview_counts(&other).await.unwrap();
    assert_eq!(
        (again.sites, again.open_incidents),
        (first.sites, first.open_incidents)
    );
}
