//! Who is signed in, as the page knows it: for showing or hiding what a role allows.

use leptos::prelude::*;

use crate::auth::{Role, SessionUser};

/// The signed-in user (`None` on the login page), known before any page renders.
#[derive(Clone)]
pub struct CurrentUser(pub Option<SessionUser>);

/// The signed-in user, for components that show or hide what their role allows. The server
/// checks every action again; hiding is only a courtesy.
pub fn use_user() -> Option<SessionUser> {
    use_context::<CurrentUser>().and_then(|current| current.0)
}

/// Whether the signed-in user has at least `role`.
pub fn use_can(role: Role) -> bool {
    use_user().is_some_and(|user| user.can(role))
}
