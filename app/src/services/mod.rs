//! Use cases that more than one door leads to: server functions, the appliance API and the CLI
//! call the same function, which validates, writes in one transaction with its audit entry,
//! and says what happened. Server only.

pub mod alerts;
pub mod api_tokens;
pub mod invites;
pub mod maintenance;
pub mod reports;
pub mod sites;
pub mod two_factor;
pub mod users;

/// Who asked for a change, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The signed-in user's email, or `cli` for the command line.
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    /// The signed-in user of the request under way.
    pub fn signed_in(user: crate::auth::SessionUser) -> Self {
        Self {
            name: user.email,
            ip: crate::auth::client_ip(),
        }
    }

    /// The command line, as the operator running it.
    pub fn cli() -> Self {
        Self {
            name: "cli".into(),
            ip: None,
        }
    }

    /// The audit entry of `action` on `target` by this actor, now.
    pub fn audit(
        self,
        action: &'static str,
        target: impl Into<String>,
        details: serde_json::Value,
    ) -> crate::db::accounts::NewAudit {
        crate::db::accounts::NewAudit {
            actor: self.name,
            action,
            target: target.into(),
            details,
            ip: self.ip,
            at: chrono::Utc::now(),
        }
    }
}
