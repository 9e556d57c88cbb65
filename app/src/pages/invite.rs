//! `/invite/:token`: where clinic staff land from the link their IT provider sent, choose a
//! name and password, and get an account that sees only their clinic's client.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::accounts::{InviteAccepted, InviteDetails};
use crate::components::query_view::QueryView;
use crate::error::AppError;

crate::query_args!(GetInvite);

/// The invitation `token` opens; 404 once used or expired.
#[server(input = crate::codec::Query, endpoint = "get_invite")]
pub async fn get_invite(token: String) -> Result<InviteDetails, AppError> {
    let (db, _) = crate::aggregates::request_state()?;
    crate::services::invites::open(&db, &token, chrono::Utc::now())
        .await
        .map_err(AppError::with_status)
}

/// Makes the invited clinic account and spends the link.
#[server(endpoint = "accept_invite")]
pub async fn accept_invite(
    token: String,
    display_name: String,
    password: String,
) -> Result<InviteAccepted, AppError> {
    let (db, _) = crate::aggregates::request_state()?;
    let now = chrono::Utc::now();
    crate::services::invites::accept(&db, &token, &display_name, &password, now)
        .await
        .map_err(AppError::with_status)
}

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let invite = Resource::new_blocking(token, get_invite);
    let retry = Callback::new(move |_| invite.refetch());
    view! {
        <Title text="Join Posture" />
        <div class="login-card invite-card">
            <h1 class="brand">"Posture"</h1>
            <QueryView rows=3 retry>
                {move || Suspend::new(async move {
                    invite.await.map(|invite| view! { <AcceptForm token=token() invite /> })
                })}
            </QueryView>
        </div>
    }
}

#[component]
fn AcceptForm(token: String, invite: InviteDetails) -> impl IntoView {
    let action = ServerAction::<AcceptInvite>::new();
    let ready = move || matches!(action.value().get(), Some(Ok(InviteAccepted::Ready { .. })));
    view! {
        <Show
            when=ready
            fallback=move || view! { <InviteFields action token=token.clone() invite=invite.clone() /> }
        >
            <p role="status" data-testid="invite-ready">
                "Your account is ready. "<A href="/login">"Sign in"</A>" with your email and the password you chose."
            </p>
        </Show>
    }
}

/// Name and password for the invited account, with what the server said of them.
#[component]
fn InviteFields(
    action: ServerAction<AcceptInvite>,
    token: String,
    invite: InviteDetails,
) -> impl IntoView {
    let field_error = move |name: &'static str| {
        move || {
            match action.value().get() {
            Some(Ok(InviteAccepted::Invalid(errors))) => errors.get(name).cloned().map(|message| {
                view! { <span class="field-error" role="alert" data-testid=format!("error-{name}")>{message}</span> }
            }),
            _ => None,
        }
        }
    };
    let refused = move || match action.value().get() {
        Some(Err(err)) => Some(
            view! { <p class="form-error" role="alert" data-testid="invite-error">{err.to_string()}</p> },
        ),
        _ => None,
    };
    let expires = invite.expires_at.format("%-d %B %Y, %H:%M UTC").to_string();
    view! {
        <p data-testid="invite-intro">
            "You are invited to see the compliance of "<strong>{invite.client_name}</strong>
            " as "<strong>{invite.email}</strong>". Choose your name and a password."
        </p>
        <ActionForm action attr:class="stacked-form" attr:data-testid="invite-form">
            <input type="hidden" name="token" value=token />
            <label>
                "Your name"
                <input type="text" name="display_name" autocomplete="name" required data-testid="invite-name" />
                {field_error("display_name")}
            </label>
            <label>
                "Password (at least 10 characters)"
                <input type="password" name="password" autocomplete="new-password" required minlength="10" data-testid="invite-password" />
                {field_error("password")}
            </label>
            {field_error("email")}
            {refused}
            <button type="submit" class="button primary" disabled=move || action.pending().get()>
                "Create my account"
            </button>
        </ActionForm>
        <p class="muted">"This link works once, until "{expires}"."</p>
    }
}
