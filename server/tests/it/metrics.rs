//! `/metrics`: Prometheus text, counted by route, and not public.

use app::auth::Role;
use chrono::Utc;
use posture_server::state::StateParts;
use reqwest::StatusCode;

use crate::api::{check, populate, report};
use crate::common::{self, TestServer};

async fn server_with_token(token: Option<&str>) -> (TestServer, String) {
    let (db, _, dir) = common::temp_database().await;
    let (key, _, _) = populate(&db).await;
    let parts = StateParts {
        metrics_token: token.map(str::to_string),
        ..common::test_parts()
    };
    (common::start_with_parts(db, dir, parts).await, key)
}

#[tokio::test]
async fn a_local_scraper_reads_requests_by_route_ingest_cache_and_pool_figures() {
    let (server, key) = server_with_token(None).await;
    let reader = server.client_as(Role::Readonly).await;
    for _ in 0..3 {
        let overview = reader
            .get(server.url("/api/get_overview"))
            .send()
            .await
            .unwrap();
        assert_eq!(overview.status(), StatusCode::OK);
    }
    let sent = reqwest::Client::new()
        .post(server.url("/api/v1/reports"))
        .bearer_auth(&key)
        .json(&report(vec![check("pass", Utc::now())], vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    let _events = reader
        .get(server.url("/api/v1/events"))
        .send()
        .await
        .unwrap();

    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for expected in [
        r#"posture_http_requests_total{route="/api/get_overview",method="GET",status="200"}"#,
        r#"posture_http_request_duration_seconds_bucket{route="/api/get_overview",method="GET",le="0.005"}"#,
        r#"posture_http_requests_total{route="/api/v1/reports",method="POST",status="200"}"#,
        "posture_ingest_batch_reports_bucket",
        "posture_ingest_write_seconds_count",
        r#"posture_cache_misses_total{key="posture:v2:overview"}"#,
        r#"posture_cache_hits_total{key="posture:v2:overview"}"#,
        r#"posture_session_lookups_total{source="database"}"#,
        r#"posture_session_lookups_total{source="memory"}"#,
        r#"posture_db_connections{state="in_use"}"#,
        "posture_ingest_queue_depth",
        "posture_event_streams",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let forwarded = reqwest::Client::new()
        .get(server.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forwarded.status(),
        StatusCode::FORBIDDEN,
        "a proxied scraper needs the token"
    );
}

#[tokio::test]
async fn with_a_token_only_its_bearer_reads_the_metrics() {
    let (server, _) = server_with_token(Some("scrape-secret")).await;
    let client = reqwest::Client::new();
    let get = |token: Option<&'static str>| {
        let request = client.get(server.url("/metrics"));
        match token {
            Some(token) => request.bearer_auth(token).send(),
            None => request.send(),
        }
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(Some("guess")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let allowed = get(Some("scrape-secret")).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(
        allowed
            .text()
            .await
            .unwrap()
            .contains("posture_db_connections")
    );
}
