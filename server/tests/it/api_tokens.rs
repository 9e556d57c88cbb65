//! People's API tokens over real HTTP, on both databases: made with a name and a lifetime,
//! they read (server functions, CSV exports) as their owner, never write, and stop at their
//! expiry or when revoked; only their hash is stored.

use app::auth::Role;
use app::db::sql::Bind;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{self, TestServer};

async fn read_with(server: &TestServer, token: &str, path: &str) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_reads_until_it_expires_or_is_revoked_and_never_writes() {
    for (name, server) in common::servers_on_both().await {
        let operator = server.client_as(Role::Operator).await;
        for (form, says) in [
            ([("name", " "), ("days", "30")], "name"),
            ([("name", "export"), ("days", "0")], "days"),
            ([("name", "export"), ("days", "400")], "days"),
        ] {
            let (status, body) =
                common::post_form(&operator, &server, "/api/create_api_token", &form).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
            assert!(body.to_string().contains(says), "{name}: {body}");
        }
        let (status, made) = common::post_form(
            &operator,
            &server,
            "/api/create_api_token",
            &[("name", "nightly export"), ("days", "30")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {made}");
        let token = made["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("pst_"), "{name}");

        let (status, body) = read_with(&server, &token, "/api/list_clients").await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, csv) = read_with(&server, &token, "/incidents.csv").await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(csv.starts_with("id,reported_at"), "{name}: {csv}");

        let write = reqwest::Client::new()
            .post(server.url("/api/act_on_incidents"))
            .bearer_auth(&token)
            .form(&[("ids", "1"), ("action", "resolve")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            write.status(),
            StatusCode::FORBIDDEN,
            "{name}: a token never writes"
        );
        let (status, _) = read_with(&server, "pst_not-a-token", "/api/list_clients").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");

        let listed: Value = operator
            .get(server.url("/api/list_api_tokens"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed[0]["name"], "nightly export", "{name}");
        assert!(
            listed[0]["last_used_at"].is_string(),
            "{name}: use is recorded"
        );
        assert!(
            !listed.to_string().contains(&token),
            "{name}: the token is shown only once"
        );
        let stored: Vec<String> =
            common::column(&server.db, "SELECT token_hash FROM api_tokens", &[]).await;
        assert_eq!(
            stored[0],
            app::auth::session::token_hash(&token),
            "{name}: stored hashed"
        );

        let id = listed[0]["id"].as_i64().unwrap().to_string();
        let admin = server.client_as(Role::Admin).await;
        let (status, _) =
            common::post_form(&admin, &server, "/api/revoke_api_token", &[("id", &id)]).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{name}: only its owner revokes a token"
        );

        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        common::execute(
            &server.db,
            "UPDATE api_tokens SET expires_at = $1",
            &[Bind::Time(past)],
        )
        .await;
        let (status, body) = read_with(&server, &token, "/api/list_clients").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: expired");
        assert!(body.contains("expired or revoked"), "{name}: {body}");

        let (_, second) = common::post_form(
            &operator,
            &server,
            "/api/create_api_token",
            &[("name", "dashboard"), ("days", "7")],
        )
        .await;
        let second_token = second["token"].as_str().unwrap().to_string();
        assert_eq!(
            read_with(&server, &second_token, "/api/list_clients")
                .await
                .0,
            StatusCode::OK,
            "{name}"
        );
        let second_id = second["row"]["id"].as_i64().unwrap().to_string();
        let (status, _) = common::post_form(
            &operator,
            &server,
            "/api/revoke_api_token",
            &[("id", &second_id)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(
            read_with(&server, &second_token, "/api/list_clients")
                .await
                .0,
            StatusCode::UNAUTHORIZED,
            "{name}: revoked"
        );

        let actions: Vec<String> =
            common::column(&server.db, "SELECT action FROM audit_log", &[]).await;
        for expected in ["api_token.create", "api_token.revoke"] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{name}: {expected} in {actions:?}"
            );
        }
    }
}
