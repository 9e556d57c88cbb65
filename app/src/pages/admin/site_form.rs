//! `/admin/sites/new` and `/sites/:site_id/edit`: one form for onboarding and editing a site,
//! checked as the admin types and again by the server, which alone decides. After a save only
//! the queries the change affects are invalidated.

use leptos::prelude::*;
use leptos_fetch::QueryClient;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde::{Deserialize, Serialize};

use crate::components::form::{FieldError, FieldMessages, TextField};
use crate::components::query_view::QueryView;
use crate::components::toast::Toasts;
use crate::domain::ids::SiteSlug;
use crate::error::AppError;
use crate::pages::clients::{client_query, clients_query};
use crate::pages::overview::stats_query;
use crate::pages::site_detail::site_query;
use crate::pages::sites::sites_query;
use crate::validation::{SiteInput, SiteSaved, TIERS, slugify, validate_site};

/// What the form starts from: the site's values (empty for a new site) and the clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteFormData {
    pub input: SiteInput,
    pub clients: Vec<(i64, String)>,
}

crate::query_args!(GetSiteForm);

#[server(input = crate::codec::Query, endpoint = "get_site_form")]
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
#[server(input = crate::codec::Json, endpoint = "save_site")]
pub async fn save_site(original: Option<String>, input: SiteInput) -> Result<SiteSaved, AppError> {
    let actor = admin_actor()?;
    let (db, cache) = crate::aggregates::request_state()?;
    let change = crate::services::sites::save_site(&db, original, input, actor).await?;
    if let SiteSaved::Saved { .. } = change.outcome {
        if let Some(site) = change.updated {
            site_changed(site).await;
        }
        cache
            .invalidate(&crate::cache::KEYS_AFFECTED_BY_SITE_CHANGE)
            .await;
    }
    Ok(change.outcome)
}

/// Takes the site out of every list and statistic; its history stays in the database.
#[server(input = crate::codec::Json, endpoint = "decommission_site")]
pub async fn decommission_site(site_id: String) -> Result<(), AppError> {
    let actor = admin_actor()?;
    let (db, cache) = crate::aggregates::request_state()?;
    let site = crate::services::sites::decommission_site(&db, site_id, actor).await?;
    site_changed(site).await;
    cache
        .invalidate(&crate::cache::KEYS_AFFECTED_BY_SITE_CHANGE)
        .await;
    Ok(())
}

/// The signed-in admin, as the audit log records them; 403 for anyone else.
#[cfg(feature = "ssr")]
fn admin_actor() -> Result<crate::services::Actor, AppError> {
    let admin = crate::auth::require_role(crate::auth::Role::Admin)?;
    Ok(crate::services::Actor::signed_in(admin))
}

/// A renamed site's appliances authenticate with the new id at once, a decommissioned
/// site's appliances are refused at once: on this server, and on the others sharing its
/// PostgreSQL through [`crate::cluster`].
#[cfg(feature = "ssr")]
async fn site_changed(site: i64) {
    if let Some(keys) = use_context::<crate::appliance_keys::KeyCache>() {
        keys.forget_site(site);
    }
    if let Some(peers) = use_context::<crate::cluster::Peers>() {
        peers
            .tell(crate::cluster::Change::SiteChanged { site })
            .await;
    }
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
        <QueryView rows=8 retry>
            {
                let original = original.clone();
                move || {
                    let original = original.clone();
                    Suspend::new(async move {
                        data.await.map(|data| view! { <SiteForm data original /> })
                    })
                }
            }
        </QueryView>
    }
}

/// The form's fields as typed.
#[derive(Clone, Copy)]
struct SiteFields {
    clinic_name: RwSignal<String>,
    site_id: RwSignal<String>,
    /// The site id follows the clinic name until the admin edits it.
    site_id_edited: RwSignal<bool>,
    /// "" = none picked, "new" = create one, else a client id.
    client_choice: RwSignal<String>,
    new_client: RwSignal<String>,
    tier: RwSignal<String>,
    contact_name: RwSignal<String>,
    contact_email: RwSignal<String>,
    notes: RwSignal<String>,
}

impl SiteFields {
    fn new(initial: &SiteInput, editing: bool) -> Self {
        let field = |value: &str| RwSignal::new(value.to_string());
        Self {
            clinic_name: field(&initial.clinic_name),
            site_id: field(&initial.site_id),
            site_id_edited: RwSignal::new(editing),
            client_choice: field(
                &initial
                    .client_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            ),
            new_client: field(""),
            tier: field(&initial.tier),
            contact_name: field(&initial.contact_name),
            contact_email: field(&initial.contact_email),
            notes: field(&initial.notes),
        }
    }

    fn input(self) -> SiteInput {
        let clinic_name = self.clinic_name.get();
        let choice = self.client_choice.get();
        SiteInput {
            client_id: choice.parse().ok(),
            new_client: if choice == "new" {
                self.new_client.get()
            } else {
                String::new()
            },
            site_id: if self.site_id_edited.get() {
                self.site_id.get()
            } else {
                slugify(&clinic_name)
            },
            clinic_name,
            tier: self.tier.get(),
            contact_name: self.contact_name.get(),
            contact_email: self.contact_email.get(),
            notes: self.notes.get(),
        }
    }
}

