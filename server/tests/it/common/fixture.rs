//! Small, hand-countable data sets written through plain SQL that runs on both databases.

use app::db::Db;
use app::on_db;
use chrono::{DateTime, Utc};

pub async fn client(db: &Db, id: i64, name: &str) {
    on_db!(db, |pool| {
        sqlx::query("INSERT INTO clients (id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    });
}

pub async fn site(db: &Db, id: i64, client_id: i64, last_checkin: Option<DateTime<Utc>>) {
    on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO sites (id, site_id, client_id, clinic_name, tier, last_checkin_at) \
             VALUES ($1, $2, $3, $4, 'small', $5)",
        )
        .bind(id)
        .bind(format!("site-{id}"))
        .bind(client_id)
        .bind(format!("Clinic {id}"))
        .bind(last_checkin)
        .execute(pool)
        .await
        .unwrap();
    });
}

pub async fn incident(
    db: &Db,
    site_id: i64,
    severity: &str,
    status: &str,
    reported_at: DateTime<Utc>,
) {
    let rank = app::types::Severity::parse(severity).unwrap().rank();
    let key = format!(
        "{site_id}:{severity}:{status}:{}",
        reported_at.timestamp_micros()
    );
    on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO incidents (site_id, hostname, check_type, category, severity, severity_rank, \
             status, dedup_key, reported_at) VALUES ($1, 'FD-01', 'backup_job', 'backup', $2, $3, $4, $5, $6)",
        )
        .bind(site_id)
        .bind(severity)
        .bind(rank)
        .bind(status)
        .bind(key)
        .bind(reported_at)
        .execute(pool)
        .await
        .unwrap();
    });
}

pub async fn latest_result(
    db: &Db,
    site_id: i64,
    check_type: &str,
    host: &str,
    status: &str,
    at: DateTime<Utc>,
) {
    on_db!(db, |pool| {
        sqlx::query(
            "INSERT INTO check_latest (site_id, check_type, hostname, status, checked_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(site_id)
        .bind(check_type)
        .bind(host)
        .bind(status)
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    });
}
