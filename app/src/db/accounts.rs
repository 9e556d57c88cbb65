//! Users, sessions, failed-login lockout and the audit log.

use chrono::{DateTime, Utc};
use sqlx::query::{Query, QueryScalar};
use sqlx::{Database, Encode, IntoArguments, Type};

use super::Db;
use super::sql::{self, Bind, Conditions, day_start};
use crate::accounts::{AuditEntry, AuditFilter, UserRow};
use crate::auth::session::{self, IDLE_TIMEOUT, LOCKOUT, MAX_FAILED_LOGINS, TOUCH_INTERVAL};
use crate::auth::{Role, SessionUser};
use crate::domain::client_scope::ClientScope;
use crate::on_db;

/// The INSERT of an audit entry, executed on a pool or inside the transaction of the change it
/// records (so the change and its entry are written together or not at all).
pub fn insert_audit<'q, DB>(audit: &'q NewAudit) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    sqlx::types::Json<&'q serde_json::Value>: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(
        "INSERT INTO audit_log (actor, action, target, details, ip, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(audit.actor.as_str())
    .bind(audit.action)
    .bind(audit.target.as_str())
    .bind(sqlx::types::Json(&audit.details))
    .bind(audit.ip.as_deref())
    .bind(audit.at)
}

/// Writes an audit entry that goes with no other change (sign-ins, refusals).
pub async fn record_audit(db: &Db, audit: &NewAudit) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        insert_audit(audit).execute(pool).await?;
    });
    Ok(())
}

/// What a login attempt needs to know about the account behind an email.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub user: SessionUser,
    pub password_hash: String,
    pub disabled: bool,
    pub locked_until: Option<DateTime<Utc>>,
    /// A second factor must follow the password.
    pub totp_enabled: bool,
}

/// (id, email, display name, role, must enrol a second factor).
type UserTuple = (i64, String, String, String, bool);

fn session_user((id, email, display_name, role, must_enrol): UserTuple) -> Option<SessionUser> {
    Some(SessionUser {
        id,
        email,
        display_name,
        role: Role::parse(&role)?,
        must_enrol_two_factor: must_enrol,
        clients: ClientScope::All,
    })
}

/// A scope as `users.client_scope` holds it: NULL for every client, else the ids joined by
/// commas.
pub(super) fn scope_column(scope: &ClientScope) -> Option<String> {
    scope
        .clients()
        .map(|ids| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// The scope `users.client_scope` holds (an id that does not parse is left out).
pub(super) fn scope_of(column: Option<String>) -> ClientScope {
    match column {
        None => ClientScope::All,
        Some(ids) => ClientScope::only(ids.split(',').filter_map(|id| id.parse().ok())),
    }
}

/// Scopes user `id` to `scope` (every client, or a set), with its audit entry.
pub async fn set_client_scope(
    db: &Db,
    id: i64,
    scope: &ClientScope,
    audit: &NewAudit,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE users SET client_scope = $2 WHERE id = $1")
            .bind(id)
            .bind(scope_column(scope))
            .execute(&mut *tx)
            .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    })
}

/// The role of the user in table `alias`: a clinic account (`clinic_of` set) is stored with
/// the read-only role, the most it may do (see migration 0012).
pub(super) fn role_of(alias: &str) -> String {
    format!("CASE WHEN {alias}.clinic_of IS NOT NULL THEN 'clinic' ELSE {alias}.role END")
}

/// The client scope of the user in table `alias`: a clinic account's is its own client, always.
pub(super) fn client_scope_of(alias: &str) -> String {
    format!(
        "CASE WHEN {alias}.clinic_of IS NOT NULL THEN CAST({alias}.clinic_of AS TEXT) \
         ELSE {alias}.client_scope END"
    )
}

/// Whether the user of `u` is an admin who must turn two-factor sign-in on first.
const MUST_ENROL: &str = "(u.role = 'admin' AND NOT u.totp_enabled AND EXISTS \
    (SELECT 1 FROM settings WHERE name = 'admins_need_two_factor' AND value = 'true'))";

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: i64,
    email: String,
    display_name: String,
    role: String,
    password_hash: String,
    disabled: bool,
    locked_until: Option<DateTime<Utc>>,
    totp_enabled: bool,
}

pub async fn find_login(db: &Db, email: &str) -> Result<Option<LoginRecord>, sqlx::Error> {
    let row: Option<LoginRow> = on_db!(db, |pool| {
        sqlx::query_as(&format!(
            "SELECT id, email, display_name, {} AS role, password_hash, disabled, locked_until, \
             totp_enabled FROM users u WHERE lower(email) = lower($1)",
            role_of("u")
        ))
        .bind(email)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.and_then(|row| {
        Some(LoginRecord {
            user: session_user((row.id, row.email, row.display_name, row.role, false))?,
            password_hash: row.password_hash,
            disabled: row.disabled,
            locked_until: row.locked_until,
            totp_enabled: row.totp_enabled,
        })
    }))
}

/// A sign-in attempt counted against an account before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedAttempt {
    /// Failed sign-ins in a row, this one included should its password be wrong.
    pub failures: i64,
    /// Set when this attempt locked the account (the [`MAX_FAILED_LOGINS`]-th in a row).
    pub locks_until: Option<DateTime<Utc>>,
}

