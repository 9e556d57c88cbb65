//! Server functions called the wrong way: every registered one is walked, so a new server
//! function is covered without editing this file.

use app::auth::Role;
use axum::http::Method;
use reqwest::StatusCode;

use crate::common::{self, TestServer};

/// Query strings no GET server function can make sense of, or that try its limits.
fn malformed_queries() -> Vec<String> {
    vec![
        "garbage".into(),
        "id=abc&site_id[]=1&filter=1&key=x".into(),
        "filter[sort]=id;drop&filter[client]=abc&key[offset]=-1".into(),
        "id=%FF%FE&site_id=%C0%AF&filter[q]=%ED%A0%80".into(),
        format!("{}=1", "a[b]".repeat(64)),
        format!("id={0}&site_id={0}&filter[q]={0}", "x".repeat(16_000)),
        "filter[status]=closed&filter[sort]=bogus&key[filter][sort]=bogus".into(),
    ]
}

/// Bodies for POST server functions: each is wrong for any argument type.
fn malformed_bodies() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"garbage".to_vec(),
        b"{\"original\":5,\"input\":[],\"site_id\":{},\"id\":\"x\"}".to_vec(),
        b"[]".to_vec(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        format!("{{\"site_id\":\"{}\"}}", "x".repeat(900_000)).into_bytes(),
        b"{\"site_id\":\"\xff\xfe\",\"email\":\"\xc0\xaf\"}".to_vec(),
        b"{\"status\":\"exploded\",\"role\":\"emperor\",\"kind\":\"warp\"}".to_vec(),
        b"email=&password=&=&&%FF=%FE".to_vec(),
    ]
}

/// Every table's row count, to show a refused call wrote nothing.
async fn row_counts(server: &TestServer) -> Vec<(String, i64)> {
    let tables: Vec<String> = common::column(
        &server.db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
        &[],
    )
    .await;
    let mut counts = Vec::new();
    for table in tables {
        let rows = common::count(&server.db, &table).await;
        counts.push((table, rows));
    }
    counts
}

async fn seeded_server() -> TestServer {
    let server = common::start().await;
    common::fixture::client(&server.db, 1, "Northside Health").await;
    common::fixture::site(&server.db, 1, 1, None).await;
    server
}

#[tokio::test]
async fn every_server_function_refuses_malformed_calls_with_4xx_and_writes_nothing() {
    let server = seeded_server().await;
    let mut admin = server.client_as(Role::Admin).await;
    let mut functions: Vec<_> = leptos::server_fn::axum::server_fn_paths().collect();
    functions.sort();
    assert!(functions.len() >= 20, "registered: {functions:?}");
    for (path, method) in &functions {
        let url = server.url(path);
        let before = row_counts(&server).await;
        let mut takes_no_arguments = false;
        if method == Method::GET {
            for query in malformed_queries() {
                let response = admin.get(format!("{url}?{query}")).send().await.unwrap();
                let status = response.status();
                let shown = &query[..query.len().min(80)];
                assert!(
                    status.is_success() || status.is_client_error(),
                    "GET {path}?{shown}: {status} {}",
                    response.text().await.unwrap_or_default()
                );
            }
        } else {
            // A function of no arguments rightly accepts any body; the others must refuse.
            takes_no_arguments = admin.post(&url).send().await.unwrap().status().is_success();
            for body in malformed_bodies() {
                for content_type in ["application/json", "application/x-www-form-urlencoded"] {
                    let response = admin
                        .post(&url)
                        .header("content-type", content_type)
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
                    assert!(
                        status.is_client_error() || (takes_no_arguments && status.is_success()),
                        "POST {path} ({content_type}) {shown}: {status} {}",
                        response.text().await.unwrap_or_default()
                    );
                }
            }
        }
        if !takes_no_arguments {
            assert_eq!(
                row_counts(&server).await,
                before,
                "a refused call to {path} wrote"
            );
        }
        // A sign-out given any body still signs out; the next function needs a session.
        let session = admin
            .get(server.url("/api/list_users"))
            .send()
            .await
            .unwrap();
        if session.status() == StatusCode::UNAUTHORIZED {
            admin = server.client_as(Role::Admin).await;
        }
    }
    let alive = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_bad_argument_is_answered_400_naming_its_field() {
    let server = seeded_server().await;
    let admin = server.client_as(Role::Admin).await;
    let post = |path: &str, body: &'static str| {
        admin
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        (
            post("/api/save_site", "garbage").await.unwrap(),
            "expected value",
        ),
        (
            post("/api/save_site", r#"{"original":null}"#)
                .await
                .unwrap(),
            "missing field `input`",
        ),
        (
            post("/api/decommission_site", r#"{"site_id":5}"#)
                .await
                .unwrap(),
            "site_id: invalid type: integer `5`, expected a string",
        ),
        (
            admin
                .get(server.url("/api/count_incidents?filter[sort]=id;drop"))
                .send()
                .await
                .unwrap(),
            "filter.sort: unknown variant `id;drop`",
        ),
        (
            admin
                .get(server.url("/api/get_client?id=abc"))
                .send()
                .await
                .unwrap(),
            "id: invalid digit",
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let error: serde_json::Value = response.json().await.unwrap();
        let message = error["Invalid"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{error}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_413_before_it_is_read() {
    let server = seeded_server().await;
    let admin = server.client_as(Role::Admin).await;
    let declared = admin
        .post(server.url("/api/save_site"))
        .header("content-type", "application/json")
        .body(vec![b' '; 30 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: serde_json::Value = declared.json().await.unwrap();
    assert!(
        error["Invalid"].as_str().unwrap().contains("1024 KiB"),
        "{error}"
    );

    // Sent in chunks with no length given: refused once the limit is passed.
    let chunks =
        futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let streamed = admin
        .post(server.url("/api/save_site"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
