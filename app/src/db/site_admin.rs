//! Writes behind the site form: create, edit and decommission, each with its audit entry in
//! the same transaction.

use super::Db;
use super::accounts::NewAudit;
use super::accounts::insert_audit;
use crate::on_db;
use crate::validation::SiteInput;

/// A site as the edit form shows it, with its database id and whether it is decommissioned.
pub async fn site_input(
    db: &Db,
    site_id: &str,
) -> Result<Option<(i64, SiteInput, bool)>, sqlx::Error> {
    type Record = (
        i64,
        String,
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        bool,
    );
    let row: Option<Record> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, clinic_name, client_id, site_id, tier, contact_name, contact_email, notes, \
             decommissioned_at IS NOT NULL FROM sites WHERE site_id = $1",
        )
        .bind(site_id)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(
        |(id, clinic_name, client_id, site_id, tier, contact_name, contact_email, notes, gone)| {
            let input = SiteInput {
                clinic_name,
                client_id: Some(client_id),
                new_client: String::new(),
                site_id,
                tier,
                contact_name: contact_name.unwrap_or_default(),
                contact_email: contact_email.unwrap_or_default(),
                notes,
            };
            (id, input, gone)
        },
    ))
}

/// Every client as (id, name), by name: the form's client picker.
/// The public ids of the active sites, oldest first.
pub async fn site_slugs(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT site_id FROM sites WHERE decommissioned_at IS NULL ORDER BY id")
            .fetch_all(pool)
            .await
    })
}

pub async fn client_names(db: &Db) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as("SELECT id, name FROM clients ORDER BY name")
            .fetch_all(pool)
            .await
    })
}

pub async fn client_id_by_name(db: &Db, name: &str) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT id FROM clients WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(pool)
            .await
    })
}

pub async fn client_exists(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT id FROM clients WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    Ok(found.is_some())
}

/// The clinic name of the site (other than `except`) that already uses `site_id`.
pub async fn site_id_holder(
    db: &Db,
    site_id: &str,
    except: Option<i64>,
) -> Result<Option<String>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT clinic_name FROM sites WHERE site_id = $1 AND id <> $2")
            .bind(site_id)
            .bind(except.unwrap_or(0))
            .fetch_optional(pool)
            .await
    })
}

/// Creates the site (`existing` = `None`) or updates it, creating the new client first when
/// the input names one. `input` must be validated and normalized. Returns the client's id.
pub async fn save_site(
    db: &Db,
    existing: Option<i64>,
    input: &SiteInput,
    audit: &NewAudit,
) -> Result<i64, sqlx::Error> {
    let optional = |s: &str| (!s.is_empty()).then(|| s.to_string());
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let client_id: i64 = match input.client_id {
            Some(id) => id,
            None => {
                sqlx::query_scalar(
                    "INSERT INTO clients (name, created_at) VALUES ($1, $2) RETURNING id",
                )
                .bind(&input.new_client)
                .bind(audit.at)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        // The same eight values in the same order for both statements; the last is the
        // creation time for an insert and the row's id for an update.
        let (sql, last): (&str, SiteKey) = match existing {
            None => (
                "INSERT INTO sites (site_id, client_id, clinic_name, tier, contact_name, \
                 contact_email, notes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                SiteKey::CreatedAt(audit.at),
            ),
            Some(id) => (
                "UPDATE sites SET site_id = $1, client_id = $2, clinic_name = $3, tier = $4, \
                 contact_name = $5, contact_email = $6, notes = $7 WHERE id = $8",
                SiteKey::Id(id),
            ),
        };
        let query = sqlx::query(sql)
            .bind(&input.site_id)
            .bind(client_id)
            .bind(&input.clinic_name)
            .bind(&input.tier)
            .bind(optional(&input.contact_name))
            .bind(optional(&input.contact_email))
            .bind(&input.notes);
        let query = match last {
            SiteKey::CreatedAt(at) => query.bind(at),
            SiteKey::Id(id) => query.bind(id),
        };
        query.execute(&mut *tx).await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(client_id)
    })
}

enum SiteKey {
    CreatedAt(chrono::DateTime<chrono::Utc>),
    Id(i64),
}

pub async fn decommission_site(db: &Db, id: i64, audit: &NewAudit) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE sites SET decommissioned_at = $2 WHERE id = $1 AND decommissioned_at IS NULL",
        )
        .bind(id)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    })
}
