//! The store: the schema and the SQL that reads and writes it, one module per aggregate, over
//! one handle to SQLite or PostgreSQL. Server functions, the appliance API and the CLI reach
//! the database only through here (the ingest writer's batch transaction, the demo-data
//! generator and the benchmarks' fixtures excepted: see the README).

pub mod accounts;
pub mod alerts;
pub mod api_tokens;
pub mod appliances;
pub mod audit_chain;
mod bundles;
pub mod clients;
pub mod evidence;
pub mod history;
pub mod incidents;
pub mod invites;
pub mod leases;
pub mod maintenance;
pub mod orders;
pub mod pack_rows;
pub mod reports;
mod runbooks;
pub mod schema;
pub mod scope;
mod scores;
pub mod signing_keys;
pub mod site_admin;
mod sites;
pub mod sql;
mod stats;
pub mod triage;
pub mod two_factor;

pub use bundles::latest_bundles_per_site;
pub use clients::{client_name, client_summaries, count_clients, summarise_client};
pub use incidents::{IncidentFacts, IncidentWindows, WINDOW_ANCHOR_STRIDE};
pub use runbooks::runbooks;
pub use scores::site_scores;
pub use sites::{filter_sites, site_detail, site_rows};
pub use stats::{fleet_stats, top_incident_types};

use sqlx::{PgPool, SqlitePool};

/// The connection pool for whichever database the server was configured with.
/// Queries whose SQL is identical on both are written once and run through [`on_db!`].
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same query text against whichever pool `$db` holds.
///
/// A macro, and exported, on purpose: sqlx types each pool and executor by its database, so a
/// body that runs on both is compiled once per pool type. A generic function would have to
/// spell out the encode and decode bounds of every value each query binds or reads (as
/// [`sql::query_as`] does for the three kinds of filter values); the server's ingest writer,
/// seed and provisioning use it beside the store.
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

impl Db {
    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_db!(self, |pool| pool.close().await)
    }
}
