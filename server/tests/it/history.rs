//! History and retention: a compliance snapshot per site and day from what the appliances
//! reported, taken once however often it runs, and raw check results pruned after the
//! retention while newer ones stay.

use app::db::history::{prune_check_results, snapshot_today};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::api::{fleets, report};
use crate::common;

#[tokio::test]
async fn a_day_gets_one_snapshot_per_reporting_site_scored_from_its_results() {
    for (name, fleet) in fleets().await {
        let now = Utc::now();
        let result = |check_type: &str, status: &str| json!({"check_type": check_type, "hostname": "FD-01", "status": status, "checked_at": now});
        let body = report(
            vec![result("backup_job", "fail"), result("mfa_enforced", "pass")],
            vec![],
        );
        let (status, answer) = fleet.post(&fleet.key1, "/api/v1/reports", &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        let db = &fleet.server.db;

        assert_eq!(
            snapshot_today(db, now).await.unwrap(),
            1,
            "{name}: site-2 never checked in"
        );
        assert_eq!(
            snapshot_today(db, now + Duration::minutes(10))
                .await
                .unwrap(),
            0,
            "{name}: one a day"
        );
        // backup 0 (weight 0.14), access control 100 (0.18): renormalised, 56.25.
        let scores: Vec<f64> =
            common::column(db, "SELECT score FROM compliance_snapshots", &[]).await;
        assert_eq!(scores.len(), 1, "{name}");
        assert!((scores[0] - 56.25).abs() < 1e-9, "{name}: {scores:?}");

        let tomorrow = now + Duration::days(1) + Duration::minutes(1);
        assert_eq!(snapshot_today(db, tomorrow).await.unwrap(), 1, "{name}");
        let scores: Vec<Option<f64>> = common::column(
            db,
            "SELECT score FROM compliance_snapshots ORDER BY snapshot_at",
            &[],
        )
        .await;
        assert_eq!(
            scores[1], None,
            "{name}: results older than 24 h are no data, not a score"
        );
    }
}

#[tokio::test]
async fn check_results_past_the_retention_are_pruned_in_batches_and_newer_ones_stay() {
    for (name, fleet) in fleets().await {
        let now = Utc::now();
        let checks: Vec<_> = (0..7)
            .map(|i| {
                json!({"check_type": "backup_job", "hostname": format!("FD-{i:02}"),
                       "status": "pass", "checked_at": now})
            })
            .collect();
        let (status, _) = fleet
            .post(&fleet.key1, "/api/v1/reports", &report(checks, vec![]))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let db = &fleet.server.db;
        let old = now - Duration::days(500);
        app::on_db!(db, |pool| {
            sqlx::query(
                "UPDATE check_results SET checked_at = $1 WHERE hostname IN ('FD-00', 'FD-01', 'FD-02', 'FD-03', 'FD-04')",
            )
            .bind(old)
            .execute(pool)
            .await
            .unwrap();
        });
        let cutoff = now - Duration::days(400);
        assert_eq!(
            prune_check_results(db, cutoff, 3).await.unwrap(),
            3,
            "{name}"
        );
        assert_eq!(
            prune_check_results(db, cutoff, 3).await.unwrap(),
            2,
            "{name}"
        );
        assert_eq!(
            prune_check_results(db, cutoff, 3).await.unwrap(),
            0,
            "{name}"
        );
        let left: Vec<String> = common::column(
            db,
            "SELECT hostname FROM check_results ORDER BY hostname",
            &[],
        )
        .await;
        assert_eq!(left, ["FD-05", "FD-06"], "{name}");
    }
}
