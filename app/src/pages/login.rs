//! `/login`, signing out, and who is signed in. Every other page needs a session; the
//! server's session middleware sends visitors without one here.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::sign_out::go_to;
use crate::error::AppError;

/// Where to go after signing in: `next` resolved against our own origin, as a browser would
/// resolve it, and followed only when it stays there. Control characters (which browsers strip,
/// so `/\t/evil.example` becomes `//evil.example`) and backslashes (read as `/`) are refused
/// outright; anything else leading to another origin, or to `/login`, answers `/`.
#[cfg(feature = "ssr")]
pub fn safe_next(next: &str) -> String {
    local_path(next)
        .filter(|path| path != "/login")
        .unwrap_or_else(|| "/".to_string())
}

#[cfg(feature = "ssr")]
fn local_path(next: &str) -> Option<String> {
    if !next.starts_with('/') || next.starts_with("//") || next.contains('\\') {
        return None;
    }
    if next.chars().any(char::is_control) {
        return None;
    }
    let origin = url::Url::parse("http://origin.invalid/").ok()?;
    let resolved = origin.join(next).ok()?;
    (resolved.origin() == origin.origin())
        .then(|| resolved[url::Position::BeforePath..].to_string())
}

/// The one answer to every refused sign-in (unknown email, wrong password, locked or disabled
/// account), so it tells nothing about the account.
pub const SIGN_IN_REFUSED: &str = "Email or password is wrong (after 5 failures in a row the \
account is locked for 15 min: an admin can unlock it).";

/// The answer to a right password of an account with two-factor sign-in, without a code.
pub const CODE_NEEDED: &str =
    "Enter the 6-digit code from your authenticator app, or one of your recovery codes.";

/// The answer to a wrong, used or spent second factor (it counts towards the lockout).
pub const CODE_REFUSED: &str = "That code is wrong or was used already: enter the app's current \
code, or an unused recovery code (after 5 failures in a row the account is locked for 15 min).";

/// Longest typed email kept in the audit log for a failed sign-in.
#[cfg(feature = "ssr")]
const AUDITED_EMAIL_CHARS: usize = 254;

/// Checks the password (and, for an account with two-factor sign-in, `code`: the app's
/// current code or a recovery code) and starts a session; returns the path to continue to.
///
/// The attempt is counted against the account before the password is checked (see
/// [`crate::db::accounts::count_login_attempt`]), every path spends one argon2 verification
/// (against a dummy hash when there is no account to check), and every refusal is audited and
/// answered with [`SIGN_IN_REFUSED`]. The server throttles this endpoint per address and
/// overall before it gets here.
#[server(endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: String,
    #[server(default)] code: Option<String>,
) -> Result<String, AppError> {
    use crate::auth::password::check_password;
    use crate::auth::session::{is_tls, session_cookie};
    use crate::db::accounts;

    let (db, _) = crate::aggregates::request_state()?;
    let now = chrono::Utc::now();
    let email = email.trim();
    let actor: String = email.chars().take(AUDITED_EMAIL_CHARS).collect();
    let audit = |action: &'static str, details: serde_json::Value| accounts::NewAudit {
        actor: actor.clone(),
        action,
        target: "session".into(),
        details,
        ip: crate::auth::client_ip(),
        at: now,
    };
    let record = accounts::find_login(&db, email).await?;
    let counted = match &record {
        Some(record) => accounts::count_login_attempt(&db, record.user.id, now).await?,
        None => None,
    };
    let stored = counted
        .and(record.as_ref())
        .map(|r| r.password_hash.clone());
    let matches = check_password(password, stored).await;
    let record = match (record, counted) {
        (Some(record), Some(_)) if matches => record,
        (record, counted) => {
            for (action, details) in refusal(record.as_ref().map(|r| r.disabled), counted) {
                accounts::record_audit(&db, &audit(action, details)).await?;
            }
            return Err(AppError::Unauthorized(SIGN_IN_REFUSED.into()).with_status());
        }
    };
    if record.totp_enabled {
        let code = code.as_deref().map(str::trim).unwrap_or_default();
        if code.is_empty() {
            let before = counted.map_or(0, |c| c.failures - 1);
            accounts::uncount_login_attempt(&db, record.user.id, before).await?;
            return Err(AppError::Unauthorized(CODE_NEEDED.into()).with_status());
        }
        use crate::services::two_factor::{SecondFactor, check_code};
        match check_code(&db, record.user.id, &record.user.email, code, now).await? {
            SecondFactor::Code => {}
            SecondFactor::RecoveryCode => {
                let left = crate::db::two_factor::codes_left(&db, record.user.id).await?;
                let details = serde_json::json!({ "recovery_codes_left": left });
                accounts::record_audit(&db, &audit("auth.recovery_code_used", details)).await?;
            }
            SecondFactor::Refused(why) => {
                let failures = counted.map_or(0, |c| c.failures);
                let details = serde_json::json!({ "reason": why, "failures": failures });
                accounts::record_audit(&db, &audit("auth.two_factor_failed", details)).await?;
                if let Some(until) = counted.and_then(|c| c.locks_until) {
                    let details = serde_json::json!({ "until": until });
                    accounts::record_audit(&db, &audit("auth.locked", details)).await?;
                }
                return Err(AppError::Unauthorized(CODE_REFUSED.into()).with_status());
            }
        }
    }
    let token = accounts::start_session(&db, record.user.id, now).await?;
    accounts::record_audit(&db, &audit("auth.login", serde_json::json!({}))).await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    let secure = use_context::<http::request::Parts>().is_some_and(|p| is_tls(&p.headers));
    if let Ok(cookie) = http::HeaderValue::from_str(&session_cookie(&token, secure)) {
        response.append_header(http::header::SET_COOKIE, cookie);
    }
    Ok(safe_next(&next))
}

