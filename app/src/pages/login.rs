//! `/login`, signing out, and who is signed in. Every other page needs a session; the
//! server's session middleware sends visitors without one here.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth::SessionUser;
use crate::error::AppError;

/// Where to go after signing in: a local path only, so the link cannot send users elsewhere.
pub fn safe_next(next: &str) -> String {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if local && next != "/login" {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// Checks the password and starts a session; returns the path to continue to.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: String) -> Result<String, AppError> {
    use crate::auth::password::{verify_against_nothing, verify_password};
    use crate::auth::session::{MAX_FAILED_LOGINS, is_tls, session_cookie};
    use crate::db::accounts;

    let (db, _) = crate::aggregates::request_state()?;
    let now = chrono::Utc::now();
    let audit = |action: &'static str| accounts::NewAudit {
        actor: email.trim().to_string(),
        action,
        target: "session".into(),
        details: serde_json::json!({}),
        ip: crate::auth::client_ip(),
        at: now,
    };
    let wrong = || AppError::Unauthorized("Email or password is wrong.".into()).with_status();
    let Some(record) = accounts::find_login(&db, email.trim()).await? else {
        verify_against_nothing(&password);
        return Err(wrong());
    };
    if let Some(until) = record.locked_until.filter(|until| *until > now) {
        return Err(locked(until, now));
    }
    if !verify_password(&password, &record.password_hash) {
        let lock = accounts::record_failed_login(&db, record.user.id, now).await?;
        let action = if lock.is_some() {
            "auth.locked"
        } else {
            "auth.login_failed"
        };
        accounts::record_audit(&db, &audit(action)).await?;
        if let Some(until) = lock {
            return Err(AppError::Unauthorized(format!(
                "{MAX_FAILED_LOGINS} failed logins in a row: {}",
                locked_message(until, now)
            ))
            .with_status());
        }
        return Err(wrong());
    }
    if record.disabled {
        return Err(AppError::Unauthorized("This account is disabled.".into()).with_status());
    }
    let token = accounts::start_session(&db, record.user.id, now).await?;
    accounts::record_audit(&db, &audit("auth.login")).await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    let secure = use_context::<http::request::Parts>().is_some_and(|p| is_tls(&p.headers));
    if let Ok(cookie) = http::HeaderValue::from_str(&session_cookie(&token, secure)) {
        response.append_header(http::header::SET_COOKIE, cookie);
    }
    Ok(safe_next(&next))
}

#[cfg(feature = "ssr")]
fn locked_message(
    until: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let minutes = ((until - now).num_seconds() + 59) / 60;
    let minutes = minutes.max(1);
    format!("the account is locked for {minutes} min.")
}

#[cfg(feature = "ssr")]
fn locked(until: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> AppError {
    AppError::Unauthorized(format!(
        "Too many failed logins: {}",
        locked_message(until, now)
    ))
    .with_status()
}

/// Ends the session on the server (it cannot be used again) and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::auth::session::{cleared_cookie, is_tls, token_from_cookie_header};

    let (db, _) = crate::aggregates::request_state()?;
    let parts = expect_context::<http::request::Parts>();
    if let Some(token) = parts
        .headers
        .get(http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(token_from_cookie_header)
    {
        crate::db::accounts::end_session(&db, &token).await?;
    }
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(cookie) = http::HeaderValue::from_str(&cleared_cookie(is_tls(&parts.headers))) {
        response.append_header(http::header::SET_COOKIE, cookie);
    }
    Ok(())
}

/// Full page loads after signing in or out, so nothing of the previous session stays cached.
fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    let action = ServerAction::<Login>::new();
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            go_to(&path);
        }
    });
    let error = move || match action.value().get() {
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    };
    view! {
        <Title text="Sign in" />
        <div class="login-card">
            <h1 class="brand">"Posture"</h1>
            <ActionForm action attr:class="stacked-form" attr:data-testid="login-form">
                <input type="hidden" name="next" prop:value=next />
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="username" required autofocus data-testid="login-email" />
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required data-testid="login-password" />
                </label>
                {move || error().map(|e| view! { <p class="form-error" role="alert" data-testid="login-error">{e}</p> })}
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </div>
    }
}

/// The signed-in user's name and a sign-out button, for the header.
#[component]
pub fn SignOut(user: SessionUser) -> impl IntoView {
    let action = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            go_to("/login");
        }
    });
    view! {
        <span class="user-chip" data-testid="current-user">
            {user.display_name}" · "<span data-testid="current-role">{user.role.as_str()}</span>
        </span>
        <ActionForm action>
            <button type="submit" class="button" data-testid="sign-out">"Sign out"</button>
        </ActionForm>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next("/sites?status=online"), "/sites?status=online");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("//evil.example/x"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("/login"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
