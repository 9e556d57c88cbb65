//! The incident list's server side over real HTTP: filters, actions and their role checks,
//! the detail panel, the streamed CSV export.

use crate::common;

use app::auth::Role;
use app::db::incidents::{MAX_FILTERS, filter_sql, order_by};
use app::db::sql::Bind;
use app::on_db;
use app::types::{IncidentFilter, IncidentSort};
use common::TestServer;
use posture_server::seed::{Volumes, generate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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
    common::column(
        &server.db,
        "SELECT id FROM incidents WHERE status = 'open' ORDER BY reported_at DESC, id DESC LIMIT $1",
        &[Bind::Int(n)],
    )
    .await
}

async fn statuses(server: &TestServer, ids: &[i64]) -> Vec<String> {
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!("SELECT status FROM incidents WHERE id IN ({list}) ORDER BY id");
    common::column(&server.db, &sql, &[]).await
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
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        csv.headers().unwrap().iter().take(5).collect::<Vec<_>>(),
        ["id", "reported_at", "site_id", "clinic", "hostname"]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len() as i64, expected);
    assert!(rows.iter().all(|r| &r[7] == "high" && &r[8] == "open"));
    let slugs: Vec<String> =
        common::column(&server.db, "SELECT site_id FROM sites ORDER BY id", &[]).await;
    let names: Vec<String> =
        common::column(&server.db, "SELECT clinic_name FROM sites ORDER BY id", &[]).await;
    let clinics: std::collections::HashMap<String, String> = slugs.into_iter().zip(names).collect();
    assert!(
        rows.iter().all(|r| clinics[&r[2]] == r[3]),
        "each row names its site's clinic"
    );
    let mut runs: Vec<&str> = rows.iter().map(|r| &r[2]).collect();
    runs.dedup();
    let distinct: std::collections::HashSet<&str> = runs.iter().copied().collect();
    assert_eq!(
        runs.len(),
        distinct.len(),
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

/// A filter as a reader could write it by hand: real and made-up sites, searches in any case
/// and with spaces, days in and out of the data's range, every sort.
fn random_filter(rng: &mut StdRng, sites: &[String], i: usize) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut set = |name: &str, value: String| pairs.push((format!("key[filter][{name}]"), value));
    match rng.random_range(0..4) {
        0 => set("site", format!("nowhere-{i}")),
        1 => set("site", sites[rng.random_range(0..sites.len())].clone()),
        _ => {}
    }
    match rng.random_range(0..4) {
        0 => set(
            "q",
            format!(" {} ", ["fd", "FD", "Fd-0", "-"][rng.random_range(0..4)]),
        ),
        1 => set("q", format!("zz-{i}")),
        2 => set("q", " ".into()),
        _ => {}
    }
    let day = |rng: &mut StdRng| {
        (chrono::Utc::now() - chrono::Duration::days(rng.random_range(-2..40)))
            .format("%Y-%m-%d")
            .to_string()
    };
    if rng.random_bool(0.5) {
        set("from", day(rng));
    }
    if rng.random_bool(0.3) {
        set("to", day(rng));
    }
    if rng.random_bool(0.2) {
        set(
            "severity",
            ["low", "medium", "high", "critical"][rng.random_range(0..4)].into(),
        );
    }
    set(
        "sort",
        ["reported", "severity", "site"][rng.random_range(0..3)].into(),
    );
    pairs
}

/// The rows a plain OFFSET query gives for the filter the window request names.
async fn offset_window(server: &TestServer, pairs: &[(String, String)], window: i64) -> Vec<i64> {
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == format!("key[filter][{name}]"))
            .map(|(_, value)| value.clone())
    };
    let filter = IncidentFilter {
        site: value("site"),
        q: value("q"),
        from: value("from"),
        to: value("to"),
        severity: value("severity"),
        sort: value("sort")
            .and_then(|s| IncidentSort::parse(&s))
            .unwrap_or_default(),
        ..IncidentFilter::default()
    }
    .normalized();
    let conditions = filter_sql(&filter, 1);
    let sql = format!(
        "SELECT id FROM incidents {} {} LIMIT 100 OFFSET {}",
        conditions.where_clause(),
        order_by(filter.sort),
        window * 100
    );
    common::column(&server.db, &sql, conditions.binds()).await
}

