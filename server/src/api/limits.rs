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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::Appliance;
use super::error::ApiError;
use crate::state::AppState;

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
    memory: Arc<Semaphore>,
}

impl ApiLimits {
    pub fn new(settings: LimitSettings) -> Self {
        let quota = Quota::per_second(settings.per_key_rate).allow_burst(settings.per_key_burst);
        Self {
            per_key: Arc::new(RateLimiter::keyed(quota)),
            in_flight: Arc::new(Semaphore::new(settings.requests_in_flight.max(1))),
            memory: Arc::new(Semaphore::new(
                settings.memory_bytes.clamp(1, Semaphore::MAX_PERMITS),
            )),
        }
    }

    /// Counts a request of `appliance` against its key's rate: 429 past it.
    pub fn admit(&self, appliance: &Appliance) -> Result<(), ApiError> {
        self.per_key.check_key(&appliance.id).map_err(|not_until| {
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
        let bytes = u32::try_from(bytes.max(1)).map_err(|_| at_capacity())?;
        self.memory
            .clone()
            .try_acquire_many_owned(bytes)
            .map(MemoryPermit)
            .map_err(|_| at_capacity())
    }

    /// Bytes of the memory budget not reserved now.
    pub fn memory_available(&self) -> usize {
        self.memory.available_permits()
    }
}

/// Bytes of the memory budget held by one request, released when it is dropped (after the
/// report it carried was answered).
#[derive(Debug)]
pub struct MemoryPermit(OwnedSemaphorePermit);

impl MemoryPermit {
    pub fn bytes(&self) -> usize {
        self.0.num_permits()
    }

    /// Adds `more` bytes to this reservation, or 503 when the budget is spent.
    pub fn grow(&mut self, limits: &ApiLimits, more: usize) -> Result<(), ApiError> {
        let more = limits.reserve(more)?;
        self.0.merge(more.0);
        Ok(())
    }

    /// Gives back all but `keep` bytes.
    pub fn shrink_to(&mut self, keep: usize) {
        let surplus = self.bytes().saturating_sub(keep.max(1));
        drop(self.0.split(surplus));
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
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match state.limits.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => at_capacity().into_response(),
    }
}