#[component]
fn SiteForm(data: SiteFormData, original: Option<String>) -> impl IntoView {
    let client: QueryClient = expect_context();
    let navigate = use_navigate();
    let initial = data.input.clone();
    let editing = original.is_some();
    let fields = SiteFields::new(&initial, editing);
    let input = Memo::new(move |_| fields.input());
    let messages = FieldMessages::new(Memo::new(move |_| validate_site(&input.get())));

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
        Some(Ok(SiteSaved::Invalid(errors))) => messages.answered(errors),
        _ => {}
    });
    let failure = move || match save.value().get() {
        Some(Err(err)) => Some(err.to_string()),
        _ => None,
    };

    let original_for_submit = original.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if messages.submit() {
            save.dispatch(SaveSite {
                original: original_for_submit.clone(),
                input: input.get_untracked(),
            });
        }
    };
    let text = move |name: &'static str, label: &'static str, value, kind: &'static str| {
        view! {
            <TextField name label kind value error=messages.of(name) testid=format!("field-{name}")
                on_edit=Callback::new(move |()| messages.edited(name)) />
        }
    };
    view! {
        <form class="stacked-form site-form" data-testid="site-form" on:submit=on_submit novalidate>
            {text("clinic_name", "Clinic name", fields.clinic_name, "text")}
            <ClientField fields messages clients=data.clients />
            <SiteIdField fields messages input />
            <TierField fields messages />
            {text("contact_name", "Contact name", fields.contact_name, "text")}
            {text("contact_email", "Contact email", fields.contact_email, "email")}
            <NotesField fields messages />
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

/// An existing client, or a new one by name.
#[component]
fn ClientField(
    fields: SiteFields,
    messages: FieldMessages,
    clients: Vec<(i64, String)>,
) -> impl IntoView {
    let choice = fields.client_choice;
    let error = messages.of("client");
    view! {
        <label class="field">
            <span>"Client"</span>
            <select
                name="client"
                data-testid="field-client"
                aria-invalid=move || error.get().is_some().to_string()
                on:change=move |ev| {
                    choice.set(event_target_value(&ev));
                    messages.edited("client");
                }
            >
                <option value="" selected=move || choice.get().is_empty()>"Choose a client"</option>
                {clients
                    .into_iter()
                    .map(|(id, name)| {
                        let value = id.to_string();
                        let selected = {
                            let value = value.clone();
                            move || choice.get() == value
                        };
                        view! { <option value=value selected=selected>{name}</option> }
                    })
                    .collect_view()}
                <option value="new" selected=move || choice.get() == "new">"New client…"</option>
            </select>
            <Show when=move || choice.get() == "new">
                <input
                    type="text"
                    name="new_client"
                    placeholder="New client's name"
                    data-testid="field-new_client"
                    prop:value=move || fields.new_client.get()
                    on:input=move |ev| {
                        fields.new_client.set(event_target_value(&ev));
                        messages.edited("client");
                    }
                />
            </Show>
            <FieldError error name="client" />
        </label>
    }
}

/// The site's public id, derived from the clinic name until edited.
#[component]
fn SiteIdField(
    fields: SiteFields,
    messages: FieldMessages,
    input: Memo<SiteInput>,
) -> impl IntoView {
    let error = messages.of("site_id");
    view! {
        <label class="field">
            <span>"Site id"</span>
            <input
                type="text"
                name="site_id"
                data-testid="field-site_id"
                prop:value=move || input.read().site_id.clone()
                aria-invalid=move || error.get().is_some().to_string()
                on:input=move |ev| {
                    fields.site_id_edited.set(true);
                    fields.site_id.set(event_target_value(&ev));
                    messages.edited("site_id");
                }
            />
            <small class="subtle">"Used in URLs and by appliances; derived from the clinic name until you edit it."</small>
            <FieldError error name="site_id" />
        </label>
    }
}

#[component]
fn TierField(fields: SiteFields, messages: FieldMessages) -> impl IntoView {
    let tier = fields.tier;
    view! {
        <label class="field">
            <span>"Tier"</span>
            <select
                name="tier"
                data-testid="field-tier"
                on:change=move |ev| {
                    tier.set(event_target_value(&ev));
                    messages.edited("tier");
                }
            >
                {TIERS
                    .into_iter()
                    .map(|t| view! { <option value=t selected=move || tier.get() == t>{t}</option> })
                    .collect_view()}
            </select>
            <FieldError error=messages.of("tier") name="tier" />
        </label>
    }
}

#[component]
fn NotesField(fields: SiteFields, messages: FieldMessages) -> impl IntoView {
    let notes = fields.notes;
    view! {
        <label class="field">
            <span>"Notes"</span>
            <textarea
                name="notes"
                rows="3"
                data-testid="field-notes"
                prop:value=move || notes.get()
                on:input=move |ev| {
                    notes.set(event_target_value(&ev));
                    messages.edited("notes");
                }
            ></textarea>
            <FieldError error=messages.of("notes") name="notes" />
        </label>
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