#[tokio::test]
async fn random_filters_deep_in_the_list_keep_the_anchor_cache_at_its_bound() {
    let server = seeded().await;
    let reader = server.client_as(Role::Readonly).await;
    let sites: Vec<String> =
        common::column(&server.db, "SELECT site_id FROM sites ORDER BY id", &[]).await;
    let mut rng = StdRng::seed_from_u64(21);
    let mut deep_rows = 0;
    for i in 0..2 * MAX_FILTERS {
        let mut pairs = random_filter(&mut rng, &sites, i);
        let window = rng.random_range(10..30);
        pairs.push(("key[window]".into(), window.to_string()));
        let response = reader
            .get(server.url("/api/list_incident_window"))
            .query(&pairs)
            .send()
            .await
            .unwrap();
        let unknown_site = pairs.iter().any(|(_, value)| value.starts_with("nowhere-"));
        if unknown_site {
            assert_eq!(
                response.status(),
                404,
                "a site that does not exist: {pairs:?}"
            );
            continue;
        }
        assert_eq!(response.status(), 200, "{pairs:?}");
        let rows: Vec<Value> = response.json().await.unwrap();
        let got: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(
            got,
            offset_window(&server, &pairs, window).await,
            "{pairs:?}"
        );
        deep_rows += got.len();
        assert!(server.windows.len() <= MAX_FILTERS, "after {pairs:?}");
    }
    assert_eq!(server.windows.len(), MAX_FILTERS);
    assert!(
        deep_rows > 2_000,
        "the loop read real rows, not only empty windows: {deep_rows}"
    );
}

