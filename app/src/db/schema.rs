//! The schema: migrations for each database, kept side by side in `app/migrations`, and
//! whether the database has them all.

use sqlx::migrate::{MigrateError, Migrator};

use super::Db;
use crate::on_db;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

fn migrator(db: &Db) -> &'static Migrator {
    match db {
        Db::Sqlite(_) => &SQLITE_MIGRATIONS,
        Db::Postgres(_) => &POSTGRES_MIGRATIONS,
    }
}

/// Applies the migrations the database lacks.
/// On PostgreSQL the migrations run with no statement timeout: a schema change on a large
/// table may rightly take longer than a dashboard read may.
pub async fn migrate(db: &Db) -> Result<(), MigrateError> {
    let migrator = migrator(db);
    match db {
        Db::Sqlite(pool) => migrator.run(pool).await,
        Db::Postgres(pool) => {
            let mut connection = pool.acquire().await?;
            sqlx::query("SET statement_timeout = 0")
                .execute(&mut *connection)
                .await?;
            migrator.run(&mut *connection).await?;
            sqlx::query("RESET statement_timeout")
                .execute(&mut *connection)
                .await?;
            Ok(())
        }
    }
}

/// Whether every migration this binary knows has been applied, and none failed.
pub async fn migrations_current(db: &Db) -> Result<bool, sqlx::Error> {
    let applied: Vec<i64> = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?
    });
    let known: Vec<i64> = migrator(db)
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    Ok(known.iter().all(|version| applied.contains(version)))
}

/// Answers when the database does.
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| sqlx::query("SELECT 1")
        .execute(pool)
        .await
        .map(|_| ()))
}
