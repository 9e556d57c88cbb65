//! The order lifecycle: pending → acknowledged → completed or failed.

use app::on_db;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Appliance;
use super::body::{ApiJson, Validate};
use super::error::ApiError;
use crate::state::AppState;

/// Longest `result` text kept.
pub const MAX_RESULT_CHARS: usize = 16 * 1024;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub success: bool,
    pub result: String,
}

impl Validate for CompleteRequest {
    fn validate(&self) -> Result<(), ApiError> {
        if self.result.chars().count() > MAX_RESULT_CHARS {
            return Err(ApiError::field(
                "result",
                format!("result is longer than {MAX_RESULT_CHARS} characters"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize, Serialize)]
pub struct OrderState {
    pub id: i64,
    pub status: String,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    appliance: Appliance,
    Path(id): Path<i64>,
) -> Result<Json<OrderState>, ApiError> {
    transition(&state, &appliance, id, "pending", "acknowledged", None).await
}

pub async fn complete(
    State(state): State<AppState>,
    appliance: Appliance,
    Path(id): Path<i64>,
    ApiJson(request, _memory): ApiJson<CompleteRequest>,
) -> Result<Json<OrderState>, ApiError> {
    let to = if request.success {
        "completed"
    } else {
        "failed"
    };
    transition(
        &state,
        &appliance,
        id,
        "acknowledged",
        to,
        Some(&request.result),
    )
    .await
}

/// Moves order `id` from `from` to `to` in one conditional UPDATE, so two racing requests
/// cannot both succeed; when nothing matched, says why (404, 403 or 409).
async fn transition(
    state: &AppState,
    appliance: &Appliance,
    id: i64,
    from: &str,
    to: &str,
    result: Option<&str>,
) -> Result<Json<OrderState>, ApiError> {
    let now = Utc::now();
    let column = if to == "acknowledged" {
        "acknowledged_at"
    } else {
        "completed_at"
    };
    let sql = format!(
        "UPDATE orders SET status = $1, {column} = $2, result = COALESCE($3, result) \
         WHERE id = $4 AND appliance_id = $5 AND status = $6 AND expires_at > $2"
    );
    let updated = on_db!(&state.db, |pool| {
        sqlx::query(&sql)
            .bind(to)
            .bind(now)
            .bind(result)
            .bind(id)
            .bind(appliance.id)
            .bind(from)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if updated == 1 {
        return Ok(Json(OrderState {
            id,
            status: to.to_string(),
        }));
    }
    let current: Option<(i64, String, DateTime<Utc>)> = on_db!(&state.db, |pool| {
        sqlx::query_as("SELECT appliance_id, status, expires_at FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    Err(match current {
        None => ApiError::new(StatusCode::NOT_FOUND, format!("no order {id}")),
        Some((owner, _, _)) if owner != appliance.id => ApiError::new(
            StatusCode::FORBIDDEN,
            format!("order {id} belongs to another appliance"),
        ),
        Some((_, status, _)) if status != from => ApiError::new(
            StatusCode::CONFLICT,
            format!("order {id} is {status}; only a {from} order can become {to}"),
        ),
        Some(_) => ApiError::new(StatusCode::CONFLICT, format!("order {id} has expired")),
    })
}
