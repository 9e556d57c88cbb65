//! The batcher's connection and a batch's transaction on it, on either database.

use app::db::Db;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Connection as _, Postgres, Sqlite, Transaction};
use tokio::sync::mpsc;

/// The batcher's own connection, kept from batch to batch. A SQLite connection drops its
/// whole page cache when another connection wrote since its last transaction, so writing
/// every batch through the same one keeps the pages it touches cached.
///
/// On SQLite it is opened apart from the pool with foreign keys unenforced: immediate
/// foreign key checks make every multi-row INSERT keep a statement journal (a copy of each
/// page it changes, to undo just that statement). Every id this connection writes comes from
/// the authenticated appliance's row or from ids reserved in the same transaction, and sites
/// and appliances are never deleted, so the references hold without the check. Its page
/// cache is small (8 MiB against the pool's 64): every commit walks the cache's hash table,
/// and with 64 MiB that walk took an eighth of the writer's time.
///
/// Its automatic checkpoints are off: after each commit it asks a task of its own to copy the
/// WAL into the database on a pool connection, on another thread, so the writer goes on to the
/// next batch meanwhile. The task ends with the connection.
pub enum Connection {
    Sqlite(SqliteConnection, mpsc::Sender<()>),
    Postgres(PoolConnection<Postgres>),
}

impl Connection {
    /// Opens the batcher's connection to `db`.
    pub async fn open(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(pool) => {
                let options = pool
                    .connect_options()
                    .as_ref()
                    .clone()
                    .foreign_keys(false)
                    .pragma("cache_size", "-8192")
                    .pragma("wal_autocheckpoint", "0");
                let connection = SqliteConnection::connect_with(&options).await?;
                let (checkpoint, requests) = mpsc::channel(1);
                tokio::spawn(checkpoint_after_commits(pool.clone(), requests));
                Connection::Sqlite(connection, checkpoint)
            }
            Db::Postgres(pool) => Connection::Postgres(pool.acquire().await?),
        })
    }

    /// Starts a batch's transaction.
    pub async fn begin(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        Ok(match self {
            Connection::Sqlite(connection, _) => {
                Tx::Sqlite(connection.begin_with(SQLITE.begin).await?)
            }
            Connection::Postgres(connection) => {
                Tx::Postgres(connection.begin_with(POSTGRES.begin).await?)
            }
        })
    }

    /// After a commit: asks for a WAL checkpoint (SQLite). One waiting request is enough: the
    /// next checkpoint copies every frame so far.
    pub fn committed(&self) {
        if let Connection::Sqlite(_, checkpoint) = self {
            let _ = checkpoint.try_send(());
        }
    }
}

/// A batch's transaction.
pub enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

/// Runs the same statements in whichever transaction `$tx` is; `$t` is the executor.
///
/// A macro for the reason `app::on_db!` is one: the body is compiled once per database.
macro_rules! in_tx {
    ($tx:expr, |$t:ident| $body:expr) => {
        match $tx {
            $crate::ingest::Tx::Sqlite(transaction) => {
                let $t = &mut **transaction;
                $body
            }
            $crate::ingest::Tx::Postgres(transaction) => {
                let $t = &mut **transaction;
                $body
            }
        }
    };
}
pub(crate) use in_tx;

impl Tx<'static> {
    /// A transaction on a pool connection, for writers besides the batcher (the alert
    /// sweeps, a broken evidence chain) that share its statements. Begun as the batcher
    /// begins: on SQLite with the write lock taken up front, since these read before they
    /// write, and a deferred transaction whose first write comes after another connection's
    /// commit fails at once (`SQLITE_BUSY`) instead of waiting its turn.
    pub async fn begin(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with(SQLITE.begin).await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin_with(POSTGRES.begin).await?),
        })
    }
}

impl Tx<'_> {
    pub fn dialect(&self) -> &'static Dialect {
        match self {
            Tx::Sqlite(_) => &SQLITE,
            Tx::Postgres(_) => &POSTGRES,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(transaction) => transaction.commit().await,
            Tx::Postgres(transaction) => transaction.commit().await,
        }
    }
}

/// WAL frames past which a checkpoint also truncates the WAL, waiting for the writer: passive
/// checkpoints running beside a busy writer may never find the whole WAL copied, the moment
/// SQLite needs to start it over. (8,192 frames of 4 KiB: 32 MiB.)
const WAL_TRUNCATE_FRAMES: i64 = 8_192;

/// Least time between two checkpoints: each one syncs the database file, which a checkpoint
/// per commit would do hundreds of times a second with batching off.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Checkpoints the WAL after commits, passively (readers and the writer go on) and at most
/// once per [`CHECKPOINT_INTERVAL`], until the writer's connection is dropped.
async fn checkpoint_after_commits(pool: SqlitePool, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        let passive: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        let result = match passive {
            Ok((_, frames, _)) if frames > WAL_TRUNCATE_FRAMES => {
                sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&pool)
                    .await
                    .map(drop)
            }
            other => other.map(drop),
        };
        if let Err(err) = result {
            tracing::warn!("WAL checkpoint failed: {err}");
        }
        tokio::time::sleep(CHECKPOINT_INTERVAL).await;
    }
}

/// What differs between the backends in a batch's transaction.
pub struct Dialect {
    begin: &'static str,
    /// Bundle ids for the batch, reserved in one statement so the bundles go in with
    /// multi-row inserts like everything else.
    pub reserve_ids: &'static str,
    /// How the multi-row inserts start.
    pub insert: &'static str,
}

/// `BEGIN IMMEDIATE` holds the write lock from the start, which makes the ids after the
/// largest safe to take. `OR FAIL` spares the statement journal too: an error stops the
/// statement where it is, and the whole transaction is rolled back anyway.
const SQLITE: Dialect = Dialect {
    begin: "BEGIN IMMEDIATE",
    reserve_ids: "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                  SELECT (SELECT COALESCE(MAX(id), 0) FROM compliance_bundles) + i FROM n",
    insert: "INSERT OR FAIL INTO",
};

const POSTGRES: Dialect = Dialect {
    begin: "BEGIN",
    reserve_ids: "SELECT nextval(pg_get_serial_sequence('compliance_bundles', 'id')) \
                  FROM generate_series(1, $1)",
    insert: "INSERT INTO",
};
