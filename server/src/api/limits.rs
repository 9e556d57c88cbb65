//! What one appliance, or all of them together, may take of the server: requests per second
//! per key, requests in flight, and bytes of request data held at once (bodies being read or
//! inflated, and reports waiting for the batcher). Past a limit the API answers at once (429 for
//! one key's rate, 503 for the server's capacity), with `Retry-After`, instead of queueing.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::memory_budget::{MemoryBudget, MemoryPermit, Spent};

/// Seconds a client is asked to wait when the server is at capacity.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Requests per second one appliance key may make, sustained.
    pub per_key_rate: NonZeroU32,
    /// Requests one key may make at once above its rate.
    pub per_key_burst: NonZeroU32,
    /// Appliance API requests being handled at once.
    pub requests_in_flight: usize,
    /// Bytes of request data held at once, read, inflated or queued.
    pub memory_bytes: usize,
}

#[derive(Clone)]
pub struct ApiLimits {
    per_key: Arc<DefaultKeyedRateLimiter<i64>>,
    in_flight: Arc<Semaphore>,
    memory: MemoryBudget,
}

impl ApiLimits {
    pub fn new(settings: LimitSettings) -> Self {
        let quota = Quota::per_second(settings.per_key_rate).allow_burst(settings.per_key_burst);
        Self {
            per_key: Arc::new(RateLimiter::keyed(quota)),
            in_flight: Arc::new(Semaphore::new(settings.requests_in_flight.max(1))),
            memory: MemoryBudget::new(settings.memory_bytes),
        }
    }

    /// Counts a request of appliance `appliance_id` against its key's rate: 429 past it.
    pub fn admit(&self, appliance_id: i64) -> Result<(), ApiError> {
        self.per_key.check_key(&appliance_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError {
                retry_after: Some(wait.as_secs().max(1)),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "this appliance sends faster than its rate limit; retry later",
                )
            }
        })
    }

    /// Reserves `bytes` of the memory budget, or 503 when it is spent.
    pub fn reserve(&self, bytes: usize) -> Result<MemoryPermit, ApiError> {
        self.memory.reserve(bytes).map_err(|Spent| at_capacity())
    }

    /// Adds `more` bytes to `permit`, or 503 when the budget is spent.
    pub fn grow(&self, permit: &mut MemoryPermit, more: usize) -> Result<(), ApiError> {
        permit
            .grow(&self.memory, more)
            .map_err(|Spent| at_capacity())
    }

    /// Bytes of the memory budget not reserved now.
    pub fn memory_available(&self) -> usize {
        self.memory.available()
    }
}

fn at_capacity() -> ApiError {
    ApiError {
        retry_after: Some(BUSY_RETRY_AFTER_SECS),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is at capacity; retry later",
        )
    }
}

/// Refuses an appliance API request with 503 when as many are in flight as allowed.
pub async fn limit_in_flight(
    State(limits): State<ApiLimits>,
    request: Request,
    next: Next,
) -> Response {
    match limits.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => at_capacity().into_response(),
    }
}
