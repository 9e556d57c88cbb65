//! Alerts end to end over real HTTP and SMTP: a drift through the appliance API becomes a
//! mail in a real SMTP server and a signed POST to a real webhook receiver (both started by
//! scripts/test-services.sh), recorded in the delivery log; failures are retried and end dead;
//! bad channels and rules are refused with what to fix. On SQLite and PostgreSQL.

use crate::api::{drift, fleets, report};
use crate::common::{self, count};

use std::time::Duration;

use app::auth::Role;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) fn receiver(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is unset: run under scripts/test-services.sh"))
}

/// Polls `probe` every 100 ms for up to 20 s until it gives a value.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(value) = probe().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what}");
}

/// Mails the test SMTP server received for `address`.
pub(crate) async fn mails_to(address: &str) -> Vec<Value> {
    let all: Vec<Value> = reqwest::get(receiver("TEST_SMTP_MESSAGES_URL"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all.into_iter()
        .filter(|m| {
            m["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == address)
        })
        .collect()
}

/// POSTs the test webhook receiver got at `path`.
pub(crate) async fn posts_to(path: &str) -> Vec<Value> {
    let url = format!("{}/_received", receiver("TEST_WEBHOOK_URL"));
    let all: Vec<Value> = reqwest::get(url).await.unwrap().json().await.unwrap();
    all.into_iter().filter(|p| p["path"] == path).collect()
}

/// Tells the receiver the key to check `path`'s signatures with.
pub(crate) async fn register_secret(path: &str, secret: &str) {
    let url = format!("{}/_secrets{path}", receiver("TEST_WEBHOOK_URL"));
    let answer = reqwest::Client::new()
        .put(url)
        .body(secret.to_string())
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

pub(crate) async fn call(
    admin: &reqwest::Client,
    base: &str,
    function: &str,
    args: Value,
) -> (StatusCode, Value) {
    let response = admin
        .post(format!("{base}/api/{function}"))
        .json(&args)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn get(
    client: &reqwest::Client,
    base: &str,
    function: &str,
) -> (StatusCode, Value) {
    let response = client
        .get(format!("{base}/api/{function}"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Adds a channel; its id.
pub(crate) async fn add_channel(
    admin: &reqwest::Client,
    base: &str,
    name: &str,
    kind: &str,
    target: &str,
) -> i64 {
    let (status, saved) = call(
        admin,
        base,
        "add_alert_channel",
        json!({"channel": {"name": name, "kind": kind, "target": target}}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    saved["Saved"]
        .as_i64()
        .unwrap_or_else(|| panic!("channel {name}: {saved}"))
}

/// Adds `rule` (the form's JSON, `name` and `channels` filled in); its id.
pub(crate) async fn add_rule(
    admin: &reqwest::Client,
    base: &str,
    name: &str,
    channels: &[i64],
    rule: Value,
) -> i64 {
    let mut rule = rule;
    rule["name"] = json!(name);
    rule["channels"] = json!(channels);
    let (status, saved) = call(admin, base, "add_alert_rule", json!({ "rule": rule })).await;
    assert_eq!(status, 200, "{saved}");
    saved["Saved"]
        .as_i64()
        .unwrap_or_else(|| panic!("rule {name}: {saved}"))
}

/// A rule's JSON for every incident, at any severity, with no resolve notice.
pub(crate) fn every_incident() -> Value {
    json!({"client_id": null, "event": "incident", "min_severity": "low", "notify_resolved": false})
}

/// Makes every pending delivery due now: sweeps run at times ahead of the clock queue their
/// alerts for then, and digests wait for their hour.
pub(crate) async fn release_pending(db: &app::db::Db) {
    app::on_db!(db, |pool| sqlx::query(
        "UPDATE alert_deliveries SET next_attempt_at = $1 WHERE status = 'pending'"
    )
    .bind(Utc::now() - chrono::Duration::seconds(1))
    .execute(pool)
    .await
    .map(drop)
    .unwrap());
}

/// A unique suffix per run and database, so tests sharing the receivers see only their own.
pub(crate) fn unique(db: &str) -> String {
    format!(
        "{db}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    )
}

#[tokio::test]
async fn a_drift_becomes_a_mail_and_a_signed_webhook_and_its_remediation_a_resolve_notice() {
    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let tag = unique(db);
        let address = format!("on-call-{tag}@clinic.example");
        let path = format!("/hook/{tag}");

        let mail = add_channel(&admin, &base, "On call", "email", &address).await;
        let target = format!("{}{path}", receiver("TEST_WEBHOOK_URL"));
        let hook = add_channel(&admin, &base, "Ticketing", "webhook", &target).await;
        let (_, channels) = get(&admin, &base, "list_alert_channels").await;
        let secret = channels
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == hook)
            .unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(secret.len(), 64, "{db}: a 256-bit key in hex");
        register_secret(&path, &secret).await;
        let rule = json!({"client_id": null, "event": "incident", "min_severity": "high",
                          "notify_resolved": true});
        add_rule(&admin, &base, "High and worse", &[mail, hook], rule).await;

        let opened = Utc::now();
        let (status, _) = fleet
            .post(
                &fleet.key1,
                "/api/v1/reports",
                &report(vec![], vec![drift("drifted", opened)]),
            )
            .await;
        assert_eq!(status, 200, "{db}");

        let mails = eventually("the mail", || async {
            let mails = mails_to(&address).await;
            (!mails.is_empty()).then_some(mails)
        })
        .await;
        let subject = mails[0]["subject"].as_str().unwrap();
        assert_eq!(
            subject, "[high] bitlocker_status failing at Clinic 1 (FD-01)",
            "{db}"
        );
        assert!(
            mails[0]["body"].as_str().unwrap().contains("Client: Acme"),
            "{db}"
        );

        let posts = eventually("the webhook", || async {
            let posts = posts_to(&path).await;
            (!posts.is_empty()).then_some(posts)
        })
        .await;
        assert_eq!(posts[0]["signature_valid"], true, "{db}: {}", posts[0]);
        let body: Value = serde_json::from_str(posts[0]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["event"], "incident.opened", "{db}");
        assert_eq!(body["site"], "site-1", "{db}");

        let (_, log) = get(&admin, &base, "list_alert_deliveries").await;
        let sent: Vec<_> = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "sent")
            .collect();
        assert_eq!(sent.len(), 2, "{db}: {log}");

        let (status, _) = fleet
            .post(
                &fleet.key1,
                "/api/v1/reports",
                &report(vec![], vec![drift("remediated", Utc::now())]),
            )
            .await;
        assert_eq!(status, 200, "{db}");
        let resolved = eventually("the resolve notice", || async {
            let mails = mails_to(&address).await;
            mails
                .into_iter()
                .find(|m| m["subject"].as_str().unwrap().contains("resolved"))
        })
        .await;
        assert_eq!(
            resolved["subject"], "[high] bitlocker_status resolved at Clinic 1 (FD-01)",
            "{db}"
        );
        assert_eq!(
            mails_to(&address).await.len(),
            2,
            "{db}: one mail per event, none twice"
        );
    }
}

#[tokio::test]
async fn a_failing_webhook_is_retried_until_dead_and_an_admin_retries_it() {
    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let target = format!("{}/status/500", receiver("TEST_WEBHOOK_URL"));
        let hook = add_channel(&admin, &base, "Broken", "webhook", &target).await;
        add_rule(&admin, &base, "All", &[hook], every_incident()).await;
        fleet
            .post(
                &fleet.key1,
                "/api/v1/reports",
                &report(vec![], vec![drift("drifted", Utc::now())]),
            )
            .await;

        // Each failed attempt schedules the next one up to 30 minutes ahead: the test brings
        // it forward instead of waiting, attempt after attempt.
        let db_handle = fleet.server.db.clone();
        let last = eventually("the delivery to die", || {
            let db_handle = db_handle.clone();
            let (admin, base) = (admin.clone(), base.clone());
            async move {
                app::on_db!(&db_handle, |pool| sqlx::query(
                    "UPDATE alert_deliveries SET next_attempt_at = $1 WHERE status = 'pending' AND attempts > 0"
                )
                .bind(Utc::now() - chrono::Duration::seconds(1))
                .execute(pool)
                .await
                .map(drop)
                .unwrap());
                let (_, log) = get(&admin, &base, "list_alert_deliveries").await;
                log.as_array().unwrap().first().filter(|d| d["status"] == "dead").cloned()
            }
        })
        .await;
        assert_eq!(
            last["attempts"],
            app::services::alerts::MAX_ATTEMPTS,
            "{db}: {last}"
        );
        assert!(
            last["last_error"].as_str().unwrap().starts_with("HTTP 500"),
            "{db}: {last}"
        );
        let metrics = reqwest::get(fleet.server.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for outcome in ["retry", "dead"] {
            let counter = format!(r#"posture_alert_deliveries_total{{outcome="{outcome}"}}"#);
            assert!(metrics.contains(&counter), "{db}: {counter} in /metrics");
        }

        let operator = fleet.server.client_as(Role::Operator).await;
        let id = last["id"].as_i64().unwrap();
        let (status, _) = call(&operator, &base, "retry_alert_delivery", json!({"id": id})).await;
        assert_eq!(status, 403, "{db}: operators read the log, admins retry");
        let (status, log) = get(&operator, &base, "list_alert_deliveries").await;
        assert_eq!(status, 200, "{db}: {log}");

        let (status, _) = call(&admin, &base, "retry_alert_delivery", json!({"id": id})).await;
        assert_eq!(status, 200, "{db}");
        let again = eventually("the retried attempt", || {
            let (admin, base) = (admin.clone(), base.clone());
            async move {
                let (_, log) = get(&admin, &base, "list_alert_deliveries").await;
                log.as_array()
                    .unwrap()
                    .first()
                    .filter(|d| d["attempts"] == 1)
                    .cloned()
            }
        })
        .await;
        assert_eq!(
            again["status"], "pending",
            "{db}: failing again, waiting for attempt 2"
        );
        let (status, _) = call(&admin, &base, "retry_alert_delivery", json!({"id": id})).await;
        assert_eq!(status, 404, "{db}: only a dead delivery is retried");
    }
}

#[tokio::test]
async fn bad_channels_and_rules_are_refused_with_what_to_fix_and_nothing_is_written() {
    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        for (channel, field, says) in [
            (
                json!({"name": "x", "kind": "webhook", "target": "ftp://example.com/x"}),
                "target",
                "not ftp",
            ),
            (
                json!({"name": "x", "kind": "slack", "target": "hooks.slack.com/x"}),
                "target",
                "absolute URL",
            ),
            (
                json!({"name": "x", "kind": "email", "target": "a@b.example, not-an-address"}),
                "target",
                "not-an-address",
            ),
            (
                json!({"name": "  ", "kind": "email", "target": "a@b.example"}),
                "name",
                "name",
            ),
        ] {
            let (status, answer) = call(
                &admin,
                &base,
                "add_alert_channel",
                json!({"channel": channel}),
            )
            .await;
            assert_eq!(status, 200, "{db}");
            let message = answer["Invalid"][field].as_str().unwrap_or_default();
            assert!(message.contains(says), "{db}: {channel} → {answer}");
        }
        let (status, answer) = call(
            &admin,
            &base,
            "add_alert_channel",
            json!({"channel": {"name": "x", "kind": "pager", "target": "y"}}),
        )
        .await;
        assert_eq!(status, 400, "{db}: {answer}");
        let (_, answer) = call(
            &admin,
            &base,
            "add_alert_rule",
            json!({"rule": {
            "name": "Nobody", "client_id": null, "event": "incident", "min_severity": "high",
            "notify_resolved": true, "channels": [] }}),
        )
        .await;
        assert!(
            answer["Invalid"]["channels"]
                .as_str()
                .unwrap()
                .contains("alerts nobody"),
            "{db}: {answer}"
        );
        let (_, answer) = call(
            &admin,
            &base,
            "add_alert_rule",
            json!({"rule": {
            "name": "Ghost", "client_id": 999, "event": "incident", "min_severity": "high",
            "notify_resolved": true, "channels": [12345] }}),
        )
        .await;
        assert!(answer["Invalid"]["channels"].is_string(), "{db}: {answer}");
        assert!(answer["Invalid"]["client_id"].is_string(), "{db}: {answer}");
        let mail = json!({"name": "m", "kind": "email", "target": "a@b.example"});
        let (_, saved) = call(&admin, &base, "add_alert_channel", json!({"channel": mail})).await;
        let channel = saved["Saved"].as_i64().unwrap();
        for (event, options, field, says) in [
            (
                "silent",
                json!({"warn_after_minutes": 5}),
                "warn_after_minutes",
                "online",
            ),
            (
                "silent",
                json!({"warn_after_minutes": 60, "critical_after_minutes": 30}),
                "critical_after_minutes",
                "Later than the first",
            ),
            ("compliance", json!({}), "below_percent", "percentage"),
            (
                "compliance",
                json!({"below_percent": 140}),
                "below_percent",
                "1 to 100",
            ),
            (
                "incident",
                json!({"repeat_minutes": 1}),
                "repeat_minutes",
                "15 minutes",
            ),
            (
                "chain",
                json!({"repeat_minutes": 60}),
                "repeat_minutes",
                "once",
            ),
        ] {
            let rule = json!({"rule": {"name": "r", "client_id": null, "event": event,
                "min_severity": "high", "notify_resolved": true, "channels": [channel],
                "options": options}});
            let (_, answer) = call(&admin, &base, "add_alert_rule", rule).await;
            let message = answer["Invalid"][field].as_str().unwrap_or_default();
            assert!(message.contains(says), "{db}: {event} {options} → {answer}");
        }
        app::on_db!(&fleet.server.db, |pool| sqlx::query(
            "DELETE FROM alert_channels"
        )
        .execute(pool)
        .await
        .map(drop)
        .unwrap());
        assert_eq!(fleet.count("alert_channels").await, 0, "{db}");
        assert_eq!(count(&fleet.server.db, "alert_rules").await, 0, "{db}");

        let operator = fleet.server.client_as(Role::Operator).await;
        let (status, _) = call(
            &operator,
            &base,
            "add_alert_channel",
            json!({"channel": {
            "name": "x", "kind": "email", "target": "a@b.example"}}),
        )
        .await;
        assert_eq!(status, 403, "{db}");
        assert_eq!(fleet.count("alert_channels").await, 0, "{db}");
    }
}

#[tokio::test]
async fn send_test_reports_the_receivers_answer() {
    let (_, fleet) = fleets().await.remove(0);
    let base = fleet.server.url("");
    let admin = fleet.server.client_as(Role::Admin).await;
    let tag = unique("test");
    let address = format!("test-{tag}@msp.example");
    let mut ids = Vec::new();
    for (name, kind, target) in [
        ("Mail", "email", address.clone()),
        (
            "Down",
            "webhook",
            format!("{}/status/503", receiver("TEST_WEBHOOK_URL")),
        ),
        (
            "Moved",
            "teams",
            format!("{}/redirect", receiver("TEST_WEBHOOK_URL")),
        ),
        ("Nobody home", "webhook", "http://127.0.0.1:9/x".to_string()),
    ] {
        ids.push(add_channel(&admin, &base, name, kind, &target).await);
    }
    let mut answers = Vec::new();
    for id in &ids {
        let (status, answer) = call(&admin, &base, "send_test_alert", json!({"id": id})).await;
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }
    assert_eq!(answers[0]["delivered"], true, "{}", answers[0]);
    assert!(
        answers[0]["answer"]
            .as_str()
            .unwrap()
            .starts_with("SMTP 250"),
        "{}",
        answers[0]
    );
    assert_eq!(mails_to(&address).await.len(), 1);
    assert_eq!(answers[1]["delivered"], false);
    assert!(
        answers[1]["answer"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 503"),
        "{}",
        answers[1]
    );
    assert!(
        answers[2]["answer"].as_str().unwrap().contains("moved to"),
        "{}",
        answers[2]
    );
    assert!(
        answers[3]["answer"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{}",
        answers[3]
    );
    let (status, _) = call(&admin, &base, "send_test_alert", json!({"id": 999_999})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_storm_sends_the_hourly_limit_and_folds_the_rest_into_one_digest() {
    use app::services::alerts::ALERTS_PER_HOUR;

    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let path = format!("/storm/{}", unique(db));
        let target = format!("{}{path}", receiver("TEST_WEBHOOK_URL"));
        let hook = add_channel(&admin, &base, "Storm", "webhook", &target).await;
        add_rule(&admin, &base, "Everything", &[hook], every_incident()).await;
        let storm: Vec<Value> = (0..30)
            .map(|i| {
                let mut event = drift("drifted", Utc::now());
                event["hostname"] = json!(format!("WS-{i:02}"));
                event
            })
            .collect();
        let (status, _) = fleet
            .post(&fleet.key1, "/api/v1/reports", &report(vec![], storm))
            .await;
        assert_eq!(status, 200, "{db}");

        let limit = ALERTS_PER_HOUR as usize;
        eventually("the alerts within the limit", || async {
            (posts_to(&path).await.len() == limit).then_some(())
        })
        .await;
        // The receiver can record a post before its sender marks the delivery sent.
        let statuses = eventually("the sent alerts marked sent", || async {
            let statuses: Vec<String> = common::column(
                &fleet.server.db,
                "SELECT status FROM alert_deliveries WHERE kind = 'alert' ORDER BY id",
                &[],
            )
            .await;
            (statuses.iter().filter(|s| *s == "sent").count() == limit).then_some(statuses)
        })
        .await;
        assert_eq!(
            statuses.iter().filter(|s| *s == "folded").count(),
            30 - limit,
            "{db}"
        );

        // The digest waits for the end of the hour; the test brings the hour's end forward.
        app::on_db!(&fleet.server.db, |pool| sqlx::query(
            "UPDATE alert_deliveries SET next_attempt_at = $1 WHERE kind = 'digest'"
        )
        .bind(Utc::now() - chrono::Duration::seconds(1))
        .execute(pool)
        .await
        .map(drop)
        .unwrap());
        let digest = eventually("the digest", || async {
            let posts = posts_to(&path).await;
            (posts.len() == limit + 1).then(|| posts[limit].clone())
        })
        .await;
        let body: Value = serde_json::from_str(digest["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["event"], "digest", "{db}: {body}");
        assert_eq!(body["count"], 30 - limit, "{db}: {body}");
        assert_eq!(body["alerts"].as_array().unwrap().len(), 30 - limit, "{db}");
    }
}

#[tokio::test]
async fn a_silent_site_is_stale_then_offline_then_clear_with_an_alert_at_each_step() {
    use posture_server::alerts::silence::{CHECK_TYPE, sweep};

    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let tag = unique(db);
        let (silence_to, incidents_to) = (
            format!("silence-{tag}@msp.example"),
            format!("incidents-{tag}@msp.example"),
        );
        let late_to = format!("late-{tag}@msp.example");
        let silence = add_channel(&admin, &base, "Silence", "email", &silence_to).await;
        let late = add_channel(&admin, &base, "Late", "email", &late_to).await;
        let incidents = add_channel(&admin, &base, "Incidents", "email", &incidents_to).await;
        let silent = |warn: i32, critical: Option<i32>| {
            json!({"client_id": null, "event": "silent", "min_severity": "low", "notify_resolved": true,
                   "options": {"warn_after_minutes": warn, "critical_after_minutes": critical}})
        };
        add_rule(&admin, &base, "Silence", &[silence], silent(15, Some(60))).await;
        add_rule(&admin, &base, "Late", &[late], silent(45, None)).await;
        add_rule(&admin, &base, "Incidents", &[incidents], every_incident()).await;
        let checkin = json!({"site_id": "site-1", "agent_version": "1.0.0"});
        let (status, _) = fleet.post(&fleet.key1, "/api/v1/checkin", &checkin).await;
        assert_eq!(status, 200, "{db}");
        let checked_in = Utc::now();
        let silence = |db: &app::db::Db| {
            let db = db.clone();
            async move {
                common::column::<String>(
                    &db,
                    &format!("SELECT severity || ' ' || status FROM incidents WHERE check_type = '{CHECK_TYPE}'"),
                    &[],
                )
                .await
            }
        };

        let server_db = &fleet.server.db;
        assert!(
            sweep(server_db, checked_in + chrono::Duration::minutes(14))
                .await
                .unwrap()
                .is_empty(),
            "{db}"
        );
        assert_eq!(
            sweep(server_db, checked_in + chrono::Duration::minutes(16))
                .await
                .unwrap(),
            ["site-1"],
            "{db}: site-2 never checked in: pending, not silent"
        );
        assert_eq!(silence(server_db).await, ["high open"], "{db}");
        assert!(
            sweep(server_db, checked_in + chrono::Duration::minutes(30))
                .await
                .unwrap()
                .is_empty(),
            "{db}: still stale, nothing new"
        );
        sweep(server_db, checked_in + chrono::Duration::minutes(61))
            .await
            .unwrap();
        assert_eq!(silence(server_db).await, ["critical open"], "{db}");

        let (status, _) = fleet.post(&fleet.key1, "/api/v1/checkin", &checkin).await;
        assert_eq!(status, 200, "{db}");
        sweep(server_db, Utc::now()).await.unwrap();
        assert_eq!(silence(server_db).await, ["critical resolved"], "{db}");

        // The sweeps ran at times ahead of the clock, and queued their alerts for then.
        release_pending(server_db).await;
        let subjects_to = |address: String, expected: usize| async move {
            eventually("the silence mails", || async {
                let mut subjects: Vec<String> = mails_to(&address)
                    .await
                    .iter()
                    .map(|m| m["subject"].as_str().unwrap().to_string())
                    .collect();
                subjects.sort();
                (subjects.len() == expected).then_some(subjects)
            })
            .await
        };
        let stopped = "its appliance stopped checking in";
        assert_eq!(
            subjects_to(silence_to.clone(), 3).await,
            [
                "Clinic 1 (site-1) is checking in again".to_string(),
                format!("[critical] Clinic 1 (site-1) silent for 1 h 1 min: {stopped}"),
                format!("[high] Clinic 1 (site-1) silent for 16 min: {stopped}"),
            ],
            "{db}: a warning at 15 minutes, critical at 60, and the all-clear"
        );
        assert_eq!(
            subjects_to(late_to.clone(), 2).await,
            [
                "Clinic 1 (site-1) is checking in again".to_string(),
                format!("[high] Clinic 1 (site-1) silent for 1 h 1 min: {stopped}"),
            ],
            "{db}: a rule of 45 minutes alerts at the first sweep past them, once"
        );
        assert!(
            mails_to(&incidents_to).await.is_empty(),
            "{db}: incident rules do not alert on silence"
        );
    }
}

#[tokio::test]
async fn one_server_at_a_time_holds_the_sweep_lease() {
    use app::db::leases::acquire;

    for test_db in common::databases().await {
        let (db, name) = (&test_db.db, test_db.name);
        let now = Utc::now();
        let ttl = chrono::Duration::seconds(90);
        assert!(acquire(db, "sweep", "a", now, ttl).await.unwrap(), "{name}");
        assert!(
            !acquire(db, "sweep", "b", now, ttl).await.unwrap(),
            "{name}: a holds it"
        );
        assert!(
            acquire(db, "sweep", "a", now + chrono::Duration::seconds(30), ttl)
                .await
                .unwrap(),
            "{name}: a renews"
        );
        assert!(
            !acquire(db, "sweep", "b", now + chrono::Duration::seconds(100), ttl)
                .await
                .unwrap(),
            "{name}: renewed until 120 s"
        );
        assert!(
            acquire(db, "sweep", "b", now + chrono::Duration::seconds(121), ttl)
                .await
                .unwrap(),
            "{name}: expired, b takes it"
        );
        assert!(
            !acquire(db, "sweep", "a", now + chrono::Duration::seconds(122), ttl)
                .await
                .unwrap(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_maintenance_window_holds_its_sites_alerts_back_and_logs_them() {
    for (db, fleet) in fleets().await {
        let base = fleet.server.url("");
        let admin = fleet.server.client_as(Role::Admin).await;
        let address = format!("window-{}@msp.example", unique(db));
        let mail = add_channel(&admin, &base, "Mail", "email", &address).await;
        add_rule(&admin, &base, "All", &[mail], every_incident()).await;

        let local = |minutes: i64| {
            (Utc::now() + chrono::Duration::minutes(minutes))
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        };
        let window = |site: &str, start: i64, end: i64, zone: &str| {
            json!({"window": {
            "site": site, "client_id": null, "reason": "Patch night", "start": local(start),
            "end": local(end), "weekly": false, "time_zone": zone }})
        };
        let (status, saved) = call(
            &admin,
            &base,
            "add_maintenance_window",
            window("site-1", -10, 50, "UTC"),
        )
        .await;
        assert_eq!(status, 200, "{db}: {saved}");
        assert!(saved["Saved"].is_i64(), "{db}: {saved}");
        for (bad, field, says) in [
            (window("site-1", 20, 80, "UTC"), "start", "overlaps window"),
            (
                window("site-2", 30, 10, "UTC"),
                "end",
                "ends before it starts",
            ),
            (
                window("site-2", 10, 30, "Mars/Olympus"),
                "time_zone",
                "not a time zone",
            ),
            (window("site-9", 10, 30, "UTC"), "site", "No such site"),
        ] {
            let (_, answer) = call(&admin, &base, "add_maintenance_window", bad).await;
            let message = answer["Invalid"][field].as_str().unwrap_or_default();
            assert!(message.contains(says), "{db}: {answer}");
        }
        let operator = fleet.server.client_as(Role::Operator).await;
        let (status, _) = call(
            &operator,
            &base,
            "add_maintenance_window",
            window("site-2", 100, 160, "UTC"),
        )
        .await;
        assert_eq!(status, 403, "{db}");
        let (status, windows) = get(&operator, &base, "list_maintenance_windows").await;
        assert_eq!(status, 200, "{db}");
        assert_eq!(windows.as_array().unwrap().len(), 1, "{db}: {windows}");
        assert_eq!(windows[0]["active"], true, "{db}: {windows}");

        for key in [&fleet.key1, &fleet.key2] {
            let site = if key == &fleet.key1 {
                "site-1"
            } else {
                "site-2"
            };
            let body =
                json!({"site_id": site, "checks": [], "drift": [drift("drifted", Utc::now())]});
            let (status, _) = fleet.post(key, "/api/v1/reports", &body).await;
            assert_eq!(status, 200, "{db}");
        }
        let mails = eventually("site-2's mail", || async {
            let mails = mails_to(&address).await;
            (!mails.is_empty()).then_some(mails)
        })
        .await;
        assert_eq!(mails.len(), 1, "{db}: only site-2's alert is sent");
        assert!(
            mails[0]["subject"].as_str().unwrap().contains("Clinic 2"),
            "{db}"
        );
        let (_, log) = get(&admin, &base, "list_alert_deliveries").await;
        let held = log
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["status"] == "suppressed")
            .expect("a suppressed alert");
        let why = held["held_back_by"].as_str().unwrap();
        assert!(
            why.contains("Patch night") && why.contains("admin@test.local"),
            "{db}: {why}"
        );
        assert_eq!(
            count(&fleet.server.db, "incidents").await,
            2,
            "{db}: incidents are still recorded"
        );
    }
}
