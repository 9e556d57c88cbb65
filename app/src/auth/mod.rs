//! Who is asking: roles, the signed-in user, and the server-side checks every server function
//! makes. The session itself is resolved once per request by the server's session middleware,
//! which leaves the [`SessionUser`] in the request's extensions.

#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod signed_in;
#[cfg(feature = "ssr")]
pub mod streams;

use serde::{Deserialize, Serialize};

use crate::domain::client_scope::ClientScope;

#[cfg(feature = "ssr")]
use crate::error::AppError;

/// What a user may do. Ordered: each role can do everything the roles before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A clinic's own staff: reads their one client's sites, compliance, incidents and
    /// reports; no runbooks, appliance details or internal notes.
    Clinic,
    /// Reads everything, changes nothing.
    Readonly,
    /// Also acts on incidents and orders.
    Operator,
    /// Also manages sites and users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Readonly, Role::Clinic];
    /// The roles an admin gives on the users page; clinic accounts come by invitation only,
    /// bound to their client.
    pub const ASSIGNABLE: [Role; 3] = [Role::Admin, Role::Operator, Role::Readonly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinic => "clinic",
            Role::Readonly => "readonly",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// The signed-in user, as the server resolved them from the session cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// An admin without two-factor sign-in while admins must use it: every page but
    /// `/account/security` is closed to them until they turn it on.
    #[serde(default)]
    pub must_enrol_two_factor: bool,
    /// The clients whose data this user sees.
    #[serde(default)]
    pub clients: ClientScope,
}

impl SessionUser {
    pub fn can(&self, needed: Role) -> bool {
        self.role >= needed
    }
}

/// The user of the request under way, if a valid session came with it.
#[cfg(feature = "ssr")]
pub fn current_user() -> Option<SessionUser> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<SessionUser>().cloned())
}

/// The signed-in user, or 401.
#[cfg(feature = "ssr")]
pub fn require_user() -> Result<SessionUser, AppError> {
    current_user()
        .ok_or_else(|| AppError::Unauthorized("Sign in to continue.".into()).with_status())
}

/// The clients the signed-in user sees, or 401.
#[cfg(feature = "ssr")]
pub fn require_scope() -> Result<ClientScope, AppError> {
    Ok(require_user()?.clients)
}

/// The signed-in user if their role is at least `needed`, else 403 (401 when signed out).
#[cfg(feature = "ssr")]
pub fn require_role(needed: Role) -> Result<SessionUser, AppError> {
    let user = require_user()?;
    if user.can(needed) {
        Ok(user)
    } else {
        Err(AppError::Forbidden(format!(
            "this needs the {} role; you are {}",
            needed.as_str(),
            user.role.as_str()
        ))
        .with_status())
    }
}

/// The address a request came from, as the server resolved it once per request: the socket
/// peer, or the proxy's `X-Forwarded-For` when that peer is a trusted proxy.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// The client's address, for the audit log: the resolved [`ClientIp`], else the socket peer.
#[cfg(feature = "ssr")]
pub fn client_ip() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    if let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>() {
        return Some(ip.to_string());
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_what_they_allow() {
        let user = |role| SessionUser {
            id: 1,
            email: "a@b.c".into(),
            display_name: "A".into(),
            role,
            must_enrol_two_factor: false,
            clients: ClientScope::All,
        };
        assert!(user(Role::Admin).can(Role::Operator));
        assert!(user(Role::Operator).can(Role::Operator));
        assert!(!user(Role::Operator).can(Role::Admin));
        assert!(!user(Role::Readonly).can(Role::Operator));
        assert!(!user(Role::Clinic).can(Role::Readonly));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
