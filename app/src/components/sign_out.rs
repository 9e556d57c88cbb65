//! Signing out, from the header of every signed-in page.

use leptos::prelude::*;

use crate::auth::SessionUser;
use crate::error::AppError;

/// Ends the session on every server (it cannot be used again, and its event streams close) and
/// clears the cookie.
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
        let session = crate::auth::session::token_hash(&token);
        crate::auth::signed_in::end_everywhere(crate::cluster::Change::SessionEnded { session })
            .await;
    }
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(cookie) = http::HeaderValue::from_str(&cleared_cookie(is_tls(&parts.headers))) {
        response.append_header(http::header::SET_COOKIE, cookie);
    }
    Ok(())
}

/// Full page loads after signing in or out, so nothing of the previous session stays cached.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
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
        <a class="user-chip" href="/account/security" title="Two-factor sign-in" data-testid="current-user">
            {user.display_name}" · "<span data-testid="current-role">{user.role.as_str()}</span>
        </a>
        <ActionForm action>
            <button type="submit" class="button" data-testid="sign-out">"Sign out"</button>
        </ActionForm>
    }
}
