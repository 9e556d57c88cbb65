//! `/account/security`: the signed-in user's two-factor sign-in (enrol an authenticator app,
//! keep recovery codes, turn it off), their API tokens, and for admins whether admins must
//! use two-factor sign-in.

use leptos::prelude::*;
use leptos_fetch::{QueryClient, QueryScope};
use leptos_meta::Title;

use crate::accounts::{ApiTokenRow, Enrolment, NewApiToken, TwoFactorStatus};
use crate::components::query_view::QueryView;
use crate::error::AppError;
use crate::queries::fleet_options;

crate::query_args!(GetTwoFactor);

#[server(input = crate::codec::Query, endpoint = "get_two_factor")]
pub async fn get_two_factor() -> Result<TwoFactorStatus, AppError> {
    use crate::db::two_factor as store;
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    let (state, left, required) = futures::try_join!(
        store::state(&db, user.id),
        store::codes_left(&db, user.id),
        store::admins_need_two_factor(&db),
    )?;
    Ok(TwoFactorStatus {
        enabled: state.totp_enabled,
        recovery_codes_left: left,
        admins_required: required,
        is_admin: user.can(crate::auth::Role::Admin),
    })
}

/// A new secret for the user's authenticator app, kept until [`confirm_two_factor`].
#[server(endpoint = "start_two_factor")]
pub async fn start_two_factor() -> Result<Enrolment, AppError> {
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    crate::services::two_factor::start(&db, user.id, &user.email)
        .await
        .map_err(AppError::with_status)
}

/// Turns two-factor sign-in on with the app's first code; the recovery codes, shown once.
#[server(endpoint = "confirm_two_factor")]
pub async fn confirm_two_factor(code: String) -> Result<Vec<String>, AppError> {
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    let (id, email) = (user.id, user.email.clone());
    let actor = crate::services::Actor::signed_in(user);
    let codes =
        crate::services::two_factor::confirm(&db, id, &email, &code, actor, chrono::Utc::now())
            .await
            .map_err(AppError::with_status)?;
    sessions_changed(id).await;
    Ok(codes)
}

/// The user's sessions are looked up again (here and on the other servers): whether they
/// must still enrol has changed.
#[cfg(feature = "ssr")]
async fn sessions_changed(user: i64) {
    let change = crate::cluster::Change::UserChanged {
        user,
        disabled: false,
    };
    crate::auth::signed_in::end_everywhere(change).await;
}

/// Turns two-factor sign-in off, with a current code or a recovery code.
#[server(endpoint = "disable_two_factor")]
pub async fn disable_two_factor(code: String) -> Result<(), AppError> {
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    let actor = crate::services::Actor::signed_in(user.clone());
    crate::services::two_factor::disable(&db, &user, &code, actor, chrono::Utc::now())
        .await
        .map_err(AppError::with_status)?;
    sessions_changed(user.id).await;
    Ok(())
}

/// (Admins) whether admins must sign in with two factors.
#[server(endpoint = "set_admins_need_two_factor")]
pub async fn set_admins_need_two_factor(required: bool) -> Result<(), AppError> {
    let admin = crate::auth::require_role(crate::auth::Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let audit = crate::services::Actor::signed_in(admin).audit(
        "settings.admins_need_two_factor",
        "settings",
        serde_json::json!({ "required": required }),
    );
    crate::db::two_factor::set_admins_need_two_factor(&db, required, &audit).await?;
    // Every admin's session is looked up again here; other servers within their 5 s memory.
    if let Some(signed_in) = use_context::<crate::auth::signed_in::SignedIn>() {
        signed_in.forget_all();
    }
    Ok(())
}

crate::query_args!(ListApiTokens);

#[server(input = crate::codec::Query, endpoint = "list_api_tokens")]
pub async fn list_api_tokens() -> Result<Vec<ApiTokenRow>, AppError> {
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    Ok(crate::db::api_tokens::list(&db, user.id).await?)
}

/// A token for the signed-in user's scripts, living `days` days; shown only in this answer.
#[server(endpoint = "create_api_token")]
pub async fn create_api_token(name: String, days: i64) -> Result<NewApiToken, AppError> {
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    crate::services::api_tokens::create(&db, &user, &name, days, chrono::Utc::now())
        .await
        .map_err(AppError::with_status)
}

/// Revokes the signed-in user's token `id`; answers its id.
#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: i64) -> Result<i64, AppError> {
    let user = crate::auth::require_user()?;
    let (db, _) = crate::aggregates::request_state()?;
    crate::services::api_tokens::revoke(&db, &user, id)
        .await
        .map_err(AppError::with_status)?;
    Ok(id)
}