/// Counts a sign-in attempt as a failure before its password is checked, in one conditional
/// UPDATE, so parallel guesses cannot all pass before the first failure counts: the
/// [`MAX_FAILED_LOGINS`]-th in a row locks the account for [`LOCKOUT`]. `None` when the
/// account is locked or disabled: the attempt is refused whatever the password. A lock that
/// has run out starts a new count. [`start_session`] clears the count when the password was
/// right.
pub async fn count_login_attempt(
    db: &Db,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<CountedAttempt>, sqlx::Error> {
    let counted: Option<(i64, Option<DateTime<Utc>>)> = on_db!(db, |pool| {
        sqlx::query_as(
            "UPDATE users SET \
             failed_logins = CASE WHEN locked_until IS NULL THEN failed_logins + 1 ELSE 1 END, \
             locked_until = CASE WHEN locked_until IS NULL AND failed_logins + 1 >= $2 \
                 THEN $3 ELSE NULL END \
             WHERE id = $1 AND NOT disabled AND (locked_until IS NULL OR locked_until <= $4) \
             RETURNING CAST(failed_logins AS BIGINT), locked_until",
        )
        .bind(user_id)
        .bind(MAX_FAILED_LOGINS)
        .bind(now + LOCKOUT)
        .bind(now)
        .fetch_optional(pool)
        .await?
    });
    Ok(counted.map(|(failures, locks_until)| CountedAttempt {
        failures,
        locks_until,
    }))
}

/// Takes back an attempt [`count_login_attempt`] counted whose password was right but which
/// brought no second factor yet: the failures go back to `failures`, and a lock this attempt
/// set is lifted (asking for the code is not a failure).
pub async fn uncount_login_attempt(
    db: &Db,
    user_id: i64,
    failures: i64,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query("UPDATE users SET failed_logins = $2, locked_until = NULL WHERE id = $1")
            .bind(user_id)
            .bind(failures)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Clears the lock and the failure count of the account with `email` and writes `audit` in
/// the same transaction; false when no account has that email.
pub async fn unlock_user(db: &Db, email: &str, audit: &NewAudit) -> Result<bool, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = NULL \
             WHERE lower(email) = lower($1)",
        )
        .bind(email)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// Starts a session for a user who just proved their password; returns the cookie token.
pub async fn start_session(
    db: &Db,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let (token, hash) = session::new_token();
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(&hash)
        .bind(user_id)
        .bind(now)
        .bind(now + session::SESSION_LIFETIME)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(token)
}

/// The user a session token belongs to, if the session is neither expired nor idle too long
/// and the user is not disabled. Marks the session as used, at most every [`TOUCH_INTERVAL`]:
/// that write is best-effort (a failure is logged and the request goes on).
pub async fn resolve_session(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionUser>, sqlx::Error> {
    let hash = session::token_hash(token);
    let Some((user, last_seen)) = find_session(db, &hash, now).await? else {
        return Ok(None);
    };
    if now - last_seen >= TOUCH_INTERVAL
        && let Err(err) = touch_session(db, &hash, now).await
    {
        tracing::warn!("recording a session's activity failed; the request goes on: {err}");
    }
    Ok(Some(user))
}

/// Whether the session with this token hash is still valid (not expired, not idle too long,
/// its user not disabled), without counting this as activity.
pub async fn session_alive(
    db: &Db,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(find_session(db, token_hash, now).await?.is_some())
}

/// (id, email, display name, role, must enrol, client scope, last seen) of a live session.
type SessionRecord = (
    i64,
    String,
    String,
    String,
    bool,
    Option<String>,
    DateTime<Utc>,
);

async fn find_session(
    db: &Db,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(SessionUser, DateTime<Utc>)>, sqlx::Error> {
    let sql = format!(
        "SELECT u.id, u.email, u.display_name, {}, {MUST_ENROL}, {}, s.last_seen_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
         AND NOT u.disabled",
        role_of("u"),
        client_scope_of("u")
    );
    let row: Option<SessionRecord> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(hash)
            .bind(now)
            .bind(now - IDLE_TIMEOUT)
            .fetch_optional(pool)
            .await?
    });
    Ok(
        row.and_then(|(id, email, name, role, must_enrol, scope, last_seen)| {
            let mut user = session_user((id, email, name, role, must_enrol))?;
            user.clients = scope_of(scope);
            Some((user, last_seen))
        }),
    )
}

async fn touch_session(db: &Db, hash: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(hash)
            .bind(now)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Deletes the sessions that can no longer be used (expired, or idle past the timeout);
/// returns how many.
pub async fn purge_sessions(db: &Db, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_db!(db, |pool| {
        let result =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now)
                .bind(now - IDLE_TIMEOUT)
                .execute(pool)
                .await?;
        Ok(result.rows_affected())
    })
}

pub async fn end_session(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(session::token_hash(token))
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// The columns of a [`UserRow`], from `users u`.
fn user_columns() -> String {
    format!(
        "id, email, display_name, {}, disabled, locked_until, created_at, {} FROM users u",
        role_of("u"),
        client_scope_of("u")
    )
}

type UserRecord = (
    i64,
    String,
    String,
    String,
    bool,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    Option<String>,
);

fn user_row(record: UserRecord, now: DateTime<Utc>) -> Option<UserRow> {
    let (id, email, display_name, role, disabled, locked_until, created_at, scope) = record;
    Some(UserRow {
        id,
        email,
        display_name,
        role: Role::parse(&role)?,
        disabled,
        locked_until: locked_until.filter(|until| *until > now),
        created_at,
        clients: scope_of(scope),
    })
}

pub async fn list_users(db: &Db, now: DateTime<Utc>) -> Result<Vec<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {} ORDER BY email", user_columns());
    let rows: Vec<UserRecord> = on_db!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
    Ok(rows.into_iter().filter_map(|r| user_row(r, now)).collect())
}

pub async fn find_user(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {} WHERE id = $1", user_columns());
    let row: Option<UserRecord> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    Ok(row.and_then(|r| user_row(r, now)))
}

pub async fn email_taken(db: &Db, email: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(pool)
            .await?
    });
    Ok(found.is_some())
}

