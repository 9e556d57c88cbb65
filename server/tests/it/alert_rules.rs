//! What rules watch beyond incidents, and how they send: compliance below a threshold, a
//! broken evidence chain, reminders while unresolved, hourly summaries; and the channels'
//! failures a user must be told of (an SMTP login refused, a webhook that hangs, a malformed
//! `--smtp-url`). Over real HTTP and SMTP, on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use app::auth::Role;
use app::services::alerts::send::{AlertSender, SmtpSettings};
use app::services::alerts::{AlertEvent, Message};
use chrono::Utc;
use serde_json::{Value, json};

use crate::alerts::{
    add_channel, add_rule, eventually, every_incident, get, mails_to, receiver, release_pending,
    unique,
};
use crate::api::{chain, check, drift, fleets, hash, report};
use crate::common;

/// The subjects of the mails `address` got, once there are `expected`, sorted.
async fn subjects_to(address: &str, expected: usize) -> Vec<String> {
    eventually(&format!("{expected} mails to {address}"), || async {
        let mut subjects: Vec<String> = mails_to(address)
            .await
            .iter()
            .map(|m| m["subject"].as_str().unwrap().to_string())
            .collect();
        subjects.sort();
        (subjects.len() >= expected).then_some(subjects)
    })
    .await
}

#[tokio::test]
async fn a_compliance_rule_alerts_once_below_its_threshold_again_on_repeat_and_when_back() {
    use posture_server::alerts::compliance::sweep;

    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let address = format!("compliance-{}@msp.example", unique(db));
        let mail = add_channel(&admin, &base, "Compliance", "email", &address).await;
        let rule = json!({"client_id": null, "event": "compliance", "min_severity": "critical",
            "notify_resolved": true, "options": {"below_percent": 80, "repeat_minutes": 60}});
        add_rule(&admin, &base, "Below 80", &[mail], rule).await;
        let (_, rules) = get(&admin, &base, "list_alert_rules").await;
        assert_eq!(rules[0]["options"]["below_percent"], 80, "{db}: {rules}");

        let now = Utc::now();
        let failing = report(vec![check("fail", now)], vec![]);
        assert_eq!(
            fleet.post(&fleet.key1, "/api/v1/reports", &failing).await.0,
            200
        );
        let server_db = &fleet.server.db;
        assert_eq!(
            sweep(server_db, now).await.unwrap(),
            1,
            "{db}: site-1 is at 0 %"
        );
        assert_eq!(
            sweep(server_db, now + chrono::Duration::minutes(30))
                .await
                .unwrap(),
            0,
            "{db}: still below, the hour not over: nothing"
        );
        assert_eq!(
            sweep(server_db, now + chrono::Duration::minutes(61))
                .await
                .unwrap(),
            1,
            "{db}: a reminder after the repeat interval"
        );
        let passing = report(vec![check("pass", Utc::now())], vec![]);
        assert_eq!(
            fleet.post(&fleet.key1, "/api/v1/reports", &passing).await.0,
            200
        );
        assert_eq!(
            sweep(server_db, now + chrono::Duration::minutes(62))
                .await
                .unwrap(),
            1,
            "{db}: back above"
        );
        assert_eq!(
            common::count(server_db, "alert_conditions").await,
            0,
            "{db}"
        );

        release_pending(server_db).await;
        assert_eq!(
            subjects_to(&address, 3).await,
            [
                "Clinic 1 (site-1) compliance is back: 100% (threshold 80%)",
                "Still unresolved: [high] Clinic 1 (site-1) compliance 0% (threshold 80%)",
                "[high] Clinic 1 (site-1) compliance 0% (threshold 80%)",
            ],
            "{db}"
        );
    }
}

#[tokio::test]
async fn a_broken_evidence_chain_alerts_once_and_a_batch_sent_again_not_at_all() {
    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let address = format!("chain-{}@msp.example", unique(db));
        let mail = add_channel(&admin, &base, "Evidence", "email", &address).await;
        let rule = json!({"client_id": null, "event": "chain", "min_severity": "low",
                          "notify_resolved": true});
        add_rule(&admin, &base, "Chain", &[mail], rule).await;

        let stored = json!({"site_id": "site-1", "bundles": chain(1, 3, None)});
        let path = "/api/v1/evidence/batch";
        assert_eq!(fleet.post(&fleet.key1, path, &stored).await.0, 200, "{db}");
        let (status, _) = fleet.post(&fleet.key1, path, &stored).await;
        assert_eq!(status, 409, "{db}: sent again: refused, but no break");

        let forged = json!({"site_id": "site-1", "bundles": chain(5, 5, Some(hash("forged")))});
        for _ in 0..3 {
            let (status, answer) = fleet.post(&fleet.key1, path, &forged).await;
            assert_eq!(status, 409, "{db}: {answer}");
        }
        let subjects = subjects_to(&address, 1).await;
        let head = hash("3");
        assert_eq!(
            subjects,
            [format!(
                "[critical] Clinic 1 (site-1) evidence chain broken: a batch claimed position 5 \
                 after {}; the chain ends at position 3 ({})",
                &hash("forged")[..12],
                &head[..12]
            )],
            "{db}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            mails_to(&address).await.len(),
            1,
            "{db}: the same broken batch alerts once, a batch sent again never"
        );
    }
}

