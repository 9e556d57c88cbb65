//! The Posture web app: the domain's types, the store (`db`) and services (server only), and
//! the pages, components and server functions. Compiled twice: with `ssr` into the server,
//! with `hydrate` into the browser's WASM.

pub mod accounts;
#[cfg(feature = "ssr")]
pub mod aggregates;
pub mod alerts;
pub mod app;
#[cfg(feature = "ssr")]
pub mod appliance_keys;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod breaker;
#[cfg(feature = "ssr")]
pub mod cache;
pub mod cached_answer;
#[cfg(feature = "ssr")]
pub mod cluster;
pub mod codec;
pub mod components;
pub mod domain;
pub mod error;
#[cfg(feature = "ssr")]
pub mod hipaa;
pub mod incident_filter;
pub mod live;
pub mod pages;
pub mod queries;
pub mod report;
pub mod scoring;
pub mod types;
pub mod validation;

#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod services;

pub use app::{App, shell};
