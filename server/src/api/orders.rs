//! The order lifecycle: pending → acknowledged → completed or failed.

use app::db::orders::{self, Transition};
use app::domain::order::OrderStatus;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
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
    pub status: OrderStatus,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    appliance: Appliance,
    Path(id): Path<i64>,
) -> Result<Json<OrderState>, ApiError> {
    advance(&state, &appliance, id, OrderStatus::Acknowledged, None).await
}

pub async fn complete(
    State(state): State<AppState>,
    appliance: Appliance,
    Path(id): Path<i64>,
    ApiJson(request, _memory): ApiJson<CompleteRequest>,
) -> Result<Json<OrderState>, ApiError> {
    let to = if request.success {
        OrderStatus::Completed
    } else {
        OrderStatus::Failed
    };
    advance(&state, &appliance, id, to, Some(&request.result)).await
}

/// Moves the order on, or says why it cannot: 404, 403 or 409.
async fn advance(
    state: &AppState,
    appliance: &Appliance,
    id: i64,
    to: OrderStatus,
    result: Option<&str>,
) -> Result<Json<OrderState>, ApiError> {
    Err(
        match orders::advance_order(&state.db, id, appliance.id, to, result).await? {
            Transition::Done => return Ok(Json(OrderState { id, status: to })),
            Transition::NoSuchOrder => {
                ApiError::new(StatusCode::NOT_FOUND, format!("no order {id}"))
            }
            Transition::OtherAppliance => ApiError::new(
                StatusCode::FORBIDDEN,
                format!("order {id} belongs to another appliance"),
            ),
            Transition::WrongStatus(status) => {
                let from = to.reached_from().map_or("other", OrderStatus::as_str);
                ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "order {id} is {}; only a {from} order can become {}",
                        status.as_str(),
                        to.as_str()
                    ),
                )
            }
            Transition::Expired => {
                ApiError::new(StatusCode::CONFLICT, format!("order {id} has expired"))
            }
        },
    )
}
