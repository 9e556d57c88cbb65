//! The `posture` server: configuration, database setup, HTTP routes and the CLI commands.
//! A library so integration tests can start the real router on a throwaway database.

pub mod alerts;
pub mod api;
pub mod client_ip;
pub mod cluster;
pub mod config;
pub mod database;
#[cfg(feature = "dev-tools")]
pub mod dev;
pub mod etag;
pub mod evidence_pack;
pub mod export;
pub mod health;
pub mod hints;
pub mod ingest;
pub mod load_shed;
pub mod maintenance;
pub mod memory_budget;
pub mod prometheus;
pub mod provision;
pub mod refusals;
pub mod reports;
pub mod routes;
pub mod security_headers;
pub mod seed;
pub mod server_fn_body;
pub mod session;
pub mod sign_in;
pub mod signing;
pub mod state;
pub mod users;

/// Logs to stderr, at `RUST_LOG` or `info` (sqlx at `warn`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
}
