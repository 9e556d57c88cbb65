//! Opening the database (SQLite by default, PostgreSQL by URL) and keeping its schema current.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use app::db::{Db, schema};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::config::DatabaseArgs;

/// Connects and brings the schema up to date: what every subcommand that reads or writes
/// data starts with.
pub async fn open(args: &DatabaseArgs) -> anyhow::Result<Db> {
    let db = connect(args).await?;
    migrate(&db).await?;
    Ok(db)
}

pub async fn connect(args: &DatabaseArgs) -> anyhow::Result<Db> {
    let url = args.database_url.as_str();
    let acquire_timeout = Duration::from_millis(args.db_acquire_timeout_ms);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let statement_timeout = Duration::from_millis(args.db_statement_timeout_ms);
        connect_postgres(url, acquire_timeout, statement_timeout).await
    } else if url.starts_with("sqlite:") {
        connect_sqlite(url, acquire_timeout).await
    } else {
        anyhow::bail!(
            "DATABASE_URL must start with sqlite:// or postgres:// (got {:?})",
            redact(url)
        )
    }
}

async fn connect_sqlite(url: &str, acquire_timeout: Duration) -> anyhow::Result<Db> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid SQLite URL {url:?}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        // Negative cache_size is in KiB: 64 MB of page cache per connection.
        .pragma("cache_size", "-65536")
        .pragma("mmap_size", "268435456")
        .pragma("temp_store", "memory");
    if let Some(dir) = options
        .get_filename()
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the database directory {}", dir.display()))?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open SQLite database {url:?}"))?;
    Ok(Db::Sqlite(pool))
}

/// A connection that cannot be had within `acquire_timeout` (the database is down, or every
/// connection is busy) fails the request with 503 instead of holding it; a statement running
/// past `statement_timeout` is cancelled by PostgreSQL itself (SQLSTATE 57014), also 503.
async fn connect_postgres(
    url: &str,
    acquire_timeout: Duration,
    statement_timeout: Duration,
) -> anyhow::Result<Db> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("invalid PostgreSQL URL {}", redact(url)))?
        .options([(
            "statement_timeout",
            statement_timeout.as_millis().to_string(),
        )]);
    let pool = PgPoolOptions::new()
        .min_connections(2)
        .max_connections(10)
        .idle_timeout(Duration::from_secs(300))
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
    Ok(Db::Postgres(pool))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}://{user}:***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    schema::migrate(db)
        .await
        .context("applying database migrations")
}

/// The directory whose free space matters: the SQLite file's, or the working directory.
pub fn data_dir(db: &Db, args: &DatabaseArgs) -> PathBuf {
    match db {
        Db::Sqlite(_) => SqliteConnectOptions::from_str(&args.database_url)
            .ok()
            .and_then(|o| o.get_filename().parent().map(Path::to_path_buf))
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from(".")),
        Db::Postgres(_) => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://bob:s3cret@db:5432/p"),
            "postgres://bob:***@db:5432/p"
        );
        assert_eq!(
            redact("sqlite://data/posture.db"),
            "sqlite://data/posture.db"
        );
    }
}
