//! Two-factor sign-in: enrolling an authenticator app (TOTP, RFC 6238, through totp-rs: SHA-1,
//! 6 digits, 30 s steps, one step of clock skew either way), ten one-time recovery codes, and
//! checking the second factor at sign-in. Each code is accepted once.

use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::Actor;
use crate::accounts::Enrolment;
use crate::db::Db;
use crate::db::two_factor as store;
use crate::error::AppError;

/// Recovery codes made at enrolment (and on renewal).
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Posture";

fn totp(secret_base32: &str, account: &str) -> Result<Totp, AppError> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|e| AppError::Database(format!("a stored TOTP secret is unreadable: {e}")))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AppError::Database(format!("a TOTP could not be made: {e}")))
}

/// Starts enrolment for `user`: a new secret, stored until a first code confirms it.
pub async fn start(db: &Db, user: i64, email: &str) -> Result<Enrolment, AppError> {
    let bytes: [u8; 20] = rand::random();
    let secret = Secret::from(bytes.to_vec()).to_base32();
    if !store::set_pending_secret(db, user, &secret).await? {
        return Err(AppError::Invalid(
            "two-factor sign-in is on already: turn it off first to enrol another app".into(),
        ));
    }
    let otpauth_url = totp(&secret, email)?
        .to_url()
        .map_err(|e| AppError::Database(e.to_string()))?;
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map_err(|e| AppError::Database(format!("the QR code could not be made: {e}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in the page: the XML prolog has no place in HTML.
    let qr_svg = qr_svg
        .find("<svg")
        .map_or(qr_svg.clone(), |start| qr_svg[start..].to_string());
    Ok(Enrolment {
        secret,
        otpauth_url,
        qr_svg,
    })
}

/// The time step `code` belongs to when it is `secret`'s code at `now` (a step either side
/// allowed), else `None`.
fn step_of(
    secret: &str,
    email: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, AppError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let time = u64::try_from(now.timestamp()).unwrap_or_default();
    Ok(totp(secret, email)?
        .check(&code, time)
        .and_then(|step| i64::try_from(step).ok()))
}

/// Confirms enrolment with a first code from the app: two-factor sign-in is on, and the
/// recovery codes (shown only now) are returned.
pub async fn confirm(
    db: &Db,
    user: i64,
    email: &str,
    code: &str,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AppError> {
    let state = store::state(db, user).await?;
    let secret = match (state.totp_secret, state.totp_enabled) {
        (_, true) => return Err(AppError::Invalid("two-factor sign-in is on already".into())),
        (None, false) => {
            return Err(AppError::Invalid(
                "start enrolment first: no authenticator app is waiting to be confirmed".into(),
            ));
        }
        (Some(secret), false) => secret,
    };
    let Some(step) = step_of(&secret, email, code, now)? else {
        return Err(AppError::Invalid(
            "that code is not the app's current one: check the app's clock and try the next code"
                .into(),
        ));
    };
    let codes = recovery_codes();
    let audit = actor.audit("two_factor.enable", email, serde_json::json!({}));
    store::enable(db, user, step, &hashes(&codes), &audit).await?;
    Ok(codes)
}

/// Checks a second factor that must hold for `user` (its current code, or a recovery code) and
/// spends it; `false` when it is wrong or spent. A code is accepted once.
pub async fn check_code(
    db: &Db,
    user: i64,
    email: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<SecondFactor, AppError> {
    let state = store::state(db, user).await?;
    let Some(secret) = state.totp_secret.filter(|_| state.totp_enabled) else {
        return Ok(SecondFactor::Refused("two-factor sign-in is off"));
    };
    if is_recovery_code(code) {
        let spent = store::spend_recovery_code(db, user, &hash(code), now).await?;
        return Ok(if spent {
            SecondFactor::RecoveryCode
        } else {
            SecondFactor::Refused("unknown or used recovery code")
        });
    }
    match step_of(&secret, email, code, now)? {
        None => Ok(SecondFactor::Refused("wrong code")),
        Some(step) if store::accept_step(db, user, step).await? => Ok(SecondFactor::Code),
        Some(_) => Ok(SecondFactor::Refused("code already used")),
    }
}

/// What a second factor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Code,
    RecoveryCode,
    /// Why, for the audit log.
    Refused(&'static str),
}

/// Turns two-factor sign-in off, with a current code (or a recovery code) as proof. Refused
/// for an admin while admins must use it.
pub async fn disable(
    db: &Db,
    user: &crate::auth::SessionUser,
    code: &str,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if user.can(crate::auth::Role::Admin) && store::admins_need_two_factor(db).await? {
        return Err(AppError::Forbidden(
            "admins must sign in with two factors here: it cannot be turned off".into(),
        ));
    }
    if let SecondFactor::Refused(why) = check_code(db, user.id, &user.email, code, now).await? {
        return Err(AppError::Invalid(format!("not turned off: {why}")));
    }
    let audit = actor.audit("two_factor.disable", &user.email, serde_json::json!({}));
    Ok(store::disable(db, user.id, &audit).await?)
}

/// `xxxx-xxxx-xxxx-xxxx` from an alphabet without look-alikes: 80 bits each, so a SHA-256 of
/// one is as good as a slow hash.
fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..16)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            format!(
                "{}-{}-{}-{}",
                &chars[0..4],
                &chars[4..8],
                &chars[8..12],
                &chars[12..16]
            )
        })
        .collect()
}

fn is_recovery_code(code: &str) -> bool {
    code.trim().contains('-')
}

fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_lowercase().as_bytes()))
}

fn hashes(codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| hash(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_distinct_and_read_as_recovery_codes() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 19 && is_recovery_code(c)));
        assert!(!is_recovery_code("123456"));
        assert_eq!(
            hash(" ABCD-efgh "),
            hash("abcd-efgh"),
            "typed loosely, hashed alike"
        );
    }

    #[test]
    fn a_code_is_accepted_in_its_step_and_one_either_side_only() {
        let secret = Secret::from([7u8; 20].to_vec()).to_base32();
        let now: DateTime<Utc> = "2026-11-29T10:00:15Z".parse().unwrap();
        let code = totp(&secret, "a@b.test")
            .unwrap()
            .generate(now.timestamp() as u64)
            .to_string();
        let step = now.timestamp() / 30;
        assert_eq!(
            step_of(&secret, "a@b.test", &code, now).unwrap(),
            Some(step)
        );
        let later = now + chrono::Duration::seconds(30);
        assert_eq!(
            step_of(&secret, "a@b.test", &code, later).unwrap(),
            Some(step)
        );
        let too_late = now + chrono::Duration::seconds(75);
        assert_eq!(step_of(&secret, "a@b.test", &code, too_late).unwrap(), None);
        assert_eq!(step_of(&secret, "a@b.test", "000000", now).unwrap(), None);
    }
}
