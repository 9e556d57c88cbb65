//! Leptos.toml must describe the site cargo-leptos builds, or the page asks for files that
//! are not there. cargo-leptos takes these from Cargo.toml (explicitly or by default).

use leptos::config::get_configuration;

fn workspace_file(name: &str) -> String {
    format!("{}/../{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn leptos_toml_matches_the_cargo_leptos_build() {
    let options = get_configuration(Some(&workspace_file("Leptos.toml")))
        .unwrap()
        .leptos_options;
    let cargo: toml::Table = std::fs::read_to_string(workspace_file("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let build = &cargo["workspace"]["metadata"]["leptos"][0];
    let built = |key: &str, default: &str| {
        build
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or(default)
            .to_string()
    };

    let name = build["name"].as_str().unwrap();
    assert_eq!(*options.output_name, built("output-name", name));
    assert_eq!(*options.site_root, built("site-root", "target/site"));
    assert_eq!(*options.site_pkg_dir, built("site-pkg-dir", "pkg"));
    assert!(
        build.get("site-addr").is_none(),
        "site-addr belongs in Leptos.toml only"
    );
}