#[tokio::test]
async fn an_action_racing_a_resolve_changes_nothing_the_resolve_settled() {
    for db in common::databases().await {
        let readiness =
            posture_server::health::Readiness::new(Vec::new(), std::time::Duration::from_secs(1));
        let server =
            common::start_with(db.db.clone(), readiness, tempfile::tempdir().unwrap()).await;
        common::fixture::client(&server.db, 1, "Acme").await;
        common::fixture::site(&server.db, 1, 1, None).await;
        let now = chrono::Utc::now();
        for minutes in 0..3 {
            common::fixture::incident(
                &server.db,
                1,
                "high",
                "open",
                now - chrono::Duration::minutes(minutes),
            )
            .await;
        }
        let ids: Vec<i64> =
            common::column(&server.db, "SELECT id FROM incidents ORDER BY id", &[]).await;
        // Ingestion resolves the first while the operator's action runs: its transaction
        // holds the row when the action starts and commits while the action waits for it.
        let operator = server.client_as(Role::Operator).await;
        let act = {
            let (operator, url, ids) = (
                operator.clone(),
                server.url("/api/act_on_incidents"),
                ids.clone(),
            );
            move || async move {
                operator
                    .post(url)
                    .json(&json!({"ids": ids, "action": "escalate"}))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let response = on_db!(&server.db, |pool| {
            let mut resolve = pool.begin().await.unwrap();
            sqlx::query(
                "UPDATE incidents SET status = 'resolved', resolved_at = $1, resolution_tier = 'L1' WHERE id = $2",
            )
            .bind(now)
            .bind(ids[0])
            .execute(&mut *resolve)
            .await
            .unwrap();
            let action = tokio::spawn(act());
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            resolve.commit().await.unwrap();
            action.await.unwrap()
        });
        assert_eq!(response.status(), 200, "{}", db.name);
        let result: Value = response.json().await.unwrap();
        assert_eq!(result["changed"], json!([ids[1], ids[2]]), "{}", db.name);
        assert_eq!(result["skipped"], 1, "{}", db.name);
        assert_eq!(
            statuses(&server, &ids).await,
            ["resolved", "escalated", "escalated"],
            "{}",
            db.name
        );
        let history: i64 = on_db!(&server.db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_history WHERE incident_id = $1"
        )
        .bind(ids[0])
        .fetch_one(pool)
        .await
        .unwrap());
        assert_eq!(
            history, 0,
            "{}: no history for the untouched incident",
            db.name
        );
    }
}

/// A report for `site-1`: a passing check from each of `hosts`, a drift event in `state` from
/// each of `drifting`.
fn drift_report(hosts: &[String], drifting: &[String], state: &str) -> Value {
    let at = chrono::Utc::now();
    let checks: Vec<Value> = hosts
        .iter()
        .map(|h| json!({"check_type": "backup_job", "hostname": h, "status": "pass", "checked_at": at}))
        .collect();
    let drift: Vec<Value> = drifting
        .iter()
        .map(|h| {
            json!({"check_type": "bitlocker_status", "hostname": h, "severity": "high",
                   "state": state, "detected_at": at, "details": {"expected": "on"}})
        })
        .collect();
    json!({"site_id": "site-1", "checks": checks, "drift": drift})
}

#[tokio::test]
async fn actions_under_ingest_load_never_fail_and_never_escalate_a_resolved_incident() {
    for db in common::databases().await {
        let readiness =
            posture_server::health::Readiness::new(Vec::new(), std::time::Duration::from_secs(1));
        let server =
            common::start_with(db.db.clone(), readiness, tempfile::tempdir().unwrap()).await;
        common::fixture::client(&server.db, 1, "Acme").await;
        common::fixture::site(&server.db, 1, 1, None).await;
        let key = posture_server::provision::provision_appliance(&server.db, "site-1", "app-1")
            .await
            .unwrap()
            .key;
        let appliance = reqwest::Client::new();
        let report = |body: Value| {
            appliance
                .post(server.url("/api/v1/reports"))
                .bearer_auth(&key)
                .json(&body)
                .send()
        };
        let hosts: Vec<String> = (0..120).map(|i| format!("WS-{i:03}")).collect();
        let opened = report(drift_report(&hosts, &hosts, "drifted"))
            .await
            .unwrap();
        assert_eq!(opened.status(), 200, "{}", db.name);
        let ids: Vec<i64> = common::column(
            &server.db,
            "SELECT id FROM incidents ORDER BY hostname",
            &[],
        )
        .await;
        assert_eq!(ids.len(), hosts.len());

        // Ingestion resolves the incidents one by one (with busy reports of 50 checks in
        // between) while an operator escalates them in the same order, two at a time.
        let operator = server.client_as(Role::Operator).await;
        let resolving = async {
            for (i, host) in hosts.iter().enumerate() {
                let host = std::slice::from_ref(host);
                let resolved = report(drift_report(host, host, "remediated"));
                let busy = report(drift_report(&hosts[..50], &[], "drifted"));
                let (resolved, busy) = futures::join!(resolved, busy);
                assert_eq!(resolved.unwrap().status(), 200, "{}: resolve {i}", db.name);
                assert_eq!(busy.unwrap().status(), 200, "{}: report {i}", db.name);
            }
        };
        let escalating = async {
            let mut changed = Vec::new();
            for pair in ids.chunks(2) {
                let response = operator
                    .post(server.url("/api/act_on_incidents"))
                    .json(&json!({"ids": pair, "action": "escalate"}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 200, "{}: {pair:?} {body}", db.name);
                changed.extend(
                    body["changed"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_i64()),
                );
            }
            changed
        };
        let ((), changed) = futures::join!(resolving, escalating);

        // Every incident was remediated: one escalated after its resolution would still say
        // "escalated" now.
        assert_eq!(
            statuses(&server, &ids).await,
            vec!["resolved"; ids.len()],
            "{}",
            db.name
        );
        let escalations: i64 = on_db!(&server.db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_history WHERE action = 'escalate'"
        )
        .fetch_one(pool)
        .await
        .unwrap());
        assert_eq!(
            escalations,
            changed.len() as i64,
            "{}: history for exactly what changed",
            db.name
        );
    }
}
