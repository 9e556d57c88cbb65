//! The runbook catalogue.

use sqlx::types::Json;

use super::Db;
use crate::on_db;
use crate::types::Runbook;

type RunbookRecord = (
    String,
    String,
    String,
    String,
    Json<Vec<String>>,
    String,
    Json<Vec<String>>,
    Json<Vec<String>>,
    bool,
    i64,
    f64,
    f64,
);

pub async fn runbooks(db: &Db) -> Result<Vec<Runbook>, sqlx::Error> {
    let rows: Vec<RunbookRecord> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, name, description, category, check_types, level, hipaa_controls, steps, \
             disruptive, execution_count, success_rate, avg_duration_seconds FROM runbooks ORDER BY id",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| Runbook {
            id: r.0,
            name: r.1,
            description: r.2,
            category: r.3,
            check_types: r.4.0,
            level: r.5,
            hipaa_controls: r.6.0,
            steps: r.7.0,
            disruptive: r.8,
            execution_count: r.9,
            success_rate: r.10,
            avg_duration_seconds: r.11,
        })
        .collect())
}