/// An account about to be added.
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub clients: &'a ClientScope,
}

/// The INSERT of an account, returning its id, run on a pool or inside a transaction under
/// way (an invitation's claim adds its account in the same transaction).
pub fn insert_account<'q, DB>(
    account: &'q NewAccount<'q>,
    at: DateTime<Utc>,
) -> QueryScalar<'q, DB, i64, DB::Arguments<'q>>
where
    DB: Database,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    // A clinic account is stored read-only, bound to its one client (`role_of`).
    let (role, clinic_of) = match (account.role, account.clients.clients()) {
        (Role::Clinic, Some([client])) => (Role::Readonly, Some(*client)),
        (role, _) => (role, None),
    };
    sqlx::query_scalar(
        "INSERT INTO users (email, display_name, role, password_hash, created_at, client_scope, \
         clinic_of) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(account.email)
    .bind(account.display_name)
    .bind(role.as_str())
    .bind(account.password_hash)
    .bind(at)
    .bind(scope_column(account.clients))
    .bind(clinic_of)
}

/// Adds a user and writes the audit entry in the same transaction.
pub async fn insert_user(
    db: &Db,
    account: &NewAccount<'_>,
    audit: &NewAudit,
) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        let id = insert_account(account, audit.at)
            .fetch_one(&mut *tx)
            .await?;
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(id)
    })
}

/// Changes a user's role or disables/enables them; disabling also ends their sessions, and
/// making them an admin ends their scope.
pub async fn update_user_access(
    db: &Db,
    id: i64,
    role: Role,
    disabled: bool,
    audit: &NewAudit,
) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut tx = pool.begin().await?;
        // An admin sees every client: a scoped user made admin loses their scope.
        sqlx::query(
            "UPDATE users SET role = $2, disabled = $3, \
             client_scope = CASE WHEN $2 = 'admin' THEN NULL ELSE client_scope END WHERE id = $1",
        )
        .bind(id)
        // A clinic account keeps its stored read-only role (`role_of`).
        .bind(role.max(Role::Readonly).as_str())
        .bind(disabled)
        .execute(&mut *tx)
        .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        insert_audit(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    })
}

pub async fn count_active_admins(db: &Db) -> Result<i64, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled")
            .fetch_one(pool)
            .await
    })
}

/// An audit entry about to be written, alongside the change it describes.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub at: DateTime<Utc>,
}

/// The conditions of an audit filter, binds numbered from `$1`.
fn audit_conditions(filter: &AuditFilter, before: i64) -> Conditions {
    let mut conditions = Conditions::numbered_from(1);
    if !filter.actor.trim().is_empty() {
        let actor = format!("%{}%", filter.actor.trim().to_lowercase());
        conditions.add("lower(actor) LIKE ?", [Bind::Text(actor)]);
    }
    if !filter.action.trim().is_empty() {
        let action = format!("{}%", filter.action.trim());
        conditions.add("action LIKE ?", [Bind::Text(action)]);
    }
    if let Some(from) = day_start(&filter.from, 0) {
        conditions.add("at >= ?", [Bind::Time(from)]);
    }
    if let Some(to) = day_start(&filter.to, 1) {
        conditions.add("at < ?", [Bind::Time(to)]);
    }
    if before > 0 {
        conditions.add("id < ?", [Bind::Int(before)]);
    }
    conditions
}

/// Up to `limit` entries matching `filter`, newest first, older than `before` (0 = newest).
pub async fn audit_entries(
    db: &Db,
    filter: &AuditFilter,
    before: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let conditions = audit_conditions(filter, before);
    let sql = format!(
        "SELECT id, actor, action, target, CAST(details AS TEXT) AS details, ip, at \
         FROM audit_log {} ORDER BY id DESC LIMIT {limit}",
        conditions.where_clause()
    );
    on_db!(db, |pool| {
        sql::query_as::<_, AuditEntry>(&sql, conditions.binds())?
            .fetch_all(pool)
            .await
    })
}
