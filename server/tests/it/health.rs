//! Liveness and readiness over real HTTP, including a dependency that never answers; and the
//! static assets next to them.

use crate::common;

use std::time::{Duration, Instant};

use posture_server::health::{HealthCheck, Readiness};
use serde_json::Value;

#[tokio::test]
async fn liveness_is_tiny_and_always_ok() {
    let server = common::start().await;
    let response = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readiness_reports_every_check_ok_with_latency() {
    let server = common::start().await;
    let response = reqwest::get(server.url("/api/health")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    for check in ["database", "migrations", "disk", "cache"] {
        assert_eq!(body["checks"][check]["status"], "ok", "{check}: {body}");
        assert!(body["checks"][check]["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    assert_eq!(body["checks"]["database"]["detail"], "sqlite");
}

#[tokio::test]
async fn a_hung_dependency_degrades_the_answer_within_the_timeout() {
    let (db, _, dir) = common::temp_database().await;
    let readiness = Readiness::new(
        vec![
            HealthCheck::new("fast", || async { Ok("fine".to_string()) }),
            HealthCheck::new("hung", || async {
                std::future::pending::<()>().await;
                Ok("unreachable".to_string())
            }),
        ],
        Duration::from_millis(300),
    );
    let server = common::start_with(db, readiness, dir).await;

    let started = Instant::now();
    let response = reqwest::get(server.url("/api/health")).await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(response.status(), 503);
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["hung"]["status"], "timeout");
    assert_eq!(body["checks"]["fast"]["status"], "ok");
}

#[tokio::test]
async fn a_closed_database_fails_its_checks() {
    let server = common::start().await;
    server.db.close().await;
    let response = reqwest::get(server.url("/api/health")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["status"], "fail", "{body}");
    assert_eq!(body["checks"]["migrations"]["status"], "fail", "{body}");
    assert_eq!(body["checks"]["disk"]["status"], "ok", "{body}");
    assert_eq!(
        body["checks"]["database"]["detail"],
        "database check unreachable (details in the server log)"
    );
    assert!(
        !body.to_string().contains("pool"),
        "sqlx's text leaked: {body}"
    );
}

#[tokio::test]
async fn a_failing_query_answers_without_the_databases_words() {
    let server = common::start().await;
    let reader = server.client_as(app::auth::Role::Readonly).await;
    app::on_db!(&server.db, |pool| {
        sqlx::query("ALTER TABLE incidents RENAME TO incidents_elsewhere")
            .execute(pool)
            .await
            .unwrap();
    });
    let response = reader
        .get(server.url("/api/count_incidents?filter[sort]=reported"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(body.contains("try again shortly"), "{body}");
    for internal in ["incidents", "table", "SELECT", "sqlite"] {
        assert!(!body.contains(internal), "{internal:?} leaked: {body}");
    }
}

#[tokio::test]
async fn an_unreachable_database_answers_503_and_says_only_to_try_again() {
    let server = common::start().await;
    server.db.close().await;
    let response = reqwest::Client::new()
        .post(server.url("/api/login"))
        .form(&[("email", "a@test.local"), ("password", "x"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "clients may retry");
    let body = response.text().await.unwrap();
    assert!(body.contains("try again shortly"), "{body}");
    for internal in ["pool", "closed", "sqlite"] {
        assert!(!body.contains(internal), "{internal:?} leaked: {body}");
    }
}

#[tokio::test]
async fn too_little_free_disk_is_reported() {
    let (db, args, dir) = common::temp_database().await;
    let readiness = Readiness::standard(
        db.clone(),
        app::cache::AggregateCache::in_process(Duration::from_secs(1)),
        posture_server::database::data_dir(&db, &args),
        u64::MAX,
        Duration::from_millis(800),
    );
    let server = common::start_with(db, readiness, dir).await;
    let body: Value = reqwest::get(server.url("/api/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["checks"]["disk"]["status"], "fail");
    assert!(
        body["checks"]["disk"]["detail"]
            .as_str()
            .unwrap()
            .contains("below"),
        "{body}"
    );
}

#[tokio::test]
async fn a_dead_redis_is_reported_by_kind_without_its_address_and_leaves_the_server_ready() {
    let (db, args, dir) = common::temp_database().await;
    let cache =
        app::cache::AggregateCache::redis("redis://127.0.0.1:1/", Duration::from_secs(1)).unwrap();
    let readiness = Readiness::standard(
        db.clone(),
        cache,
        posture_server::database::data_dir(&db, &args),
        1,
        Duration::from_millis(800),
    );
    let server = common::start_with(db, readiness, dir).await;
    let response = reqwest::get(server.url("/api/health")).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "Redis is a helper, not a requirement"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["checks"]["cache"]["status"], "fail", "{body}");
    assert_eq!(body["checks"]["cache"]["required"], false, "{body}");
    // The connection manager keeps retrying, so the connect may run out of time first.
    let detail = body["checks"]["cache"]["detail"].as_str().unwrap();
    assert!(
        [
            "cache check unreachable (details in the server log); breaker open",
            "cache check timed out (details in the server log); breaker open"
        ]
        .contains(&detail),
        "{body}"
    );
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}

#[tokio::test]
async fn release_assets_are_served_precompressed() {
    let (db, _, dir) = common::temp_database().await;
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(
        site.join("pkg/posture.js"),
        "console.log('plain');".repeat(50),
    )
    .unwrap();
    std::fs::write(site.join("pkg/posture.js.br"), b"pretend-brotli").unwrap();
    let readiness = Readiness::new(vec![], Duration::from_millis(100));
    let server = common::start_with_site(db, readiness, dir, site.to_str().unwrap()).await;
    let client = reqwest::Client::new();

    let br = client
        .get(server.url("/pkg/posture.js"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.bytes().await.unwrap().as_ref(), b"pretend-brotli");

    let plain = client
        .get(server.url("/pkg/posture.js"))
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert!(plain.text().await.unwrap().starts_with("console.log"));
}
