//! The frame around every page: sidebar navigation and a header with the page title.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use super::freshness::{DataFreshness, UpdatedAgo};
use super::theme_toggle::ThemeToggle;

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

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    provide_context(DataFreshness::default());
    let location = use_location();
    let title = move || section_title(&location.pathname.get());

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <div class="layout">
            <nav class="sidebar" aria-label="Main">
                <div class="brand">"Posture"</div>
                <ul>
                    {NAV
                        .into_iter()
                        .map(|(href, label)| {
                            view! {
                                <li>
                                    <A href=href exact=href == "/">
                                        {label}
                                    </A>
                                </li>
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
                    </div>
                </header>
                <main id="main" tabindex="-1">
                    {children()}
                </main>
            </div>
        </div>
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
