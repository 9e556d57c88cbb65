//! Accounts over real HTTP: sign-in, lockout, session expiry, role checks on every mutation,
//! cross-site refusal, server-side validation of the site form, the audit log.

use crate::common;

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

/// Runs `sql`, an UPDATE whose one parameter is a time, with `at`: expiring a lock or a
/// session without waiting for it.
async fn set_time(server: &TestServer, sql: &str, at: chrono::DateTime<Utc>) {
    on_db!(&server.db, |pool| {
        sqlx::query(sql).bind(at).execute(pool).await.unwrap();
    });
}

/// Disables the operator `email` through the admin's `update_user` server function.
async fn disable_operator(admin: &reqwest::Client, server: &TestServer, email: &str) {
    let id = accounts::find_login(&server.db, email)
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let (status, body) = post(
        admin,
        server,
        "update_user",
        json!({"id": id, "role": "operator", "disabled": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
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

/// The actions audited for `actor`, oldest first.
async fn audited(db: &Db, actor: &str) -> Vec<String> {
    on_db!(db, |pool| sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE actor = $1 ORDER BY id"
    )
    .bind(actor)
    .fetch_all(pool)
    .await
    .unwrap())
}

/// The body every refused sign-in gets.
fn refused_body() -> String {
    serde_json::to_string(&app::error::AppError::Unauthorized(
        app::pages::login::SIGN_IN_REFUSED.into(),
    ))
    .unwrap()
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_five_in_a_row_lock_the_account() {
    let server = server_with_a_client().await;
    common::add_user(&server.db, "ops@test.local", Role::Operator).await;
    for _ in 0..5 {
        let (status, body) = server
            .sign_in("ops@test.local", "wrong-password")
            .await
            .unwrap_err();
        assert_eq!((status, body), (401, refused_body()));
    }
    let (status, locked) = server
        .sign_in("ops@test.local", TEST_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        (status, locked),
        (401, refused_body()),
        "the right password does not open a locked account, and the answer says nothing more"
    );
    let mut expected = vec!["auth.login_failed"; 5];
    expected.extend(["auth.locked", "auth.login_refused"]);
    assert_eq!(
        audited(&server.db, "ops@test.local").await,
        expected,
        "failures, the lock and the refusal while locked are audited"
    );

    set_time(
        &server,
        "UPDATE users SET locked_until = $1",
        Utc::now() - Duration::seconds(1),
    )
    .await;
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
    let server = common::start_without_session_cache().await;
    fixture::client(&server.db, 1, "Harbor Health").await;
    fixture::site(&server.db, 1, 1, None).await;
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
}

/// The server remembers sessions for a few seconds; what ends or changes one still counts at
/// the very next request.
#[tokio::test]
async fn sign_out_disabling_and_a_new_role_take_effect_at_once_though_sessions_are_remembered() {
    let server = server_with_a_client().await;
    let ask = |client: reqwest::Client| {
        let url = server.url("/api/list_sites?filter[q]=");
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };

    let leaving = server.client_as(Role::Readonly).await;
    assert_eq!(
        ask(leaving.clone()).await,
        200,
        "the session is now remembered"
    );
    let (status, _) = post(&leaving, &server, "logout", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        ask(leaving).await,
        401,
        "a signed-out session cannot be reused"
    );

    let admin = server.client_as(Role::Admin).await;
    let demoted = server.client_as(Role::Operator).await;
    let act = json!({"ids": [], "action": "resolve"});
    let (status, body) = post(&demoted, &server, "act_on_incidents", act.clone()).await;
    assert_ne!(status, 403, "an operator may act: {body}");
    let id = accounts::find_login(&server.db, "operator@test.local")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    let (status, body) = post(
        &admin,
        &server,
        "update_user",
        json!({"id": id, "role": "readonly", "disabled": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&demoted, &server, "act_on_incidents", act).await;
    assert_eq!(status, 403, "the new role counts at once: {body}");

    let victim = server
        .sign_in("operator@test.local", TEST_PASSWORD)
        .await
        .unwrap();
    assert_eq!(ask(victim.clone()).await, 200);
    disable_operator(&admin, &server, "operator@test.local").await;
    assert_eq!(
        ask(victim).await,
        401,
        "disabling a user ends their sessions"
    );
    let (status, body) = server
        .sign_in("operator@test.local", TEST_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        (status, body),
        (401, refused_body()),
        "a disabled account is refused like a wrong password"
    );
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
        let attempts =
            futures::future::join_all((0..20).map(|_| accounts::count_login_attempt(db, id, now)))
                .await;
        let counted: Vec<_> = attempts.into_iter().flat_map(Result::unwrap).collect();
        assert_eq!(counted.len(), 5, "{}: five attempts counted", test_db.name);
        let locks = counted.iter().filter(|c| c.locks_until.is_some()).count();
        assert_eq!(locks, 1, "{}: one of them locks", test_db.name);
        let record = accounts::find_login(db, "A@TEST.local")
            .await
            .unwrap()
            .unwrap();
        assert!(
            record.locked_until.unwrap() > now + Duration::minutes(14),
            "{}",
            test_db.name
        );
        let later = now + Duration::minutes(16);
        let fresh = accounts::count_login_attempt(db, id, later).await.unwrap();
        assert_eq!(
            fresh.map(|c| (c.failures, c.locks_until)),
            Some((1, None)),
            "{}: an ended lock starts a new count",
            test_db.name
        );
    }
}

/// Signs in with a raw form body (so `next` can carry exactly the bytes a browser would send);
/// the status and body.
async fn sign_in_raw(server: &TestServer, client: &reqwest::Client, form: &str) -> (u16, String) {
    let response = client
        .post(server.url("/api/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn user_lock(db: &Db, email: &str) -> (i64, Option<chrono::DateTime<Utc>>) {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT CAST(failed_logins AS BIGINT), locked_until FROM users WHERE email = $1"
    )
    .bind(email)
    .fetch_one(pool)
    .await
    .unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_at_once_while_many_sign_ins_wait_for_argon2() {
    let server = common::start().await;
    let anonymous = reqwest::Client::new();
    let started = std::time::Instant::now();
    let storm: Vec<_> = (0..24)
        .map(|i| {
            let client = anonymous.clone();
            let url = server.url("/api/login");
            tokio::spawn(async move {
                let email = format!("stranger{i}@test.local");
                let form = [
                    ("email", email.as_str()),
                    ("password", "guess"),
                    ("next", "/"),
                ];
                client.post(url).form(&form).send().await.unwrap().status()
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut slowest = std::time::Duration::ZERO;
    for _ in 0..5 {
        let asked = std::time::Instant::now();
        let health = anonymous.get(server.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        slowest = slowest.max(asked.elapsed());
    }
    let pending = storm.iter().filter(|task| !task.is_finished()).count();
    for task in storm {
        assert_eq!(task.await.unwrap(), 401);
    }
    let storm_took = started.elapsed();
    assert!(
        pending > 0,
        "the sign-ins were still under way ({storm_took:?})"
    );
    assert!(
        slowest * 4 < storm_took,
        "health took {slowest:?} while 24 sign-ins took {storm_took:?}"
    );
}

#[tokio::test]
async fn password_spraying_from_one_address_is_slowed_to_its_budget() {
    let server = common::start_with_sign_in((10, 20)).await;
    let client = reqwest::Client::new();
    let mut throttled = 0;
    for i in 0..30 {
        let response = client
            .post(server.url("/api/login"))
            // Another address in the header changes nothing: no proxy is trusted.
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[
                ("email", format!("victim{i}@test.local").as_str()),
                ("password", "Spring2026!"),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            throttled += 1;
            let wait: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=6).contains(&wait), "Retry-After: {wait}");
            let body = response.text().await.unwrap();
            assert!(body.contains("Too many sign-in attempts"), "{body}");
        } else {
            assert_eq!(response.status(), 401);
        }
    }
    // 10 at once, then one every 6 s: a slow machine may earn one or two more meanwhile.
    assert!(
        (18..=20).contains(&throttled),
        "{throttled} of 30 throttled"
    );
    let audited: i64 = on_db!(&server.db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'"
    )
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(
        audited,
        30 - throttled,
        "throttled attempts never reached the database"
    );

    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let form = "email=victim0%40test.local&password=x&next=%2F";
    let (status, _) = sign_in_raw(&server, &elsewhere, form).await;
    assert_eq!(status, 401, "another address has its own budget");
}

#[tokio::test]
async fn twenty_parallel_wrong_passwords_count_five_and_lock_once() {
    let server = server_with_a_client().await;
    common::add_user(&server.db, "target@test.local", Role::Admin).await;
    let attempts = (0..20).map(|i| {
        let server = &server;
        async move {
            server
                .sign_in("target@test.local", &format!("guess-{i}"))
                .await
                .unwrap_err()
        }
    });
    let answers = futures::future::join_all(attempts).await;
    assert!(
        answers
            .iter()
            .all(|answer| *answer == (401, refused_body())),
        "{answers:?}"
    );
    let (failures, locked_until) = user_lock(&server.db, "target@test.local").await;
    assert_eq!(failures, 5);
    assert!(locked_until.unwrap() > Utc::now() + Duration::minutes(14));
    let actions = audited(&server.db, "target@test.local").await;
    let count = |action: &str| actions.iter().filter(|a| *a == action).count();
    assert_eq!(count("auth.login_failed"), 5, "{actions:?}");
    assert_eq!(count("auth.locked"), 1, "{actions:?}");
    assert_eq!(count("auth.login_refused"), 15, "{actions:?}");
}

/// Median time of `attempts` sign-ins as `email`.
async fn median_sign_in(server: &TestServer, email: &str, password: &str) -> std::time::Duration {
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (status, body) = server.sign_in(email, password).await.unwrap_err();
        assert_eq!((status, body), (401, refused_body()), "{email}");
        times.push(started.elapsed());
    }
    times.sort();
    times[1]
}

#[tokio::test]
async fn unknown_locked_disabled_and_wrong_read_and_take_the_same() {
    let server = server_with_a_client().await;
    let admin = server.client_as(Role::Admin).await;
    for email in [
        "wrong@test.local",
        "locked@test.local",
        "disabled@test.local",
    ] {
        common::add_user(&server.db, email, Role::Operator).await;
    }
    set_time(
        &server,
        "UPDATE users SET locked_until = $1 WHERE email = 'locked@test.local'",
        Utc::now() + Duration::minutes(10),
    )
    .await;
    disable_operator(&admin, &server, "disabled@test.local").await;

    let wrong = median_sign_in(&server, "wrong@test.local", "not-it-at-all").await;
    for (email, password) in [
        ("locked@test.local", TEST_PASSWORD),
        ("disabled@test.local", TEST_PASSWORD),
        ("nobody@test.local", TEST_PASSWORD),
    ] {
        let took = median_sign_in(&server, email, password).await;
        assert!(
            took * 2 > wrong,
            "{email} answered in {took:?}, a wrong password in {wrong:?}"
        );
    }
    assert_eq!(
        user_lock(&server.db, "disabled@test.local").await.0,
        0,
        "attempts at a disabled account are not counted"
    );
}

#[tokio::test]
async fn every_failure_is_audited_with_the_typed_email_and_the_peer_address() {
    let server = server_with_a_client().await;
    let client = reqwest::Client::new();
    let long = format!("{}@test.local", "x".repeat(400));
    for email in ["  Nobody@Test.local ", long.as_str()] {
        let response = client
            .post(server.url("/api/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .form(&[("email", email), ("password", "whatever-1"), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let entries: Vec<(String, String, Option<String>)> = on_db!(&server.db, |pool| {
        sqlx::query_as("SELECT actor, action, ip FROM audit_log ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    let [(first, action, ip), (second, _, _)] = &entries[..] else {
        panic!("{entries:?}")
    };
    assert_eq!(first, "Nobody@Test.local", "trimmed");
    assert_eq!(action, "auth.login_failed");
    assert_eq!(
        ip.as_deref(),
        Some("127.0.0.1"),
        "the header of a peer that is not a trusted proxy is ignored"
    );
    assert_eq!(second.chars().count(), 254, "capped");
}

#[tokio::test]
async fn the_cli_unlocks_an_account_and_its_owner_signs_in_again() {
    let server = server_with_a_client().await;
    common::add_user(&server.db, "only-admin@test.local", Role::Admin).await;
    for _ in 0..5 {
        server
            .sign_in("only-admin@test.local", "guess")
            .await
            .unwrap_err();
    }
    assert!(
        server
            .sign_in("only-admin@test.local", TEST_PASSWORD)
            .await
            .is_err(),
        "locked"
    );
    let args = posture_server::config::UserUnlockArgs {
        email: " Only-Admin@test.local ".into(),
    };
    posture_server::users::unlock(&server.db, &args)
        .await
        .unwrap();
    assert_eq!(
        user_lock(&server.db, "only-admin@test.local").await,
        (0, None)
    );
    let unlocks: Vec<(String, String)> = on_db!(&server.db, |pool| sqlx::query_as(
        "SELECT actor, target FROM audit_log WHERE action = 'user.unlock'"
    )
    .fetch_all(pool)
    .await
    .unwrap());
    assert_eq!(
        unlocks,
        [("cli".to_string(), "Only-Admin@test.local".to_string())]
    );
    assert!(
        server
            .sign_in("only-admin@test.local", TEST_PASSWORD)
            .await
            .is_ok()
    );
    let nobody = posture_server::config::UserUnlockArgs {
        email: "nobody@test.local".into(),
    };
    let err = posture_server::users::unlock(&server.db, &nobody)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no account"), "{err}");
}

#[tokio::test]
async fn after_sign_in_only_paths_on_this_site_are_followed() {
    let server = server_with_a_client().await;
    common::add_user(&server.db, "next@test.local", Role::Readonly).await;
    let client = reqwest::Client::new();
    let form = |next: &str| format!("email=next%40test.local&password={TEST_PASSWORD}&next={next}");
    for (next, lands) in [
        ("/%09/evil.example", "/"),
        ("%2F%09%2Fevil.example", "/"),
        ("/%0A/evil.example", "/"),
        ("/%5C%5Cevil.example", "/"),
        ("%2F%2Fevil.example", "/"),
        ("https%3A%2F%2Fevil.example", "/"),
        ("%2Fsites%3Fstatus%3Donline", "/sites?status=online"),
    ] {
        let (status, body) = sign_in_raw(&server, &client, &form(next)).await;
        assert_eq!(status, 200, "{next}: {body}");
        assert_eq!(body, format!("\"{lands}\""), "{next}");
    }
}

#[tokio::test]
async fn a_failed_activity_write_does_not_fail_the_request() {
    let server = server_with_a_client().await;
    let reader = server.client_as(Role::Readonly).await;
    on_db!(&server.db, |pool| {
        sqlx::query("UPDATE sessions SET last_seen_at = $1")
            .bind(Utc::now() - Duration::minutes(5))
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TRIGGER sessions_read_only BEFORE UPDATE ON sessions \
             BEGIN SELECT RAISE(ABORT, 'sessions are read-only'); END",
        )
        .execute(pool)
        .await
        .unwrap();
    });
    let response = reader
        .get(server.url("/api/list_sites?filter[q]="))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn expired_and_idle_sessions_are_purged_on_both_databases() {
    for test_db in common::databases().await {
        let db = &test_db.db;
        let id = common::add_user(db, "p@test.local", Role::Readonly).await;
        let now = Utc::now();
        let fresh = accounts::start_session(db, id, now).await.unwrap();
        accounts::start_session(db, id, now - Duration::minutes(20))
            .await
            .unwrap();
        accounts::start_session(db, id, now - Duration::hours(25))
            .await
            .unwrap();
        let purged = accounts::purge_sessions(db, now).await.unwrap();
        assert_eq!(purged, 2, "{}", test_db.name);
        assert_eq!(count(db, "sessions").await, 1, "{}", test_db.name);
        assert!(
            accounts::resolve_session(db, &fresh, now)
                .await
                .unwrap()
                .is_some(),
            "{}",
            test_db.name
        );
    }
}

/// Opens the event stream as `client`; the response, its headers read.
async fn open_events(server: &TestServer, client: &reqwest::Client) -> reqwest::Response {
    client
        .get(server.url("/api/v1/events"))
        .send()
        .await
        .unwrap()
}

/// Whether the stream ends (its body finishes) within `within`.
async fn ends_within(mut events: reqwest::Response, within: std::time::Duration) -> bool {
    tokio::time::timeout(within, async {
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn event_streams_end_with_their_session_and_are_capped_per_user() {
    let server = server_with_a_client().await;
    let reader = server.client_as(Role::Readonly).await;
    let events = open_events(&server, &reader).await;
    assert_eq!(events.status(), 200);
    let (status, _) = post(&reader, &server, "logout", json!({})).await;
    assert_eq!(status, 200);
    assert!(
        ends_within(events, std::time::Duration::from_secs(3)).await,
        "signing out ends the stream"
    );

    let admin = server.client_as(Role::Admin).await;
    let operator = server.client_as(Role::Operator).await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let events = open_events(&server, &operator).await;
        assert_eq!(events.status(), 200);
        open.push(events);
    }
    let ninth = open_events(&server, &operator).await;
    assert_eq!(ninth.status(), 429);
    assert!(ninth.text().await.unwrap().contains("at most 8"));
    assert_eq!(
        open_events(&server, &admin).await.status(),
        200,
        "other users have their own allowance"
    );

    disable_operator(&admin, &server, "operator@test.local").await;
    for events in open {
        assert!(
            ends_within(events, std::time::Duration::from_secs(3)).await,
            "disabling the user ends their streams"
        );
    }
}

#[tokio::test]
async fn an_event_stream_ends_when_its_session_expires() {
    let server = server_with_a_client().await;
    let reader = server.client_as(Role::Readonly).await;
    let events = open_events(&server, &reader).await;
    assert_eq!(events.status(), 200);
    set_time(
        &server,
        "UPDATE sessions SET expires_at = $1",
        Utc::now() - Duration::seconds(1),
    )
    .await;
    assert!(
        ends_within(events, std::time::Duration::from_secs(20)).await,
        "an expired session's stream ends at the next check"
    );
}
