//! Clinic staff join by invitation: an admin invites an email for one client and hands on the
//! link, shown once and valid for 72 hours and one use; opening it, the clinic's staff member
//! chooses a name and password and gets a `clinic` account that sees only that client.

use chrono::{DateTime, Duration, Utc};

use super::Actor;
use crate::accounts::{InviteAccepted, InviteDetails, InviteMade};
use crate::auth::Role;
use crate::auth::password::hash_off_worker;
use crate::auth::session::{new_token, token_hash};
use crate::db::invites::{self as store, NewInvite};
use crate::db::{Db, accounts};
use crate::domain::client_scope::ClientScope;
use crate::error::AppError;
use crate::validation::{FieldErrors, validate_new_user};

/// How long an invitation link works.
pub const LIFETIME: Duration = Duration::hours(72);
/// Where a link leads; the token follows.
pub const PATH: &str = "/invite/";

/// Invites `email` to be clinic staff of client `client_id`. The email must be a valid one no
/// account has, and the client must exist; else field errors, and nothing is stored.
pub async fn invite(
    db: &Db,
    client_id: i64,
    email: &str,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<InviteMade, AppError> {
    let email = email.trim().to_string();
    let mut errors: FieldErrors = validate_new_user(&email, "-", "")
        .into_iter()
        .filter(|(field, _)| field == "email")
        .collect();
    if errors.is_empty() && accounts::email_taken(db, &email).await? {
        errors.insert("email".into(), taken(&email));
    }
    let client_name = crate::db::client_name(db, &ClientScope::All, client_id).await?;
    if client_name.is_none() {
        errors.insert("client".into(), "Choose the clinic's client.".into());
    }
    let (Some(client_name), true) = (client_name, errors.is_empty()) else {
        return Ok(InviteMade::Invalid(errors));
    };
    let (token, hash) = new_token();
    let expires_at = now + LIFETIME;
    let mut audit = actor.audit(
        "invite.create",
        email.clone(),
        serde_json::json!({ "client_id": client_id, "expires_at": expires_at }),
    );
    audit.at = now;
    let invite = NewInvite {
        token_hash: &hash,
        client_id,
        email: &email,
        expires_at,
    };
    store::insert(db, &invite, &audit).await?;
    Ok(InviteMade::Made {
        link: format!("{PATH}{token}"),
        email,
        client_name,
        expires_at,
    })
}

/// The invitation `token` opens, while it is unused and unexpired.
pub async fn open(db: &Db, token: &str, now: DateTime<Utc>) -> Result<InviteDetails, AppError> {
    let invite = store::find_open(db, &token_hash(token), now)
        .await?
        .ok_or_else(spent)?;
    Ok(InviteDetails {
        client_name: invite.client_name,
        email: invite.email,
        expires_at: invite.expires_at,
    })
}

/// Makes the invited account with `display_name` and `password` (at least 10 characters), and
/// spends the invitation. A used, expired or unknown link is refused (404), and nothing is
/// written.
pub async fn accept(
    db: &Db,
    token: &str,
    display_name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<InviteAccepted, AppError> {
    let hash = token_hash(token);
    let invite = store::find_open(db, &hash, now).await?.ok_or_else(spent)?;
    let display_name = display_name.trim();
    let mut errors = validate_new_user(&invite.email, display_name, password);
    if password.is_empty() {
        errors.insert("password".into(), "Choose a password.".into());
    }
    if accounts::email_taken(db, &invite.email).await? {
        errors.insert("email".into(), taken(&invite.email));
    }
    if !errors.is_empty() {
        return Ok(InviteAccepted::Invalid(errors));
    }
    let password_hash = hash_off_worker(password.to_string())
        .await
        .map_err(|_| AppError::Database("try again shortly.".into()))?;
    let clients = ClientScope::only([invite.client_id]);
    let account = accounts::NewAccount {
        email: &invite.email,
        display_name,
        role: Role::Clinic,
        password_hash: &password_hash,
        clients: &clients,
    };
    let mut audit = Actor {
        name: invite.email.clone(),
        ip: crate::auth::client_ip(),
    }
    .audit(
        "invite.accept",
        invite.email.clone(),
        serde_json::json!({ "client_id": invite.client_id }),
    );
    audit.at = now;
    match store::accept(db, &hash, &account, &audit).await {
        Ok(true) => {}
        Ok(false) => return Err(spent()),
        // An account with the email was added since the check above.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            let errors = FieldErrors::from([("email".into(), taken(&invite.email))]);
            return Ok(InviteAccepted::Invalid(errors));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(InviteAccepted::Ready {
        email: invite.email,
    })
}

fn taken(email: &str) -> String {
    format!("{email} already has an account.")
}

fn spent() -> AppError {
    AppError::NotFound(
        "This invitation link does not work: it was used already, it expired (links last 72 \
         hours), or it was never issued. Ask your IT provider for a new one."
            .into(),
    )
}
