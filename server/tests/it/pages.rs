//! The dashboard's server functions over real HTTP, their ETags, and the pages rendered on
//! the server, on a small generated data set. On two worker threads, as `posture serve`
//! runs: twice (in a full run, never alone) a test server on the test's single thread left a
//! `/sites` render or a `list_sites` call unanswered, and leptos has open reports of SSR
//! hangs on one worker thread (leptos#4647, #4578).

use crate::common;

use app::auth::Role;
use posture_server::seed::{Volumes, generate};
use reqwest::StatusCode;
use serde_json::Value;

fn small() -> Volumes {
    Volumes {
        clients: 6,
        sites: 30,
        incidents: 2_000,
        reports_per_day: 2,
        checks_per_report: 10,
        events_per_site: 2,
    }
}

async fn seeded_server() -> common::TestServer {
    let server = common::start().await;
    generate::generate(&server.db, small(), 5).await.unwrap();
    server
}

async fn get_json(server: &common::TestServer, path: &str) -> (StatusCode, Value) {
    let response = server.get(path).await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_matches_the_database() {
    let server = seeded_server().await;
    let (status, body) = get_json(&server, "/api/get_overview").await;
    assert_eq!(status, 200, "{body}");
    let stats = &body["stats"];
    assert_eq!(stats["clients"], 6);
    let sites = &stats["sites"];
    let site_total: i64 = ["online", "stale", "offline", "pending"]
        .iter()
        .map(|k| sites[k].as_i64().unwrap())
        .sum();
    assert_eq!(site_total, 30);
    assert_eq!(stats["daily_incidents"].as_array().unwrap().len(), 14);
    assert!(!body["top_incident_types"].as_array().unwrap().is_empty());
    for site in body["needing_attention"].as_array().unwrap() {
        assert!(
            ["Warning", "Critical"].contains(&site["level"].as_str().unwrap()),
            "only failing sites need attention; a site being set up does not: {site}"
        );
    }
    let (_, sites) = get_json(&server, "/api/list_sites?filter[q]=").await;
    let pending: Vec<&Value> = sites
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "pending")
        .collect();
    assert!(!pending.is_empty(), "the seed has sites being set up");
    for site in pending {
        assert_eq!(site["level"], "Onboarding", "{site}");
        assert_eq!(site["open_incidents"], 0, "{site}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_poll_is_a_bodiless_304() {
    let server = seeded_server().await;
    let client = server.client_as(Role::Readonly).await;
    let first = client
        .get(server.url("/api/get_overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.headers()["cache-control"], "private, no-cache");
    let etag = first.headers()["etag"].clone();
    let body = first.bytes().await.unwrap();
    assert!(body.len() > 1_000, "the full answer is the payload");

    let again = client
        .get(server.url("/api/get_overview"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag);
    assert!(again.bytes().await.unwrap().is_empty());

    let stale_tag = client
        .get(server.url("/api/get_overview"))
        .header("if-none-match", "W/\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale_tag.status(), 200, "a different tag gets the payload");
}

/// Cached aggregates carry the ETag computed when they were cached: it must still name
/// exactly what the answer holds, per filter and across a change, and never reach a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_change_their_etag_with_the_filter_and_the_data() {
    let server = seeded_server().await;
    let operator = server.client_as(Role::Operator).await;
    let etag_of = |path: &'static str| {
        let request = operator.get(server.url(path));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            response.headers()["etag"].to_str().unwrap().to_string()
        }
    };
    let online = "/api/list_sites?filter[q]=&filter[status]=online";
    let offline = "/api/list_sites?filter[q]=&filter[status]=offline";
    let (overview, sites_online) = (etag_of("/api/get_overview").await, etag_of(online).await);
    assert_ne!(
        sites_online,
        etag_of(offline).await,
        "one value, two filters"
    );
    assert_eq!(
        sites_online,
        etag_of(online).await,
        "the same answer, the same tag"
    );

    let open: Vec<i64> = common::column(
        &server.db,
        "SELECT id FROM incidents WHERE status = 'open' ORDER BY id LIMIT 20",
        &[],
    )
    .await;
    let resolved = operator
        .post(server.url("/api/act_on_incidents"))
        .json(&serde_json::json!({"ids": open, "action": "resolve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), StatusCode::OK);
    assert_ne!(
        overview,
        etag_of("/api/get_overview").await,
        "the counts changed"
    );

    let page = operator.get(server.url("/")).send().await.unwrap();
    assert!(page.headers().get("etag").is_none(), "pages carry no ETag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_filter_search_and_sort() {
    let server = seeded_server().await;
    let (_, all) = get_json(
        &server,
        "/api/list_sites?filter[q]=&filter[status]=&filter[sort]=Name&filter[desc]=false",
    )
    .await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 30);
    let names: Vec<&str> = all
        .iter()
        .map(|s| s["clinic_name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");

    for desc in [false, true] {
        let (_, by_health) = get_json(
            &server,
            &format!("/api/list_sites?filter[q]=&filter[sort]=Health&filter[desc]={desc}"),
        )
        .await;
        let levels: Vec<&str> = by_health
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["level"].as_str().unwrap())
            .collect();
        let scored = levels.iter().filter(|l| **l != "Onboarding").count();
        assert!(scored > 0 && scored < levels.len(), "{levels:?}");
        assert!(
            levels[scored..].iter().all(|l| *l == "Onboarding"),
            "sites still onboarding come after the scored ones (desc: {desc}): {levels:?}"
        );
    }

    let (_, online) = get_json(
        &server,
        "/api/list_sites?filter[q]=&filter[status]=online&filter[sort]=Health&filter[desc]=false",
    )
    .await;
    let online = online.as_array().unwrap();
    assert!(!online.is_empty() && online.len() < 30);
    assert!(online.iter().all(|s| s["status"] == "online"));

    let word = names[0].split_whitespace().next().unwrap().to_lowercase();
    let (_, found) = get_json(&server, &format!("/api/list_sites?filter[q]={word}&filter[status]=&filter[sort]=Health&filter[desc]=false")).await;
    let found = found.as_array().unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|s| {
        format!("{} {} {}", s["clinic_name"], s["site_id"], s["client_name"])
            .to_lowercase()
            .contains(&word)
    }));

    let (status, error) = get_json(
        &server,
        "/api/list_sites?filter[q]=&filter[status]=exploded&filter[sort]=Health&filter[desc]=false",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error.to_string().contains("status must be one of"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_detail_and_unknown_sites() {
    let server = seeded_server().await;
    let (_, sites) = get_json(
        &server,
        "/api/list_sites?filter[q]=&filter[status]=online&filter[sort]=Health&filter[desc]=false",
    )
    .await;
    let site_id = sites[0]["site_id"].as_str().unwrap().to_string();
    let (status, detail) = get_json(&server, &format!("/api/get_site?site_id={site_id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["categories"].as_array().unwrap().len(), 10);
    assert!(detail["trend"].as_array().unwrap().len() <= 31);
    assert!(
        detail["evidence"]["broken_at"].is_null(),
        "generated chains are intact"
    );

    let (status, _) = get_json(&server, "/api/get_site?site_id=no-such-clinic").await;
    assert_eq!(status, 404);
    let page = server.get("/sites/no-such-clinic").await;
    assert_eq!(
        page.status(),
        404,
        "the page of a missing site is a 404 too"
    );
    let page = server.get(&format!("/sites/{site_id}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"data-testid="trend-chart""#) && html.contains("Evidence chain"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_search_needs_every_word() {
    let server = seeded_server().await;
    let search =
        |q: &str| format!("/api/list_runbooks?filter[q]={q}&filter[level]=&filter[category]=");
    let (_, all) = get_json(&server, &search("")).await;
    assert!(all.as_array().unwrap().len() >= 40);
    let (_, found) = get_json(&server, &search("backup+restore")).await;
    let ids: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["RB-BKP-003"]);
    let (_, by_control) = get_json(&server, &search("164.312(a)(2)(iv)")).await;
    assert!(
        by_control
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["category"] == "encryption")
    );
    let (_, level) = get_json(
        &server,
        "/api/list_runbooks?filter[q]=&filter[level]=L3&filter[category]=backup",
    )
    .await;
    assert_eq!(level.as_array().unwrap().len(), 1);
    let (status, _) = get_json(&server, "/api/get_runbook?id=RB-NOPE").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_on_the_server() {
    let server = seeded_server().await;
    for (path, marker) in [
        ("/", r#"data-testid="client-cards""#),
        ("/clients", r#"data-testid="client-cards""#),
        ("/clients/1", r#"data-testid="client-name""#),
        (
            "/sites?status=online&sort=name",
            r#"data-testid="sites-table""#,
        ),
        ("/runbooks?q=bitlocker", "RB-ENC-001"),
        (
            "/runbooks/RB-BKP-003",
            "Run a test restore of patient records",
        ),
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(marker), "{path} lacks {marker}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_answer_404_with_the_not_found_page() {
    let server = common::start().await;
    let response = server.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}
