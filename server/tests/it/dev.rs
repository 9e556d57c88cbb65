//! `posture-dev`, the developer tools (built with the `dev-tools` feature): the simulator.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use posture_server::dev::simulate::{self, Counters, Identity, Plan};
use posture_server::ingest::{self, IngestSettings};

use crate::api::{populate, sqlite_fleet};
use crate::common::{self, count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_retries_429s_until_everything_is_acknowledged() {
    let settings = IngestSettings {
        queue: 2,
        batch: 2,
        flush: StdDuration::from_millis(1),
        ack_timeout: StdDuration::from_secs(10),
    };
    let server = common::start_with_ingest(|sink| ingest::start(settings, sink).0).await;
    let (key1, key2, _) = populate(&server.db).await;
    let appliances = (0..40)
        .map(|i| match i % 2 {
            0 => Identity {
                site_id: "site-1".into(),
                key: key1.clone(),
            },
            _ => Identity {
                site_id: "site-2".into(),
                key: key2.clone(),
            },
        })
        .collect();
    let plan = Plan {
        url: server.url(""),
        appliances,
        rate: None,
        duration: StdDuration::from_secs(2),
        checks_per_report: 5,
        max_retries: 100,
        mixed: true,
    };
    let summary = simulate::load(&plan, Arc::new(Counters::default())).await;
    assert!(summary.throttled > 0, "{summary:?}");
    assert!(summary.retried >= summary.throttled, "{summary:?}");
    assert_eq!(
        (summary.failed, summary.acknowledged),
        (0, summary.sent),
        "{summary:?}"
    );
    assert!(count(&server.db, "compliance_bundles").await > 0);
    assert!(count(&server.db, "evidence_bundles").await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_dev_simulate_prints_progress_and_what_was_acknowledged() {
    let fleet = sqlite_fleet().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.txt");
    std::fs::write(
        &keys,
        format!("site-1 {}\nsite-2 {}\n", fleet.key1, fleet.key2),
    )
    .unwrap();
    let url = fleet.server.url("");
    let database = format!("sqlite://{}", dir.path().join("cli.db").display());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_posture-dev"))
            .args([
                "simulate",
                "--url",
                &url,
                "--rate",
                "20/s",
                "--duration",
                "2500ms",
            ])
            .arg("--keys")
            .arg(&keys)
            .env("DATABASE_URL", database)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let progress: Vec<&str> = stdout.lines().filter(|l| l.contains("/s), 429 ")).collect();
    assert!(progress.len() >= 2, "a line each second: {stdout}");
    assert!(progress[0].trim_start().starts_with("1 s:"), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(summary.contains("failed 0"), "{summary}");
    let acknowledged: u64 = summary
        .split("acknowledged ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no acknowledged count in {summary:?}"));
    assert!(acknowledged >= 30, "{summary}");
    assert!(fleet.count("compliance_bundles").await > 0);
}
