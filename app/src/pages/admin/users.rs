//! `/admin/users`: everyone who can sign in, adding users, changing roles and the clients a
//! user sees, disabling accounts.

use leptos::prelude::*;
use leptos_meta::Title;

use leptos_fetch::QueryClient;

use crate::accounts::{InviteMade, UserAdded, UserRow};
use crate::auth::Role;
use crate::components::badges::ago;
use crate::components::form::{FieldError, TextField};
use crate::components::query_view::QueryView;
use crate::components::toast::Toasts;
use crate::domain::client_scope::ClientScope;
use crate::error::AppError;
use crate::pages::clients::clients_query;
use crate::validation::{FieldErrors, validate_new_user};

crate::query_args!(ListUsers);

#[server(input = crate::codec::Query, endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    Ok(crate::db::accounts::list_users(&db, chrono::Utc::now()).await?)
}

/// Adds a user; `clients` limits them to those clients (none: every client).
#[server(input = crate::codec::Json, endpoint = "add_user")]
pub async fn add_user(
    email: String,
    display_name: String,
    role: Role,
    password: String,
    #[server(default)] clients: Option<Vec<i64>>,
) -> Result<UserAdded, AppError> {
    use crate::services::{Actor, users};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let user = users::NewUser {
        email,
        display_name,
        role,
        password,
        clients: scope_of(clients),
    };
    let actor = Actor::signed_in(admin);
    users::add_user(&db, user, actor).await
}

/// Sets a user's role and whether they may sign in. Admins cannot lock themselves out, and
/// the last active admin stays one.
#[server(input = crate::codec::Json, endpoint = "update_user")]
pub async fn update_user(id: i64, role: Role, disabled: bool) -> Result<(), AppError> {
    use crate::db::accounts::{self, NewAudit};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let now = chrono::Utc::now();
    let Some(user) = accounts::find_user(&db, id, now).await? else {
        return Err(AppError::NotFound(format!("no user with id {id}")).with_status());
    };
    if (role == Role::Clinic) != (user.role == Role::Clinic) {
        let message = crate::services::users::INVITE_CLINICS.to_string();
        return Err(AppError::Invalid(message).with_status());
    }
    let loses_admin =
        user.role == Role::Admin && !user.disabled && (role != Role::Admin || disabled);
    if loses_admin && user.id == admin.id {
        return Err(
            AppError::Invalid("you cannot remove your own admin access".into()).with_status(),
        );
    }
    if loses_admin && accounts::count_active_admins(&db).await? <= 1 {
        return Err(
            AppError::Invalid("the last active admin must stay an admin".into()).with_status(),
        );
    }
    let audit = NewAudit {
        actor: admin.email,
        action: "user.update",
        target: user.email,
        details: serde_json::json!({
            "role": { "from": user.role, "to": role },
            "disabled": { "from": user.disabled, "to": disabled },
        }),
        ip: crate::auth::client_ip(),
        at: now,
    };
    accounts::update_user_access(&db, id, role, disabled, &audit).await?;
    crate::auth::signed_in::end_everywhere(crate::cluster::Change::UserChanged {
        user: id,
        disabled,
    })
    .await;
    Ok(())
}

/// Limits user `id` to `clients`, or (`None`) lets them see every client. Their open sessions
/// see the change at their next request, on every server.
#[server(input = crate::codec::Json, endpoint = "set_user_clients")]
pub async fn set_user_clients(id: i64, clients: Option<Vec<i64>>) -> Result<(), AppError> {
    use crate::services::{Actor, users};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    users::set_user_clients(&db, id, scope_of(clients), Actor::signed_in(admin))
        .await
        .map_err(AppError::with_status)?;
    crate::auth::signed_in::end_everywhere(crate::cluster::Change::UserChanged {
        user: id,
        disabled: false,
    })
    .await;
    Ok(())
}

/// Invites `email` as clinic staff of client `client_id`: the answer holds the one-time link
/// (valid 72 hours), shown once.
#[server(input = crate::codec::Json, endpoint = "invite_clinic_staff")]
pub async fn invite_clinic_staff(client_id: i64, email: String) -> Result<InviteMade, AppError> {
    use crate::services::{Actor, invites};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let now = chrono::Utc::now();
    invites::invite(&db, client_id, &email, Actor::signed_in(admin), now).await
}

