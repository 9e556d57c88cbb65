//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), PHC strings stored.
//!
//! Servers hash and verify through [`check_password`] and [`hash_off_worker`]: argon2 then runs
//! on a blocking thread, at most as many at once as there are CPUs, so a crowd of sign-ins
//! queues there instead of stalling the async workers that answer health checks and appliances.

use std::num::NonZeroUsize;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// True when `password` matches the stored PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Argon2 computations running at once: one per CPU.
static SLOTS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cpus = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
    tokio::sync::Semaphore::new(cpus)
});

/// Runs `work` on a blocking thread once a slot is free; `None` if it panicked.
async fn in_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _slot = SLOTS.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Whether `password` matches `stored`; with no stored hash (unknown, locked or disabled
/// account), spends the same time on a dummy hash and answers false.
pub async fn check_password(password: String, stored: Option<String>) -> bool {
    in_slot(move || match stored {
        Some(stored) => verify_password(&password, &stored),
        None => {
            verify_against_nothing(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[derive(Debug, thiserror::Error)]
#[error("the password could not be hashed")]
pub struct HashFailed;

/// [`hash_password`] off the async workers.
pub async fn hash_off_worker(password: String) -> Result<String, HashFailed> {
    in_slot(move || hash_password(&password))
        .await
        .and_then(Result::ok)
        .ok_or(HashFailed)
}

/// A random 20-character password for a new account, from letters and digits.
pub fn generate_password() -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// Spends the time a real verification takes, so an unknown email answers no faster than a
/// wrong password and cannot be told apart by timing.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let _ = verify_password(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_round_trips_and_salts() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &a));
        assert!(verify_password("correct horse battery", &b));
        assert!(!verify_password("correct horse batterY", &a));
        assert!(!verify_password("", &a));
        assert!(!verify_password("anything", "not a phc string"));
        let generated = generate_password();
        assert_eq!(generated.len(), 20);
        assert_ne!(generated, generate_password());
    }

    #[tokio::test]
    async fn checks_off_the_workers_match_the_direct_ones() {
        let stored = hash_off_worker("correct horse battery".into())
            .await
            .unwrap();
        assert!(check_password("correct horse battery".into(), Some(stored.clone())).await);
        assert!(!check_password("wrong".into(), Some(stored)).await);
        assert!(!check_password("correct horse battery".into(), None).await);
    }
}
