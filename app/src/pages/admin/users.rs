//! `/admin/users`: everyone who can sign in, adding users, changing roles, disabling accounts.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::accounts::{UserAdded, UserRow};
use crate::auth::Role;
use crate::components::badges::ago;
use crate::components::form::TextField;
use crate::components::query_view::QueryView;
use crate::components::toast::Toasts;
use crate::error::AppError;
use crate::validation::{FieldErrors, validate_new_user};

crate::query_args!(ListUsers);

#[server(input = crate::codec::Query, endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    Ok(crate::db::accounts::list_users(&db, chrono::Utc::now()).await?)
}

#[server(input = crate::codec::Json, endpoint = "add_user")]
pub async fn add_user(
    email: String,
    display_name: String,
    role: Role,
    password: String,
) -> Result<UserAdded, AppError> {
    use crate::services::{Actor, users};

    let admin = crate::auth::require_role(Role::Admin)?;
    let (db, _) = crate::aggregates::request_state()?;
    let user = users::NewUser {
        email,
        display_name,
        role,
        password,
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

#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new_blocking(|| (), |_| list_users());
    let retry = Callback::new(move |_| users.refetch());
    view! {
        <Title text="Users" />
        <AddUserForm on_added=Callback::new(move |_| users.refetch()) />
        <QueryView rows=6 retry>
            {move || Suspend::new(async move {
                users.await.map(|users| view! {
                    <table class="data-table" data-testid="users-table">
                        <thead><tr><th>"Email"</th><th>"Name"</th><th>"Role"</th><th>"Status"</th><th>"Added"</th><th></th></tr></thead>
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
                <select
                    aria-label="Role"
                    data-testid="user-role"
                    on:change=move |ev| {
                        if let Some(role) = Role::parse(&event_target_value(&ev)) {
                            update.dispatch(UpdateUser { id, role, disabled });
                        }
                    }
                >
                    {Role::ALL
                        .into_iter()
                        .map(|r| view! { <option value=r.as_str() selected=r == role>{r.as_str()}</option> })
                        .collect_view()}
                </select>
            </td>
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

#[component]
fn AddUserForm(on_added: Callback<()>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Readonly);
    let password = RwSignal::new(String::new());
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
                    {Role::ALL
                        .into_iter()
                        .map(|r| view! { <option value=r.as_str() selected=move || role.get() == r>{r.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            {input("password", "Password (empty: generate)", "password", password)}
            <button type="submit" class="button primary" data-testid="add-user" disabled=move || add.pending().get()>"Add user"</button>
        </form>
        {move || shown_password.get().map(|(email, password)| view! {
            <p class="notice" role="status" data-testid="generated-password">
                "Password for "{email}": "<code>{password}</code>" — shown once; pass it on securely."
            </p>
        })}
    }
}