/// The scope a form's list of clients asks for: `None` is every client.
#[cfg(feature = "ssr")]
fn scope_of(clients: Option<Vec<i64>>) -> ClientScope {
    clients.map_or(ClientScope::All, ClientScope::only)
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new_blocking(|| (), |_| list_users());
    let retry = Callback::new(move |_| users.refetch());
    view! {
        <Title text="Users" />
        <AddUserForm on_added=Callback::new(move |_| users.refetch()) />
        <InviteForm />
        <QueryView rows=6 retry>
            {move || Suspend::new(async move {
                users.await.map(|users| view! {
                    <table class="data-table" data-testid="users-table">
                        <thead><tr><th>"Email"</th><th>"Name"</th><th>"Role"</th><th>"Clients"</th><th>"Status"</th><th>"Added"</th><th></th></tr></thead>
                        <tbody>
                            {users.into_iter().map(|user| view! { <UserRowView user on_change=retry /> }).collect_view()}
                        </tbody>
                    </table>
                })
            })}
        </QueryView>
    }
}

#[component]
fn UserRowView(user: UserRow, on_change: Callback<()>) -> impl IntoView {
    let update = ServerAction::<UpdateUser>::new();
    Effect::new(move |_| match update.value().get() {
        Some(Ok(())) => {
            Toasts::show("User updated.");
            on_change.run(());
        }
        Some(Err(err)) => Toasts::show(err.to_string()),
        None => {}
    });
    let (id, role, disabled) = (user.id, user.role, user.disabled);
    let status = if disabled {
        "disabled".to_string()
    } else if user.locked_until.is_some() {
        "locked".to_string()
    } else {
        "active".to_string()
    };
    let created = ago(Some(user.created_at));
    let (email, email_attr) = (user.email.clone(), user.email);
    view! {
        <tr data-testid="user-row" data-email=email_attr>
            <td>{email}</td>
            <td>{user.display_name}</td>
            <td>
                {if role == Role::Clinic {
                    view! { <span data-testid="user-role-fixed">"clinic"</span> }.into_any()
                } else {
                    view! {
                        <select
                            aria-label="Role"
                            data-testid="user-role"
                            on:change=move |ev| {
                                if let Some(role) = Role::parse(&event_target_value(&ev)) {
                                    update.dispatch(UpdateUser { id, role, disabled });
                                }
                            }
                        >
                            {Role::ASSIGNABLE
                                .into_iter()
                                .map(|r| view! { <option value=r.as_str() selected=r == role>{r.as_str()}</option> })
                                .collect_view()}
                        </select>
                    }
                    .into_any()
                }}
            </td>
            <td><UserClients id role clients=user.clients on_change /></td>
            <td data-testid="user-status">{status}</td>
            <td>{created}</td>
            <td>
                <button
                    type="button"
                    class="button"
                    data-testid="user-toggle"
                    on:click=move |_| { update.dispatch(UpdateUser { id, role, disabled: !disabled }); }
                >
                    {if disabled { "Enable" } else { "Disable" }}
                </button>
            </td>
        </tr>
    }
}

/// The clients a user sees, and (for all but admins) a picker to change them.
#[component]
fn UserClients(
    id: i64,
    role: Role,
    clients: ClientScope,
    on_change: Callback<()>,
) -> impl IntoView {
    match role {
        Role::Admin => {
            return view! { <span class="muted">"Every client (admin)"</span> }.into_any();
        }
        Role::Clinic => return view! { <ClientNames clients /> }.into_any(),
        _ => {}
    }
    let save = ServerAction::<SetUserClients>::new();
    Effect::new(move |_| match save.value().get() {
        Some(Ok(())) => {
            Toasts::show("Clients saved.");
            on_change.run(());
        }
        Some(Err(err)) => Toasts::show(err.to_string()),
        None => {}
    });
    let chosen = RwSignal::new(clients.clients().map(<[i64]>::to_vec));
    view! {
        <ClientPicker chosen>
            <button
                type="button"
                class="button"
                data-testid="save-user-clients"
                disabled=move || save.pending().get()
                on:click=move |_| { save.dispatch(SetUserClients { id, clients: chosen.get_untracked() }); }
            >
                "Save"
            </button>
        </ClientPicker>
    }
    .into_any()
}

