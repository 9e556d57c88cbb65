//! `manifest.json`: what an evidence pack holds, each file with its SHA-256, signed (the
//! signature, over the manifest's exact bytes, is `manifest.sig`).

use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const FORMAT: &str = "posture-evidence-pack/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub client_id: i64,
    pub client_name: String,
    pub month: String,
    pub generated_at: chrono::DateTime<chrono::Utc>,
    /// The month was over when the pack was made: its report is final.
    pub month_closed: bool,
    /// The public key (base64) whose signature `manifest.sig` holds.
    pub signing_key: String,
    pub files: Vec<PackFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackFile {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}