#[tokio::test]
async fn an_unresolved_incident_is_repeated_until_it_resolves() {
    use posture_server::alerts::reminders::sweep;

    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let address = format!("repeat-{}@msp.example", unique(db));
        let mail = add_channel(&admin, &base, "Mail", "email", &address).await;
        let mut rule = every_incident();
        rule["options"] = json!({"repeat_minutes": 30});
        add_rule(&admin, &base, "Until fixed", &[mail], rule).await;

        let opened = report(vec![], vec![drift("drifted", Utc::now())]);
        assert_eq!(
            fleet.post(&fleet.key1, "/api/v1/reports", &opened).await.0,
            200
        );
        subjects_to(&address, 1).await;
        let server_db = &fleet.server.db;
        let now = Utc::now();
        assert_eq!(sweep(server_db, now).await.unwrap(), 0, "{db}: not yet");
        let later = now + chrono::Duration::minutes(31);
        assert_eq!(sweep(server_db, later).await.unwrap(), 1, "{db}");
        assert_eq!(
            sweep(server_db, later).await.unwrap(),
            0,
            "{db}: the next one 30 minutes after the reminder"
        );
        release_pending(server_db).await;
        assert_eq!(
            subjects_to(&address, 2).await,
            [
                "Still unresolved: [high] bitlocker_status failing at Clinic 1 (FD-01)",
                "[high] bitlocker_status failing at Clinic 1 (FD-01)",
            ],
            "{db}"
        );

        let resolved = report(vec![], vec![drift("remediated", Utc::now())]);
        assert_eq!(
            fleet
                .post(&fleet.key1, "/api/v1/reports", &resolved)
                .await
                .0,
            200
        );
        assert_eq!(
            sweep(server_db, now + chrono::Duration::hours(5))
                .await
                .unwrap(),
            0,
            "{db}: resolved: no more reminders"
        );
    }
}

#[tokio::test]
async fn a_summary_rule_gathers_its_alerts_into_one_message_an_hour() {
    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let address = format!("summary-{}@msp.example", unique(db));
        let mail = add_channel(&admin, &base, "Mail", "email", &address).await;
        let mut rule = every_incident();
        rule["options"] = json!({"delivery": "hourly"});
        add_rule(&admin, &base, "Summary", &[mail], rule).await;

        let events: Vec<Value> = (0..3)
            .map(|i| {
                let mut event = drift("drifted", Utc::now());
                event["hostname"] = json!(format!("WS-{i}"));
                event
            })
            .collect();
        let storm = report(vec![], events);
        assert_eq!(
            fleet.post(&fleet.key1, "/api/v1/reports", &storm).await.0,
            200
        );
        let server_db = &fleet.server.db;
        let kinds: Vec<String> = common::column(
            server_db,
            "SELECT kind || ' ' || status FROM alert_deliveries ORDER BY id",
            &[],
        )
        .await;
        assert_eq!(
            kinds,
            [
                "digest pending",
                "alert folded",
                "alert folded",
                "alert folded"
            ],
            "{db}"
        );
        let due: Vec<String> = common::column(
            server_db,
            "SELECT CAST(next_attempt_at AS TEXT) FROM alert_deliveries WHERE kind = 'digest'",
            &[],
        )
        .await;
        let next_hour = (Utc::now() + chrono::Duration::hours(1))
            .format("%H:00:00")
            .to_string();
        assert!(
            due[0].contains(&next_hour),
            "{db}: sent at the top of the hour: {due:?}"
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(
            mails_to(&address).await.is_empty(),
            "{db}: nothing before the hour ends"
        );

        release_pending(server_db).await;
        let mails = eventually("the summary", || async {
            let mails = mails_to(&address).await;
            (!mails.is_empty()).then_some(mails)
        })
        .await;
        assert_eq!(mails.len(), 1, "{db}");
        assert_eq!(
            mails[0]["subject"], "3 alerts from rule \"Summary\" in the last hour",
            "{db}"
        );
        let body = mails[0]["body"].as_str().unwrap();
        assert!(body.contains("failing at Clinic 1 (WS-2)"), "{db}: {body}");
    }
}

/// An e-mail channel to `address`, as the store keeps it.
fn mailbox(address: &str) -> app::alerts::AlertChannel {
    app::alerts::AlertChannel {
        id: 1,
        name: "Mail".into(),
        kind: app::alerts::ChannelKind::Email,
        target: address.into(),
        secret: String::new(),
        created_at: Utc::now(),
    }
}

