//! The frame around every page: sidebar navigation and a header with the page title.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use super::current_user::CurrentUser;
use super::freshness::{DataFreshness, UpdatedAgo};
use super::sign_out::SignOut;
use super::theme_toggle::ThemeToggle;
use super::toast::{ToastHost, Toasts};
use crate::auth::{Role, SessionUser};

/// Sidebar entries: (path, label, the role that sees it). The header's title comes from the
/// same table.
const NAV: [(&str, &str, Role); 7] = [
    ("/", "Overview", Role::Clinic),
    ("/clients", "Clients", Role::Clinic),
    ("/sites", "Sites", Role::Clinic),
    ("/incidents", "Incidents", Role::Clinic),
    ("/reports", "Reports", Role::Clinic),
    ("/runbooks", "Runbooks", Role::Readonly),
    ("/admin", "Admin", Role::Admin),
];

/// Pages outside the sidebar: (path, title).
const ELSEWHERE: [(&str, &str); 2] = [("/account", "Your account"), ("/invite", "Join Posture")];

/// The title of the section `path` belongs to, or "Not found" for an unknown path.
pub fn section_title(path: &str) -> &'static str {
    NAV.iter()
        .map(|(path, label, _)| (*path, *label))
        .chain(ELSEWHERE)
        .rev()
        .find(|(prefix, _)| match *prefix {
            "/" => path == "/",
            prefix => path == prefix || path.starts_with(&format!("{prefix}/")),
        })
        .map_or("Not found", |(_, label)| label)
}

/// Renders the page: bare on the login page, framed elsewhere. Who is signed in is read
/// from the request on the server and handed to the browser with the page, so it is known
/// during hydration without a request. Signing in or out is a full page load.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    provide_context(DataFreshness::default());
    Toasts::provide();
    let user = SharedValue::new(signed_in_user).into_inner();
    provide_context(CurrentUser(user.clone()));
    let location = use_location();
    match user {
        Some(user) if location.pathname.get_untracked() != "/login" => {
            view! { <Frame user>{children()}</Frame> }.into_any()
        }
        _ => view! { <main id="main" class="login-page">{children()}</main> }.into_any(),
    }
}

fn signed_in_user() -> Option<SessionUser> {
    #[cfg(feature = "ssr")]
    return crate::auth::current_user();
    #[cfg(not(feature = "ssr"))]
    None
}

/// Sidebar, header and toasts around a signed-in page.
#[component]
fn Frame(user: SessionUser, children: Children) -> impl IntoView {
    let location = use_location();
    let title = move || section_title(&location.pathname.get());
    crate::live::listen_for_changes();

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <div class="layout">
            <nav class="sidebar" aria-label="Main">
                <div class="brand">"Posture"</div>
                <ul>
                    {NAV
                        .into_iter()
                        .map(|(href, label, needed)| {
                            user.can(needed).then(|| view! {
                                <li>
                                    <A href=href exact=href == "/">
                                        {label}
                                    </A>
                                </li>
                            })
                        })
                        .collect_view()}
                </ul>
            </nav>
            <div class="main-column">
                <header class="page-header">
                    <h1 data-testid="page-title">{title}</h1>
                    <div class="header-tools">
                        <UpdatedAgo />
                        <ThemeToggle />
                        <SignOut user />
                    </div>
                </header>
                <main id="main" tabindex="-1">
                    {children()}
                </main>
            </div>
        </div>
        <ToastHost />
    }
}

#[cfg(test)]
mod tests {
    use super::section_title;

    #[test]
    fn titles_follow_the_section_of_the_path() {
        assert_eq!(section_title("/"), "Overview");
        assert_eq!(section_title("/sites"), "Sites");
        assert_eq!(section_title("/sites/clinic-1"), "Sites");
        assert_eq!(section_title("/sitesx"), "Not found");
        assert_eq!(section_title("/nowhere"), "Not found");
        assert_eq!(section_title("/account/security"), "Your account");
    }
}