/// The names of a clinic account's client.
#[component]
fn ClientNames(clients: ClientScope) -> impl IntoView {
    let client: QueryClient = expect_context();
    let all = client.resource(clients_query(), || ());
    view! {
        <Transition fallback=|| ()>
            {move || all.get().and_then(Result::ok).map(|all| {
                let names: Vec<String> = all
                    .into_iter()
                    .filter(|c| clients.allows(c.id))
                    .map(|c| c.name)
                    .collect();
                view! { <span data-testid="user-client-names">{names.join(", ")}" (clinic)"</span> }
            })}
        </Transition>
    }
}

/// Every client, or a chosen few: `chosen` is `None` for every client. Opens as a list of
/// checkboxes under a summary of the choice.
#[component]
fn ClientPicker(
    chosen: RwSignal<Option<Vec<i64>>>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let client: QueryClient = expect_context();
    let clients = client.resource(clients_query(), || ());
    // "Every client", or how many and (when few) which.
    let summary = move || {
        let Some(ids) = chosen.get() else {
            return "Every client".to_string();
        };
        let count = match ids.len() {
            1 => "1 client".to_string(),
            n => format!("{n} clients"),
        };
        let names: Vec<String> = clients
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| ids.contains(&c.id))
            .map(|c| c.name)
            .collect();
        match names.len() {
            1..=3 => format!("{count}: {}", names.join(", ")),
            _ => count,
        }
    };
    let toggle = move |id: i64, on: bool| {
        chosen.update(|chosen| {
            let ids = chosen.get_or_insert_with(Vec::new);
            ids.retain(|c| *c != id);
            if on {
                ids.push(id);
            }
        })
    };
    view! {
        <details class="client-picker" data-testid="client-picker">
            <summary data-testid="client-picker-summary">{summary}</summary>
            <label class="check">
                <input
                    type="checkbox"
                    data-testid="every-client"
                    prop:checked=move || chosen.get().is_none()
                    on:change=move |ev| chosen.set(if event_target_checked(&ev) { None } else { Some(Vec::new()) })
                />
                "Every client, present and future"
            </label>
            <Transition fallback=|| ()>
                {move || clients.get().and_then(Result::ok).map(|clients| {
                    clients.into_iter().map(|c| {
                        let id = c.id;
                        view! {
                            <label class="check">
                                <input
                                    type="checkbox"
                                    data-testid="client-choice"
                                    data-client-id=id.to_string()
                                    prop:checked=move || chosen.get().is_some_and(|ids| ids.contains(&id))
                                    on:change=move |ev| toggle(id, event_target_checked(&ev))
                                />
                                {c.name}
                            </label>
                        }
                    }).collect_view()
                })}
            </Transition>
            {children.map(|children| children())}
        </details>
    }
}

