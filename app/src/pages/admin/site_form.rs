//! `/admin/sites/new` and `/sites/:site_id/edit`: one form for onboarding and editing a site,
//! checked as the admin types and again by the server, which alone decides. After a save only
//! the queries the change affects are invalidated.

use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde::{Deserialize, Serialize};

use crate::components::query_view::{ErrorRetry, Skeleton};
use crate::components::toast::Toasts;
use crate::domain::ids::SiteSlug;
use crate::error::AppError;
use crate::pages::clients::{client_query, clients_query};
use crate::pages::overview::stats_query;
use crate::pages::site_detail::site_query;
use crate::pages::sites::sites_query;
use crate::validation::{FieldErrors, SiteInput, SiteSaved, TIERS, slugify, validate_site};

/// What the form starts from: the site's values (empty for a new site) and the clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteFormData {
    pub input: SiteInput,
    pub clients: Vec<(i64, String)>,
}

#[server(input = leptos::server_fn::codec::GetUrl, endpoint = "get_site_form")]
pub async fn get_site_form(site_id: Option<String>) -> Result<SiteFormData, AppError> {
    use crate::db::site_admin;

    crate::auth::require_role(crate::auth::Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let input = match site_id {
        None => SiteInput {
            tier: "small".into(),
            ..SiteInput::default()
        },
        Some(site_id) => match site_admin::site_input(&db, &site_id).await? {
            Some((_, input, false)) => input,
            Some((_, _, true)) => {
                return Err(
                    AppError::NotFound(format!("site {site_id:?} is decommissioned")).with_status(),
                );
            }
            None => {
                return Err(
                    AppError::NotFound(format!("no site with id {site_id:?}")).with_status()
                );
            }
        },
    };
    Ok(SiteFormData {
        input,
        clients: site_admin::client_names(&db).await?,
    })
}

/// Creates a site (`original` = `None`) or updates the site `original` names.
#[server(input = leptos::server_fn::codec::Json, endpoint = "save_site")]
pub async fn save_site(original: Option<String>, input: SiteInput) -> Result<SiteSaved, AppError> {
    use crate::db::accounts::NewAudit;
    use crate::db::site_admin;

    let user = crate::auth::require_role(crate::auth::Role::Admin)?;
    let (db, cache) = crate::aggregates::request_state()?;
    let input = input.normalized();
    let existing = match &original {
        None => None,
        Some(site_id) => match site_admin::site_input(&db, site_id).await? {
            Some((id, _, false)) => Some(id),
            _ => {
                return Err(
                    AppError::NotFound(format!("no active site with id {site_id:?}")).with_status(),
                );
            }
        },
    };
    let mut errors = validate_site(&input);
    if !errors.contains_key("site_id")
        && let Some(holder) = site_admin::site_id_holder(&db, &input.site_id, existing).await?
    {
        errors.insert("site_id".into(), taken_message(&input.site_id, &holder));
    }
    match input.client_id {
        Some(id) if !site_admin::client_exists(&db, id).await? => {
            errors.insert(
                "client".into(),
                "That client does not exist (it may have been removed): pick another.".into(),
            );
        }
        None if !errors.contains_key("client")
            && site_admin::client_id_by_name(&db, &input.new_client)
                .await?
                .is_some() =>
        {
            errors.insert(
                "client".into(),
                format!(
                    "A client named {:?} already exists: pick it from the list.",
                    input.new_client
                ),
            );
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Ok(SiteSaved::Invalid(errors));
    }
    let audit = NewAudit {
        actor: user.email,
        action: if existing.is_some() {
            "site.update"
        } else {
            "site.create"
        },
        target: input.site_id.clone(),
        details: serde_json::json!({ "original": original, "site": input }),
        ip: crate::auth::client_ip(),
        at: chrono::Utc::now(),
    };
    let client_id = match site_admin::save_site(&db, existing, &input, &audit).await {
        Ok(client_id) => client_id,
        // Another admin took the id between our check and the insert.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            let mut errors = FieldErrors::new();
            errors.insert(
                "site_id".into(),
                taken_message(&input.site_id, "another site"),
            );
            return Ok(SiteSaved::Invalid(errors));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(id) = existing {
        forget_appliance_keys(id);
    }
    cache
        .invalidate(&crate::cache::KEYS_AFFECTED_BY_SITE_CHANGE)
        .await;
    Ok(SiteSaved::Saved {
        site_id: input.site_id,
        client_id,
    })
}

/// A renamed site's appliances authenticate with the new id at once, a decommissioned
/// site's appliances are refused at once (on this server; others within the key cache's TTL).
#[cfg(feature = "ssr")]
fn forget_appliance_keys(site: i64) {
    if let Some(keys) = use_context::<crate::appliance_keys::KeyCache>() {
        keys.forget_site(site);
    }
}

#[cfg(feature = "ssr")]
fn taken_message(site_id: &str, holder: &str) -> String {
    format!("Site id {site_id:?} is already used by {holder}: choose another.")
}

/// Takes the site out of every list and statistic; its history stays in the database.
#[server(input = leptos::server_fn::codec::Json, endpoint = "decommission_site")]
pub async fn decommission_site(site_id: String) -> Result<(), AppError> {
    use crate::db::accounts::NewAudit;
    use crate::db::site_admin;

    let user = crate::auth::require_role(crate::auth::Role::Admin)?;
    let (db, cache) = crate::aggregates::request_state()?;
    let Some((id, _, false)) = site_admin::site_input(&db, &site_id).await? else {
        return Err(
            AppError::NotFound(format!("no active site with id {site_id:?}")).with_status(),
        );
    };
    let audit = NewAudit {
        actor: user.email,
        action: "site.decommission",
        target: site_id,
        details: serde_json::json!({}),
        ip: crate::auth::client_ip(),
        at: chrono::Utc::now(),
    };
    site_admin::decommission_site(&db, id, &audit).await?;
    forget_appliance_keys(id);
    cache
        .invalidate(&crate::cache::KEYS_AFFECTED_BY_SITE_CHANGE)
        .await;
    Ok(())
}

/// Marks stale exactly what a change to `site_id` (of `client_ids`) shows up in: the site
/// lists, that site's detail, the clients' pages and summaries, and the overview's counts.
fn invalidate_site_queries(client: QueryClient, site_ids: &[&str], client_ids: &[i64]) {
    client.invalidate_query_scope(sites_query());
    for site_id in site_ids {
        client.invalidate_query(site_query(), SiteSlug(site_id.to_string()));
    }
    client.invalidate_query_scope(clients_query());
    for id in client_ids {
        client.invalidate_query(client_query(), *id);
    }
    client.invalidate_query(stats_query(), ());
}

#[component]
pub fn NewSitePage() -> impl IntoView {
    view! {
        <Title text="Onboard a site" />
        <SiteFormLoader original=None />
    }
}

#[component]
pub fn EditSitePage() -> impl IntoView {
    let params = use_params_map();
    let site_id = move || params.read().get("site_id").unwrap_or_default();
    view! {
        <Title text="Edit site" />
        {move || view! { <SiteFormLoader original=Some(site_id()) /> }}
    }
}

#[component]
fn SiteFormLoader(original: Option<String>) -> impl IntoView {
    let key = original.clone();
    let data = Resource::new_blocking(move || key.clone(), get_site_form);
    let retry = Callback::new(move |_| data.refetch());
    view! {
        <Transition fallback=|| view! { <Skeleton rows=8 /> }>
            <ErrorBoundary fallback=move |errors| view! { <ErrorRetry errors retry /> }>
                {
                    let original = original.clone();
                    move || {
                        let original = original.clone();
                        Suspend::new(async move {
                            data.await.map(|data| view! { <SiteForm data original /> })
                        })
                    }
                }
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn SiteForm(data: SiteFormData, original: Option<String>) -> impl IntoView {
    let client: QueryClient = expect_context();
    let navigate = use_navigate();
    let initial = data.input.clone();
    let editing = original.is_some();
    let field = |value: &str| RwSignal::new(value.to_string());
    let clinic_name = field(&initial.clinic_name);
    let site_id = field(&initial.site_id);
    let tier = field(&initial.tier);
    let contact_name = field(&initial.contact_name);
    let contact_email = field(&initial.contact_email);
    let notes = field(&initial.notes);
    let new_client = field("");
    // "" = none picked, "new" = create one, else a client id.
    let client_choice = field(
        &initial
            .client_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    );
    // The site id follows the clinic name until the admin edits it.
    let site_id_edited = RwSignal::new(editing);
    let touched = RwSignal::new(std::collections::BTreeSet::<&'static str>::new());
    let submitted = RwSignal::new(false);
    let server_errors = RwSignal::new(FieldErrors::new());

    let input = Memo::new(move |_| SiteInput {
        clinic_name: clinic_name.get(),
        client_id: client_choice.get().parse().ok(),
        new_client: if client_choice.get() == "new" {
            new_client.get()
        } else {
            String::new()
        },
        site_id: if site_id_edited.get() {
            site_id.get()
        } else {
            slugify(&clinic_name.get())
        },
        tier: tier.get(),
        contact_name: contact_name.get(),
        contact_email: contact_email.get(),
        notes: notes.get(),
    });
    let local_errors = Memo::new(move |_| validate_site(&input.get()));
    let error_for = move |name: &'static str| {
        Signal::derive(move || {
            let shown = submitted.get() || touched.read().contains(name);
            server_errors.read().get(name).cloned().or_else(|| {
                shown
                    .then(|| local_errors.read().get(name).cloned())
                    .flatten()
            })
        })
    };
    let changed = move |name: &'static str| {
        touched.update(|t| {
            t.insert(name);
        });
        server_errors.update(|e| {
            e.remove(name);
        });
    };

    let save = ServerAction::<SaveSite>::new();
    let original_for_effect = original.clone();
    let initial_client = initial.client_id;
    Effect::new(move |_| match save.value().get() {
        Some(Ok(SiteSaved::Saved {
            site_id: saved,
            client_id,
        })) => {
            let mut site_ids = vec![saved.as_str()];
            if let Some(original) = &original_for_effect {
                site_ids.push(original.as_str());
            }
            let mut client_ids = vec![client_id];
            client_ids.extend(initial_client.filter(|id| *id != client_id));
            invalidate_site_queries(client, &site_ids, &client_ids);
            let (message, path) = if original_for_effect.is_some() {
                (format!("Saved {saved}."), format!("/sites/{saved}"))
            } else {
                (format!("Site {saved} created."), "/sites".to_string())
            };
            Toasts::show(message);
            navigate(&path, NavigateOptions::default());
        }
        Some(Ok(SiteSaved::Invalid(errors))) => server_errors.set(errors),
        _ => {}
    });
    let failure = move || match save.value().get() {
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    };

    let original_for_submit = original.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(true);
        if local_errors.read_untracked().is_empty() {
            save.dispatch(SaveSite {
                original: original_for_submit.clone(),
                input: input.get_untracked(),
            });
        }
    };

    let text_input = move |name: &'static str,
                           label: &'static str,
                           value: RwSignal<String>,
                           kind: &'static str| {
        let error = error_for(name);
        view! {
            <label class="field">
                <span>{label}</span>
                <input
                    type=kind
                    name=name
                    data-testid=format!("field-{name}")
                    prop:value=move || value.get()
                    aria-invalid=move || error.get().is_some().to_string()
                    on:input=move |ev| {
                        value.set(event_target_value(&ev));
                        changed(name);
                    }
                />
                <FieldError error name />
            </label>
        }
    };

    let client_error = error_for("client");
    let tier_error = error_for("tier");
    let notes_error = error_for("notes");
    let site_id_error = error_for("site_id");
    view! {
        <form class="stacked-form site-form" data-testid="site-form" on:submit=on_submit novalidate>
            {text_input("clinic_name", "Clinic name", clinic_name, "text")}
            <label class="field">
                <span>"Client"</span>
                <select
                    name="client"
                    data-testid="field-client"
                    aria-invalid=move || client_error.get().is_some().to_string()
                    on:change=move |ev| {
                        client_choice.set(event_target_value(&ev));
                        changed("client");
                    }
                >
                    <option value="" selected=move || client_choice.get().is_empty()>"Choose a client"</option>
                    {data
                        .clients
                        .into_iter()
                        .map(|(id, name)| {
                            let value = id.to_string();
                            let selected = {
                                let value = value.clone();
                                move || client_choice.get() == value
                            };
                            view! { <option value=value selected=selected>{name}</option> }
                        })
                        .collect_view()}
                    <option value="new" selected=move || client_choice.get() == "new">"New client…"</option>
                </select>
                <Show when=move || client_choice.get() == "new">
                    <input
                        type="text"
                        name="new_client"
                        placeholder="New client's name"
                        data-testid="field-new_client"
                        prop:value=move || new_client.get()
                        on:input=move |ev| {
                            new_client.set(event_target_value(&ev));
                            changed("client");
                        }
                    />
                </Show>
                <FieldError error=client_error name="client" />
            </label>
            <label class="field">
                <span>"Site id"</span>
                <input
                    type="text"
                    name="site_id"
                    data-testid="field-site_id"
                    prop:value=move || input.read().site_id.clone()
                    aria-invalid=move || site_id_error.get().is_some().to_string()
                    on:input=move |ev| {
                        site_id_edited.set(true);
                        site_id.set(event_target_value(&ev));
                        changed("site_id");
                    }
                />
                <small class="subtle">"Used in URLs and by appliances; derived from the clinic name until you edit it."</small>
                <FieldError error=site_id_error name="site_id" />
            </label>
            <label class="field">
                <span>"Tier"</span>
                <select
                    name="tier"
                    data-testid="field-tier"
                    on:change=move |ev| {
                        tier.set(event_target_value(&ev));
                        changed("tier");
                    }
                >
                    {TIERS
                        .into_iter()
                        .map(|t| view! { <option value=t selected=move || tier.get() == t>{t}</option> })
                        .collect_view()}
                </select>
                <FieldError error=tier_error name="tier" />
            </label>
            {text_input("contact_name", "Contact name", contact_name, "text")}
            {text_input("contact_email", "Contact email", contact_email, "email")}
            <label class="field">
                <span>"Notes"</span>
                <textarea
                    name="notes"
                    rows="3"
                    data-testid="field-notes"
                    prop:value=move || notes.get()
                    on:input=move |ev| {
                        notes.set(event_target_value(&ev));
                        changed("notes");
                    }
                ></textarea>
                <FieldError error=notes_error name="notes" />
            </label>
            {move || failure().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <div class="form-actions">
                <button type="submit" class="button primary" data-testid="save-site" disabled=move || save.pending().get()>
                    {if editing { "Save changes" } else { "Create site" }}
                </button>
            </div>
        </form>
        {original.map(|site_id| view! { <Decommission site_id client_id=initial.client_id /> })}
    }
}

/// A field's message, next to it.
#[component]
fn FieldError(error: Signal<Option<String>>, name: &'static str) -> impl IntoView {
    move || {
        error.get().map(|message| {
            view! { <span class="field-error" role="alert" data-testid=format!("error-{name}")>{message}</span> }
        })
    }
}

#[component]
fn Decommission(site_id: String, client_id: Option<i64>) -> impl IntoView {
    let client: QueryClient = expect_context();
    let navigate = use_navigate();
    let confirming = RwSignal::new(false);
    let action = ServerAction::<DecommissionSite>::new();
    let id_for_effect = site_id.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            invalidate_site_queries(
                client,
                &[&id_for_effect],
                &client_id.into_iter().collect::<Vec<_>>(),
            );
            Toasts::show(format!("Site {id_for_effect} decommissioned."));
            navigate("/sites", NavigateOptions::default());
        }
    });
    let failure = move || match action.value().get() {
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    };
    let site_for_dispatch = site_id.clone();
    view! {
        <section class="danger-zone">
            <h2>"Decommission"</h2>
            <p class="subtle">"Removes the site from every list and statistic. Its history is kept."</p>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="button danger" data-testid="decommission" on:click=move |_| confirming.set(true)>
                        "Decommission…"
                    </button>
                }
            >
                <p role="alert">"Decommission "<strong>{site_id.clone()}</strong>"? Appliances of this site will no longer be shown."</p>
                <button
                    type="button"
                    class="button danger"
                    data-testid="confirm-decommission"
                    on:click={
                        let site_id = site_for_dispatch.clone();
                        move |_| { action.dispatch(DecommissionSite { site_id: site_id.clone() }); }
                    }
                >
                    "Yes, decommission"
                </button>
                <button type="button" class="button" on:click=move |_| confirming.set(false)>"Cancel"</button>
            </Show>
            {move || failure().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </section>
    }
}
