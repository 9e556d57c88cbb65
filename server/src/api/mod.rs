//! The appliance API, `/api/v1`: JSON in and out, each appliance authenticated by its own key.

pub mod auth;
pub mod body;
pub mod checkin;
pub mod error;
pub mod events;
pub mod evidence;
pub mod limits;
pub mod openapi;
pub mod orders;
pub mod reports;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Every route, as `(method, path)`; the OpenAPI document must describe each one.
pub const ROUTES: [(&str, &str); 8] = [
    ("post", "/api/v1/checkin"),
    ("post", "/api/v1/orders/{id}/ack"),
    ("post", "/api/v1/orders/{id}/complete"),
    ("post", "/api/v1/reports"),
    ("post", "/api/v1/evidence/batch"),
    ("get", "/api/v1/evidence/head"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/openapi.json"),
];

/// The routes appliances call, each counted against the requests in flight; and the
/// dashboards' event stream, which stays open and is not.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/checkin", post(checkin::checkin))
        .route("/api/v1/orders/{id}/ack", post(orders::acknowledge))
        .route("/api/v1/orders/{id}/complete", post(orders::complete))
        .route("/api/v1/reports", post(reports::report))
        .route("/api/v1/evidence/batch", post(evidence::batch))
        .route("/api/v1/evidence/head", get(evidence::head))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route_layer(axum::middleware::from_fn_with_state(
            state.limits.clone(),
            limits::limit_in_flight,
        ))
        .route("/api/v1/events", get(events::events))
}
