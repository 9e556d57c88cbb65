//! `POST /api/v1/checkin`: the appliance is alive; here are its pending orders.

use app::db::appliances;
pub use app::domain::appliance::{CheckinRequest, CheckinResponse, PendingOrder};
use axum::Json;
use axum::extract::State;
use chrono::Utc;

use super::auth::Appliance;
use super::body::{ApiJson, Validate, rules};
use super::error::ApiError;
use crate::state::AppState;

impl Validate for CheckinRequest {
    fn validate(&self) -> Result<(), ApiError> {
        rules::name("site_id", &self.site_id)?;
        rules::name("agent_version", &self.agent_version)
    }
}

pub async fn checkin(
    State(state): State<AppState>,
    appliance: Appliance,
    ApiJson(request, _memory): ApiJson<CheckinRequest>,
) -> Result<Json<CheckinResponse>, ApiError> {
    appliance.check_site(&request.site_id)?;
    let now = Utc::now();
    let (previous, orders) =
        appliances::check_in(&state.db, &appliance, &request.agent_version, now).await?;
    // A site's status only changes when it was not online before: only then do the cached
    // aggregates and open dashboards need to hear about it.
    let age = previous.map(|at| (now - at).num_seconds());
    if app::scoring::site_status(age) != "online" {
        state
            .hints
            .changed([appliance.site_id.as_str()], false, Default::default());
    }
    Ok(Json(CheckinResponse {
        server_time: now,
        orders,
    }))
}