#[component]
fn AddUserForm(on_added: Callback<()>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Readonly);
    let password = RwSignal::new(String::new());
    let clients = RwSignal::new(None::<Vec<i64>>);
    let submitted = RwSignal::new(false);
    let server_errors = RwSignal::new(FieldErrors::new());
    let add = ServerAction::<AddUser>::new();
    let shown_password = RwSignal::new(None::<(String, String)>);
    Effect::new(move |_| match add.value().get() {
        Some(Ok(UserAdded::Added {
            email: added,
            password: generated,
        })) => {
            Toasts::show(format!("{added} can now sign in."));
            shown_password.set(generated.map(|p| (added, p)));
            email.set(String::new());
            display_name.set(String::new());
            password.set(String::new());
            clients.set(None);
            submitted.set(false);
            on_added.run(());
        }
        Some(Ok(UserAdded::Invalid(errors))) => server_errors.set(errors),
        _ => {}
    });
    let errors = Memo::new(move |_| {
        let mut errors = validate_new_user(&email.get(), &display_name.get(), &password.get());
        for (field, message) in server_errors.get() {
            errors.entry(field).or_insert(message);
        }
        errors
    });
    // Messages show once the form was submitted.
    let error = move |name: &'static str| {
        Signal::derive(move || {
            submitted
                .get()
                .then(|| errors.read().get(name).cloned())
                .flatten()
        })
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        server_errors.set(FieldErrors::new());
        submitted.set(true);
        if errors.read_untracked().is_empty() {
            add.dispatch(AddUser {
                email: email.get_untracked(),
                display_name: display_name.get_untracked(),
                role: role.get_untracked(),
                password: password.get_untracked(),
                clients: clients.get_untracked(),
            });
        }
    };
    let input = move |name: &'static str,
                      label: &'static str,
                      kind: &'static str,
                      value: RwSignal<String>| {
        let on_edit = Callback::new(move |()| {
            server_errors.update(|e| {
                e.remove(name);
            })
        });
        view! {
            <TextField name label kind value error=error(name) testid=format!("user-{name}") on_edit />
        }
    };
    view! {
        <form class="inline-form" data-testid="add-user-form" on:submit=on_submit novalidate>
            {input("email", "Email", "email", email)}
            {input("display_name", "Name", "text", display_name)}
            <label class="field">
                <span>"Role"</span>
                <select data-testid="user-new-role" on:change=move |ev| {
                    if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) }
                }>
                    {Role::ASSIGNABLE
                        .into_iter()
                        .map(|r| view! { <option value=r.as_str() selected=move || role.get() == r>{r.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            {input("password", "Password (empty: generate)", "password", password)}
            <div class="field">
                <span>"Clients"</span>
                {move || if role.get() == Role::Admin {
                    view! { <span class="muted">"Every client (admin)"</span> }.into_any()
                } else {
                    view! { <ClientPicker chosen=clients /> }.into_any()
                }}
                <FieldError error=error("clients") name="clients" />
            </div>
            <button type="submit" class="button primary" data-testid="add-user" disabled=move || add.pending().get()>"Add user"</button>
        </form>
        {move || shown_password.get().map(|(email, password)| view! {
            <p class="notice" role="status" data-testid="generated-password">
                "Password for "{email}": "<code>{password}</code>" — shown once; pass it on securely."
            </p>
        })}
    }
}

/// Invites clinic staff: their client and email; the link appears once, to copy and send.
#[component]
fn InviteForm() -> impl IntoView {
    let client: QueryClient = expect_context();
    let clients = client.resource(clients_query(), || ());
    let chosen = RwSignal::new(None::<i64>);
    let email = RwSignal::new(String::new());
    let invite = ServerAction::<InviteClinicStaff>::new();
    let errors = move || match invite.value().get() {
        Some(Ok(InviteMade::Invalid(errors))) => errors,
        _ => FieldErrors::new(),
    };
    let error = move |name: &'static str| Signal::derive(move || errors().get(name).cloned());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        invite.dispatch(InviteClinicStaff {
            client_id: chosen.get_untracked().unwrap_or_default(),
            email: email.get_untracked(),
        });
    };
    view! {
        <section aria-labelledby="invite-heading" class="invite-section">
            <h2 id="invite-heading">"Invite clinic staff"</h2>
            <p class="muted">
                "A clinic account reads its own client's sites, compliance, open incidents and monthly reports, and nothing else."
            </p>
            <form class="inline-form" data-testid="invite-staff-form" on:submit=on_submit novalidate>
                <label class="field">
                    <span>"Client"</span>
                    <select data-testid="invite-client" on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
                        <option value="" selected=move || chosen.get().is_none()>"Choose…"</option>
                        <Transition fallback=|| ()>
                            {move || clients.get().and_then(Result::ok).map(|clients| {
                                clients.into_iter().map(|c| view! { <option value=c.id.to_string()>{c.name}</option> }).collect_view()
                            })}
                        </Transition>
                    </select>
                    <FieldError error=error("client") name="client" />
                </label>
                <TextField name="invite_email" label="Email" kind="email" value=email error=error("email") testid="invite-email".to_string() on_edit=Callback::new(|()| {}) />
                <button type="submit" class="button primary" data-testid="invite" disabled=move || invite.pending().get()>"Make invitation link"</button>
            </form>
            {move || match invite.value().get() {
                Some(Ok(InviteMade::Made { link, email, client_name, expires_at })) => {
                    let origin = window().location().origin().unwrap_or_default();
                    Some(view! {
                        <p class="notice" role="status" data-testid="invite-link">
                            "Send "{email}" this link to join "{client_name}": "
                            <code>{format!("{origin}{link}")}</code>
                            " — shown once; it works once, until "{expires_at.format("%-d %b %H:%M UTC").to_string()}"."
                        </p>
                    }.into_any())
                }
                Some(Err(err)) => Some(view! { <p class="form-error" role="alert">{err.to_string()}</p> }.into_any()),
                _ => None,
            }}
        </section>
    }
}
