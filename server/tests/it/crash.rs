//! The real `posture serve` process under abuse. Crash safety: it is killed with SIGKILL in the
//! middle of a load of reports, restarted, and every report it had acknowledged must be in the
//! database, on SQLite and on PostgreSQL. Memory: thousands of large bodies at once stay within
//! its memory budget.

use crate::common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::on_db;
use chrono::Utc;
use common::fixture;
use posture_server::config::DatabaseArgs;
use posture_server::database;
use posture_server::provision::provision_appliance;
use serde_json::{Value, json};

const CHECKS_PER_REPORT: usize = 5;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `posture serve` with `flags`. The tests send as fast as they can from one key, so
/// that key's rate limit is raised out of their way.
fn spawn_server(database_url: &str, port: u16, flags: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(["--api-key-rate", "1000000"])
        .args(flags)
        .arg("--leptos-config")
        .arg(format!("{}/../Leptos.toml", env!("CARGO_MANIFEST_DIR")))
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start posture serve")
}

/// Migrates the database at `args`, adds `site-1` with one appliance and returns its key.
async fn site_with_appliance(args: &DatabaseArgs) -> String {
    let db = database::connect(args).await.unwrap();
    database::migrate(&db).await.unwrap();
    fixture::client(&db, 1, "Acme").await;
    fixture::site(&db, 1, 1, None).await;
    let key = provision_appliance(&db, "site-1", "app-1")
        .await
        .unwrap()
        .key;
    db.close().await;
    key
}

