//! Monthly reports and evidence packs over real HTTP, on both databases: a closed month's
//! figures against hand-worked data, the report frozen once given, the 4xx answers that
//! generate nothing, the signed pack verified and each corruption named, and the monthly
//! schedule generating and mailing once with two servers at it.

use std::io::{Read, Write};

use app::db::Db;
use app::db::sql::Bind;
use app::report::{MonthlyReport, ReportMonth};
use app::services::reports::schedule::run_round;
use chrono::{DateTime, Duration, Utc};
use posture_server::provision::provision_appliance;
use reqwest::StatusCode;
use serde_json::Value;

use crate::alerts::mails_to;
use crate::common::{self, TestServer, count, fixture};

/// The month before this one: closed, so its report is final.
fn last_month() -> ReportMonth {
    ReportMonth::of(Utc::now()).previous()
}

fn day(month: ReportMonth, days: i64, hours: i64) -> DateTime<Utc> {
    month.start() + Duration::days(days) + Duration::hours(hours)
}

/// Client 1 (Acme: site-1 and site-2) and client 2 (Other: site-3), all created ten days
/// before `month`, with a month of hand-countable history.
async fn hand_worked_month(db: &Db, month: ReportMonth) {
    let (t, i) = (Bind::Time, Bind::Int);
    fixture::client(db, 1, "Acme").await;
    fixture::client(db, 2, "Other").await;
    for (site, client) in [(1, 1), (2, 1), (3, 2)] {
        fixture::site(db, site, client, Some(Utc::now())).await;
    }
    let long_ago = month.start() - Duration::days(10);
    common::execute(db, "UPDATE sites SET created_at = $1", &[t(long_ago)]).await;
    for (site, host) in [
        ("site-1", "app-1"),
        ("site-2", "app-2"),
        ("site-3", "app-3"),
    ] {
        provision_appliance(db, site, host).await.unwrap();
    }
    common::execute(db, "UPDATE appliances SET created_at = $1", &[t(long_ago)]).await;

    // Offline: site-1 six hours on day 2; site-2 from two hours before the month to 03:00.
    let span = "INSERT INTO offline_spans (site_id, started_at, ended_at) VALUES ($1, $2, $3)";
    common::execute(db, span, &[i(1), t(day(month, 1, 0)), t(day(month, 1, 6))]).await;
    common::execute(
        db,
        span,
        &[
            i(2),
            t(month.start() - Duration::hours(2)),
            t(day(month, 0, 3)),
        ],
    )
    .await;

    // Snapshots: day 1 at 80 and 90, day 2 at 70 (site-1 only); last month 60.
    let snapshot = "INSERT INTO compliance_snapshots (site_id, snapshot_at, day, score, category_scores) \
                    VALUES ($1, $2, $3, $4, $5)";
    for (site, at, score, backup) in [
        (1, day(month, 0, 12), 80, 50),
        (2, day(month, 0, 12), 90, 100),
        (1, day(month, 1, 12), 70, 40),
        (1, day(month.previous(), 0, 12), 60, 30),
    ] {
        let categories = format!("{{\"backup\": {backup}}}");
        let sql = snapshot.replace("$5", &format!("'{categories}'"));
        let sql = sql.replace("$4", &score.to_string());
        let sql = sql.replace("$3", &format!("'{}'", at.date_naive()));
        common::execute(db, &sql, &[i(site), t(at)]).await;
    }

    // Check results: site-1's backup failed on two hosts and passed once; site-3 (another
    // client) failed its firewall.
    let bundle = "INSERT INTO compliance_bundles (id, site_id, appliance_id, submitted_at, pass_count, warn_count, fail_count) \
                  VALUES ($1, $2, (SELECT id FROM appliances WHERE site_id = $2), $3, 0, 0, 0)";
    common::execute(db, bundle, &[i(1), i(1), t(day(month, 3, 0))]).await;
    common::execute(db, bundle, &[i(3), i(3), t(day(month, 3, 0))]).await;
    let result = "INSERT INTO check_results (bundle_id, site_id, check_type, hostname, status, checked_at) \
                  VALUES ($1, $2, $3, $4, $5, $6)";
    for (bundle, site, check, host, status) in [
        (1, 1, "backup_job", "FD-01", "fail"),
        (1, 1, "backup_job", "FD-02", "fail"),
        (1, 1, "backup_job", "FD-01", "pass"),
        (3, 3, "firewall_profile", "FD-09", "fail"),
    ] {
        let text = |s: &str| Bind::Text(s.into());
        let binds = [
            i(bundle),
            i(site),
            text(check),
            text(host),
            text(status),
            t(day(month, 3, 0)),
        ];
        common::execute(db, result, &binds).await;
    }

    // Incidents of site-1: a critical open since before the month, resolved on day 5 (13,
    // 4 and 9 days: 12,960 minutes); two highs resolved in 60 and 30 minutes; a low never
    // resolved. And site-3's critical, which is another client's.
    let incident = "INSERT INTO incidents (id, site_id, hostname, check_type, category, severity, severity_rank, \
                    status, dedup_key, reported_at, resolved_at) \
                    VALUES ($1, $2, 'FD-01', 'backup_job', 'backup', $3, $4, $5, $6, $7, $8)";
    for (id, site, severity, rank, reported, resolved) in [
        (
            1,
            1,
            "critical",
            4,
            month.start() - Duration::days(5),
            Some(day(month, 4, 0)),
        ),
        (2, 1, "high", 3, day(month, 1, 10), Some(day(month, 1, 11))),
        (
            3,
            1,
            "high",
            3,
            day(month, 2, 10),
            Some(day(month, 2, 10) + Duration::minutes(30)),
        ),
        (4, 1, "low", 1, day(month, 9, 0), None),
        (5, 3, "critical", 4, day(month, 9, 0), None),
    ] {
        let status = if resolved.is_some() {
            "resolved"
        } else {
            "open"
        };
        let sql = match resolved {
            Some(_) => incident.to_string(),
            None => incident.replace("$8", "NULL"),
        };
        let mut binds = vec![
            i(id),
            i(site),
            Bind::Text(severity.into()),
            i(rank),
            Bind::Text(status.into()),
            Bind::Text(format!("key-{id}")),
            t(reported),
        ];
        binds.extend(resolved.map(t));
        common::execute(db, &sql, &binds).await;
    }
    let history = "INSERT INTO incident_history (incident_id, action, actor, note, at) VALUES ($1, $2, $3, $4, $5)";
    let text = |s: &str| Bind::Text(s.into());
    common::execute(
        db,
        history,
        &[
            i(4),
            text("suppress"),
            text("nina@msp.test"),
            text("vendor patch due"),
            t(day(month, 9, 1)),
        ],
    )
    .await;
    common::execute(
        db,
        history,
        &[
            i(1),
            text("escalate"),
            text("omar@msp.test"),
            text(""),
            t(day(month, 1, 0)),
        ],
    )
    .await;
    common::execute(
        db,
        history,
        &[
            i(5),
            text("suppress"),
            text("other@msp.test"),
            text(""),
            t(day(month, 9, 1)),
        ],
    )
    .await;

    // A maintenance window that held back two of site-2's alerts.
    common::execute(db, "INSERT INTO alert_channels (id, name, kind, target, secret, created_at) VALUES (1, 'ops', 'email', 'ops@msp.test', '', $1)", &[t(long_ago)]).await;
    common::execute(db, "INSERT INTO maintenance_windows (id, site_id, reason, starts_at, duration_minutes, weekly, time_zone, created_by, created_at) \
             VALUES (1, 2, 'server room rewiring', $1, 120, FALSE, 'UTC', 'admin@msp.test', $1)", &[t(day(month, 5, 0))]).await;
    for key in ["held-1", "held-2"] {
        common::execute(db, "INSERT INTO alert_deliveries (idempotency_key, channel_id, site_id, subject, payload, kind, status, suppressed_by, next_attempt_at, created_at) \
                 VALUES ($1, 1, 2, 'drift', '{}', 'alert', 'suppressed', 1, $2, $2)", &[text(key), t(day(month, 5, 1))]).await;
    }

    // Evidence: site-1's chain 1 (before the month), 2, 3, intact; site-2's first bundle in
    // the month names a hash before it: a break.
    let link = "INSERT INTO evidence_bundles (site_id, position, bundle_hash, prev_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
    let first = "INSERT INTO evidence_bundles (site_id, position, bundle_hash, prev_hash, created_at) VALUES ($1, $2, $3, NULL, $4)";
    common::execute(
        db,
        first,
        &[i(1), i(1), text("h1"), t(month.start() - Duration::days(1))],
    )
    .await;
    common::execute(
        db,
        link,
        &[i(1), i(2), text("h2"), text("h1"), t(day(month, 2, 0))],
    )
    .await;
    common::execute(
        db,
        link,
        &[i(1), i(3), text("h3"), text("h2"), t(day(month, 3, 0))],
    )
    .await;
    common::execute(
        db,
        link,
        &[i(2), i(1), text("g1"), text("zz"), t(day(month, 2, 0))],
    )
    .await;
}

