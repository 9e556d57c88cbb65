//! Onboarding, editing and decommissioning a site: validated, written with its audit entry in
//! one transaction.

use super::Actor;
use crate::db::Db;
use crate::db::site_admin;
use crate::error::AppError;
use crate::validation::{FieldErrors, SiteInput, SiteSaved, validate_site};

/// What saving a site came to, and the key of the site it changed (`None` for a new one, or
/// when nothing was saved).
#[derive(Debug)]
pub struct SiteChange {
    pub outcome: SiteSaved,
    pub updated: Option<i64>,
}

/// Creates a site (`original` = `None`) or updates the active site `original` names. Field
/// errors (the form's rules, an id or client name taken) come back in
/// [`SiteSaved::Invalid`] with nothing written; an unknown or decommissioned `original` is 404.
pub async fn save_site(
    db: &Db,
    original: Option<String>,
    input: SiteInput,
    actor: Actor,
) -> Result<SiteChange, AppError> {
    let input = input.normalized();
    let existing = match &original {
        None => None,
        Some(site_id) => match site_admin::site_input(db, site_id).await? {
            Some((id, _, false)) => Some(id),
            _ => return Err(no_active_site(site_id)),
        },
    };
    let errors = check_site(db, &input, existing).await?;
    if !errors.is_empty() {
        return Ok(unsaved(errors));
    }
    let audit = actor.audit(
        if existing.is_some() {
            "site.update"
        } else {
            "site.create"
        },
        input.site_id.clone(),
        serde_json::json!({ "original": original, "site": input }),
    );
    let client_id = match site_admin::save_site(db, existing, &input, &audit).await {
        Ok(client_id) => client_id,
        // Another admin took the id between our check and the insert.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            let message = taken_message(&input.site_id, "another site");
            return Ok(unsaved(FieldErrors::from([("site_id".into(), message)])));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(SiteChange {
        outcome: SiteSaved::Saved {
            site_id: input.site_id,
            client_id,
        },
        updated: existing,
    })
}

/// Takes the active site `site_id` out of every list and statistic (its history stays);
/// returns its key.
pub async fn decommission_site(db: &Db, site_id: String, actor: Actor) -> Result<i64, AppError> {
    let Some((id, _, false)) = site_admin::site_input(db, &site_id).await? else {
        return Err(no_active_site(&site_id));
    };
    let audit = actor.audit("site.decommission", site_id, serde_json::json!({}));
    site_admin::decommission_site(db, id, &audit).await?;
    Ok(id)
}

/// The form's rules, and what only the database knows: whether the id is free (of sites other
/// than `existing`), and whether the chosen client exists or the new one's name is free.
async fn check_site(
    db: &Db,
    input: &SiteInput,
    existing: Option<i64>,
) -> Result<FieldErrors, AppError> {
    let mut errors = validate_site(input);
    if !errors.contains_key("site_id")
        && let Some(holder) = site_admin::site_id_holder(db, &input.site_id, existing).await?
    {
        errors.insert("site_id".into(), taken_message(&input.site_id, &holder));
    }
    match input.client_id {
        Some(id) if !site_admin::client_exists(db, id).await? => {
            errors.insert(
                "client".into(),
                "That client does not exist (it may have been removed): pick another.".into(),
            );
        }
        None if !errors.contains_key("client")
            && site_admin::client_id_by_name(db, &input.new_client)
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
    Ok(errors)
}

fn unsaved(errors: FieldErrors) -> SiteChange {
    SiteChange {
        outcome: SiteSaved::Invalid(errors),
        updated: None,
    }
}

fn no_active_site(site_id: &str) -> AppError {
    AppError::NotFound(format!("no active site with id {site_id:?}")).with_status()
}

fn taken_message(site_id: &str, holder: &str) -> String {
    format!("Site id {site_id:?} is already used by {holder}: choose another.")
}
