//! The frame around every page: sidebar navigation and a header with the page title.

use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use super::freshness::{DataFreshness, UpdatedAgo};
use super::theme_toggle::ThemeToggle;
use super::toast::{ToastHost, Toasts};
use crate::auth::{Role, SessionUser};
use crate::pages::login::SignOut;
use crate::queries::me_query;

/// Sidebar entries: (path, label). The header's title comes from the same table.
const NAV: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/clients", "Clients"),
    ("/sites", "Sites"),
    ("/incidents", "Incidents"),
    ("/runbooks", "Runbooks"),
    ("/admin", "Admin"),
];

/// The title of the section `path` belongs to, or "Not found" for an unknown path.
pub fn section_title(path: &str) -> &'static str {
    NAV.iter()
        .rev()
        .find(|(prefix, _)| match *prefix {
            "/" => path == "/",
            prefix => path == prefix || path.starts_with(&format!("{prefix}/")),
        })
        .map_or("Not found", |(_, label)| label)
}

/// The signed-in user, for components that show or hide what their role allows. The server
/// checks every action again; hiding is only a courtesy.
pub fn use_user() -> Signal<Option<SessionUser>> {
    let client: QueryClient = expect_context();
    let me = client.resource_blocking(me_query(), || ());
    Signal::derive(move || me.get().and_then(Result::ok).flatten())
}

/// Whether the signed-in user has at least `role`.
pub fn use_can(role: Role) -> Signal<bool> {
    let user = use_user();
    Signal::derive(move || user.get().is_some_and(|u| u.can(role)))
}

#[component]
pub fn Layout(children: ChildrenFn) -> impl IntoView {
    provide_context(DataFreshness::default());
    Toasts::provide();
    let location = use_location();
    let on_login = move || location.pathname.get() == "/login";
    let children = StoredValue::new(children);
    view! {
        <Show
            when=on_login
            fallback=move || view! { <Frame>{children.read_value()()}</Frame> }
        >
            <main id="main" class="login-page">{children.read_value()()}</main>
        </Show>
    }
}

/// Sidebar, header and toasts around a signed-in page.
#[component]
fn Frame(children: Children) -> impl IntoView {
    let location = use_location();
    let title = move || section_title(&location.pathname.get());
    let client: QueryClient = expect_context();
    let me = client.resource_blocking(me_query(), || ());
    let is_admin = use_can(Role::Admin);

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <div class="layout">
            <nav class="sidebar" aria-label="Main">
                <div class="brand">"Posture"</div>
                <ul>
                    {NAV
                        .into_iter()
                        .map(|(href, label)| {
                            let shown = move || href != "/admin" || is_admin.get();
                            view! {
                                <Show when=shown>
                                    <li>
                                        <A href=href exact=href == "/">
                                            {label}
                                        </A>
                                    </li>
                                </Show>
                            }
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
                        <Suspense>
                            {move || Suspend::new(async move {
                                me.await.ok().flatten().map(|user| view! { <SignOut user /> })
                            })}
                        </Suspense>
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
    }
}
