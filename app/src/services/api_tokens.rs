//! API tokens for people's scripts: made by a signed-in user for themselves, named, with an
//! expiry; sent as `Authorization: Bearer pst_...`, they read what their owner may read (read
//! server functions, CSV exports) and change nothing.

use chrono::{DateTime, Duration, Utc};

use super::Actor;
use crate::accounts::NewApiToken;
use crate::auth::SessionUser;
use crate::auth::session::token_hash;
use crate::db::Db;
use crate::db::api_tokens as store;
use crate::error::AppError;

/// How every token starts, so a leaked one is recognised (secret scanners, logs).
pub const PREFIX: &str = "pst_";
/// The longest a token may live.
pub const MAX_DAYS: i64 = 365;
const MAX_NAME_CHARS: usize = 80;

/// The name and lifetime asked for, checked: a name of 1 to 80 characters, 1 to 365 days.
pub fn check_request(name: &str, days: i64) -> Result<(String, Duration), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::Invalid(format!(
            "name: give the token a name of 1 to {MAX_NAME_CHARS} characters (what uses it)"
        )));
    }
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::Invalid(format!(
            "days: a token lives 1 to {MAX_DAYS} days, not {days}"
        )));
    }
    Ok((name.to_string(), Duration::days(days)))
}

/// Makes a token for `user`; the token is in the answer, and only there.
pub async fn create(
    db: &Db,
    user: &SessionUser,
    name: &str,
    days: i64,
    now: DateTime<Utc>,
) -> Result<NewApiToken, AppError> {
    let (name, lifetime) = check_request(name, days)?;
    let (secret, _) = crate::auth::session::new_token();
    let token = format!("{PREFIX}{secret}");
    let mut audit = Actor::signed_in(user.clone()).audit(
        "api_token.create",
        &user.email,
        serde_json::json!({ "name": name, "days": days }),
    );
    audit.at = now;
    let row = store::insert(
        db,
        user.id,
        &name,
        &token_hash(&token),
        now + lifetime,
        &audit,
    )
    .await?;
    Ok(NewApiToken { token, row })
}

/// Revokes the user's token `id`; 404 when they have no live token with that id.
pub async fn revoke(db: &Db, user: &SessionUser, id: i64) -> Result<(), AppError> {
    let audit = Actor::signed_in(user.clone()).audit(
        "api_token.revoke",
        &user.email,
        serde_json::json!({ "id": id }),
    );
    if store::revoke(db, user.id, id, &audit).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!(
            "you have no live API token with id {id}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_needs_a_name_and_a_lifetime_within_a_year() {
        assert!(check_request(" nightly export ", 90).is_ok());
        for (name, days, says) in [
            ("", 30, "name"),
            ("   ", 30, "name"),
            (&"x".repeat(81), 30, "name"),
            ("export", 0, "days"),
            ("export", 366, "days"),
            ("export", -1, "days"),
        ] {
            let refused = check_request(name, days).unwrap_err().to_string();
            assert!(refused.contains(says), "{name:?} {days}: {refused}");
        }
    }
}