/// Sends one small report; the answer's status.
async fn send_report(client: &reqwest::Client, base: &str, key: &str) -> u16 {
    let response = client
        .post(format!("{base}/api/v1/reports"))
        .bearer_auth(key)
        .json(&report())
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

async fn wait_until_up(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn report() -> Value {
    let checks: Vec<Value> = (0..CHECKS_PER_REPORT)
        .map(|i| {
            json!({"check_type": "backup_job", "hostname": format!("FD-{i:02}"),
                   "status": "pass", "checked_at": Utc::now()})
        })
        .collect();
    json!({"site_id": "site-1", "checks": checks})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_report_survives_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    every_acknowledged_report_survives_kill_9(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_report_survives_kill_9_on_postgres() {
    every_acknowledged_report_survives_kill_9(common::postgres_database_url().await).await;
}

async fn every_acknowledged_report_survives_kill_9(database_url: String) {
    let args = DatabaseArgs::at(database_url);
    let key = site_with_appliance(&args).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = spawn_server(&args.database_url, port, &[]);
    wait_until_up(&client, &base).await;

    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let senders: Vec<_> = (0..16)
        .map(|_| {
            let (client, key, acknowledged) = (client.clone(), key.clone(), acknowledged.clone());
            let url = format!("{base}/api/v1/reports");
            tokio::spawn(async move {
                loop {
                    let Ok(response) = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&report())
                        .send()
                        .await
                    else {
                        break; // the server is gone
                    };
                    if !response.status().is_success() {
                        continue;
                    }
                    let Ok(outcome) = response.json::<Value>().await else {
                        break;
                    };
                    let id = outcome["bundle_id"].as_i64().expect("a bundle id");
                    acknowledged.lock().unwrap().push(id);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.kill().expect("SIGKILL the server");
    server.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "only {} reports acknowledged",
        acknowledged.len()
    );

    // The restarted server recovers the database and takes reports again.
    let mut server = spawn_server(&args.database_url, port, &[]);
    wait_until_up(&client, &base).await;
    assert_eq!(send_report(&client, &base, &key).await, 200);
    server.kill().unwrap();
    server.wait().unwrap();

    let db = database::connect(&args).await.unwrap();
    let stored: Vec<(i64, i64)> = on_db!(&db, |pool| {
        sqlx::query_as("SELECT bundle_id, COUNT(*) FROM check_results GROUP BY bundle_id")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    let stored: std::collections::HashMap<i64, i64> = stored.into_iter().collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| stored.get(id) != Some(&(CHECKS_PER_REPORT as i64)))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged reports lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
}

/// Peak resident memory of process `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/pid/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib / 1024
}

/// The memory budget the server is started with, and the bound its peak RSS must stay under:
/// the budget, plus what the process holds anyway (runtime, pools, caches, 2,000 connections).
const MEMORY_BUDGET_MIB: u64 = 128;
const PEAK_RSS_BOUND_MIB: u64 = MEMORY_BUDGET_MIB + 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_concurrent_2_mib_bodies_stay_within_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("memory.db").display());
    let args = DatabaseArgs::at(url);
    let key = site_with_appliance(&args).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let budget = MEMORY_BUDGET_MIB.to_string();
    let mut server = spawn_server(&args.database_url, port, &["--ingest-memory-mb", &budget]);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    wait_until_up(&client, &base).await;
    let baseline = peak_rss_mib(server.id());

    // One 2 MiB body, shared by every request: a report padded with spaces (valid JSON).
    let mut body = serde_json::to_vec(&report()).unwrap();
    body.resize(2 * 1024 * 1024 - 1, b' ');
    let body = axum::body::Bytes::from(body);
    let requests: Vec<_> = (0..2_000)
        .map(|_| {
            let (client, key, body) = (client.clone(), key.clone(), body.clone());
            let url = format!("{base}/api/v1/reports");
            tokio::spawn(async move {
                let sent = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                sent.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for request in requests {
        *statuses.entry(request.await.unwrap()).or_default() += 1;
    }
    let peak = peak_rss_mib(server.id());
    // Still answering, and still taking reports.
    assert_eq!(send_report(&client, &base, &key).await, 200);
    server.kill().unwrap();
    server.wait().unwrap();
    println!("peak RSS {peak} MiB (at start {baseline} MiB); answers {statuses:?}");
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 0,
        "some bodies were accepted: {statuses:?}"
    );
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0,
        "the rest were refused: {statuses:?}"
    );
    assert!(
        peak < PEAK_RSS_BOUND_MIB,
        "peak RSS {peak} MiB is over {PEAK_RSS_BOUND_MIB} MiB ({statuses:?})"
    );
}

/// Alerts queued before `kill -9` are all delivered after the restart: none lost, and sent
/// twice at most for the few that were on the wire when the process died (the receiver got
/// them, the server never recorded it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_queued_alert_is_delivered_after_kill_9() {
    use app::alerts::{ChannelInput, ChannelKind, RuleEvent, RuleInput};
    use app::db::accounts::NewAudit;
    use app::types::Severity;

    const CHANNELS: usize = 10;
    const EVENTS: usize = 10;
    let webhooks = std::env::var("TEST_WEBHOOK_URL").expect("run under scripts/test-services.sh");
    let args = DatabaseArgs::at(common::postgres_database_url().await);
    let key = site_with_appliance(&args).await;
    let tag = format!(
        "kill9-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let db = database::connect(&args).await.unwrap();
    let audit = NewAudit {
        actor: "test".into(),
        action: "alert.channel.add",
        target: tag.clone(),
        details: json!({}),
        ip: None,
        at: Utc::now(),
    };
    let mut channels = Vec::new();
    for i in 0..CHANNELS {
        // The receiver takes 0.2 s per request: the deliveries are still going out at the kill.
        let channel = ChannelInput {
            name: format!("hook {i}"),
            kind: ChannelKind::Webhook,
            target: format!("{webhooks}/slow/{tag}/{i}"),
        };
        channels.push(
            app::db::alerts::insert_channel(&db, &channel, "secret", &audit)
                .await
                .unwrap(),
        );
    }
    let rule = RuleInput {
        name: "all".into(),
        client_id: None,
        event: RuleEvent::Incident,
        min_severity: Severity::Low,
        notify_resolved: false,
        channels,
        options: Default::default(),
    };
    app::db::alerts::insert_rule(&db, &rule, &audit)
        .await
        .unwrap();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = spawn_server(&args.database_url, port, &[]);
    wait_until_up(&client, &base).await;
    let drift: Vec<Value> = (0..EVENTS)
        .map(|i| {
            json!({"check_type": "bitlocker_status", "hostname": format!("WS-{i}"), "severity": "high",
                   "state": "drifted", "detected_at": Utc::now()})
        })
        .collect();
    let response = client
        .post(format!("{base}/api/v1/reports"))
        .bearer_auth(&key)
        .json(&json!({"site_id": "site-1", "checks": [], "drift": drift}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let received = || async {
        let all: Vec<Value> = reqwest::get(format!("{webhooks}/_received"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.into_iter()
            .filter(|r| r["path"].as_str().unwrap().contains(&tag))
            .map(|r| {
                r["headers"]["idempotency-key"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while received().await.len() < 10 {
        assert!(Instant::now() < deadline, "no deliveries started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().expect("SIGKILL the server");
    server.wait().unwrap();
    let before_restart = received().await.len();
    assert!(
        before_restart < CHANNELS * EVENTS,
        "killed after all were sent: the test proves nothing"
    );

    // Claims of the dead server run out after their lease (30 s); then the new one sends them.
    let mut server = spawn_server(&args.database_url, port, &[]);
    wait_until_up(&client, &base).await;
    let unsent = || async {
        let unsent: i64 = on_db!(&db, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM alert_deliveries WHERE status <> 'sent'"
        )
        .fetch_one(pool)
        .await
        .unwrap());
        unsent
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let keys = received().await;
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        if distinct.len() == CHANNELS * EVENTS && unsent().await == 0 {
            let twice = keys.len() - distinct.len();
            assert!(
                twice <= 8,
                "{twice} sent twice: more than were on the wire at the kill"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} delivered, {} not recorded as sent",
            distinct.len(),
            CHANNELS * EVENTS,
            unsent().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
