//! Who is asking, resolved once per request, and the two gates every request passes:
//! cross-site requests that change state are refused, and everything but the login page,
//! health checks, static files and the appliance API needs a session.

use app::auth::session::{token_from_cookie_header, token_hash};
use app::error::AppError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::refusals::{self, Reason, json_error};
use crate::state::AppState;

/// Paths anyone may reach without signing in.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login"
            | "/api/login"
            | "/api/logout"
            | "/api/get_invite"
            | "/api/accept_invite"
            | "/health"
            | "/api/health"
            | "/favicon.svg"
            | "/.well-known/posture-signing-key"
    ) || path.starts_with("/pkg/")
        || path.starts_with(app::services::invites::PATH)
        || is_appliance_api(path)
}

/// A person's API token (`Authorization: Bearer pst_...`); appliance keys have no prefix.
fn api_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| token.starts_with(app::services::api_tokens::PREFIX))
}

/// A request made with an API token: it reads (GET) as the token's owner, read-only; an
/// unknown, expired or revoked token is 401, a write 403.
async fn with_api_token(
    state: &AppState,
    hash: String,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    match app::db::api_tokens::resolve(&state.db, &hash, chrono::Utc::now()).await {
        Ok(Some(user)) if matches!(*request.method(), Method::GET | Method::HEAD) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        Ok(Some(_)) => {
            let error =
                AppError::Forbidden("API tokens only read: sign in to change anything".into());
            json_error(StatusCode::FORBIDDEN, &error)
        }
        Ok(None) => {
            let error = AppError::Unauthorized(
                "This API token is not valid: it is unknown, expired or revoked.".into(),
            );
            json_error(StatusCode::UNAUTHORIZED, &error)
        }
        Err(err) => {
            tracing::error!("resolving an API token: {err}");
            refusals::unavailable(Reason::DatabaseDown, &path, request.headers())
        }
    }
}

/// What an admin who must turn two-factor sign-in on may reach before they have: the page
/// that does it and the reads it refreshes, the event stream its frame opens, signing out.
fn open_while_enrolling(path: &str) -> bool {
    matches!(
        path,
        "/account/security"
            | "/api/get_two_factor"
            | "/api/start_two_factor"
            | "/api/confirm_two_factor"
            | "/api/list_api_tokens"
            | "/api/logout"
            | "/api/v1/events"
            | "/favicon.svg"
    )
}

/// Sends an admin without a required second factor to set one up.
fn enrol_first(path: &str) -> Response {
    if path.starts_with("/api/") {
        let error = AppError::Forbidden(
            "admins must turn on two-factor sign-in first, at /account/security".into(),
        );
        return json_error(StatusCode::FORBIDDEN, &error);
    }
    Redirect::to("/account/security").into_response()
}

/// Health checks and metrics answer without looking at sessions, so they never wait on the
/// database; `/metrics` has its own access rule (`prometheus`).
fn is_operational(path: &str) -> bool {
    matches!(path, "/health" | "/api/health" | "/metrics")
}

/// The appliance API authenticates each request with the appliance's key, not a session; the
/// event stream for dashboards is the exception and needs a signed-in user.
fn is_appliance_api(path: &str) -> bool {
    path.starts_with("/api/v1/") && path != "/api/v1/events"
}

/// A state-changing request from another site (CSRF). Browsers say where a request comes from
/// in `Sec-Fetch-Site` and `Origin`; a same-origin request, or one without either header (not
/// from a browser, so no ambient cookie to abuse), passes. The session cookie is also
/// `SameSite=Strict`, so this is the second of two defences.
fn is_cross_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            origin_host != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with("/pkg/") || is_appliance_api(&path) || is_operational(&path) {
        return next.run(request).await;
    }
    if is_cross_site(request.method(), request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "Cross-site request refused: submit the form from Posture itself.",
        )
            .into_response();
    }
    if let Some(token) = api_token(request.headers()) {
        return with_api_token(&state, token_hash(token), request, next).await;
    }
    let token = request
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(token_from_cookie_header);
    if let Some(token) = token {
        let signed_in = &state.accounts.signed_in;
        match signed_in
            .resolve(&state.db, &token, chrono::Utc::now())
            .await
        {
            Ok(Some(user)) if user.must_enrol_two_factor && !open_while_enrolling(&path) => {
                return enrol_first(&path);
            }
            Ok(Some(user)) => {
                request.extensions_mut().insert(user);
                return next.run(request).await;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!("resolving a session: {err}");
                return refusals::unavailable(Reason::DatabaseDown, &path, request.headers());
            }
        }
    }
    if is_public(&path) {
        return next.run(request).await;
    }
    if path.starts_with("/api/") {
        let error = AppError::Unauthorized("Sign in to continue: your session ended.".into());
        return json_error(StatusCode::UNAUTHORIZED, &error);
    }
    let here = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let query = serde_urlencoded::to_string([("next", here)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cross_site_writes_are_recognised() {
        let post = Method::POST;
        assert!(!is_cross_site(
            &Method::GET,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(is_cross_site(
            &post,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(is_cross_site(
            &post,
            &headers(&[("sec-fetch-site", "same-site")])
        ));
        assert!(!is_cross_site(
            &post,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(is_cross_site(
            &post,
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "posture.example")
            ])
        ));
        assert!(!is_cross_site(
            &post,
            &headers(&[
                ("origin", "https://posture.example"),
                ("host", "posture.example")
            ])
        ));
        assert!(!is_cross_site(&post, &headers(&[])));
    }

    #[test]
    fn only_login_invitations_health_assets_and_the_appliance_api_are_public() {
        for path in [
            "/login",
            "/api/login",
            "/invite/0f3a",
            "/api/accept_invite",
            "/health",
            "/pkg/posture.wasm",
            "/api/v1/checkin",
        ] {
            assert!(is_public(path), "{path}");
        }
        for path in [
            "/",
            "/sites",
            "/api/list_sites",
            "/admin/audit.csv",
            "/loginx",
            "/invitex",
        ] {
            assert!(!is_public(path), "{path}");
        }
    }
}
