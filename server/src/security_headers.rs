//! Headers every response carries, set in one layer rather than per handler: a Content Security
//! Policy, no MIME sniffing, no framing by any page (clickjacking), the referrer only to our own
//! origin, browser features the dashboard does not use turned off, and HSTS when the request
//! came over TLS (directly or through a proxy that says so).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;

const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
     serial=(), bluetooth=(), midi=(), magnetometer=(), gyroscope=(), accelerometer=()";

/// A year, subdomains included: once a browser saw Posture over TLS it never tries plain HTTP.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The random value of this response's Content Security Policy nonce. The layer puts it in the
/// request's extensions; the page renderer hands it to Leptos, which writes it on the inline
/// scripts it emits (the hydration loader and the streamed resource data).
#[derive(Clone, Debug)]
pub struct CspNonce(pub Arc<str>);

impl CspNonce {
    fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        CspNonce(hex::encode(bytes).into())
    }
}

/// The hash of the one inline style sheet the app writes: leptos-use's colour-mode switch adds
/// it for a moment so that changing theme does not animate every colour (the sheet is in the
/// test below). Allowed by its hash, so no other inline sheet is.
const THEME_SWITCH_STYLE_SHA256: &str = "skqujXORqzxt1aE0NNXxujEanPTX6raoqSscTV/Ww/Y=";

/// Only our own files, the inline scripts Leptos writes with this response's nonce, and WASM
/// compiled from our own file. Style *attributes* stay allowed: Leptos renders `style:` on the
/// server as attributes (the incident list's sizes depend on the data); they cannot run code,
/// and anything they could load is held to `img-src`/`font-src 'self'`. Style *elements* other
/// than the theme switch's and sheets from anywhere else stay blocked.
fn content_security_policy(nonce: &CspNonce) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; \
         style-src 'self' 'sha256-{THEME_SWITCH_STYLE_SHA256}'; style-src-attr 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
         frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        nonce.0
    )
}

pub async fn add(mut request: Request, next: Next) -> Response {
    let tls = request.uri().scheme_str() == Some("https")
        || app::auth::session::is_tls(request.headers());
    let nonce = CspNonce::generate();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(CONTENT_SECURITY_POLICY, csp);
    }
    let mut set = |name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(X_FRAME_OPTIONS, "DENY");
    set(REFERRER_POLICY, "same-origin");
    set(
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    if tls {
        set(STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

/// Hands the request's nonce to Leptos, replacing the one it made up: called in the render
/// context, after Leptos has provided the request's parts.
pub fn provide_nonce() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(value)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::{Digest, Sha256};

    /// As `leptos_use_color_mode::use_color_mode` writes it.
    const THEME_SWITCH_STYLE: &str = "*,*::before,*::after{-webkit-transition:none!important;\
         -moz-transition:none!important;-o-transition:none!important;\
         -ms-transition:none!important;transition:none!important}";

    #[test]
    fn the_allowed_style_hash_is_the_theme_switch_sheet() {
        let digest = Sha256::digest(THEME_SWITCH_STYLE.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(hash, THEME_SWITCH_STYLE_SHA256);
    }
}
