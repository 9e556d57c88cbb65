//! The clinic portal: clinic staff join by a one-time invitation link (72 hours), and their
//! account reads only their client, without runbooks, appliance details or internal notes.

use app::auth::Role;
use app::db::sql::Bind;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{self, TestServer};
use crate::scopes::populate;

const CLINIC_EMAIL: &str = "frontdesk@clinic.test";
const CLINIC_PASSWORD: &str = "clinic-password-1";

/// What an admin's invitation of `email` for client `client_id` answered.
async fn invite(
    server: &TestServer,
    admin: &reqwest::Client,
    client_id: i64,
    email: &str,
) -> Value {
    admin
        .post(server.url("/api/invite_clinic_staff"))
        .json(&json!({"client_id": client_id, "email": email}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The link (path) of an invitation of [`CLINIC_EMAIL`] for client 3.
async fn invite_clinic(server: &TestServer, admin: &reqwest::Client) -> String {
    let made = invite(server, admin, 3, CLINIC_EMAIL).await;
    made["Made"]["link"].as_str().unwrap().to_string()
}

/// A server with the scope tests' 50 clients and [`CLINIC_EMAIL`]'s clinic account of client
/// 3, and an admin's client.
async fn with_clinic_account() -> (TestServer, reqwest::Client) {
    let server = common::start().await;
    populate(&server.db).await;
    let admin = server.client_as(Role::Admin).await;
    let link = invite_clinic(&server, &admin).await;
    let token = link.trim_start_matches("/invite/");
    let (status, _) = accept(&server, token, CLINIC_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    (server, admin)
}

async fn accept(server: &TestServer, token: &str, password: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/api/accept_invite"))
        .form(&[
            ("token", token),
            ("display_name", "Front desk"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_invitation_makes_one_clinic_account_once_and_only_within_72_hours() {
    for (name, server) in common::servers_on_both().await {
        populate(&server.db).await;
        let admin = server.client_as(Role::Admin).await;
        let link = invite_clinic(&server, &admin).await;
        let token = link.strip_prefix("/invite/").unwrap();

        let page = reqwest::Client::new()
            .get(server.url(&link))
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.status(),
            StatusCode::OK,
            "{name}: the link opens signed out"
        );
        assert!(page.text().await.unwrap().contains("Client Q03Z"));

        let (status, body) = accept(&server, token, "short").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["Invalid"]["password"].is_string(), "{name}: {body}");
        assert_eq!(
            common::column::<i64>(
                &server.db,
                "SELECT COUNT(*) FROM users WHERE clinic_of IS NOT NULL",
                &[]
            )
            .await,
            [0]
        );

        let (status, body) = accept(&server, token, CLINIC_PASSWORD).await;
        assert_eq!(
            (status, &body["Ready"]["email"]),
            (StatusCode::OK, &json!(CLINIC_EMAIL)),
            "{name}"
        );
        let (status, body) = accept(&server, token, CLINIC_PASSWORD).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{name}: a link works once: {body}"
        );
        assert!(body.to_string().contains("used already"), "{body}");
        let stored: Vec<(String, Option<i64>, Option<String>)> =
            app::on_db!(&server.db, |pool| sqlx::query_as(
                "SELECT role, clinic_of, client_scope FROM users WHERE email = $1"
            )
            .bind(CLINIC_EMAIL)
            .fetch_all(pool)
            .await
            .unwrap());
        assert_eq!(
            stored,
            [("readonly".to_string(), Some(3), Some("3".to_string()))],
            "{name}"
        );

        // A second invitation, expired.
        let late = invite(&server, &admin, 7, "late@clinic.test").await;
        let late = late["Made"]["link"].as_str().unwrap();
        let late = late.trim_start_matches("/invite/");
        common::execute(
            &server.db,
            "UPDATE invites SET expires_at = $1 WHERE user_id IS NULL",
            &[Bind::Time(
                chrono::Utc::now() - chrono::Duration::minutes(1),
            )],
        )
        .await;
        let (status, _) = accept(&server, late, CLINIC_PASSWORD).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: expired");
        let (status, _) = accept(&server, "0f3a", CLINIC_PASSWORD).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: never issued");

        let taken = invite(&server, &admin, 999, CLINIC_EMAIL).await;
        assert!(
            taken["Invalid"]["email"]
                .as_str()
                .unwrap()
                .contains("already has an account")
        );
        assert!(taken["Invalid"]["client"].is_string(), "{taken}");
        let audited = common::column::<String>(
            &server.db,
            "SELECT action FROM audit_log WHERE action LIKE 'invite.%' ORDER BY id",
            &[],
        )
        .await;
        assert_eq!(
            audited,
            ["invite.create", "invite.accept", "invite.create"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_clinic_account_reads_its_client_without_internals_and_changes_nothing() {
    let (server, _) = with_clinic_account().await;
    let clinic = server.sign_in(CLINIC_EMAIL, CLINIC_PASSWORD).await.unwrap();
    let get = |path: &str| clinic.get(server.url(path)).send();

    let clients: Value = get("/api/list_clients")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clients.as_array().unwrap().len(), 1);
    assert_eq!(clients[0]["name"], "Client Q03Z");

    let site: Value = get("/api/get_site?site_id=s03z")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(site["appliances"], json!([]), "no appliance details");
    assert_eq!(site["site"]["site_id"], "s03z");
    assert!(!site["recent_incidents"].as_array().unwrap().is_empty());

    let incident = common::column::<i64>(
        &server.db,
        "SELECT id FROM incidents WHERE site_id = 3 ORDER BY id LIMIT 1",
        &[],
    )
    .await[0];
    let operator = server.client_as(Role::Operator).await;
    let escalated = operator
        .post(server.url("/api/act_on_incidents"))
        .json(&json!({"ids": [incident], "action": "escalate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(escalated.status(), StatusCode::OK);
    let staff_view: Value = operator
        .get(server.url(&format!("/api/get_incident?id={incident}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(staff_view["history"].as_array().unwrap().len(), 1);
    let clinic_view: Value = get(&format!("/api/get_incident?id={incident}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        clinic_view["history"],
        json!([]),
        "no internal notes: {clinic_view}"
    );
    assert_eq!(clinic_view["row"]["status"], "escalated");

    for (path, body) in [
        (
            "/api/act_on_incidents",
            json!({"ids": [incident], "action": "resolve"}),
        ),
        (
            "/api/create_order",
            json!({"site_id": "s03z", "hostname": "host-s03z", "order_type": "rescan"}),
        ),
    ] {
        let refused = clinic
            .post(server.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for path in [
        "/api/list_runbooks?filter[q]=",
        "/api/list_users",
        "/api/get_site_form?site_id=s03z",
    ] {
        assert_eq!(
            get(path).await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let month = app::report::ReportMonth::of(chrono::Utc::now()).previous();
    let report = get(&format!("/reports/clients/3/{month}")).await.unwrap();
    assert_eq!(report.status(), StatusCode::OK, "their monthly report");
    let pack = get(&format!("/reports/clients/3/{month}/evidence.zip"))
        .await
        .unwrap();
    assert_eq!(pack.status(), StatusCode::OK, "and its evidence pack");
    let other = get(&format!("/reports/clients/7/{month}")).await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let statuses = common::column::<String>(
        &server.db,
        "SELECT status FROM incidents WHERE id = $1",
        &[Bind::Int(incident)],
    )
    .await;
    assert_eq!(statuses, ["escalated"], "the clinic changed nothing");
}

#[tokio::test]
async fn clinic_accounts_are_not_made_or_widened_like_staff_accounts() {
    let (server, admin) = with_clinic_account().await;
    let clinic_id = common::column::<i64>(
        &server.db,
        "SELECT id FROM users WHERE clinic_of IS NOT NULL",
        &[],
    )
    .await[0];
    let post = |path: &str, body: Value| admin.post(server.url(path)).json(&body).send();
    let widened = post(
        "/api/set_user_clients",
        json!({"id": clinic_id, "clients": null}),
    )
    .await
    .unwrap();
    assert_eq!(widened.status(), StatusCode::BAD_REQUEST);
    let promoted = post(
        "/api/update_user",
        json!({"id": clinic_id, "role": "operator", "disabled": false}),
    )
    .await
    .unwrap();
    assert_eq!(promoted.status(), StatusCode::BAD_REQUEST);
    let reader = common::add_user(&server.db, "reader@test.local", Role::Readonly).await;
    let demoted = post(
        "/api/update_user",
        json!({"id": reader, "role": "clinic", "disabled": false}),
    )
    .await
    .unwrap();
    assert_eq!(demoted.status(), StatusCode::BAD_REQUEST);
    let added: Value = post(
        "/api/add_user",
        json!({"email": "c@test.local", "display_name": "C", "role": "clinic", "password": ""}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(added["Invalid"]["role"].is_string(), "{added}");
    let disabled = post(
        "/api/update_user",
        json!({"id": clinic_id, "role": "clinic", "disabled": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        disabled.status(),
        StatusCode::OK,
        "a clinic account can be disabled"
    );
    let scopes: Vec<Option<String>> = common::column(
        &server.db,
        "SELECT client_scope FROM users WHERE id = $1",
        &[Bind::Int(clinic_id)],
    )
    .await;
    assert_eq!(scopes, [Some("3".to_string())]);
}