/// The audit entries of a refused sign-in: `disabled` is `None` for an unknown email,
/// `counted` is `None` when the account refused the attempt (locked or disabled).
#[cfg(feature = "ssr")]
fn refusal(
    disabled: Option<bool>,
    counted: Option<crate::db::accounts::CountedAttempt>,
) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    match (disabled, counted) {
        (None, _) => vec![("auth.login_failed", json!({ "reason": "unknown email" }))],
        (Some(true), _) => vec![("auth.login_refused", json!({ "reason": "disabled" }))],
        (Some(false), None) => vec![("auth.login_refused", json!({ "reason": "locked" }))],
        (Some(false), Some(counted)) => {
            let failed = (
                "auth.login_failed",
                json!({ "reason": "wrong password", "failures": counted.failures }),
            );
            match counted.locks_until {
                Some(until) => vec![failed, ("auth.locked", json!({ "until": until }))],
                None => vec![failed],
            }
        }
    }
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
    // Once the password was right for an account with two factors, the code field stays.
    let needs_code = Memo::new(move |asked: Option<&bool>| {
        asked.copied().unwrap_or(false)
            || error().is_some_and(|e| e == CODE_NEEDED || e == CODE_REFUSED)
    });
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
                {move || needs_code.get().then(|| view! {
                    <label>
                        "Code"
                        <input type="text" name="code" inputmode="text" autocomplete="one-time-code" required autofocus data-testid="login-code" />
                    </label>
                })}
                {move || error().map(|e| view! { <p class="form-error" role="alert" data-testid="login-error">{e}</p> })}
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </div>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::{SIGN_IN_REFUSED, safe_next};
    use crate::auth::session::{LOCKOUT, MAX_FAILED_LOGINS};

    #[test]
    fn the_refusal_states_the_real_lockout_rule() {
        assert!(SIGN_IN_REFUSED.contains(&format!("after {MAX_FAILED_LOGINS} failures")));
        assert!(SIGN_IN_REFUSED.contains(&format!("{} min", LOCKOUT.num_minutes())));
    }

    #[test]
    fn only_same_origin_paths_are_followed_after_login() {
        assert_eq!(safe_next("/sites?status=online"), "/sites?status=online");
        assert_eq!(
            safe_next("/incidents?q=a%20b#row-3"),
            "/incidents?q=a%20b#row-3"
        );
        assert_eq!(safe_next("/sites/../admin"), "/admin");
        for hostile in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r//evil.example",
            "\t//evil.example",
            "/\u{0}/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/login",
            "",
        ] {
            assert_eq!(safe_next(hostile), "/", "{hostile:?}");
        }
        assert_eq!(
            safe_next("/%09/evil.example"),
            "/%09/evil.example",
            "still encoded, it is a path on our own site"
        );
    }
}
