//! The `posture` server: configuration, database setup, HTTP routes and the CLI commands.
//! A library so integration tests can start the real router on a throwaway database.

pub mod api;
pub mod bench;
pub mod bench_ingest;
pub mod client_ip;
pub mod config;
pub mod database;
pub mod etag;
pub mod export;
pub mod health;
pub mod hints;
pub mod ingest;
pub mod maintenance;
pub mod memory_budget;
pub mod provision;
pub mod routes;
pub mod seed;
pub mod session;
pub mod sign_in;
pub mod simulate;
pub mod state;
pub mod users;
