//! Headers every response carries, set in one layer rather than per handler: no MIME sniffing,
//! no framing by any page (clickjacking), the referrer only to our own origin, browser features
//! the dashboard does not use turned off, and HSTS when the request came over TLS (directly or
//! through a proxy that says so).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
     serial=(), bluetooth=(), midi=(), magnetometer=(), gyroscope=(), accelerometer=()";

/// A year, subdomains included: once a browser saw Posture over TLS it never tries plain HTTP.
const HSTS: &str = "max-age=31536000; includeSubDomains";

pub async fn add(request: Request, next: Next) -> Response {
    let tls = request.uri().scheme_str() == Some("https")
        || app::auth::session::is_tls(request.headers());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(X_FRAME_OPTIONS, "DENY");
    set(REFERRER_POLICY, "same-origin");
    set(
        axum::http::HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    if tls {
        set(STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}
