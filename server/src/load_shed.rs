//! Dashboard requests (pages, server functions, exports) handled at once are capped: past the
//! cap the answer is an immediate 503 with `Retry-After`, not a place in a queue that grows
//! while the database is slow. Static files, health checks and the appliance API (which has
//! its own cap, `api::limits`) pass; so do metrics and the long-lived event stream.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use crate::refusals::{self, Reason};

#[derive(Clone)]
pub struct DashboardLimit(Arc<Semaphore>);

impl DashboardLimit {
    pub fn new(requests_in_flight: usize) -> Self {
        DashboardLimit(Arc::new(Semaphore::new(requests_in_flight.max(1))))
    }
}

fn is_exempt(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/api/v1/")
        || matches!(
            path,
            "/health" | "/api/health" | "/metrics" | "/favicon.svg"
        )
}

pub async fn limit(State(limit): State<DashboardLimit>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if is_exempt(path) {
        return next.run(request).await;
    }
    match limit.0.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => refusals::unavailable(Reason::AtCapacity, path, request.headers()),
    }
}
