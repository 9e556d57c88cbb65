//! Users and the audit log, as the admin pages show them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::domain::client_scope::ClientScope;
use crate::validation::FieldErrors;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    /// Set while the account is locked after failed logins.
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub clients: ClientScope,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
    pub ip: Option<String>,
    pub at: DateTime<Utc>,
}

/// Which audit entries to list: every field narrows, empty fields don't.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// Part of the actor's email.
    pub actor: String,
    /// An action prefix, such as `site.` or `user.role`.
    pub action: String,
    /// Entries at or after this day (`YYYY-MM-DD`).
    pub from: String,
    /// Entries on or before this day (`YYYY-MM-DD`).
    pub to: String,
    /// Page back from this entry id (exclusive); 0 = newest.
    pub before: i64,
}

/// One page of the audit log and where the next (older) page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub older: Option<i64>,
}

/// What adding a user came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserAdded {
    /// Added; `password` is set when the server generated it (shown once, never again).
    Added {
        email: String,
        password: Option<String>,
    },
    Invalid(FieldErrors),
}

/// What an authenticator app needs to enrol: the secret (base32, for typing in), the
/// `otpauth://` address, and that address as a QR code (SVG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// The signed-in user's two-factor sign-in, for `/account/security`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    pub recovery_codes_left: i64,
    /// Admins must use it (a setting admins change on this page).
    pub admins_required: bool,
    pub is_admin: bool,
}

/// One of the signed-in user's API tokens (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token just made: the token, shown this once, and its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub token: String,
    pub row: ApiTokenRow,
}

/// What inviting clinic staff came to: the link (shown once: only its hash is kept) and when
/// it stops working, or the form's field errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteMade {
    Made {
        link: String,
        email: String,
        client_name: String,
        expires_at: DateTime<Utc>,
    },
    Invalid(FieldErrors),
}

/// An invitation as its link opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteDetails {
    pub client_name: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// What accepting an invitation came to: the new account's email, or field errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteAccepted {
    Ready { email: String },
    Invalid(FieldErrors),
}