fn test_message() -> Message {
    AlertEvent {
        event: "test".into(),
        rule: "test".into(),
        severity: "info".into(),
        client: "Acme".into(),
        clinic: "Clinic 1".into(),
        site: "site-1".into(),
        hostname: "FD-01".into(),
        check_type: "alert_channel".into(),
        incident_id: None,
        at: Utc::now(),
        detail: String::new(),
        reminder: false,
    }
    .message()
}

#[tokio::test]
async fn an_smtp_server_that_refuses_the_login_is_named_in_the_answer() {
    let relay = receiver("TEST_SMTP_AUTH_URL");
    let host = relay.trim_start_matches("smtp://");
    let address = format!("auth-{}@msp.example", unique("smtp"));
    let sender = |credentials: &str| {
        AlertSender::new(Some(SmtpSettings {
            url: format!("smtp://{credentials}@{host}"),
            from: "posture@msp.example".into(),
        }))
        .unwrap()
    };
    let refused = sender("posture:wrong")
        .send(&mailbox(&address), &test_message(), "auth-1")
        .await
        .unwrap_err();
    assert!(refused.contains("535"), "the server's refusal: {refused}");
    let accepted = sender("posture:relay-secret")
        .send(&mailbox(&address), &test_message(), "auth-2")
        .await
        .unwrap();
    assert!(accepted.starts_with("SMTP 250"), "{accepted}");
}

#[tokio::test]
async fn a_webhook_that_never_answers_fails_after_the_attempt_timeout() {
    use app::services::alerts::send::ATTEMPT_TIMEOUT;

    let hook = app::alerts::AlertChannel {
        kind: app::alerts::ChannelKind::Webhook,
        target: format!("{}/hang", receiver("TEST_WEBHOOK_URL")),
        secret: "k".into(),
        ..mailbox("")
    };
    let started = Instant::now();
    let error = AlertSender::new(None)
        .unwrap()
        .send(&hook, &test_message(), "hang-1")
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(error.contains("no answer within 10 s"), "{error}");
    assert!(
        waited >= ATTEMPT_TIMEOUT && waited < ATTEMPT_TIMEOUT + Duration::from_secs(3),
        "gave up after {waited:?}"
    );
}

#[tokio::test]
async fn a_malformed_smtp_url_stops_serve_at_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_posture"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--smtp-url",
            "smtp//relay:25",
        ])
        .arg("--leptos-config")
        .arg(format!("{}/../Leptos.toml", env!("CARGO_MANIFEST_DIR")))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/posture.db?mode=rwc", dir.path().display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while serve.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            serve.kill().unwrap();
            panic!("serve kept running with a malformed --smtp-url");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let output = serve.wait_with_output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--smtp-url"), "{stderr}");
}

#[tokio::test]
async fn two_servers_claim_each_due_delivery_once() {
    use app::db::alerts::claim_due;

    let args = posture_server::config::DatabaseArgs::at(common::postgres_database_url().await);
    let a = posture_server::database::connect(&args).await.unwrap();
    posture_server::database::migrate(&a).await.unwrap();
    let b = posture_server::database::connect(&args).await.unwrap();
    let channel = app::alerts::ChannelInput {
        name: "Hook".into(),
        kind: app::alerts::ChannelKind::Webhook,
        target: "http://127.0.0.1:9/x".into(),
    };
    let audit = app::services::Actor {
        name: "test".into(),
        ip: None,
    }
    .audit("alert.channel.add", "Hook", json!({}));
    let channel = app::db::alerts::insert_channel(&a, &channel, "k", &audit)
        .await
        .unwrap();
    app::on_db!(&a, |pool| {
        for i in 0..400 {
            sqlx::query(
                "INSERT INTO alert_deliveries (idempotency_key, channel_id, subject, payload, kind, \
                 status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, 'x', '{}', 'alert', 'pending', 0, $3, $3)",
            )
            .bind(format!("d-{i}"))
            .bind(channel)
            .bind(Utc::now() - chrono::Duration::seconds(1))
            .execute(pool)
            .await
            .unwrap();
        }
    });
    let lease = chrono::Duration::seconds(30);
    let claim_all = |db: app::db::Db| async move {
        let mut ids = Vec::new();
        loop {
            let claimed = claim_due(&db, Utc::now(), lease, 16).await.unwrap();
            if claimed.is_empty() {
                return ids;
            }
            ids.extend(claimed.iter().map(|c| c.id));
        }
    };
    let (from_a, from_b) = tokio::join!(claim_all(a.clone()), claim_all(b.clone()));
    assert!(
        !from_a.is_empty() && !from_b.is_empty(),
        "both servers claimed: {} and {}",
        from_a.len(),
        from_b.len()
    );
    let mut all: Vec<i64> = from_a.into_iter().chain(from_b).collect();
    all.sort_unstable();
    let claims = all.len();
    all.dedup();
    assert_eq!(claims, 400, "each delivery claimed once");
    assert_eq!(all.len(), 400);
}
