//! One module per page; each holds the server functions it reads through and their query scopes.

pub mod account;
pub mod admin;
pub mod clients;
pub mod incidents;
pub mod invite;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod reports;
pub mod runbooks;
pub mod site_detail;
pub mod sites;
