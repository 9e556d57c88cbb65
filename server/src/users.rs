//! `posture user add` and `posture user unlock`: accounts from the command line, checked by
//! the same rules as the admin page and recorded in the audit log.

use anyhow::{Context, bail};
use app::auth::Role;
use app::auth::password::{generate_password, hash_password};
use app::db::Db;
use app::db::accounts::{self, NewAudit};
use app::validation::validate_new_user;

use crate::config::{UserAddArgs, UserUnlockArgs};

pub async fn add(db: &Db, args: &UserAddArgs) -> anyhow::Result<()> {
    let email = args.email.trim();
    let name = args.name.as_deref().unwrap_or(email).trim();
    let password = args.password.clone().unwrap_or_default();
    let errors = validate_new_user(email, name, &password);
    if let Some((field, message)) = errors.into_iter().next() {
        bail!("{field}: {message}");
    }
    if accounts::email_taken(db, email).await? {
        bail!("email: {email} already has an account");
    }
    let role = Role::parse(&args.role).context("role")?;
    let generated = password.is_empty().then(generate_password);
    let hash = hash_password(generated.as_deref().unwrap_or(&password))
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    let audit = NewAudit {
        actor: "cli".into(),
        action: "user.add",
        target: email.to_string(),
        details: serde_json::json!({ "display_name": name, "role": role }),
        ip: None,
        at: chrono::Utc::now(),
    };
    accounts::insert_user(db, email, name, role, &hash, &audit).await?;
    match generated {
        Some(password) => println!("Added {email} ({}). Password: {password}", role.as_str()),
        None => println!("Added {email} ({}).", role.as_str()),
    }
    Ok(())
}

/// Ends the lock failed sign-ins put on an account and clears its failure count, so its owner
/// can sign in again at once (for instance the only admin, kept locked by someone guessing).
pub async fn unlock(db: &Db, args: &UserUnlockArgs) -> anyhow::Result<()> {
    let email = args.email.trim();
    let audit = NewAudit {
        actor: "cli".into(),
        action: "user.unlock",
        target: email.to_string(),
        details: serde_json::json!({}),
        ip: None,
        at: chrono::Utc::now(),
    };
    if !accounts::unlock_user(db, email, &audit).await? {
        bail!("email: no account has the email {email}");
    }
    println!("Unlocked {email}: they can sign in again.");
    Ok(())
}
