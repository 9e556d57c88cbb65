//! Adding a user: the admin page and `posture user add` take this one path.

use super::Actor;
use crate::accounts::UserAdded;
use crate::auth::Role;
use crate::auth::password::{generate_password, hash_off_worker};
use crate::db::Db;
use crate::db::accounts;
use crate::error::AppError;
use crate::validation::validate_new_user;

/// An account as asked for; an empty password asks for a generated one.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

/// Checks `user` by the form's rules and that its email is free (field errors come back as
/// [`UserAdded::Invalid`], and nothing is written), then writes the account and its audit entry
/// together.
pub async fn add_user(db: &Db, user: NewUser, actor: Actor) -> Result<UserAdded, AppError> {
    let email = user.email.trim().to_string();
    let display_name = user.display_name.trim().to_string();
    let mut errors = validate_new_user(&email, &display_name, &user.password);
    if !errors.contains_key("email") && accounts::email_taken(db, &email).await? {
        errors.insert("email".into(), format!("{email} already has an account."));
    }
    if !errors.is_empty() {
        return Ok(UserAdded::Invalid(errors));
    }
    let generated = user.password.is_empty().then(generate_password);
    let chosen = generated.clone().unwrap_or(user.password);
    let hash = hash_off_worker(chosen).await.map_err(|_| {
        tracing::error!("hashing a new user's password failed");
        AppError::Database("try again shortly.".into())
    })?;
    let audit = actor.audit(
        "user.add",
        email.clone(),
        serde_json::json!({ "display_name": display_name, "role": user.role }),
    );
    accounts::insert_user(db, &email, &display_name, user.role, &hash, &audit).await?;
    Ok(UserAdded::Added {
        email,
        password: generated,
    })
}
