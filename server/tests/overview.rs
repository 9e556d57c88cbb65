//! The overview counts: the query, the server function over HTTP, and the SSR page.

mod common;

use app::db::overview_counts;
use common::fixture;
use serde_json::Value;

async fn insert_fixture(db: &app::db::Db) {
    let at = chrono::Utc::now();
    fixture::client(db, 1, "Acme Health").await;
    fixture::client(db, 2, "Birch Medical").await;
    for (site, client) in [(1, 1), (2, 1), (3, 2)] {
        fixture::site(db, site, client, Some(at)).await;
    }
    fixture::incident(db, 1, "high", "open", at).await;
    fixture::incident(db, 1, "low", "resolved", at).await;
    fixture::incident(db, 2, "critical", "escalated", at).await;
    fixture::incident(db, 3, "medium", "resolving", at).await;
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
