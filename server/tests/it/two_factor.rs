//! Two-factor sign-in over real HTTP, on both databases: enrolling an authenticator app with
//! a real TOTP code, signing in with a code and with a recovery code, each accepted once, five
//! wrong codes locking the account, and admins made to enrol before anything else.

use app::auth::Role;
use app::pages::login::{CODE_NEEDED, CODE_REFUSED, SIGN_IN_REFUSED};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use totp_rs::{Algorithm, Builder, Secret};

use crate::common::{self, TEST_PASSWORD, TestServer, add_user};

/// The code an authenticator app with `secret` shows at `at`.
fn code_at(secret: &str, at: DateTime<Utc>) -> String {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(at.timestamp() as u64)
        .to_string()
}

/// Enrols `email`'s authenticator app through the pages' server functions; (secret, recovery
/// codes).
async fn enrol(server: &TestServer, client: &reqwest::Client) -> (String, Vec<String>) {
    let (status, enrolment) = common::post_form(client, server, "/api/start_two_factor", &[]).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    assert!(enrolment["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(
        enrolment["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Posture:")
    );
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    let (status, refused) = common::post_form(
        client,
        server,
        "/api/confirm_two_factor",
        &[("code", "000000")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let code = code_at(&secret, Utc::now());
    let (status, codes) = common::post_form(
        client,
        server,
        "/api/confirm_two_factor",
        &[("code", &code)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes = codes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

async fn audit_actions(server: &TestServer) -> Vec<String> {
    common::column(&server.db, "SELECT action FROM audit_log ORDER BY id", &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_or_a_recovery_code_signs_in_once_each() {
    for (name, server) in common::servers_on_both().await {
        let email = "two@test.local";
        add_user(&server.db, email, Role::Operator).await;
        let client = server.sign_in(email, TEST_PASSWORD).await.unwrap();
        let (secret, codes) = enrol(&server, &client).await;
        assert_eq!(codes.len(), 10, "{name}");
        let status: Value = client
            .get(server.url("/api/get_two_factor"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                status["enabled"].as_bool(),
                status["recovery_codes_left"].as_i64()
            ),
            (Some(true), Some(10)),
            "{name}"
        );

        let (status, body) = server.sign_in(email, TEST_PASSWORD).await.unwrap_err();
        assert_eq!(status, 401, "{name}");
        assert!(body.contains(CODE_NEEDED), "{name}: {body}");

        // The next step's code (an app a little ahead) is accepted, once.
        let next = code_at(&secret, Utc::now() + Duration::seconds(30));
        let signed_in = server.sign_in_with_code(email, TEST_PASSWORD, &next).await;
        assert!(signed_in.is_ok(), "{name}: {:?}", signed_in.err());
        let (status, body) = server
            .sign_in_with_code(email, TEST_PASSWORD, &next)
            .await
            .unwrap_err();
        assert_eq!(status, 401, "{name}: a code is accepted once");
        assert!(body.contains(CODE_REFUSED), "{name}: {body}");

        let recovery = &codes[3];
        assert!(
            server
                .sign_in_with_code(email, TEST_PASSWORD, recovery)
                .await
                .is_ok(),
            "{name}"
        );
        let (status, _) = server
            .sign_in_with_code(email, TEST_PASSWORD, recovery)
            .await
            .unwrap_err();
        assert_eq!(status, 401, "{name}: a recovery code is spent");
        let status: Value = client
            .get(server.url("/api/get_two_factor"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["recovery_codes_left"], 9, "{name}");

        let actions = audit_actions(&server).await;
        for expected in [
            "two_factor.enable",
            "auth.recovery_code_used",
            "auth.two_factor_failed",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{name}: {expected} in {actions:?}"
            );
        }
        let stored: Vec<String> =
            common::column(&server.db, "SELECT code_hash FROM recovery_codes", &[]).await;
        assert!(
            stored.iter().all(|h| h.len() == 64 && !codes.contains(h)),
            "{name}: stored hashed"
        );
    }
}

/// Signs in `times` with the right password and a wrong code: each refused.
async fn wrong_codes(server: &TestServer, email: &str, times: usize) {
    for _ in 0..times {
        let (status, body) = server
            .sign_in_with_code(email, TEST_PASSWORD, "123456")
            .await
            .unwrap_err();
        assert_eq!(status, 401, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_lock_the_account() {
    for (name, server) in common::servers_on_both().await {
        let email = "guess@test.local";
        add_user(&server.db, email, Role::Readonly).await;
        let client = server.sign_in(email, TEST_PASSWORD).await.unwrap();
        let (secret, _) = enrol(&server, &client).await;
        // Being asked for the code (the password was right) is not a failure.
        for _ in 0..3 {
            let (_, body) = server.sign_in(email, TEST_PASSWORD).await.unwrap_err();
            assert!(body.contains(CODE_NEEDED), "{name}: {body}");
        }
        // Four wrong codes after three asks: not locked, a right code opens (and clears them).
        wrong_codes(&server, email, 4).await;
        let right = code_at(&secret, Utc::now() + Duration::seconds(30));
        let opened = server.sign_in_with_code(email, TEST_PASSWORD, &right).await;
        assert!(opened.is_ok(), "{name}: {:?}", opened.err());
        wrong_codes(&server, email, 5).await;
        let (status, body) = server
            .sign_in_with_code(email, TEST_PASSWORD, &right)
            .await
            .unwrap_err();
        assert_eq!(status, 401, "{name}: locked, whatever the code");
        assert!(body.contains(SIGN_IN_REFUSED), "{name}: {body}");
        let actions = audit_actions(&server).await;
        let failed = actions
            .iter()
            .filter(|a| *a == "auth.two_factor_failed")
            .count();
        assert!(failed >= 5, "{name}: {actions:?}");
        assert!(
            actions.iter().any(|a| a == "auth.locked"),
            "{name}: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_required_to_use_it_can_reach_nothing_else_until_they_do() {
    for (name, server) in common::servers_on_both().await {
        let admin = server.client_as(Role::Admin).await;
        let (status, _) = common::post_form(
            &admin,
            &server,
            "/api/set_admins_need_two_factor",
            &[("required", "true")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}");

        let sites = admin
            .get(server.url("/api/list_clients"))
            .send()
            .await
            .unwrap();
        assert_eq!(sites.status(), StatusCode::FORBIDDEN, "{name}");
        assert!(sites.text().await.unwrap().contains("two-factor"), "{name}");
        let page = admin.get(server.url("/sites")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{name}");
        assert_eq!(page.headers()["location"], "/account/security", "{name}");
        let security = admin
            .get(server.url("/account/security"))
            .send()
            .await
            .unwrap();
        assert_eq!(security.status(), StatusCode::OK, "{name}");

        // A read-only user is not concerned.
        let reader = server.get("/api/list_clients").await;
        assert_eq!(reader.status(), StatusCode::OK, "{name}");

        let (_, codes) = enrol(&server, &admin).await;
        let sites = admin
            .get(server.url("/api/list_clients"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            sites.status(),
            StatusCode::OK,
            "{name}: enrolled, the dashboard opens"
        );
        let (status, body) = common::post_form(
            &admin,
            &server,
            "/api/disable_two_factor",
            &[("code", &codes[0])],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        let actions = audit_actions(&server).await;
        assert!(
            actions
                .iter()
                .any(|a| a == "settings.admins_need_two_factor"),
            "{name}"
        );
    }
}
