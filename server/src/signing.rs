//! The server's Ed25519 key, which signs evidence packs. Made at first start and kept in the
//! database, so every server on it signs with the same key; its public half is published at
//! `/.well-known/posture-signing-key` for anyone verifying a pack.

use std::sync::Arc;

use app::db::{Db, signing_keys};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use tokio::sync::OnceCell;

/// The signing key, read from the database on first use.
#[derive(Clone, Default)]
pub struct PackKey(Arc<OnceCell<SigningKey>>);

impl PackKey {
    pub async fn get(&self, db: &Db) -> anyhow::Result<&SigningKey> {
        self.0.get_or_try_init(|| load_or_create(db)).await
    }
}

/// The stored key, or a new one stored now (another server's if it stored one first).
pub async fn load_or_create(db: &Db) -> anyhow::Result<SigningKey> {
    let (secret, _) = match signing_keys::load(db).await? {
        Some(stored) => stored,
        None => {
            let made = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
            let encoded = (
                BASE64.encode(made.to_bytes()),
                public_key_text(&made.verifying_key()),
            );
            signing_keys::store_first(db, encoded, chrono::Utc::now()).await?
        }
    };
    let bytes: [u8; 32] = BASE64
        .decode(secret)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the stored signing key is not 32 bytes"))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A public key as published and as `verify-pack --public-key` takes it: base64.
pub fn public_key_text(key: &VerifyingKey) -> String {
    BASE64.encode(key.to_bytes())
}

/// Reads a public key written by [`public_key_text`].
pub fn parse_public_key(text: &str) -> anyhow::Result<VerifyingKey> {
    let bytes: [u8; 32] = BASE64
        .decode(text.trim())
        .map_err(|e| anyhow::anyhow!("the public key is not base64: {e}"))?
        .try_into()
        .map_err(|_| anyhow::anyhow!("an Ed25519 public key is 32 bytes"))?;
    Ok(VerifyingKey::from_bytes(&bytes)?)
}

/// `bytes` signed, as base64.
pub fn sign(key: &SigningKey, bytes: &[u8]) -> String {
    BASE64.encode(key.sign(bytes).to_bytes())
}
