//! The appliance API over real HTTP: authentication, validation, limits, incident rules, the
//! order lifecycle, evidence chains, backpressure and hints. Most run on SQLite and PostgreSQL.

use crate::common;

use std::io::Write;
use std::time::Duration as StdDuration;

use app::db::Db;
use app::on_db;
use chrono::{DateTime, Duration, Utc};
use common::{TestServer, count, fixture};
use flate2::Compression;
use flate2::write::GzEncoder;
use posture_server::health::Readiness;
use posture_server::ingest::{self, IngestQueue};
use posture_server::provision::{provision_appliance, revoke_keys, rotate_key};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// Two sites (`site-1`, `site-2`) with an appliance each.
pub(crate) struct Fleet {
    pub(crate) server: TestServer,
    pub(crate) key1: String,
    pub(crate) key2: String,
    appliance1: i64,
    client: reqwest::Client,
}

pub(crate) async fn populate(db: &Db) -> (String, String, i64) {
    fixture::client(db, 1, "Acme").await;
    fixture::site(db, 1, 1, None).await;
    fixture::site(db, 2, 1, None).await;
    let one = provision_appliance(db, "site-1", "app-1").await.unwrap();
    let two = provision_appliance(db, "site-2", "app-2").await.unwrap();
    (one.key, two.key, one.appliance_id)
}

/// A fleet on `db`; `dir` (the SQLite file's directory) lives as long as the server.
async fn fleet_on(db: Db, dir: TempDir) -> Fleet {
    let (key1, key2, appliance1) = populate(&db).await;
    let readiness = Readiness::new(Vec::new(), StdDuration::from_millis(100));
    let server = common::start_with(db, readiness, dir).await;
    Fleet {
        server,
        key1,
        key2,
        appliance1,
        client: reqwest::Client::new(),
    }
}

pub(crate) async fn sqlite_fleet() -> Fleet {
    let (db, _, dir) = common::temp_database().await;
    fleet_on(db, dir).await
}

/// A fleet on SQLite, and one on PostgreSQL.
pub(crate) async fn fleets() -> Vec<(&'static str, Fleet)> {
    let postgres = common::postgres_database().await;
    vec![
        ("sqlite", sqlite_fleet().await),
        (
            "postgres",
            fleet_on(postgres, tempfile::tempdir().unwrap()).await,
        ),
    ]
}

impl Fleet {
    pub(crate) async fn post(&self, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.server.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post_raw(
        &self,
        key: &str,
        path: &str,
        body: Vec<u8>,
        gzip: bool,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.server.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body);
        if gzip {
            request = request.header("content-encoding", "gzip");
        }
        request.send().await.unwrap()
    }

    /// Sends a report of one passing check for `site-1` with `key`; the answer's status.
    async fn report_one_check(&self, key: &str) -> StatusCode {
        let body = report(vec![check("pass", Utc::now())], vec![]);
        self.post(key, "/api/v1/reports", &body).await.0
    }