async fn report(server: &TestServer, subject: &str, month: &str) -> (StatusCode, Value) {
    let response = server
        .get(&format!(
            "/api/get_report?kind=client&subject={subject}&month={month}"
        ))
        .await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_months_report_holds_the_hand_worked_figures() {
    let month = last_month();
    for (name, server) in common::servers_on_both().await {
        hand_worked_month(&server.db, month).await;
        let (status, body) = report(&server, "1", &month.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let report: MonthlyReport = serde_json::from_value(body).unwrap();
        assert!(report.closed, "{name}");
        assert_eq!(report.title, "Acme");

        let compliance = &report.compliance;
        let days: Vec<_> = compliance.daily.iter().take(3).map(|d| d.score).collect();
        assert_eq!(days, [Some(85.0), Some(70.0), None], "{name}");
        assert_eq!(compliance.daily.len(), month.days().count(), "{name}");
        assert_eq!(compliance.average, Some(77.5), "{name}");
        assert_eq!(compliance.previous_average, Some(60.0), "{name}");
        let backup = compliance
            .categories
            .iter()
            .find(|c| c.category == "backup")
            .unwrap();
        assert_eq!(
            (backup.average, backup.previous_average),
            (Some(190.0 / 3.0), Some(30.0)),
            "{name}"
        );

        let backup_plan = report
            .controls
            .iter()
            .find(|c| c.citation == "164.308(a)(7)(ii)(A)")
            .unwrap();
        assert_eq!(
            backup_plan.state,
            app::types::ControlState::Failing,
            "{name}"
        );
        assert_eq!(
            (
                backup_plan.failing_checks[0].failures,
                backup_plan.failing_checks[0].hosts
            ),
            (2, 2),
            "{name}"
        );
        assert!(
            report.controls.iter().all(|c| c
                .failing_checks
                .iter()
                .all(|f| f.check_type != "firewall_profile")),
            "{name}: another client's failure leaked in"
        );

        let incidents = &report.incidents;
        let row = |severity: &str| {
            let s = incidents
                .by_severity
                .iter()
                .find(|s| s.severity == severity)
                .unwrap();
            (s.opened, s.resolved, s.open_at_end)
        };
        assert_eq!(
            row("critical"),
            (0, 1, 0),
            "{name}: site-3's critical is not Acme's"
        );
        assert_eq!(row("high"), (2, 2, 0), "{name}");
        assert_eq!(row("low"), (1, 0, 1), "{name}");
        assert_eq!(incidents.mean_minutes_to_resolve, Some(4350.0), "{name}");
        assert_eq!(incidents.p90_minutes_to_resolve, Some(12_960.0), "{name}");
        assert_eq!(incidents.open_total, 1, "{name}");
        assert_eq!(incidents.still_open[0].id, 4, "{name}");
        let suppressed: Vec<_> = incidents
            .suppressions
            .iter()
            .map(|s| (s.incident_id, s.actor.as_str(), s.note.as_str()))
            .collect();
        assert_eq!(
            suppressed,
            [(4, "nina@msp.test", "vendor patch due")],
            "{name}"
        );
        assert_eq!(incidents.escalations[0].actor, "omar@msp.test", "{name}");
        assert_eq!(incidents.held_alerts.len(), 1, "{name}");
        assert_eq!(
            incidents.held_alerts[0].reason, "server room rewiring",
            "{name}"
        );
        assert_eq!(
            incidents.held_alerts[0].created_by, "admin@msp.test",
            "{name}"
        );
        assert_eq!(incidents.held_alerts[0].alerts, 2, "{name}");

        let minutes = month.days().count() as f64 * 1440.0;
        let site = |slug: &str| report.sites.iter().find(|s| s.site_id == slug).unwrap();
        assert_eq!(report.sites.len(), 2, "{name}");
        assert_eq!(site("site-1").offline_minutes, 360, "{name}");
        assert_eq!(site("site-2").offline_minutes, 180, "{name}");
        let availability = site("site-1").availability.unwrap();
        assert!(
            (availability - 100.0 * (1.0 - 360.0 / minutes)).abs() < 1e-9,
            "{name}: {availability}"
        );
        assert_eq!(site("site-1").average, Some(75.0), "{name}");
        assert!(site("site-1").silent_appliances.is_empty(), "{name}");
        assert_eq!(site("site-2").silent_appliances, ["app-2"], "{name}");
        let chain = &site("site-1").evidence;
        assert_eq!(
            (
                chain.bundles,
                chain.head_position,
                chain.head_hash.as_deref()
            ),
            (2, Some(3), Some("h3")),
            "{name}"
        );
        assert!(chain.breaks.is_empty(), "{name}");
        assert_eq!(site("site-2").evidence.breaks, [1], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_report_stays_as_given_after_its_raw_data_is_pruned() {
    let month = last_month();
    for (name, server) in common::servers_on_both().await {
        hand_worked_month(&server.db, month).await;
        let (_, first) = report(&server, "1", &month.to_string()).await;
        assert_eq!(count(&server.db, "monthly_reports").await, 1, "{name}");

        let pruned = app::db::history::prune_check_results(&server.db, Utc::now(), 1_000)
            .await
            .unwrap();
        assert_eq!(pruned, 4, "{name}");
        common::execute(&server.db, "DELETE FROM incident_history", &[]).await;
        common::execute(
            &server.db,
            "UPDATE incidents SET status = 'resolved', resolved_at = $1 WHERE id = 4",
            &[Bind::Time(day(month, 9, 2))],
        )
        .await;

        let (status, again) = report(&server, "1", &month.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(
            again, first,
            "{name}: the stored report is given, not a new one"
        );
        assert_eq!(count(&server.db, "monthly_reports").await, 1, "{name}");

        let page = server.get(&format!("/reports/clients/1/{month}")).await;
        assert_eq!(page.status(), StatusCode::OK, "{name}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Acme: compliance report"), "{name}");
        assert!(
            html.contains("vendor patch due"),
            "{name}: the page shows the stored report"
        );
        assert!(html.contains("server room rewiring"), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_out_of_reach_and_unknown_subjects_are_4xx_and_generate_nothing() {
    let month = last_month();
    for (name, server) in common::servers_on_both().await {
        hand_worked_month(&server.db, month).await;
        let next = ReportMonth::of(Utc::now()).next().to_string();
        let before = month.previous().previous().to_string();
        for (subject, month, status, says) in [
            ("1", next.as_str(), StatusCode::NOT_FOUND, "has not begun"),
            (
                "1",
                before.as_str(),
                StatusCode::NOT_FOUND,
                "no data before",
            ),
            ("1", "2026-13", StatusCode::BAD_REQUEST, "YYYY-MM"),
            ("1", "last-month", StatusCode::BAD_REQUEST, "YYYY-MM"),
            (
                "99",
                &month.to_string(),
                StatusCode::NOT_FOUND,
                "no client with id 99",
            ),
            (
                "acme",
                &month.to_string(),
                StatusCode::NOT_FOUND,
                "no client",
            ),
        ] {
            let (answer, body) = report(&server, subject, month).await;
            assert_eq!(answer, status, "{name}: {subject} {month}: {body}");
            assert!(
                body.to_string().contains(says),
                "{name}: {subject} {month}: {body}"
            );
        }
        let page = server.get(&format!("/reports/clients/1/{next}")).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{name}");
        let zip = server
            .get(&format!("/reports/clients/99/{month}/evidence.zip"))
            .await;
        assert_eq!(zip.status(), StatusCode::NOT_FOUND, "{name}");
        let site = server
            .get(&format!(
                "/api/get_report?kind=site&subject=nowhere&month={month}"
            ))
            .await;
        assert_eq!(site.status(), StatusCode::NOT_FOUND, "{name}");

        let (status, body) = report(&server, "1", &ReportMonth::of(Utc::now()).to_string()).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(
            body["closed"], false,
            "{name}: the month under way is not final"
        );
        assert_eq!(
            count(&server.db, "monthly_reports").await,
            0,
            "{name}: nothing stored"
        );
    }
}

/// Downloads client 1's pack of `month` to a file; (file, the server's public key).
async fn download_pack(
    server: &TestServer,
    month: ReportMonth,
    dir: &std::path::Path,
) -> (std::path::PathBuf, String) {
    // As a browser asks: a zip is sent as it is, not compressed again.
    let response = server
        .client_as(app::auth::Role::Readonly)
        .await
        .get(server.url(&format!("/reports/clients/1/{month}/evidence.zip")))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert!(response.headers().get("content-encoding").is_none());
    let bytes = response.bytes().await.unwrap();
    let path = dir.join("pack.zip");
    std::fs::write(&path, &bytes).unwrap();
    let key: Value = reqwest::get(server.url("/.well-known/posture-signing-key"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (path, key["public_key"].as_str().unwrap().to_string())
}

/// The entries of the zip at `path`, in order.
fn entries(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|index| {
            let mut entry = archive.by_index(index).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().unwrap().to_string(), bytes)
        })
        .collect()
}

fn write_zip(path: &std::path::Path, files: &[(String, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// `posture verify-pack`'s exit status and what it printed.
fn verify_pack(path: &std::path::Path, key: &str) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_posture"))
        .arg("verify-pack")
        .arg(path)
        .args(["--public-key", key])
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evidence_pack_verifies_and_every_corruption_is_named() {
    let month = last_month();
    for (name, server) in common::servers_on_both().await {
        hand_worked_month(&server.db, month).await;
        let dir = tempfile::tempdir().unwrap();
        let (pack, key) = download_pack(&server, month, dir.path()).await;
        let (intact, printed) = verify_pack(&pack, &key);
        assert!(intact, "{name}: {printed}");
        assert!(printed.contains("7 files match"), "{name}: {printed}");

        let files = entries(&pack);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "report.html",
                "report.json",
                "check_results.csv",
                "incidents.csv",
                "incident_history.csv",
                "audit_log.csv",
                "evidence_chain.json",
                "manifest.json",
                "manifest.sig"
            ],
            "{name}"
        );
        let file = |n: &str| {
            String::from_utf8(files.iter().find(|(f, _)| f == n).unwrap().1.clone()).unwrap()
        };
        assert_eq!(
            file("check_results.csv").lines().count(),
            4,
            "{name}: a header and site-1's three results"
        );
        assert!(!file("check_results.csv").contains("site-3"), "{name}");
        assert_eq!(
            file("incidents.csv").lines().count(),
            5,
            "{name}: a header and four incidents"
        );
        assert!(
            file("incident_history.csv").contains("vendor patch due"),
            "{name}"
        );
        assert!(
            file("report.html")
                .contains("<h2 data-testid=\"report-title\">Acme: compliance report"),
            "{name}"
        );
        let chain: Value = serde_json::from_str(&file("evidence_chain.json")).unwrap();
        assert_eq!(
            chain["sites"][0]["bundles"].as_array().unwrap().len(),
            2,
            "{name}"
        );

        // One byte changed in one file.
        let mut changed = files.clone();
        changed[3].1[10] ^= 0x01;
        write_zip(&pack, &changed);
        let (intact, printed) = verify_pack(&pack, &key);
        assert!(!intact, "{name}");
        assert!(
            printed.contains("incidents.csv: SHA-256"),
            "{name}: {printed}"
        );

        // A file removed.
        let removed: Vec<_> = files
            .iter()
            .filter(|(n, _)| n != "audit_log.csv")
            .cloned()
            .collect();
        write_zip(&pack, &removed);
        let (intact, printed) = verify_pack(&pack, &key);
        assert!(!intact, "{name}");
        assert!(
            printed.contains("audit_log.csv: listed in the manifest but missing"),
            "{name}: {printed}"
        );

        // The manifest edited: its hashes still match, its signature does not.
        let mut edited = files.clone();
        let manifest = String::from_utf8(edited[7].1.clone()).unwrap();
        edited[7].1 = manifest
            .replace("\"Acme\"", "\"Acme Holdings\"")
            .into_bytes();
        write_zip(&pack, &edited);
        let (intact, printed) = verify_pack(&pack, &key);
        assert!(!intact, "{name}");
        assert!(
            printed.contains("manifest.json: the signature does not hold"),
            "{name}: {printed}"
        );

        // A file added.
        let mut added = files.clone();
        added.push(("notes.txt".into(), b"trust me".to_vec()));
        write_zip(&pack, &added);
        let (intact, printed) = verify_pack(&pack, &key);
        assert!(!intact, "{name}");
        assert!(
            printed.contains("notes.txt: in the pack but not in the manifest"),
            "{name}: {printed}"
        );

        // Another server's key.
        write_zip(&pack, &files);
        let stranger = posture_server::signing::public_key_text(
            &ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key(),
        );
        let (intact, printed) = verify_pack(&pack, &stranger);
        assert!(!intact, "{name}");
        assert!(printed.contains("not the trusted key"), "{name}: {printed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_at_the_monthly_schedule_generate_and_mail_each_report_once() {
    if std::env::var("TEST_SMTP_URL").is_err() {
        panic!(
            "TEST_SMTP_URL must name the test SMTP server (scripts/test-services.sh starts one)"
        );
    }
    let month = last_month();
    let url = common::postgres_database_url().await;
    let connect = || async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .unwrap();
        Db::Postgres(pool)
    };
    let (one, two) = (connect().await, connect().await);
    posture_server::database::migrate(&one).await.unwrap();
    hand_worked_month(&one, month).await;
    let contact = format!("front-desk-{:08x}@clinic.test", rand::random::<u32>());
    common::execute(
        &one,
        "UPDATE sites SET contact_email = $1 WHERE id = 1",
        &[Bind::Text(contact.clone())],
    )
    .await;
    let sender = common::test_alert_sender();
    let now = Utc::now();
    let (a, b) = tokio::join!(
        run_round(&one, &sender, "https://posture.example", "server-a", now),
        run_round(&two, &sender, "https://posture.example", "server-b", now),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.generated + b.generated,
        2,
        "Acme and Other, once each: {a:?} {b:?}"
    );
    assert_eq!(
        a.mailed + b.mailed,
        1,
        "only Acme has a contact: {a:?} {b:?}"
    );
    assert_eq!(count(&one, "monthly_reports").await, 2);

    let again = run_round(
        &one,
        &sender,
        "https://posture.example",
        "server-a",
        now + Duration::minutes(20),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.generated, again.mailed),
        (0, 0),
        "a later round has nothing left to do"
    );

    let mails = mails_to(&contact).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let body = mails[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!(
            "https://posture.example/reports/clients/1/{month}/evidence.zip"
        )),
        "{body}"
    );
    let outcome: Vec<Option<String>> = common::column(
        &one,
        "SELECT mail_outcome FROM monthly_reports ORDER BY subject_id",
        &[],
    )
    .await;
    assert!(
        outcome[0].as_deref().unwrap().starts_with("SMTP 250"),
        "{outcome:?}"
    );
    assert!(
        outcome[1]
            .as_deref()
            .unwrap()
            .contains("none of the client's sites has a contact e-mail"),
        "{outcome:?}"
    );
}

/// site-1 at the end of the day `at` falls on, as `get_site_on_day` answers.
async fn on_day(server: &TestServer, at: DateTime<Utc>) -> (StatusCode, Value) {
    let day = at.date_naive();
    let response = server
        .get(&format!("/api/get_site_on_day?site_id=site-1&day={day}"))
        .await;
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_page_at_a_past_day_shows_that_days_posture() {
    let month = last_month();
    for (name, server) in common::servers_on_both().await {
        hand_worked_month(&server.db, month).await;
        let (status, second) = on_day(&server, day(month, 1, 0)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {second}");
        assert_eq!(second["score"], 70.0, "{name}: the day's snapshot");
        assert!(
            second["categories"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(["backup", 40.0])),
            "{name}: {second}"
        );
        assert_eq!(
            second["evidence_head"],
            serde_json::json!([1, "h1"]),
            "{name}"
        );

        let (_, fourth) = on_day(&server, day(month, 3, 0)).await;
        let backup_plan = fourth["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["citation"] == "164.308(a)(7)(ii)(A)")
            .unwrap();
        assert_eq!(
            backup_plan["state"], "Failing",
            "{name}: FD-02's backup failed that day"
        );
        assert_eq!(
            fourth["results"], 2,
            "{name}: the latest of each check on each host"
        );
        assert_eq!(
            fourth["evidence_head"],
            serde_json::json!([3, "h3"]),
            "{name}"
        );

        let (_, tenth) = on_day(&server, day(month, 9, 0)).await;
        assert_eq!(tenth["open_total"], 1, "{name}");
        assert_eq!(tenth["open_incidents"][0]["id"], 4, "{name}");
        assert_eq!(
            tenth["results"], 0,
            "{name}: no results in the 24 hours before"
        );

        let today = Utc::now().date_naive();
        for (day, status, says) in [
            (
                "2026-13-01".to_string(),
                StatusCode::BAD_REQUEST,
                "YYYY-MM-DD",
            ),
            (
                (today + Duration::days(1)).to_string(),
                StatusCode::NOT_FOUND,
                "has not come yet",
            ),
            (
                (month.start() - Duration::days(30))
                    .date_naive()
                    .to_string(),
                StatusCode::NOT_FOUND,
                "was added on",
            ),
        ] {
            let response = server
                .get(&format!("/api/get_site_on_day?site_id=site-1&day={day}"))
                .await;
            assert_eq!(response.status(), status, "{name}: {day}");
            assert!(
                response.text().await.unwrap().contains(says),
                "{name}: {day}"
            );
        }
        let unknown = server
            .get(&format!("/api/get_site_on_day?site_id=nowhere&day={today}"))
            .await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "{name}");

        let day = day(month, 9, 0).date_naive();
        let page = server.get(&format!("/sites/site-1?at={day}")).await;
        assert_eq!(page.status(), StatusCode::OK, "{name}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("Posture at the end of {day}")),
            "{name}"
        );
    }
}