pub fn api_tokens_query() -> QueryScope<(), Result<Vec<ApiTokenRow>, AppError>> {
    QueryScope::new(list_api_tokens).with_options(fleet_options())
}

pub fn two_factor_query() -> QueryScope<(), Result<TwoFactorStatus, AppError>> {
    QueryScope::new(get_two_factor).with_options(fleet_options())
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let client: QueryClient = expect_context();
    let status = client.resource_blocking(two_factor_query(), || ());
    let tokens = client.resource_blocking(api_tokens_query(), || ());
    let retry = Callback::new(move |_| {
        client.invalidate_query(two_factor_query(), ());
        client.invalidate_query(api_tokens_query(), ());
    });
    view! {
        <Title text="Your account" />
        <QueryView retry>
            {move || Suspend::new(async move { status.await.map(|status| view! { <TwoFactor status /> }) })}
            {move || Suspend::new(async move { tokens.await.map(|tokens| view! { <ApiTokens tokens /> }) })}
        </QueryView>
    }
}

#[component]
fn TwoFactor(status: TwoFactorStatus) -> impl IntoView {
    let must_enrol = status.is_admin && status.admins_required && !status.enabled;
    view! {
        <section class="panel" data-testid="two-factor">
            <h2>"Two-factor sign-in"</h2>
            {must_enrol.then(|| view! {
                <p class="form-error" role="alert" data-testid="must-enrol">
                    "Admins must sign in with two factors here: set up an authenticator app to continue."
                </p>
            })}
            {if status.enabled {
                view! { <Enabled status=status.clone() /> }.into_any()
            } else {
                view! { <Enrol /> }.into_any()
            }}
        </section>
        {status.is_admin.then(|| view! { <AdminRequirement required=status.admins_required /> })}
    }
}

#[component]
fn Enabled(status: TwoFactorStatus) -> impl IntoView {
    let client: QueryClient = expect_context();
    let disable = ServerAction::<DisableTwoFactor>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = disable.value().get() {
            client.invalidate_query(two_factor_query(), ());
        }
    });
    let locked_on = status.is_admin && status.admins_required;
    view! {
        <p data-testid="two-factor-state">
            {format!("On. {} of 10 recovery codes left.", status.recovery_codes_left)}
        </p>
        {if locked_on {
            view! { <p class="card-meta">"Admins must use it, so it cannot be turned off."</p> }.into_any()
        } else {
            view! {
                <ActionForm action=disable attr:class="inline-form">
                    <label class="field">
                        <span>"Code (or a recovery code)"</span>
                        <input type="text" name="code" autocomplete="one-time-code" required />
                    </label>
                    <button type="submit" class="button danger">"Turn off"</button>
                </ActionForm>
                {move || match disable.value().get() {
                    Some(Err(err)) => Some(view! { <p class="form-error" role="alert">{err.to_string()}</p> }),
                    _ => None,
                }}
            }.into_any()
        }}
    }
}

/// Set up: a new secret as a QR code and as text, then the app's first code to confirm it,
/// then the recovery codes, shown once.
#[component]
fn Enrol() -> impl IntoView {
    let start = ServerAction::<StartTwoFactor>::new();
    let confirm = ServerAction::<ConfirmTwoFactor>::new();
    let off = || view! { <p data-testid="two-factor-state">"Off: signing in needs only the password."</p> };
    view! {
        {move || match confirm.value().get() {
            Some(Ok(codes)) => view! { <RecoveryCodes codes /> }.into_any(),
            _ => match start.value().get() {
                Some(Ok(enrolment)) => view! {
                    <p data-testid="two-factor-state">"Off until the app's first code confirms it."</p>
                    <Confirm enrolment confirm />
                }.into_any(),
                Some(Err(err)) => view! { {off()}<p class="form-error" role="alert">{err.to_string()}</p> }.into_any(),
                None => view! {
                    {off()}
                    <ActionForm action=start>
                        <button type="submit" class="button primary" data-testid="start-two-factor">"Set up an authenticator app"</button>
                    </ActionForm>
                }.into_any(),
            },
        }}
    }
}

#[component]
fn Confirm(enrolment: Enrolment, confirm: ServerAction<ConfirmTwoFactor>) -> impl IntoView {
    view! {
        <div class="enrolment">
            <div class="qr" inner_html=enrolment.qr_svg aria-label="QR code of the authenticator app's setup address"></div>
            <div>
                <p>"Scan the code with an authenticator app, or type this key into it:"</p>
                <p class="mono" data-testid="totp-secret">{enrolment.secret}</p>
                <ActionForm action=confirm attr:class="inline-form">
                    <label class="field">
                        <span>"The app's code"</span>
                        <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required data-testid="confirm-code" />
                    </label>
                    <button type="submit" class="button primary">"Turn on"</button>
                </ActionForm>
                {move || match confirm.value().get() {
                    Some(Err(err)) => Some(view! { <p class="form-error" role="alert">{err.to_string()}</p> }),
                    _ => None,
                }}
            </div>
        </div>
    }
}