    pub(crate) async fn count(&self, table: &str) -> i64 {
        count(&self.server.db, table).await
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub(crate) fn check(status: &str, at: DateTime<Utc>) -> Value {
    json!({"check_type": "backup_job", "hostname": "FD-01", "status": status, "checked_at": at})
}

pub(crate) fn drift(state: &str, at: DateTime<Utc>) -> Value {
    json!({"check_type": "bitlocker_status", "hostname": "FD-01", "severity": "high",
           "state": state, "detected_at": at, "details": {"expected": "on"}})
}

pub(crate) fn report(checks: Vec<Value>, drift: Vec<Value>) -> Value {
    json!({"site_id": "site-1", "checks": checks, "drift": drift})
}

#[tokio::test]
async fn wrong_key_is_401_and_another_sites_key_is_403() {
    for (name, fleet) in fleets().await {
        let body = json!({"site_id": "site-1", "agent_version": "2.1.0"});
        let (status, error) = fleet.post("pst_nope", "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(error["field"], "Authorization", "{name}");
        let response = fleet
            .client
            .post(fleet.server.url("/api/v1/checkin"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");

        let (status, error) = fleet.post(&fleet.key2, "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        assert_eq!(error["field"], "site_id", "{name}");
        let status = fleet.report_one_check(&fleet.key2).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        assert_eq!(fleet.count("compliance_bundles").await, 0, "{name}");

        let (status, answer) = fleet.post(&fleet.key1, "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        let version: String = on_db!(&fleet.server.db, |pool| {
            sqlx::query_scalar("SELECT agent_version FROM appliances WHERE id = $1")
                .bind(fleet.appliance1)
                .fetch_one(pool)
                .await
                .unwrap()
        });
        assert_eq!(version, "2.1.0", "{name}");
    }
}

/// Servers trust a key they looked up for a while (`KEY_TTL` in tests), then ask again.
async fn key_cache_expiry() {
    tokio::time::sleep(common::KEY_TTL + StdDuration::from_millis(100)).await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_a_rotated_one_replaces_it() {
    for (name, fleet) in fleets().await {
        let db = &fleet.server.db;
        let body = json!({"site_id": "site-1", "agent_version": "2.1.0"});
        let (status, _) = fleet.post(&fleet.key1, "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}");

        assert_eq!(
            revoke_keys(db, fleet.appliance1).await.unwrap(),
            1,
            "{name}"
        );
        key_cache_expiry().await;
        let (status, error) = fleet.post(&fleet.key1, "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(error["error"], "unknown or revoked API key", "{name}");
        let status = fleet.report_one_check(&fleet.key1).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(fleet.count("compliance_bundles").await, 0, "{name}");

        let key = rotate_key(db, fleet.appliance1).await.unwrap();
        let (status, _) = fleet.post(&key, "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let (status, _) = fleet.post(&fleet.key1, "/api/v1/checkin", &body).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{name}: the old key stays revoked"
        );
        // Rotating again revokes the key the last rotation gave.
        let newer = rotate_key(db, fleet.appliance1).await.unwrap();
        key_cache_expiry().await;
        let (status, _) = fleet.post(&key, "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (status, _) = fleet.post(&newer, "/api/v1/checkin", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}");

        let err = revoke_keys(db, 9_999).await.unwrap_err();
        assert!(
            err.to_string().contains("no appliance has the id 9999"),
            "{name}: {err}"
        );
        let actions: Vec<String> = on_db!(db, |pool| {
            sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
                .fetch_all(pool)
                .await
                .unwrap()
        });
        assert_eq!(
            actions,
            ["appliance.revoke", "appliance.rotate", "appliance.rotate"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn every_validation_error_names_its_field_and_writes_nothing() {
    let fleet = sqlite_fleet().await;
    let now = Utc::now();
    let long = "x".repeat(300);
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "/api/v1/reports",
            json!({"checks": [check("pass", now)]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "site_id",
        ),
        (
            "/api/v1/reports",
            json!({"site_id": "site-1", "checks": [check("pass", now)], "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "extra",
        ),
        (
            "/api/v1/reports",
            json!({"site_id": "site-1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks",
        ),
        (
            "/api/v1/reports",
            json!({"site_id": "", "checks": [check("pass", now)]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "site_id",
        ),
        (
            "/api/v1/reports",
            report(vec![check("pass", now), check("maybe", now)], vec![]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks[1].status",
        ),
        (
            "/api/v1/reports",
            report(
                vec![
                    json!({"check_type": "tarot", "hostname": "FD-01", "status": "pass", "checked_at": now}),
                ],
                vec![],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks[0].check_type",
        ),
        (
            "/api/v1/reports",
            report(
                vec![
                    json!({"check_type": "backup_job", "hostname": long, "status": "pass", "checked_at": now}),
                ],
                vec![],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks[0].hostname",
        ),
        (
            "/api/v1/reports",
            report(
                vec![
                    json!({"check_type": "backup_job", "hostname": " ", "status": "pass", "checked_at": now}),
                ],
                vec![],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks[0].hostname",
        ),
        (
            "/api/v1/reports",
            report(
                vec![
                    json!({"check_type": "backup_job", "hostname": "FD-01", "status": "pass", "checked_at": "yesterday"}),
                ],
                vec![],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks[0].checked_at",
        ),
        (
            "/api/v1/reports",
            report(vec![check("pass", now + Duration::hours(2))], vec![]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks[0].checked_at",
        ),
        (
            "/api/v1/reports",
            report(
                vec![json!({"check_type": "backup_job", "hostname": "FD-01", "status": "pass"})],
                vec![],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks[0].checked_at",
        ),
        (
            "/api/v1/reports",
            report(vec![check("pass", now); 2_001], vec![]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "checks",
        ),
        (
            "/api/v1/reports",
            report(
                vec![],
                vec![
                    json!({"check_type": "bitlocker_status", "hostname": "FD-01", "severity": "dire", "state": "drifted", "detected_at": now}),
                ],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "drift[0].severity",
        ),
        (
            "/api/v1/reports",
            report(
                vec![],
                vec![
                    json!({"check_type": "bitlocker_status", "hostname": "FD-01", "severity": "low", "state": "gone", "detected_at": now}),
                ],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "drift[0].state",
        ),
        (
            "/api/v1/reports",
            report(
                vec![],
                vec![
                    json!({"check_type": "bitlocker_status", "hostname": "FD-01", "severity": "low", "state": "drifted", "detected_at": now, "details": {"blob": "y".repeat(5_000)}}),
                ],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "drift[0].details",
        ),
        (
            "/api/v1/checkin",
            json!({"site_id": "site-1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "agent_version",
        ),
        (
            "/api/v1/checkin",
            json!({"site_id": "site-1", "agent_version": long}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "agent_version",
        ),
        (
            "/api/v1/evidence/batch",
            json!({"site_id": "site-1", "bundles": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bundles",
        ),
        (
            "/api/v1/evidence/batch",
            json!({"site_id": "site-1", "bundles": [{"position": 1, "bundle_hash": "abc", "prev_hash": null, "created_at": now}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bundles[0].bundle_hash",
        ),
        (
            "/api/v1/evidence/batch",
            json!({"site_id": "site-1", "bundles": [{"position": 0, "bundle_hash": hash("a"), "prev_hash": null, "created_at": now}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bundles[0].position",
        ),
        (
            "/api/v1/evidence/batch",
            json!({"site_id": "site-1", "bundles": [
            {"position": 1, "bundle_hash": hash("a"), "prev_hash": null, "created_at": now},
            {"position": 2, "bundle_hash": hash("b"), "prev_hash": hash("x"), "created_at": now}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bundles[1].prev_hash",
        ),
        (
            "/api/v1/evidence/batch",
            json!({"site_id": "site-1", "bundles": [
            {"position": 1, "bundle_hash": hash("a"), "prev_hash": null, "created_at": now},
            {"position": 3, "bundle_hash": hash("b"), "prev_hash": hash("a"), "created_at": now}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bundles[1].position",
        ),
    ];
    for (path, body, expected, field) in cases {
        let (status, error) = fleet.post(&fleet.key1, path, &body).await;
        assert_eq!(status, expected, "{path} {field}: {error}");
        assert_eq!(error["field"], field, "{path}: {error}");
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{error}"
        );
    }
    let order = insert_order(&fleet.server.db, fleet.appliance1).await;
    let (status, error) = fleet
        .post(
            &fleet.key1,
            &format!("/api/v1/orders/{order}/complete"),
            &json!({"success": true, "result": "z".repeat(20_000)}),
        )
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("result"))
    );

    let response = fleet
        .post_raw(
            &fleet.key1,
            "/api/v1/reports",
            b"{\"site_id\": \"site-1\", ".to_vec(),
            false,
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = fleet
        .post_raw(&fleet.key1, "/api/v1/reports", b"not gzip".to_vec(), true)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = fleet
        .client
        .post(fleet.server.url("/api/v1/reports"))
        .bearer_auth(&fleet.key1)
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    for table in [
        "compliance_bundles",
        "check_results",
        "check_latest",
        "incidents",
        "evidence_bundles",
    ] {
        assert_eq!(fleet.count(table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn oversized_bodies_and_gzip_bombs_are_413() {
    let fleet = sqlite_fleet().await;
    // 64 MiB of zeros inflate from about 64 KiB.
    let bomb = gzip(&vec![b' '; 64 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    let response = fleet
        .post_raw(&fleet.key1, "/api/v1/evidence/batch", bomb, true)
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = fleet
        .post_raw(
            &fleet.key1,
            "/api/v1/reports",
            vec![b' '; 3 * 1024 * 1024],
            false,
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("exceeds"),
        "{error}"
    );
    assert_eq!(fleet.count("evidence_bundles").await, 0);
}

pub(crate) fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub(crate) fn chain(from: i64, to: i64, mut prev: Option<String>) -> Vec<Value> {
    (from..=to)
        .map(|position| {
            let bundle_hash = hash(&format!("{position}"));
            let bundle = json!({"position": position, "bundle_hash": bundle_hash,
                                "prev_hash": prev, "created_at": Utc::now()});
            prev = Some(bundle_hash);
            bundle
        })
        .collect()
}

#[tokio::test]
async fn evidence_batches_must_continue_the_sites_chain() {
    for (name, fleet) in fleets().await {
        let batch = json!({"site_id": "site-1", "bundles": chain(1, 300, None)});
        let response = fleet
            .post_raw(
                &fleet.key1,
                "/api/v1/evidence/batch",
                gzip(batch.to_string().as_bytes()),
                true,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let stored: Value = response.json().await.unwrap();
        assert_eq!(
            (stored["stored"].as_i64(), stored["head_position"].as_i64()),
            (Some(300), Some(300))
        );

        // A gap, a wrong predecessor, a restart from 1: refused, nothing stored.
        for bundles in [
            chain(302, 303, Some(hash("301"))),
            chain(301, 302, Some(hash("7"))),
            chain(1, 2, None),
        ] {
            let (status, error) = fleet
                .post(
                    &fleet.key1,
                    "/api/v1/evidence/batch",
                    &json!({"site_id": "site-1", "bundles": bundles}),
                )
                .await;
            assert_eq!(status, StatusCode::CONFLICT, "{name}: {error}");
            assert_eq!(error["field"], "bundles[0].prev_hash");
        }
        let (status, _) = fleet
            .post(
                &fleet.key1,
                "/api/v1/evidence/batch",
                &json!({"site_id": "site-1", "bundles": chain(301, 305, Some(hash("300")))}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        // Each site has its own chain.
        let (status, _) = fleet
            .post(
                &fleet.key2,
                "/api/v1/evidence/batch",
                &json!({"site_id": "site-2", "bundles": chain(1, 2, None)}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(fleet.count("evidence_bundles").await, 307, "{name}");
        let head: Value = fleet
            .client
            .get(fleet.server.url("/api/v1/evidence/head"))
            .bearer_auth(&fleet.key1)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            head,
            json!({"head_position": 305, "head_hash": hash("305")}),
            "{name}"
        );
    }
}

async fn incident_rows(db: &Db) -> Vec<(i64, String)> {
    on_db!(db, |pool| sqlx::query_as(
        "SELECT id, status FROM incidents ORDER BY id"
    )
    .fetch_all(pool)
    .await
    .unwrap())
}

#[tokio::test]
async fn drift_opens_updates_reopens_within_30_minutes_and_opens_anew_after() {
    for (name, fleet) in fleets().await {
        let t0 = Utc::now() - Duration::hours(3);
        let send = |state: &'static str, at: DateTime<Utc>| {
            let body = report(vec![check("fail", at)], vec![drift(state, at)]);
            let fleet = &fleet;
            async move {
                let (status, outcome) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
                assert_eq!(status, StatusCode::OK, "{outcome}");
                assert!(outcome["bundle_id"].as_i64().is_some());
                outcome["incidents"][0].clone()
            }
        };
        let opened = send("drifted", t0).await;
        assert_eq!(opened["action"], "opened", "{name}");
        assert_eq!(opened["dedup_key"], "FD-01:bitlocker_status");
        let id = opened["id"].as_i64().unwrap();
        let updated = send("drifted", t0 + Duration::minutes(1)).await;
        assert_eq!(
            (updated["action"].as_str(), updated["id"].as_i64()),
            (Some("updated"), Some(id)),
            "{name}"
        );
        let resolved = send("remediated", t0 + Duration::minutes(5)).await;
        assert_eq!(
            (resolved["action"].as_str(), resolved["id"].as_i64()),
            (Some("resolved"), Some(id)),
            "{name}"
        );
        assert_eq!(
            incident_rows(&fleet.server.db).await,
            vec![(id, "resolved".to_string())]
        );

        let reopened = send("drifted", t0 + Duration::minutes(34)).await;
        assert_eq!(
            (reopened["action"].as_str(), reopened["id"].as_i64()),
            (Some("reopened"), Some(id)),
            "{name}"
        );
        send("remediated", t0 + Duration::minutes(40)).await;
        let nothing = send("remediated", t0 + Duration::minutes(41)).await;
        assert_eq!(nothing["action"], "unchanged", "{name}");

        let fresh = send("drifted", t0 + Duration::minutes(71)).await;
        assert_eq!(fresh["action"], "opened", "{name}");
        assert_ne!(fresh["id"].as_i64(), Some(id));
        let rows = incident_rows(&fleet.server.db).await;
        assert_eq!(rows.len(), 2, "{name}: {rows:?}");
        assert_eq!(rows[1].1, "open");

        // Check results and the latest result per check were stored with every report.
        assert_eq!(fleet.count("compliance_bundles").await, 7, "{name}");
        assert_eq!(fleet.count("check_results").await, 7, "{name}");
        let latest: (String, DateTime<Utc>) = on_db!(&fleet.server.db, |pool| {
            sqlx::query_as("SELECT status, checked_at FROM check_latest")
                .fetch_one(pool)
                .await
                .unwrap()
        });
        assert_eq!(
            latest.1.timestamp(),
            (t0 + Duration::minutes(71)).timestamp(),
            "{name}"
        );
    }
}

async fn insert_order(db: &Db, appliance: i64) -> i64 {
    let now = Utc::now();
    on_db!(db, |pool| {
        sqlx::query_scalar(
            "INSERT INTO orders (appliance_id, order_type, priority, created_at, expires_at) \
             VALUES ($1, 'run_backup', 3, $2, $3) RETURNING id",
        )
        .bind(appliance)
        .bind(now)
        .bind(now + Duration::hours(1))
        .fetch_one(pool)
        .await
        .unwrap()
    })
}

#[tokio::test]
async fn orders_go_pending_acknowledged_completed_and_nothing_else() {
    for (name, fleet) in fleets().await {
        let id = insert_order(&fleet.server.db, fleet.appliance1).await;
        let checkin = json!({"site_id": "site-1", "agent_version": "2.1.0"});
        let (_, answer) = fleet.post(&fleet.key1, "/api/v1/checkin", &checkin).await;
        assert_eq!(
            answer["orders"][0]["id"].as_i64(),
            Some(id),
            "{name}: {answer}"
        );
        assert_eq!(answer["orders"][0]["order_type"], "run_backup");

        let ack = format!("/api/v1/orders/{id}/ack");
        let complete = format!("/api/v1/orders/{id}/complete");
        let done = json!({"success": true, "result": "backup finished"});
        let (status, _) = fleet.post(&fleet.key1, &complete, &done).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: complete before ack");
        let (status, _) = fleet.post(&fleet.key2, &ack, &json!({})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{name}: another appliance's order"
        );
        let (status, _) = fleet
            .post(&fleet.key1, "/api/v1/orders/999999/ack", &json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        let (status, state) = fleet.post(&fleet.key1, &ack, &json!({})).await;
        assert_eq!(
            (status, state["status"].as_str()),
            (StatusCode::OK, Some("acknowledged")),
            "{name}"
        );
        let (status, _) = fleet.post(&fleet.key1, &ack, &json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: acknowledged twice");
        let (_, answer) = fleet.post(&fleet.key1, "/api/v1/checkin", &checkin).await;
        assert_eq!(answer["orders"], json!([]), "{name}");
        let (status, state) = fleet.post(&fleet.key1, &complete, &done).await;
        assert_eq!(
            (status, state["status"].as_str()),
            (StatusCode::OK, Some("completed")),
            "{name}"
        );
        let (status, _) = fleet
            .post(
                &fleet.key1,
                &complete,
                &json!({"success": false, "result": ""}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: completed twice");

        let failed = insert_order(&fleet.server.db, fleet.appliance1).await;
        fleet
            .post(
                &fleet.key1,
                &format!("/api/v1/orders/{failed}/ack"),
                &json!({}),
            )
            .await;
        let (_, state) = fleet
            .post(
                &fleet.key1,
                &format!("/api/v1/orders/{failed}/complete"),
                &json!({"success": false, "result": "disk full"}),
            )
            .await;
        assert_eq!(state["status"], "failed", "{name}");
        let stored: (String, Option<String>) = on_db!(&fleet.server.db, |pool| {
            sqlx::query_as("SELECT status, result FROM orders WHERE id = $1")
                .bind(failed)
                .fetch_one(pool)
                .await
                .unwrap()
        });
        assert_eq!(
            stored,
            ("failed".to_string(), Some("disk full".to_string()))
        );

        // An expired order is neither offered nor acknowledged.
        let expired = insert_order(&fleet.server.db, fleet.appliance1).await;
        on_db!(&fleet.server.db, |pool| {
            sqlx::query("UPDATE orders SET expires_at = $1 WHERE id = $2")
                .bind(Utc::now() - Duration::minutes(1))
                .bind(expired)
                .execute(pool)
                .await
                .unwrap();
        });
        let (_, answer) = fleet.post(&fleet.key1, "/api/v1/checkin", &checkin).await;
        assert_eq!(answer["orders"], json!([]), "{name}");
        let (status, error) = fleet
            .post(
                &fleet.key1,
                &format!("/api/v1/orders/{expired}/ack"),
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {error}");
        assert!(
            error["error"].as_str().unwrap().contains("expired"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    // A queue of one that nothing drains: the first report waits, the second is turned away.
    let (queue, _receiver) = IngestQueue::detached(1, StdDuration::from_secs(10));
    let server = common::start_with_ingest(|_| queue).await;
    let (key, _, _) = populate(&server.db).await;
    let client = reqwest::Client::new();
    let body = report(vec![check("pass", Utc::now())], vec![]);
    let waiting = {
        let (client, url, key, body) = (
            client.clone(),
            server.url("/api/v1/reports"),
            key.clone(),
            body.clone(),
        );
        tokio::spawn(async move { client.post(url).bearer_auth(key).json(&body).send().await })
    };
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let response = client
        .post(server.url("/api/v1/reports"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(
        !waiting.is_finished(),
        "the queued report is only answered once written"
    );
    waiting.abort();
}

#[tokio::test]
async fn dashboards_are_told_which_scopes_changed() {
    let fleet = sqlite_fleet().await;
    let anonymous = fleet
        .client
        .get(fleet.server.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "the stream is for signed-in users");
    let dashboard = fleet.server.client_as(app::auth::Role::Readonly).await;
    let mut events = dashboard
        .get(fleet.server.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let (status, _) = fleet
        .post(
            &fleet.key1,
            "/api/v1/reports",
            &report(
                vec![check("warn", Utc::now())],
                vec![drift("drifted", Utc::now())],
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let chunk = tokio::time::timeout(StdDuration::from_secs(5), events.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.starts_with("event: invalidate\n"), "{text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let scopes: Vec<String> = serde_json::from_str(data).unwrap();
    assert_eq!(scopes, ["incidents", "site:site-1", "sites", "stats"]);

    // A site that was not online comes online with its first check-in.
    let checkin = json!({"site_id": "site-2", "agent_version": "2.1.0"});
    let (status, _) = fleet.post(&fleet.key2, "/api/v1/checkin", &checkin).await;
    assert_eq!(status, StatusCode::OK);
    let chunk = tokio::time::timeout(StdDuration::from_secs(5), events.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(
        text.contains(r#"data: ["site:site-2","sites","stats"]"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let fleet = sqlite_fleet().await;
    let document: Value = fleet
        .client
        .get(fleet.server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in posture_server::api::ROUTES {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} is missing from openapi.json"
        );
    }
}

/// Posts `body` to `/api/v1/reports` with `key` on `server`.
async fn post_report(server: &TestServer, key: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/api/v1/reports"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_timestamp_out_of_range_is_refused_and_ingestion_goes_on() {
    for (name, fleet) in fleets().await {
        for crafted in ["-262143-01-01T00:00:00Z", "1969-12-31T23:59:59Z"] {
            let mut event = drift("drifted", Utc::now());
            event["detected_at"] = json!(crafted);
            let (status, error) = fleet
                .post(&fleet.key1, "/api/v1/reports", &report(vec![], vec![event]))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {error}");
            assert_eq!(error["field"], "drift[0].detected_at", "{name}");
        }
        let mut check = check("pass", Utc::now());
        check["checked_at"] = json!("1999-12-31T23:59:59Z");
        let (status, error) = fleet
            .post(&fleet.key1, "/api/v1/reports", &report(vec![check], vec![]))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {error}");
        assert_eq!(
            fleet.report_one_check(&fleet.key1).await,
            StatusCode::OK,
            "{name}"
        );
        assert_eq!(fleet.count("incidents").await, 0, "{name}");
    }
}

#[tokio::test]
async fn a_report_the_writer_cannot_store_fails_alone() {
    // Validation keeps bad timestamps out; a report queued past it (as a bug might) fails its
    // own request and the batch's other reports, and the next ones, are written.
    let (queue, receiver) = IngestQueue::detached(16, StdDuration::from_secs(10));
    let server = common::start_with_ingest(|sink| {
        ingest::spawn_batcher(receiver, common::TEST_INGEST, sink);
        queue.clone()
    })
    .await;
    let (_, _, appliance) = populate(&server.db).await;
    let identity = app::appliance_keys::ApplianceIdentity {
        id: appliance,
        site: 1,
        site_id: "site-1".into(),
    };
    let event = |at: DateTime<Utc>| app::domain::appliance::DriftEvent {
        check_type: "bitlocker_status".into(),
        hostname: "FD-01".into(),
        severity: app::types::Severity::High,
        state: app::domain::appliance::DriftState::Drifted,
        detected_at: at,
        details: Default::default(),
    };
    let submit = |at| {
        queue.submit(
            ingest::Report {
                appliance: identity.clone(),
                report_id: None,
                checks: Vec::new(),
                drift: vec![event(at)],
            },
            None,
        )
    };
    let (bad, good) = tokio::join!(submit(DateTime::<Utc>::MIN_UTC), submit(Utc::now()));
    assert_eq!(bad.unwrap_err(), ingest::IngestError::Failed);
    assert_eq!(
        good.unwrap().incidents[0].action,
        ingest::DriftOutcome::Opened
    );
    assert!(submit(Utc::now()).await.is_ok());
}

#[tokio::test]
async fn the_same_report_id_twice_is_stored_once() {
    for (name, fleet) in fleets().await {
        let at = Utc::now();
        let mut body = report(vec![check("fail", at)], vec![drift("drifted", at)]);
        body["report_id"] = json!("r-2026-11-28-0001");
        let (status, first) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {first}");
        assert!(first.get("repeated").is_none(), "{name}: {first}");
        let (status, again) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {again}");
        assert_eq!(again["repeated"], true, "{name}");
        assert_eq!(again["bundle_id"], first["bundle_id"], "{name}");
        assert_eq!(again["incidents"], first["incidents"], "{name}");
        // Sent twice at once, too.
        body["report_id"] = json!("r-2026-11-28-0002");
        let (one, two) = tokio::join!(
            fleet.post(&fleet.key1, "/api/v1/reports", &body),
            fleet.post(&fleet.key1, "/api/v1/reports", &body)
        );
        assert_eq!((one.0, two.0), (StatusCode::OK, StatusCode::OK), "{name}");
        assert_eq!(one.1["bundle_id"], two.1["bundle_id"], "{name}");
        assert_eq!(fleet.count("compliance_bundles").await, 2, "{name}");
        assert_eq!(fleet.count("check_results").await, 2, "{name}");
        assert_eq!(fleet.count("incidents").await, 1, "{name}");
        // Another appliance's ids are its own.
        let mut other = report(vec![check("pass", at)], vec![]);
        other["site_id"] = json!("site-2");
        other["report_id"] = json!("r-2026-11-28-0001");
        let (status, _) = fleet.post(&fleet.key2, "/api/v1/reports", &other).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(fleet.count("compliance_bundles").await, 3, "{name}");
        body["report_id"] = json!("has space");
        let (status, error) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(error["field"], "report_id", "{name}");
    }
}

/// Renames `old` to `new` through the admin's save_site server function.
async fn rename_site(server: &TestServer, old: &str, new: &str) {
    let admin = server.client_as(app::auth::Role::Admin).await;
    let (id, mut input, _) = app::db::site_admin::site_input(&server.db, old)
        .await
        .unwrap()
        .unwrap();
    assert!(id > 0);
    input.site_id = new.into();
    let response = admin
        .post(server.url("/api/save_site"))
        .json(&json!({"original": old, "input": input}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn a_renamed_site_keeps_its_incidents_and_a_new_site_with_its_old_id_does_not_get_them() {
    for (name, fleet) in fleets().await {
        let at = Utc::now() - Duration::minutes(10);
        let (status, opened) = fleet
            .post(
                &fleet.key1,
                "/api/v1/reports",
                &report(vec![], vec![drift("drifted", at)]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {opened}");
        let incident = opened["incidents"][0]["id"].as_i64().unwrap();
        rename_site(&fleet.server, "site-1", "clinic-renamed").await;
        // The key works for the new id at once (this server forgot its cached identity).
        let mut resolve = report(vec![], vec![drift("remediated", at + Duration::minutes(1))]);
        resolve["site_id"] = json!("clinic-renamed");
        let (status, resolved) = fleet.post(&fleet.key1, "/api/v1/reports", &resolve).await;
        assert_eq!(status, StatusCode::OK, "{name}: {resolved}");
        assert_eq!(resolved["incidents"][0]["action"], "resolved", "{name}");
        assert_eq!(resolved["incidents"][0]["id"], incident, "{name}");
        // A new site given the old id starts with nothing of the renamed site's.
        fixture::site(&fleet.server.db, 3, 1, None).await;
        on_db!(&fleet.server.db, |pool| {
            sqlx::query("UPDATE sites SET site_id = 'site-1' WHERE id = 3")
                .execute(pool)
                .await
                .unwrap();
        });
        let newcomer = provision_appliance(&fleet.server.db, "site-1", "app-3")
            .await
            .unwrap();
        let (status, _) = fleet
            .post(&fleet.key1, "/api/v1/reports", &{
                let mut again = report(vec![], vec![drift("drifted", at + Duration::minutes(2))]);
                again["site_id"] = json!("clinic-renamed");
                again
            })
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let (status, other) = fleet
            .post(
                &newcomer.key,
                "/api/v1/reports",
                &report(vec![], vec![drift("remediated", at + Duration::minutes(3))]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {other}");
        assert_eq!(other["incidents"][0]["action"], "unchanged", "{name}");
        let open: Vec<(i64, String)> = incident_rows(&fleet.server.db).await;
        assert_eq!(open, vec![(incident, "open".to_string())], "{name}");
    }
}

#[tokio::test]
async fn a_decommissioned_sites_keys_are_refused_at_once() {
    let fleet = sqlite_fleet().await;
    assert_eq!(fleet.report_one_check(&fleet.key1).await, StatusCode::OK);
    let admin = fleet.server.client_as(app::auth::Role::Admin).await;
    let response = admin
        .post(fleet.server.url("/api/decommission_site"))
        .json(&json!({"site_id": "site-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        fleet.report_one_check(&fleet.key1).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(fleet.count("compliance_bundles").await, 1);
}

#[tokio::test]
async fn one_key_past_its_rate_gets_429_and_others_go_on() {
    let limits = posture_server::api::limits::LimitSettings {
        per_key_rate: std::num::NonZeroU32::new(1).unwrap(),
        per_key_burst: std::num::NonZeroU32::new(3).unwrap(),
        ..common::TEST_LIMITS
    };
    let server =
        common::start_with_limits(limits, |sink| ingest::start(common::TEST_INGEST, sink).0).await;
    let (key1, key2, _) = populate(&server.db).await;
    let body = report(vec![check("pass", Utc::now())], vec![]);
    for _ in 0..3 {
        assert_eq!(
            post_report(&server, &key1, &body).await.status(),
            StatusCode::OK
        );
    }
    let refused = post_report(&server, &key1, &body).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let mut other = body.clone();
    other["site_id"] = json!("site-2");
    assert_eq!(
        post_report(&server, &key2, &other).await.status(),
        StatusCode::OK
    );
    assert_eq!(count(&server.db, "compliance_bundles").await, 4);
}

#[tokio::test]
async fn requests_past_the_in_flight_cap_or_the_memory_budget_get_503_at_once() {
    let limits = posture_server::api::limits::LimitSettings {
        requests_in_flight: 1,
        memory_bytes: 1 << 20,
        ..common::TEST_LIMITS
    };
    // A queue nothing drains holds the first request in flight.
    let (queue, _receiver) = IngestQueue::detached(4, StdDuration::from_secs(5));
    let server = common::start_with_limits(limits, |_| queue).await;
    let (key, _, _) = populate(&server.db).await;
    let body = report(vec![check("pass", Utc::now())], vec![]);
    let held = {
        let (url, key, body) = (server.url("/api/v1/reports"), key.clone(), body.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
        })
    };
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let refused = post_report(&server, &key, &body).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(started.elapsed() < StdDuration::from_secs(2));
    // The held request is answered 503 when its acknowledgement times out.
    let held = held.await.unwrap().unwrap();
    assert_eq!(held.status(), StatusCode::SERVICE_UNAVAILABLE);
    let error: Value = held.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("report_id"),
        "{error}"
    );

    // A body larger than the whole budget is refused before it is read.
    let server =
        common::start_with_limits(limits, |sink| ingest::start(common::TEST_INGEST, sink).0).await;
    let (key, _, _) = populate(&server.db).await;
    let padding = "x".repeat(1_100_000);
    let mut big = report(vec![check("pass", Utc::now())], vec![]);
    big["checks"][0]["hostname"] = json!(padding);
    let refused = post_report(&server, &key, &big).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        post_report(&server, &key, &body).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_report_whose_sender_stopped_waiting_is_not_written() {
    let (queue, receiver) = IngestQueue::detached(4, StdDuration::from_millis(300));
    let sink = std::sync::Mutex::new(None);
    let server = common::start_with_ingest(|s| {
        *sink.lock().unwrap() = Some(s);
        queue
    })
    .await;
    let (key, _, _) = populate(&server.db).await;
    let body = report(vec![check("pass", Utc::now())], vec![]);
    let response = post_report(&server, &key, &body).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Only now does a batcher drain the queue: the abandoned report is skipped.
    let sink = sink.lock().unwrap().take().unwrap();
    let batcher = ingest::spawn_batcher(receiver, common::TEST_INGEST, sink);
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert!(!batcher.is_finished());
    assert_eq!(count(&server.db, "compliance_bundles").await, 0);
}

#[tokio::test]
async fn a_lost_database_answers_503_at_once_and_ingestion_heals() {
    let url = common::postgres_database_url().await;
    let name = url.rsplit('/').next().unwrap().to_string();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(StdDuration::from_secs(1))
        .connect(&url)
        .await
        .unwrap();
    let db = Db::Postgres(pool);
    posture_server::database::migrate(&db).await.unwrap();
    let fleet = fleet_on(db, tempfile::tempdir().unwrap()).await;
    assert_eq!(fleet.report_one_check(&fleet.key1).await, StatusCode::OK);
    let admin = sqlx::PgPool::connect(&std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    let cut = |allow: bool| {
        let (admin, name) = (admin.clone(), name.clone());
        async move {
            sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
                .execute(&admin)
                .await
                .unwrap();
            if !allow {
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                )
                .bind(&name)
                .execute(&admin)
                .await
                .unwrap();
            }
        }
    };
    cut(false).await;
    let started = std::time::Instant::now();
    let response = fleet
        .post_raw(
            &fleet.key1,
            "/api/v1/reports",
            serde_json::to_vec(&report(vec![check("pass", Utc::now())], vec![])).unwrap(),
            false,
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    cut(true).await;
    let mut healed = false;
    for _ in 0..50 {
        if fleet.report_one_check(&fleet.key1).await == StatusCode::OK {
            healed = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(
        healed,
        "ingestion did not recover after the database came back"
    );
    assert_eq!(fleet.count("compliance_bundles").await, 2);
}

#[tokio::test]
async fn report_ids_are_forgotten_after_the_retention() {
    let fleet = sqlite_fleet().await;
    let mut body = report(vec![check("pass", Utc::now())], vec![]);
    body["report_id"] = json!("r-1");
    let (status, _) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
    assert_eq!(status, StatusCode::OK);
    let db = &fleet.server.db;
    let week_ago = Utc::now() - posture_server::maintenance::REPORT_ID_RETENTION;
    assert_eq!(
        app::db::appliances::purge_report_ids(db, week_ago)
            .await
            .unwrap(),
        0
    );
    let later = Utc::now() + Duration::seconds(1);
    assert_eq!(
        app::db::appliances::purge_report_ids(db, later)
            .await
            .unwrap(),
        1
    );
    let (status, again) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(again.get("repeated").is_none(), "{again}");
    assert_eq!(fleet.count("compliance_bundles").await, 2);
}

/// The site page's HIPAA controls follow the reported results: one failing host fails every
/// control its check maps to, a warning passes, and a control without results has no data.
#[tokio::test]
async fn a_failing_check_fails_its_hipaa_controls_on_the_site_page() {
    for (name, fleet) in fleets().await {
        let now = Utc::now();
        let result = |check_type: &str, hostname: &str, status: &str| json!({"check_type": check_type, "hostname": hostname, "status": status, "checked_at": now});
        let body = report(
            vec![
                result("backup_job", "FD-01", "pass"),
                result("backup_job", "FD-02", "fail"),
                result("mfa_enforced", "FD-01", "warn"),
            ],
            vec![],
        );
        let (status, answer) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");

        let detail: Value = fleet
            .server
            .get("/api/get_site?site_id=site-1")
            .await
            .json()
            .await
            .unwrap();
        let controls = detail["controls"].as_array().unwrap();
        assert_eq!(controls.len(), app::hipaa::CONTROLS.len(), "{name}");
        let control = |citation: &str| {
            controls
                .iter()
                .find(|c| c["citation"] == citation)
                .unwrap_or_else(|| panic!("{name}: no {citation}"))
        };
        for citation in ["164.308(a)(7)(ii)(A)", "164.310(d)(2)(iv)"] {
            let backup = control(citation);
            assert_eq!(backup["state"], "Failing", "{name}: {backup}");
            assert!(
                backup["checks"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(["backup_job", "fail"])),
                "{name}: the failing check is named: {backup}"
            );
        }
        assert_eq!(control("164.312(d)")["state"], "Pass", "{name}");
        assert_eq!(control("164.312(c)(1)")["state"], "NoData", "{name}");
        let failing = controls.iter().filter(|c| c["state"] == "Failing").count();
        assert_eq!(failing, 2, "{name}: only backup_job's controls fail");
    }
}
