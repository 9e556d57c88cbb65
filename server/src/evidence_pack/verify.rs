//! `posture verify-pack FILE`: checks an evidence pack as an auditor would, naming every
//! file that is missing, added, unreadable or changed, and whether the manifest's signature
//! holds for the trusted key.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::manifest::{MANIFEST, Manifest, SIGNATURE};
use crate::signing;

/// What verifying a pack found: the manifest when it could be read, and each problem.
#[derive(Debug)]
pub struct Findings {
    pub manifest: Option<Manifest>,
    pub problems: Vec<String>,
}

/// Checks the pack at `path` against `trusted`, the server's public key.
pub fn verify_pack(path: &Path, trusted: &VerifyingKey) -> anyhow::Result<Findings> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("{} could not be opened: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| anyhow::anyhow!("{} is not a readable zip: {e}", path.display()))?;
    let mut problems = Vec::new();
    let mut hashes: BTreeMap<String, String> = BTreeMap::new();
    let (mut manifest_bytes, mut signature_text) = (None, None);
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(format!("file #{index} of the zip could not be read: {e}"));
                continue;
            }
        };
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(e) => {
                problems.push(format!(
                    "file #{index} of the zip has an unreadable name: {e}"
                ));
                continue;
            }
        };
        let mut bytes = Vec::new();
        if let Err(e) = entry.read_to_end(&mut bytes) {
            problems.push(format!(
                "{name}: could not be read ({e}): the file is damaged"
            ));
            continue;
        }
        match name.as_str() {
            MANIFEST => manifest_bytes = Some(bytes),
            SIGNATURE => signature_text = Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => {
                hashes.insert(name, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    let Some(manifest_bytes) = manifest_bytes else {
        problems.push(format!("{MANIFEST}: missing, so nothing can be verified"));
        return Ok(Findings {
            manifest: None,
            problems,
        });
    };
    match signature_text {
        None => problems.push(format!(
            "{SIGNATURE}: missing, so the manifest is not signed"
        )),
        Some(text) => {
            if let Some(problem) = check_signature(&manifest_bytes, &text, trusted) {
                problems.push(problem);
            }
        }
    }
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(manifest) => manifest,
        Err(e) => {
            problems.push(format!("{MANIFEST}: not a manifest ({e})"));
            return Ok(Findings {
                manifest: None,
                problems,
            });
        }
    };
    if manifest.signing_key != signing::public_key_text(trusted) {
        problems.push(format!(
            "{MANIFEST}: names signing key {}, not the trusted key",
            manifest.signing_key
        ));
    }
    for listed in &manifest.files {
        match hashes.remove(&listed.name) {
            None => problems.push(format!(
                "{}: listed in the manifest but missing",
                listed.name
            )),
            Some(hash) if hash != listed.sha256 => problems.push(format!(
                "{}: SHA-256 is {hash}, the manifest says {}: the file was changed",
                listed.name, listed.sha256
            )),
            Some(_) => {}
        }
    }
    for extra in hashes.keys() {
        problems.push(format!("{extra}: in the pack but not in the manifest"));
    }
    Ok(Findings {
        manifest: Some(manifest),
        problems,
    })
}

fn check_signature(manifest: &[u8], text: &str, trusted: &VerifyingKey) -> Option<String> {
    use base64::Engine;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text.trim()) else {
        return Some(format!("{SIGNATURE}: not base64"));
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
        return Some(format!("{SIGNATURE}: not an Ed25519 signature (64 bytes)"));
    };
    trusted
        .verify_strict(manifest, &Signature::from_bytes(&bytes))
        .err()
        .map(|_| {
            format!(
                "{MANIFEST}: the signature does not hold for the trusted key: the manifest was \
                 edited, or signed by another key"
            )
        })
}