#[component]
fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    view! {
        <p data-testid="two-factor-state">"On. Keep these recovery codes somewhere safe: each signs you in once without the app, and they are shown only now."</p>
        <ul class="recovery-codes mono" data-testid="recovery-codes">
            {codes.into_iter().map(|code| view! { <li>{code}</li> }).collect_view()}
        </ul>
    }
}

#[component]
fn AdminRequirement(required: bool) -> impl IntoView {
    let client: QueryClient = expect_context();
    let set = ServerAction::<SetAdminsNeedTwoFactor>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = set.value().get() {
            client.invalidate_query(two_factor_query(), ());
        }
    });
    view! {
        <section class="panel" data-testid="admin-two-factor">
            <h2>"For every admin"</h2>
            <p>{if required {
                "Admins must sign in with two factors: an admin without it is sent here until it is on."
            } else {
                "Admins may sign in with a password alone."
            }}</p>
            <ActionForm action=set>
                <input type="hidden" name="required" value=if required { "false" } else { "true" } />
                <button type="submit" class="button" data-testid="toggle-admin-two-factor">
                    {if required { "Stop requiring it" } else { "Require it for admins" }}
                </button>
            </ActionForm>
        </section>
    }
}

/// The user's API tokens: made here (the token shown once), listed, revoked. The list is kept
/// here as it changes, not fetched again, so the new token stays on screen.
#[component]
fn ApiTokens(tokens: Vec<ApiTokenRow>) -> impl IntoView {
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let rows = RwSignal::new(tokens);
    Effect::new(move |_| {
        if let Some(Ok(made)) = create.value().get() {
            rows.update(|rows| {
                if rows.iter().all(|r| r.id != made.row.id) {
                    rows.insert(0, made.row.clone());
                }
            });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(id)) = revoke.value().get() {
            let now = chrono::Utc::now();
            rows.update(|rows| {
                for row in rows.iter_mut().filter(|r| r.id == id) {
                    row.revoked_at.get_or_insert(now);
                }
            });
        }
    });
    view! {
        <section class="panel" data-testid="api-tokens">
            <h2>"API tokens"</h2>
            <p class="card-meta">
                "For scripts: send "<code>"Authorization: Bearer TOKEN"</code>" to the read server functions ("
                <code>"/api/..."</code>") and the CSV exports. A token reads what you may read and changes nothing; it stops at its expiry or when revoked."
            </p>
            <ActionForm action=create attr:class="inline-form">
                <label class="field">
                    <span>"Name"</span>
                    <input type="text" name="name" required maxlength="80" placeholder="nightly export" data-testid="token-name" />
                </label>
                <label class="field">
                    <span>"Days"</span>
                    <input type="number" name="days" min="1" max="365" value="90" required />
                </label>
                <button type="submit" class="button primary">"Make a token"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(made)) => Some(view! {
                    <p>"Copy it now: it is shown only this once."</p>
                    <p class="mono hash" data-testid="new-token">{made.token}</p>
                }.into_any()),
                Some(Err(err)) => Some(view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any()),
                None => None,
            }}
            {move || (!rows.read().is_empty()).then(|| view! { <TokenTable rows=rows.get() revoke /> })}
        </section>
    }
}

#[component]
fn TokenTable(rows: Vec<ApiTokenRow>, revoke: ServerAction<RevokeApiToken>) -> impl IntoView {
    let now = chrono::Utc::now();
    view! {
                <table class="data-table" data-testid="token-list">
                    <thead><tr><th>"Name"</th><th>"Made"</th><th>"Expires"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|token| {
                            let live = token.revoked_at.is_none() && token.expires_at > now;
                            let state = match (token.revoked_at, token.expires_at > now) {
                                (Some(_), _) => "revoked",
                                (None, false) => "expired",
                                (None, true) => "live",
                            };
                            view! {
                                <tr>
                                    <td>{token.name}</td>
                                    <td>{token.created_at.format("%Y-%m-%d").to_string()}</td>
                                    <td>{token.expires_at.format("%Y-%m-%d").to_string()}</td>
                                    <td>{token.last_used_at.map_or("never".to_string(), |at| at.format("%Y-%m-%d %H:%M").to_string())}</td>
                                    <td>{state}</td>
                                    <td>{live.then(|| view! {
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="id" value=token.id />
                                            <button type="submit" class="button danger">"Revoke"</button>
                                        </ActionForm>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
    }
}
