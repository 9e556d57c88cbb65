//! Accounts over real HTTP: sign-in, lockout, session expiry, role checks on every mutation,
//! cross-site refusal, server-side validation of the site form, the audit log.

mod common;

use app::auth::Role;
use app::db::Db;
use app::db::accounts;
use app::on_db;
use chrono::{Duration, Utc};
use common::{TEST_PASSWORD, TestServer, count, fixture};
use serde_json::{Value, json};

async fn server_with_a_client() -> TestServer {
    let server = common::start().await;
    fixture::client(&server.db, 1, "Harbor Health").await;
    fixture::site(&server.db, 1, 1, None).await;
    server
}

async fn post(
    client: &reqwest::Client,
    server: &TestServer,
    fn_name: &str,
    body: Value,
) -> (u16, Value) {
    let response = client
        .post(server.url(&format!("/api/{fn_name}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn site_input(site_id: &str, name: &str) -> Value {
    json!({
        "clinic_name": name,
        "client_id": 1,
        "new_client": "",
        "site_id": site_id,
        "tier": "mid",
        "contact_name": "Dana Reyes",
        "contact_email": "dana@harbor.example.com",
        "notes": ""
    })
}

#[tokio::test]
async fn pages_and_server_functions_need_a_session() {
    let server = server_with_a_client().await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = anonymous
        .get(server.url("/sites?status=online"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"],
        "/login?next=%2Fsites%3Fstatus%3Donline"
    );
    let api = anonymous
        .get(server.url("/api/list_sites"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    assert!(api.text().await.unwrap().contains("Sign in"));
    let login = anonymous.get(server.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(
        login
            .text()
            .await
            .unwrap()
            .contains(r#"data-testid="login-form""#)
    );
    assert_eq!(
        anonymous
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_five_in_a_row_lock_the_account() {
    let server = server_with_a_client().await;
    common::add_user(&server.db, "ops@test.local", Role::Operator).await;
    let (status, body) = server
        .sign_in("ops@test.local", "wrong-password")
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    assert!(body.contains("Email or password is wrong"), "{body}");
    let (_, unknown) = server
        .sign_in("nobody@test.local", "whatever-1")
        .await
        .unwrap_err();
    assert_eq!(
        unknown, body,
        "an unknown email reads the same as a wrong password"
    );

    for _ in 0..3 {
        server
            .sign_in("ops@test.local", "wrong-password")
            .await
            .unwrap_err();
    }
    let (_, fifth) = server
        .sign_in("ops@test.local", "wrong-password")
        .await
        .unwrap_err();
    assert!(fifth.contains("locked for 15 min"), "{fifth}");
    let (status, locked) = server
        .sign_in("ops@test.local", TEST_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    assert!(
        locked.contains("locked"),
        "the right password does not open a locked account: {locked}"
    );

    let actions: Vec<String> = on_db!(&server.db, |pool| sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE actor = 'ops@test.local' ORDER BY id"
    )
    .fetch_all(pool)
    .await
    .unwrap());
    let mut expected = vec!["auth.login_failed"; 4];
    expected.push("auth.locked");
    assert_eq!(
        actions, expected,
        "failed sign-ins and the lock are audited; attempts while locked are not counted"
    );

    on_db!(&server.db, |pool| sqlx::query(
        "UPDATE users SET locked_until = $1"
    )
    .bind(Utc::now() - Duration::seconds(1))
    .execute(pool)
    .await
    .map(|_| ())
    .unwrap());
    assert!(
        server
            .sign_in("ops@test.local", TEST_PASSWORD)
            .await
            .is_ok(),
        "the lock ends after 15 min"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_behind_tls() {
    let server = server_with_a_client().await;
    common::add_user(&server.db, "admin@test.local", Role::Admin).await;
    let client = reqwest::Client::new();
    for (proto, secure) in [("http", false), ("https", true)] {
        let response = client
            .post(server.url("/api/login"))
            .header("x-forwarded-proto", proto)
            .form(&[
                ("email", "admin@test.local"),
                ("password", TEST_PASSWORD),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.starts_with("posture_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
    }
}

#[tokio::test]
async fn sessions_end_when_idle_when_old_on_logout_and_when_the_user_is_disabled() {
    let server = server_with_a_client().await;
    let ask = |client: reqwest::Client| {
        let url = server.url("/api/list_sites?filter[q]=");
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    let set_all = |sql: &'static str, at: chrono::DateTime<Utc>| {
        let db = server.db.clone();
        async move {
            on_db!(&db, |pool| sqlx::query(sql)
                .bind(at)
                .execute(pool)
                .await
                .map(|_| ())
                .unwrap())
        }
    };

    let idle = server.client_as(Role::Readonly).await;
    assert_eq!(ask(idle.clone()).await, 200);
    set_all(
        "UPDATE sessions SET last_seen_at = $1",
        Utc::now() - Duration::minutes(16),
    )
    .await;
    assert_eq!(
        ask(idle).await,
        401,
        "15 min without a request ends the session"
    );

    let old = server.client_as(Role::Readonly).await;
    set_all(
        "UPDATE sessions SET expires_at = $1",
        Utc::now() - Duration::seconds(1),
    )
    .await;
    assert_eq!(ask(old).await, 401, "no session outlives 24 h");

    let leaving = server.client_as(Role::Readonly).await;
    let (status, _) = post(&leaving, &server, "logout", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        ask(leaving).await,
        401,
        "a signed-out session cannot be reused"
    );

    let admin = server.client_as(Role::Admin).await;
    let victim = server.client_as(Role::Operator).await;
    let victim_id = accounts::find_login(&server.db, "operator@test.local")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let (status, _) = post(
        &admin,
        &server,
        "update_user",
        json!({"id": victim_id, "role": "operator", "disabled": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ask(victim).await,
        401,
        "disabling a user ends their sessions"
    );
    let (status, body) = server
        .sign_in("operator@test.local", TEST_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    assert!(body.contains("disabled"), "{body}");
}

/// Every mutation server function, with a valid body for it.
fn mutations(user_id: i64) -> Vec<(&'static str, Value, Role)> {
    vec![
        (
            "save_site",
            json!({"original": null, "input": site_input("new-clinic", "New Clinic")}),
            Role::Admin,
        ),
        (
            "save_site",
            json!({"original": "site-1", "input": site_input("site-1", "Renamed")}),
            Role::Admin,
        ),
        (
            "decommission_site",
            json!({"site_id": "site-1"}),
            Role::Admin,
        ),
        (
            "add_user",
            json!({"email": "new@test.local", "display_name": "New", "role": "admin", "password": ""}),
            Role::Admin,
        ),
        (
            "update_user",
            json!({"id": user_id, "role": "admin", "disabled": false}),
            Role::Admin,
        ),
    ]
}

async fn snapshot(db: &Db) -> (i64, i64, i64, String) {
    let names: Vec<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
        "SELECT clinic_name || '/' || site_id || '/' || COALESCE(decommissioned_at, '') FROM sites ORDER BY id"
    )
    .fetch_all(pool)
    .await
    .unwrap()
    });
    (
        count(db, "sites").await,
        count(db, "users").await,
        count(db, "audit_log").await,
        names.join(","),
    )
}

#[tokio::test]
async fn every_mutation_refuses_weaker_roles_with_403_and_changes_nothing() {
    let server = server_with_a_client().await;
    let readonly = server.client_as(Role::Readonly).await;
    let operator = server.client_as(Role::Operator).await;
    let readonly_id = accounts::find_login(&server.db, "readonly@test.local")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    for (name, body, needed) in mutations(readonly_id) {
        for (role, client) in [(Role::Readonly, &readonly), (Role::Operator, &operator)] {
            if role >= needed {
                continue;
            }
            let before = snapshot(&server.db).await;
            let (status, answer) = post(client, &server, name, body.clone()).await;
            assert_eq!(status, 403, "{name} as {role:?}: {answer}");
            assert!(answer.to_string().contains("admin role"), "{answer}");
            assert_eq!(
                snapshot(&server.db).await,
                before,
                "{name} as {role:?} changed the database"
            );
        }
    }
    let admin = server.client_as(Role::Admin).await;
    for (name, body, _) in mutations(readonly_id) {
        let (status, answer) = post(&admin, &server, name, body).await;
        assert_eq!(status, 200, "{name} as admin: {answer}");
    }
}

#[tokio::test]
async fn cross_site_posts_are_refused_even_with_a_valid_session() {
    let server = server_with_a_client().await;
    let admin = server.client_as(Role::Admin).await;
    let before = snapshot(&server.db).await;
    let body = json!({"original": null, "input": site_input("evil-clinic", "Evil")});
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = admin
            .post(server.url("/api/save_site"))
            .header(header, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
    }
    assert_eq!(snapshot(&server.db).await, before);
    let same_origin = admin
        .post(server.url("/api/save_site"))
        .header("origin", format!("http://{}", server.addr))
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 200);
}

#[tokio::test]
async fn the_server_rejects_each_invalid_field_and_writes_nothing() {
    let server = server_with_a_client().await;
    let admin = server.client_as(Role::Admin).await;
    let cases = [
        (json!({"clinic_name": ""}), "clinic_name", "required"),
        (
            json!({"clinic_name": "x".repeat(121)}),
            "clinic_name",
            "too long",
        ),
        (
            json!({"contact_email": "dana@"}),
            "contact_email",
            "not a valid email",
        ),
        (
            json!({"site_id": "site-1"}),
            "site_id",
            "already used by Clinic 1",
        ),
        (
            json!({"site_id": "Bad Id!"}),
            "site_id",
            "lowercase letters",
        ),
        (json!({"client_id": 999}), "client", "does not exist"),
        (
            json!({"client_id": null, "new_client": "Harbor Health"}),
            "client",
            "already exists",
        ),
        (json!({"tier": "enormous"}), "tier", "small, mid or large"),
    ];
    for (change, field, message) in cases {
        let before = snapshot(&server.db).await;
        let mut input = site_input("valid-clinic", "Valid Clinic");
        for (key, value) in change.as_object().unwrap() {
            input[key] = value.clone();
        }
        let (status, answer) = post(
            &admin,
            &server,
            "save_site",
            json!({"original": null, "input": input}),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let errors = &answer["Invalid"];
        assert!(
            errors[field].as_str().unwrap_or_default().contains(message),
            "{field}: {answer}"
        );
        assert_eq!(
            snapshot(&server.db).await,
            before,
            "{field} wrote something"
        );
    }
}

#[tokio::test]
async fn markup_in_a_name_is_stored_as_text_and_rendered_inert() {
    let server = server_with_a_client().await;
    let admin = server.client_as(Role::Admin).await;
    let name = r#"</title><script>alert("x")</script><img src=x onerror=alert(1)> Clinic"#;
    let (status, answer) = post(
        &admin,
        &server,
        "save_site",
        json!({"original": null, "input": site_input("markup-clinic", name)}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["Saved"]["site_id"], "markup-clinic", "{answer}");
    let stored: String = on_db!(&server.db, |pool| sqlx::query_scalar(
        "SELECT clinic_name FROM sites WHERE site_id = 'markup-clinic'"
    )
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(stored, name);
    for path in ["/sites", "/sites/markup-clinic"] {
        let html = admin
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("&lt;script&gt;alert"),
            "{path} shows the name as text"
        );
        if let Some(at) = html.find(r#"<script>alert("x")"#) {
            panic!(
                "{path} carries the script: {}",
                &html[at.saturating_sub(100)..at + 200]
            );
        }
        assert!(
            !html.contains("<img src=x"),
            "{path} must not carry the image tag"
        );
    }
}

#[tokio::test]
async fn changes_are_audited_and_exported_as_csv_for_admins_only() {
    let server = server_with_a_client().await;
    let admin = server.client_as(Role::Admin).await;
    let (status, _) = post(
        &admin,
        &server,
        "save_site",
        json!({"original": null, "input": site_input("audited-clinic", "=cmd|' /C calc'!A0")}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, page) = {
        let response = admin
            .get(server.url("/api/list_audit?filter[action]=site."))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["actor"], "admin@test.local");
    assert_eq!(entries[0]["action"], "site.create");
    assert_eq!(entries[0]["target"], "audited-clinic");

    let csv = admin
        .get(server.url("/admin/audit.csv?action=site."))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,at,actor,action,target,details,ip"));
    let row = lines.next().unwrap();
    assert!(
        row.contains("admin@test.local,site.create,audited-clinic"),
        "{row}"
    );
    assert_eq!(lines.next(), None, "only the filtered entries");

    let bad = admin
        .get(server.url("/admin/audit.csv?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("from must be a date"));
    let reader = server.client_as(Role::Readonly).await;
    assert_eq!(
        reader
            .get(server.url("/admin/audit.csv"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let (status, _) = {
        let response = reader
            .get(server.url("/api/list_audit?filter[actor]="))
            .send()
            .await
            .unwrap();
        (response.status(), ())
    };
    assert_eq!(status, 403);
}

#[tokio::test]
async fn admins_cannot_remove_the_last_admin() {
    let server = server_with_a_client().await;
    let admin = server.client_as(Role::Admin).await;
    let id = accounts::find_login(&server.db, "admin@test.local")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let (status, answer) = post(
        &admin,
        &server,
        "update_user",
        json!({"id": id, "role": "readonly", "disabled": false}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer.to_string().contains("your own admin access"),
        "{answer}"
    );
}

#[tokio::test]
async fn session_rules_hold_on_both_databases() {
    for test_db in common::databases().await {
        let db = &test_db.db;
        let id = common::add_user(db, "a@test.local", Role::Operator).await;
        let now = Utc::now();
        let token = accounts::start_session(db, id, now).await.unwrap();
        let user = accounts::resolve_session(db, &token, now + Duration::minutes(14))
            .await
            .unwrap();
        assert_eq!(
            user.map(|u| u.role),
            Some(Role::Operator),
            "{}",
            test_db.name
        );
        // The request at 14 min kept it alive; 16 min after that it has idled out.
        let later = now + Duration::minutes(14) + Duration::minutes(14);
        assert!(
            accounts::resolve_session(db, &token, later)
                .await
                .unwrap()
                .is_some(),
            "{}",
            test_db.name
        );
        assert!(
            accounts::resolve_session(db, &token, later + Duration::minutes(16))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            accounts::resolve_session(db, "forged", now)
                .await
                .unwrap()
                .is_none()
        );
        for attempt in 1..=5 {
            let locked = accounts::record_failed_login(db, id, now).await.unwrap();
            assert_eq!(
                locked.is_some(),
                attempt == 5,
                "{}: attempt {attempt}",
                test_db.name
            );
        }
        let record = accounts::find_login(db, "A@TEST.local")
            .await
            .unwrap()
            .unwrap();
        assert!(
            record.locked_until.unwrap() > now + Duration::minutes(14),
            "{}",
            test_db.name
        );
    }
}
