//! The server's integration tests, one binary with a module per area: the server is linked
//! once for all of them instead of once per file. `common` starts real servers on throwaway
//! databases; `common::fixture` inserts the rows tests build on.

mod accounts;
mod alert_rules;
mod alerts;
mod api;
mod api_tokens;
mod audit_chain;
mod clinics;
mod cluster;
mod common;
mod crash;
mod data;
#[cfg(feature = "dev-tools")]
mod dev;
mod faults;
mod health;
mod history;
mod incidents;
mod leptos_settings;
mod metrics;
mod pages;
mod reports;
mod scopes;
mod security;
mod server_fns;
mod store;
mod two_factor;
