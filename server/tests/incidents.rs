//! The incident list's server side over real HTTP: filters, actions and their role checks,
//! the detail panel, the streamed CSV export.

mod common;

use app::auth::Role;
use app::on_db;
use common::TestServer;
use posture_server::seed::{Volumes, generate};
use serde_json::{Value, json};

async fn seeded() -> TestServer {
    let server = common::start().await;
    let volumes = Volumes {
        clients: 3,
        sites: 8,
        incidents: 3_000,
        reports_per_day: 1,
        checks_per_report: 5,
        events_per_site: 1,
    };
    generate::generate(&server.db, volumes, 11).await.unwrap();
    server
}

async fn get_json(client: &reqwest::Client, server: &TestServer, path: &str) -> (u16, Value) {
    let response = client.get(server.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn count(client: &reqwest::Client, server: &TestServer, query: &str) -> i64 {
    let (status, body) = get_json(client, server, &format!("/api/count_incidents?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body.as_i64().unwrap()
}

async fn open_ids(server: &TestServer, n: i64) -> Vec<i64> {
    on_db!(&server.db, |pool| sqlx::query_scalar(
        "SELECT id FROM incidents WHERE status = 'open' ORDER BY reported_at DESC, id DESC LIMIT $1"
    )
    .bind(n)
    .fetch_all(pool)
    .await
    .unwrap())
}

async fn statuses(server: &TestServer, ids: &[i64]) -> Vec<String> {
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!("SELECT status FROM incidents WHERE id IN ({list}) ORDER BY id");
    on_db!(&server.db, |pool| sqlx::query_scalar(&sql)
        .fetch_all(pool)
        .await
        .unwrap())
}

#[tokio::test]
async fn filters_narrow_the_count_and_bad_values_are_named() {
    let server = seeded().await;
    let reader = server.client_as(Role::Readonly).await;
    let all = count(&reader, &server, "filter[q]=").await;
    let open = count(&reader, &server, "filter[status]=open").await;
    let open_high = count(
        &reader,
        &server,
        "filter[status]=open&filter[severity]=high",
    )
    .await;
    assert!(
        all > open && open > open_high && open_high > 0,
        "{all} {open} {open_high}"
    );
    let by_host = count(&reader, &server, "filter[q]=FD").await;
    assert!(
        by_host > 0 && by_host < all,
        "hostname search narrows: {by_host}"
    );
    let sorted = count(
        &reader,
        &server,
        "filter[status]=open&filter[sort]=severity",
    )
    .await;
    assert_eq!(sorted, open, "a sort does not change the count");

    for (query, field) in [
        ("filter[status]=closed", "status must be one of"),
        ("filter[from]=yesterday", "from must be a date"),
        ("filter[category]=weather", "category must be one of"),
    ] {
        let response = reader
            .get(server.url(&format!("/api/count_incidents?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.text().await.unwrap().contains(field), "{query}");
    }
}

#[tokio::test]
async fn operators_resolve_and_readers_are_refused() {
    let server = seeded().await;
    let ids = open_ids(&server, 3).await;
    let reader = server.client_as(Role::Readonly).await;
    let refused = reader
        .post(server.url("/api/act_on_incidents"))
        .json(&json!({"ids": ids, "action": "resolve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        statuses(&server, &ids).await,
        ["open"; 3],
        "nothing changed"
    );

    let operator = server.client_as(Role::Operator).await;
    let open_before = count(&operator, &server, "filter[status]=open").await;
    let response = operator
        .post(server.url("/api/act_on_incidents"))
        .json(&json!({"ids": ids, "action": "resolve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["changed"].as_array().unwrap().len(), 3, "{result}");
    assert_eq!(statuses(&server, &ids).await, ["resolved"; 3]);
    assert_eq!(
        count(&operator, &server, "filter[status]=open").await,
        open_before - 3,
        "the open count follows at once"
    );

    // Escalating a resolved incident does nothing to it; unknown ids change nothing at all.
    let again = operator
        .post(server.url("/api/act_on_incidents"))
        .json(&json!({"ids": [ids[0]], "action": "escalate"}))
        .send()
        .await
        .unwrap();
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["skipped"], 1, "{again}");
    let unknown = operator
        .post(server.url("/api/act_on_incidents"))
        .json(&json!({"ids": [ids[1], 99_999_999], "action": "suppress"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("99999999"));
    let empty = operator
        .post(server.url("/api/act_on_incidents"))
        .json(&json!({"ids": [], "action": "resolve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);

    let (status, detail) = get_json(
        &operator,
        &server,
        &format!("/api/get_incident?id={}", ids[0]),
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["expected"], "pass");
    assert!(
        ["fail", "warn"].contains(&detail["actual"].as_str().unwrap()),
        "{detail}"
    );
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{detail}");
    assert_eq!(history[0]["action"], "resolve");
    assert_eq!(history[0]["actor"], "operator@test.local");
    let audited: i64 = on_db!(&server.db, |pool| {
        sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'incident.resolve' AND actor = 'operator@test.local'"
    )
    .fetch_one(pool)
    .await
    .unwrap()
    });
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_csv_export_streams_exactly_the_filtered_rows() {
    let server = seeded().await;
    let reader = server.client_as(Role::Readonly).await;
    let expected = count(
        &reader,
        &server,
        "filter[status]=open&filter[severity]=high",
    )
    .await;
    let response = reader
        .get(server.url("/incidents.csv?status=open&severity=high&sort=site"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("posture-incidents-")
    );
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,reported_at,site_id,hostname")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as i64, expected);
    assert!(rows.iter().all(|r| r[6] == "high" && r[7] == "open"));
    let sites: Vec<i64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
    assert!(
        sites.windows(2).all(|w| w[0] >= w[1]),
        "grouped by site, as the list sorts"
    );

    let everything = reader
        .get(server.url("/incidents.csv"))
        .send()
        .await
        .unwrap();
    let lines = everything.text().await.unwrap().lines().count();
    assert_eq!(lines, 3_001, "more rows than one chunk: all of them, once");

    let bad = reader
        .get(server.url("/incidents.csv?from=soon"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let refused = anonymous
        .get(server.url("/incidents.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        303,
        "signed-out users are sent to the login page"
    );
}

#[tokio::test]
async fn operators_queue_orders_for_their_sites_appliances() {
    let server = seeded().await;
    let (site, hostname): (String, String) = on_db!(&server.db, |pool| {
        sqlx::query_as(
        "SELECT s.site_id, a.hostname FROM appliances a JOIN sites s ON s.id = a.site_id ORDER BY a.id LIMIT 1"
    )
    .fetch_one(pool)
    .await
    .unwrap()
    });
    let runbook: String = on_db!(&server.db, |pool| sqlx::query_scalar(
        "SELECT id FROM runbooks ORDER BY id LIMIT 1"
    )
    .fetch_one(pool)
    .await
    .unwrap());
    let pending = || async {
        let n: i64 = on_db!(&server.db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE status = 'pending'"
        )
        .fetch_one(pool)
        .await
        .unwrap());
        n
    };
    let before = pending().await;
    let order = |order_type: &str, runbook: Option<&str>, host: &str| json!({"site_id": site, "hostname": host, "order_type": order_type, "runbook": runbook});

    let reader = server.client_as(Role::Readonly).await;
    let refused = reader
        .post(server.url("/api/create_order"))
        .json(&order("rescan", None, &hostname))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let operator = server.client_as(Role::Operator).await;
    for (body, field) in [
        (
            order("reboot_everything", None, &hostname),
            "order_type must be one of",
        ),
        (
            order("run_runbook", None, &hostname),
            "runbook: name the runbook",
        ),
        (
            order("run_runbook", Some("RB-NOPE"), &hostname),
            "runbook: no runbook",
        ),
        (order("rescan", None, "not-this-host"), "hostname: site"),
    ] {
        let response = operator
            .post(server.url("/api/create_order"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(response.text().await.unwrap().contains(field), "{field}");
    }
    assert_eq!(
        pending().await,
        before,
        "nothing queued by refused requests"
    );

    let queued = operator
        .post(server.url("/api/create_order"))
        .json(&order("run_runbook", Some(&runbook), &hostname))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 200);
    assert_eq!(pending().await, before + 1);
    let (_, detail) = get_json(&operator, &server, &format!("/api/get_site?site_id={site}")).await;
    assert!(
        detail["pending_orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_type"] == "run_runbook"),
        "the site shows the queued order"
    );
}
