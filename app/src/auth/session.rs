//! Session tokens and the cookie that carries them.
//!
//! The browser holds 32 random bytes; the database holds only their SHA-256, so reading the
//! sessions table does not let anyone sign in. Sessions last at most [`SESSION_LIFETIME`] and
//! end after [`IDLE_TIMEOUT`] without a request.

use chrono::Duration;
use cookie::{Cookie, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "posture_session";
pub const SESSION_LIFETIME: Duration = Duration::hours(24);
pub const IDLE_TIMEOUT: Duration = Duration::minutes(15);
/// A session's last-seen time is written at most this often, not on every request.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);
/// Failed logins in a row that lock an account, and for how long.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCKOUT: Duration = Duration::minutes(15);

/// A fresh token for the cookie, and the hash to store.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The `Set-Cookie` value that starts a session. `secure` when the site is served over TLS.
pub fn session_cookie(token: &str, secure: bool) -> String {
    Cookie::build((COOKIE_NAME, token.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(
            SESSION_LIFETIME.num_seconds(),
        ))
        .build()
        .to_string()
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie(secure: bool) -> String {
    Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The session token in a `Cookie` request header, if any.
pub fn token_from_cookie_header(header: &str) -> Option<String> {
    Cookie::split_parse(header)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

/// Whether the request reached us over TLS (directly or through a proxy that says so).
pub fn is_tls(headers: &http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_http_only_strict_and_secure_only_over_tls() {
        let (token, hash) = new_token();
        assert_eq!(token.len(), 64);
        assert_eq!(hash, token_hash(&token));
        assert_ne!(hash, token);
        let plain = session_cookie(&token, false);
        assert!(plain.contains("HttpOnly"), "{plain}");
        assert!(plain.contains("SameSite=Strict"), "{plain}");
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(session_cookie(&token, true).contains("Secure"));
        assert!(cleared_cookie(false).contains("Max-Age=0"));
        let header = format!("theme=dark; {COOKIE_NAME}={token}; other=1");
        assert_eq!(token_from_cookie_header(&header), Some(token));
        assert_eq!(token_from_cookie_header("theme=dark"), None);
    }
}
