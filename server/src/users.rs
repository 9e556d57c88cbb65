//! `posture user add` and `posture user unlock`: accounts from the command line, checked by
//! the same rules as the admin page and recorded in the audit log.

use anyhow::{Context, bail};
use app::accounts::UserAdded;
use app::auth::Role;
use app::db::Db;
use app::db::accounts;
use app::domain::client_scope::ClientScope;
use app::services::Actor;
use app::services::users::{self, NewUser};

use crate::config::{UserAddArgs, UserUnlockArgs};

/// Adds the account by the admin page's own path ([`users::add_user`]); field errors are the
/// command's error.
pub async fn add(db: &Db, args: &UserAddArgs) -> anyhow::Result<()> {
    let email = args.email.trim();
    let user = NewUser {
        email: email.to_string(),
        display_name: args.name.as_deref().unwrap_or(email).to_string(),
        role: Role::parse(&args.role).context("role")?,
        password: args.password.clone().unwrap_or_default(),
        clients: args
            .clients
            .clone()
            .map_or(ClientScope::All, ClientScope::only),
    };
    let actor = Actor {
        name: "cli".into(),
        ip: None,
    };
    match users::add_user(db, user.clone(), actor).await? {
        UserAdded::Invalid(errors) => {
            let errors: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
            bail!("{}", errors.join("; "))
        }
        UserAdded::Added { email, password } => {
            let access = match user.clients.clients() {
                None => format!("{}, every client", user.role.as_str()),
                Some(ids) => format!("{}, clients {ids:?}", user.role.as_str()),
            };
            match password {
                Some(password) => println!("Added {email} ({access}). Password: {password}"),
                None => println!("Added {email} ({access})."),
            }
        }
    }
    Ok(())
}

/// Ends the lock failed sign-ins put on an account and clears its failure count, so its owner
/// can sign in again at once (for instance the only admin, kept locked by someone guessing).
pub async fn unlock(db: &Db, args: &UserUnlockArgs) -> anyhow::Result<()> {
    let email = args.email.trim();
    let audit =
        app::services::Actor::cli().audit("user.unlock", email.to_string(), serde_json::json!({}));
    if !accounts::unlock_user(db, email, &audit).await? {
        bail!("email: no account has the email {email}");
    }
    println!("Unlocked {email}: they can sign in again.");
    Ok(())
}
