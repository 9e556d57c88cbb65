//! Sign-in throttling: attempts at `/api/login` are limited per client address and over all
//! addresses together, before any database or argon2 work. Past a limit the answer is 429 with
//! `Retry-After`. Per address this slows guessing and password spraying (one address trying
//! many accounts); overall it caps the argon2 work anonymous clients can ask for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::auth::ClientIp;
use app::error::AppError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The server function that signs in.
pub const SIGN_IN_PATH: &str = "/api/login";

/// Addresses tracked before idle ones are forgotten.
const TRACKED_ADDRESSES: usize = 50_000;
/// Shortest time between two sweeps of idle addresses.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Attempts one address may make per minute, sustained.
    pub per_address_per_minute: NonZeroU32,
    /// Attempts one address may make at once before the per-minute rate applies.
    pub per_address_burst: NonZeroU32,
    /// Attempts from all addresses together per second, sustained.
    pub overall_per_second: NonZeroU32,
    /// Attempts from all addresses together at once.
    pub overall_burst: NonZeroU32,
}

/// Default attempts per address and minute: a burst of 10, then one every 6 s.
pub const PER_ADDRESS_PER_MINUTE: u32 = 10;
/// Default attempts per second over all addresses (bursts of three times as many): about a
/// tenth of a second of argon2 per CPU each second on a small server.
pub const OVERALL_PER_SECOND: u32 = 20;

impl SignInLimits {
    /// `per_address_per_minute` at once then at that rate; `overall_per_second` sustained,
    /// bursts of three times as many.
    pub fn new(per_address_per_minute: u32, overall_per_second: u32) -> Self {
        let n = |value: u32| NonZeroU32::new(value).unwrap_or(NonZeroU32::MIN);
        Self {
            per_address_per_minute: n(per_address_per_minute),
            per_address_burst: n(per_address_per_minute),
            overall_per_second: n(overall_per_second),
            overall_burst: n(overall_per_second.saturating_mul(3)),
        }
    }
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self::new(PER_ADDRESS_PER_MINUTE, OVERALL_PER_SECOND)
    }
}

#[derive(Clone)]
pub struct SignInThrottle {
    per_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    overall: Arc<DefaultDirectRateLimiter>,
    last_sweep: Arc<Mutex<Instant>>,
}

impl SignInThrottle {
    pub fn new(limits: SignInLimits) -> Self {
        let per_address =
            Quota::per_minute(limits.per_address_per_minute).allow_burst(limits.per_address_burst);
        let overall =
            Quota::per_second(limits.overall_per_second).allow_burst(limits.overall_burst);
        Self {
            per_address: Arc::new(RateLimiter::keyed(per_address)),
            overall: Arc::new(RateLimiter::direct(overall)),
            last_sweep: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Counts an attempt from `client`; `Err` with how long to wait when over a limit. The
    /// address's own limit is checked first, so one address over its limit spends nothing of
    /// the overall budget.
    pub fn admit(&self, client: IpAddr) -> Result<(), Duration> {
        self.forget_idle_addresses();
        let now = || DefaultClock::default().now();
        self.per_address
            .check_key(&address_key(client))
            .map_err(|not_until| not_until.wait_time_from(now()))?;
        self.overall
            .check()
            .map_err(|not_until| not_until.wait_time_from(now()))
    }

    /// Keeps the per-address table small: once it is large, addresses whose budget is full
    /// again are dropped, at most every [`SWEEP_INTERVAL`].
    fn forget_idle_addresses(&self) {
        if self.per_address.len() < TRACKED_ADDRESSES {
            return;
        }
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return;
        };
        if last.elapsed() >= SWEEP_INTERVAL {
            *last = Instant::now();
            self.per_address.retain_recent();
            self.per_address.shrink_to_fit();
        }
    }
}

/// What one address is counted as: an IPv6 client usually holds a whole /64, so that is one
/// address here.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// Refuses sign-in attempts over the limits with 429 and `Retry-After`, in the JSON shape
/// server functions answer errors in, so the sign-in page shows the message.
pub async fn throttle(
    State(throttle): State<SignInThrottle>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() != SIGN_IN_PATH {
        return next.run(request).await;
    }
    let client = request
        .extensions()
        .get::<ClientIp>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ip| ip.0);
    match throttle.admit(client) {
        Ok(()) => next.run(request).await,
        Err(wait) => too_many_attempts(wait),
    }
}

fn too_many_attempts(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let error = AppError::Unauthorized(format!(
        "Too many sign-in attempts: try again in {seconds} s."
    ));
    let body = serde_json::to_string(&error).unwrap_or_default();
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_burst_then_waits_and_ipv6_counts_by_64() {
        let throttle = SignInThrottle::new(SignInLimits::default());
        let one: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..10 {
            assert!(throttle.admit(one).is_ok());
        }
        let wait = throttle.admit(one).unwrap_err();
        assert!(
            wait > Duration::from_secs(4) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        assert!(throttle.admit("198.51.100.8".parse().unwrap()).is_ok());

        let v6 = |text: &str| text.parse::<IpAddr>().unwrap();
        for i in 0..10 {
            assert!(throttle.admit(v6(&format!("2001:db8::{i}"))).is_ok());
        }
        assert!(throttle.admit(v6("2001:db8::ffff")).is_err(), "same /64");
        assert!(throttle.admit(v6("2001:db8:0:1::1")).is_ok(), "another /64");
    }

    #[test]
    fn all_addresses_together_share_the_overall_budget() {
        let throttle = SignInThrottle::new(SignInLimits::default());
        let admitted = (0..100u8)
            .filter(|i| throttle.admit(IpAddr::from([203, 0, 113, *i])).is_ok())
            .count();
        assert!((60..=62).contains(&admitted), "{admitted}");
    }
}
