//! Adding a user and choosing the clients they see: the admin page and `posture user add`
//! take these paths.

use super::Actor;
use crate::accounts::UserAdded;
use crate::auth::Role;
use crate::auth::password::{generate_password, hash_off_worker};
use crate::db::Db;
use crate::db::accounts;
use crate::domain::client_scope::ClientScope;
use crate::error::AppError;
use crate::validation::validate_new_user;

/// Why a clinic account cannot be made or given like the others.
pub const INVITE_CLINICS: &str =
    "Clinic staff join by invitation, bound to their client: use \"Invite clinic staff\".";

/// An account as asked for; an empty password asks for a generated one.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
    pub clients: ClientScope,
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
    if user.role == Role::Clinic {
        errors.insert("role".into(), INVITE_CLINICS.into());
    } else if let Some(problem) = scope_problem(db, user.role, &user.clients).await? {
        errors.insert("clients".into(), problem);
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
        serde_json::json!({
            "display_name": display_name,
            "role": user.role,
            "clients": user.clients.clients(),
        }),
    );
    let account = accounts::NewAccount {
        email: &email,
        display_name: &display_name,
        role: user.role,
        password_hash: &hash,
        clients: &user.clients,
    };
    accounts::insert_user(db, &account, &audit).await?;
    Ok(UserAdded::Added {
        email,
        password: generated,
    })
}

/// Limits user `id` to `clients` (or lets them see every client); the change and its audit
/// entry are written together. Returns the user's email. Admins see every client, so limiting
/// one is refused, as are clients that do not exist.
pub async fn set_user_clients(
    db: &Db,
    id: i64,
    clients: ClientScope,
    actor: Actor,
) -> Result<String, AppError> {
    let Some(user) = accounts::find_user(db, id, chrono::Utc::now()).await? else {
        return Err(AppError::NotFound(format!("no user with id {id}")));
    };
    if let Some(problem) = scope_problem(db, user.role, &clients).await? {
        return Err(AppError::Invalid(format!("clients: {problem}")));
    }
    let audit = actor.audit("user.clients", user.email.clone(), scope_details(&clients));
    accounts::set_client_scope(db, id, &clients, &audit).await?;
    Ok(user.email)
}

/// What is wrong with giving a user of `role` the scope `clients`, if anything.
async fn scope_problem(
    db: &Db,
    role: Role,
    clients: &ClientScope,
) -> Result<Option<String>, AppError> {
    if role == Role::Clinic {
        return Ok(Some(
            "A clinic account sees its own client only: invite another for another client.".into(),
        ));
    }
    let Some(ids) = clients.clients() else {
        return Ok(None);
    };
    if role == Role::Admin {
        return Ok(Some(
            "Admins see every client: choose the operator or read-only role to limit a user \
             to some clients."
                .into(),
        ));
    }
    let missing = crate::db::clients::missing_clients(db, ids).await?;
    Ok((!missing.is_empty()).then(|| {
        let missing: Vec<String> = missing.iter().map(i64::to_string).collect();
        format!("No client has the id {}.", missing.join(", "))
    }))
}

fn scope_details(clients: &ClientScope) -> serde_json::Value {
    serde_json::json!({ "clients": clients.clients() })
}
