//! `POST /api/v1/checkin`: the appliance is alive; here are its pending orders.

use app::on_db;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json as SqlJson;

use super::auth::Appliance;
use super::body::{ApiJson, Validate, rules};
use super::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    pub site_id: String,
    pub agent_version: String,
}

impl Validate for CheckinRequest {
    fn validate(&self) -> Result<(), ApiError> {
        rules::name("site_id", &self.site_id)?;
        rules::name("agent_version", &self.agent_version)
    }
}

#[derive(Debug, Deserialize, Serialize)]
pub struct CheckinResponse {
    pub server_time: DateTime<Utc>,
    pub orders: Vec<PendingOrder>,
}

#[derive(Debug, Deserialize, Serialize, sqlx::FromRow)]
pub struct PendingOrder {
    pub id: i64,
    pub order_type: String,
    pub parameters: SqlJson<serde_json::Value>,
    pub priority: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn checkin(
    State(state): State<AppState>,
    appliance: Appliance,
    ApiJson(request, _memory): ApiJson<CheckinRequest>,
) -> Result<Json<CheckinResponse>, ApiError> {
    appliance.check_site(&request.site_id)?;
    let now = Utc::now();
    let (previous, orders): (Option<DateTime<Utc>>, Vec<PendingOrder>) =
        on_db!(&state.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE appliances SET last_checkin_at = $1, agent_version = $2 WHERE id = $3",
            )
            .bind(now)
            .bind(&request.agent_version)
            .bind(appliance.id)
            .execute(&mut *tx)
            .await?;
            let previous: Option<DateTime<Utc>> =
                sqlx::query_scalar("SELECT last_checkin_at FROM sites WHERE id = $1")
                    .bind(appliance.site)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("UPDATE sites SET last_checkin_at = $1 WHERE id = $2")
                .bind(now)
                .bind(appliance.site)
                .execute(&mut *tx)
                .await?;
            let orders = sqlx::query_as(
                "SELECT id, order_type, parameters, priority, created_at, expires_at FROM orders \
             WHERE appliance_id = $1 AND status = 'pending' AND expires_at > $2 \
             ORDER BY priority, id",
            )
            .bind(appliance.id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (previous, orders)
        });
    // A site's status only changes when it was not online before: only then do the cached
    // aggregates and open dashboards need to hear about it.
    let age = previous.map(|at| (now - at).num_seconds());
    if app::scoring::site_status(age) != "online" {
        state
            .hints
            .changed([appliance.site_id.as_str()], false, false);
    }
    Ok(Json(CheckinResponse {
        server_time: now,
        orders,
    }))
}
